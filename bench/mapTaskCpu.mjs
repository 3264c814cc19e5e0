// `node bench/mapTaskCpu.mjs BUNDLE CORPUS PARTITION PARTITIONS`: one word count map task the way a
// fresh task worker runs its first task (source maps on, the job bundle imported, the plan rebuilt,
// the partition's shuffle output written to memory); prints that work's CPU time in ms. Plain
// JavaScript, so no loader of ours is in the figure; CPU time, so the shared machine's load is not.
import { fstatSync, openSync, readSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [bundle, corpus, partition, partitions] = process.argv.slice(2);
process.setSourceMapsEnabled(true);
const before = process.cpuUsage();
const definition = (await import(pathToFileURL(bundle).href)).default;
const fd = openSync(corpus, "r");
const size = fstatSync(fd).size;
const args = ["--input", pathToFileURL(corpus).href, "--output", "file:///unused"];
const built = definition.buildPlan({ args, inputSize: () => size });
const io = {
  readRange(_uri, start, end) {
    const bytes = new Uint8Array(Math.max(0, Math.min(end, size) - start));
    readSync(fd, bytes, 0, bytes.length, start);
    return bytes;
  },
  shuffleBlocks() {
    throw new Error("a map task reads no shuffle");
  },
};
const shuffle = built.plan.shuffles[0];
if (built.plan.datasets[shuffle.parentDatasetId].numPartitions !== Number(partitions)) throw new Error("unexpected partition count");
const shuffleWrite = { shuffleIndex: 0, numReducePartitions: shuffle.numReducePartitions };
built.runPartition({ datasetId: shuffle.parentDatasetId, partition: Number(partition), shuffleWrite }, io);
const used = process.cpuUsage(before);
console.log((used.user + used.system) / 1000);
