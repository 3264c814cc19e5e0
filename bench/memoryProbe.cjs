// Preloaded with NODE_OPTIONS=--require into the endurance bench's scheduler (BENCH_MEMORY_PROBE
// names a directory): on SIGUSR2 it collects garbage, then writes where the process's memory is
// (process.memoryUsage, V8's heap spaces, anonymous vs file-backed RSS) to <dir>/<pid>.json, so a
// growing RSS can be told apart from a growing JS heap without touching the service's code.
const { readFileSync, renameSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const v8 = require("node:v8");
const vm = require("node:vm");
const { threadId } = require("node:worker_threads");

const dir = process.env.BENCH_MEMORY_PROBE;
const probed = dir && threadId === 0 && /scheduler/.test(process.argv[1] ?? "");
if (probed) {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  const statusKb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN) * 1024;
  let sample = 0;
  process.on("SIGUSR2", () => {
    gc();
    // A second pass after the first one's finalizers ran (native handles freed by weak callbacks).
    setImmediate(() => {
      gc();
      const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
      const figures = { sample: ++sample, ...process.memoryUsage(), rssAnon: statusKb("RssAnon"), rssFile: statusKb("RssFile"), spaces };
      const file = join(dir, `${process.pid}.json`);
      writeFileSync(`${file}.tmp`, JSON.stringify(figures));
      renameSync(`${file}.tmp`, file); // the bench never reads half a file
      // For a hunt, not a run: BENCH_MEMORY_SNAPSHOTS=1 also writes a heap snapshot per sample, to diff in DevTools.
      if (process.env.BENCH_MEMORY_SNAPSHOTS === "1") v8.writeHeapSnapshot(join(dir, `${process.pid}-${sample}.heapsnapshot`));
    });
  });
}
