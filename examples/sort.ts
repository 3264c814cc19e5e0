// TeraSort-style sort of 100-byte records: each line is a 10-byte key and its payload.
// Args: --input URI [--output URI] [--partitions N] [--minPartitions N] (collects when no output is given).
import { job } from "ballast";

export const KEY_BYTES = 10;

export default job("sort", (ctx) => {
  const partitions = Number(ctx.arg("partitions", "4"));
  const sorted = ctx
    .textFile(ctx.arg("input"), { minPartitions: Number(ctx.arg("minPartitions", "2")) })
    .filter((line) => line.length > 0)
    .sortBy((line) => line.slice(0, KEY_BYTES), { partitions });
  const output = ctx.arg("output", "");
  return output ? sorted.saveAsTextFile(output) : sorted.collect();
});
