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
 * A port free on `host` now, chosen at random below the ephemeral range so that no outgoing
 * connection can occupy it before (or between) the service's binds.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const { low } = ephemeralPortRange();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = LOWEST_CHOSEN_PORT + Math.floor(Math.random() * (low - LOWEST_CHOSEN_PORT));
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port on ${host} between ${LOWEST_CHOSEN_PORT} and ${low - 1} after ${ATTEMPTS} attempts`);
}
