/**
 * Test files run in parallel workers, each starting whole clusters on ports chosen at random:
 * two workers could pick the same port, and one's CLI would then talk to the other's service
 * (seen once as "does not implement RegisterApplication"). Each worker, and every process it
 * spawns, chooses from its own slice of the range instead.
 */
const SLICE = 5_000;
const FIRST_PORT = 10_000;
const SLICES = 4; // 10,000-29,999: below the kernel's ephemeral range (32,768 by default)

const worker = Number(process.env.VITEST_POOL_ID ?? 1);
const low = FIRST_PORT + ((Math.max(worker, 1) - 1) % SLICES) * SLICE;
process.env.BALLAST_PORT_RANGE ??= `${low}-${low + SLICE - 1}`;
