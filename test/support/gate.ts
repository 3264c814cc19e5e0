// A gate between a test and the driver program it runs: the program pauses at a known point
// (between two actions) until the test has done its harm (killed a node, restarted a service).

/**
 * Source of `gate(path)` for a test's program text: writes <path>.ready, then waits for
 * <path>.go (an empty path passes at once, as on an executor replaying the program).
 * Its own `node:fs` namespace import keeps it clear of the program's imports.
 */
export const GATE_SOURCE = `
import * as gateFs from "node:fs";

async function gate(path: string): Promise<void> {
  if (!path) return;
  gateFs.writeFileSync(path + ".ready", "");
  while (!gateFs.existsSync(path + ".go")) await new Promise((r) => setTimeout(r, 50));
}
`;
