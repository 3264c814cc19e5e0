import { job } from "ballast";
export default job("wordcount", (ctx) =>
  ctx.textFile(ctx.arg("input"), { minPartitions: 8 })
    .flatMap((line) => line.split(" "))
    .filter((w) => w.length > 0)
    .map((w) => [w, 1] as const)
    .reduceByKey((a, b) => a + b, { partitions: 4 })
    .saveAsTextFile(ctx.arg("output")));
