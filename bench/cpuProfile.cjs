// Preloaded with NODE_OPTIONS=--require (NODE_OPTIONS refuses --cpu-prof): profiles the whole
// process with the inspector and writes a .cpuprofile into BENCH_CPU_PROF when it exits.
const { Session } = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { threadId } = require("node:worker_threads");

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  let window = 0;
  const write = () =>
    // The same-thread session answers synchronously, so the profile is written before the exit.
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.argv[1].split("/").slice(-3).join("_")}-${process.pid}-${threadId}${threadId !== 0 ? `-w${window++}` : ""}.cpuprofile`), JSON.stringify(result.profile));
      if (threadId !== 0) session.post("Profiler.start"); // the next window, in its own file
    });
  process.on("exit", write);
  // Task workers are terminated rather than exiting: write theirs every few seconds instead.
  if (threadId !== 0) setInterval(write, 5000).unref();
}
