import { job } from "ballast";

// Each line keyed by its first word, joined with one record per distinct first word: both
// sides go through the shuffle and the reduce side holds a whole key's left records at once.
export default job("join-words", (ctx) => {
  const partitions = Number(ctx.arg("partitions", "8"));
  const lines = ctx.textFile(ctx.arg("input"), { minPartitions: 8 })
    .filter((line) => line.length > 0)
    .map((line) => [line.slice(0, line.indexOf(" ") >>> 0), line.length] as const);
  const firstWords = lines.map(([word]) => word).distinct({ partitions }).map((word) => [word, word.length] as const);
  return lines.join(firstWords, { partitions }).count();
});
