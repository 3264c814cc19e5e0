// Vitest global setup: compile the workspaces once, so every process a test spawns (services, the
// `ballast` command) runs JavaScript built from the sources under test.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL("../../scripts/build.mjs", import.meta.url))], { stdio: "inherit" });
}
