// Preloaded into a spawned `ballast` (NODE_OPTIONS=--require): writes the process's own CPU time
// (user + system, ms) to BENCH_EXIT_CPU_FILE when it exits, a figure the machine's load moves far
// less than the wall time.
const { writeFileSync } = require("node:fs");

const file = process.env.BENCH_EXIT_CPU_FILE;
if (file) {
  process.on("exit", () => {
    const { user, system } = process.cpuUsage();
    writeFileSync(file, String((user + system) / 1000));
  });
}
