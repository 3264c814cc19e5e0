import { job } from "ballast";

// groupByKey of every word of the input to its line offsets: all values travel and are held
// by the reduce side at once (no map-side combine), the worst case for reduce-side memory.
export default job("group-words", (ctx) =>
  ctx.textFile(ctx.arg("input"), { minPartitions: 8 })
    .flatMap((line) => line.split(" ").filter((w) => w.length > 0).map((w, i) => [w, i] as const))
    .groupByKey({ partitions: Number(ctx.arg("partitions", "8")) })
    .map(([word, positions]) => `${word}\t${positions.length}`)
    .saveAsTextFile(ctx.arg("output")));
