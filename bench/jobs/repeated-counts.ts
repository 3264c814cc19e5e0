// Three identical actions over one persisted dataset, the corpus's word counts: the first
// computes and keeps its partitions, the second and third read them (npm run bench -- cache).
import { app } from "ballast";

export default app("repeated-counts", async (ctx) => {
  const counts = ctx
    .textFile(ctx.arg("input"), { minPartitions: 4 })
    .flatMap((line) => line.split(" "))
    .filter((w) => w.length > 0)
    .map((w) => [w, 1] as const)
    .reduceByKey((a, b) => a + b, { partitions: 4 })
    .persist(ctx.arg("level") as "memory" | "disk" | "memory_and_disk");
  const results: number[] = [];
  for (let i = 0; i < 3; i++) results.push(await counts.count());
  return results;
});
