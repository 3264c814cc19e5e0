// Three identical actions over one persisted dataset: the first computes and keeps its
// partitions, the second and third read them (npm run bench -- cache).
import { app } from "ballast";

export default app("repeated-counts", async (ctx) => {
  const words = ctx
    .textFile(ctx.arg("input"), { minPartitions: 4 })
    .flatMap((line) => line.split(" "))
    .filter((w) => w.length > 0)
    .persist(ctx.arg("level") as "memory" | "disk" | "memory_and_disk");
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) counts.push(await words.count());
  return counts;
});
