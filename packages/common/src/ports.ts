// Picking a port for a service that is started (or restarted) a moment later.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range";
const LOWEST_CHOSEN_PORT = 10_000;
const ATTEMPTS = 50;

/**
 * The kernel's range for outgoing connections' source ports (and for `listen(0)`). A port
 * handed out from inside it can be taken by any client connection before the service binds
 * it again, which is how a restarted scheduler once found its own port in use.
 */
export function ephemeralPortRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync(EPHEMERAL_RANGE_FILE, "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low > LOWEST_CHOSEN_PORT) return { low, high };
  } catch {
    // Not Linux: fall back to the range Linux uses by default.
  }
  return { low: 32_768, high: 60_999 };
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Where chosen ports come from: BALLAST_PORT_RANGE ("LOW-HIGH", inclusive) when set, so that
 * processes starting clusters side by side (parallel test workers) can be given disjoint
 * ranges and never pick a port the other is about to bind; else everything below the ephemeral range.
 */
export function choiceRange(): { low: number; high: number } {
  const setting = process.env.BALLAST_PORT_RANGE;
  if (!setting) return { low: LOWEST_CHOSEN_PORT, high: ephemeralPortRange().low - 1 };
  const match = /^(\d+)-(\d+)$/.exec(setting.trim());
  const [low, high] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(low >= 1024 && low <= high && high <= 65_535)) throw new Error(`BALLAST_PORT_RANGE must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, not "${setting}"`);
  return { low, high };
}

/**
 * A port free on `host` now, chosen at random (below the ephemeral range unless
 * BALLAST_PORT_RANGE says otherwise) so that no outgoing connection can occupy it
 * before (or between) the service's binds.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const { low, high } = choiceRange();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port on ${host} between ${low} and ${high} after ${ATTEMPTS} attempts`);
}
