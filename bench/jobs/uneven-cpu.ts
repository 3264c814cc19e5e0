// CPU-bound tasks of uneven length (npm run bench -- cpu): task x spins for unevenSpinMs(x).
import { job } from "ballast";

/** 50 to 450 ms, spread over the partitions so neighbours differ (the bench sums the same formula). */
export const unevenSpinMs = (x: number): number => 50 + ((x * 7919) % 9) * 50;

export default job("uneven-cpu", (ctx) => {
  const tasks = Number(ctx.arg("tasks", "40"));
  return ctx
    .range(tasks, tasks)
    .mapPartitions((items) => {
      for (const x of items) {
        const until = Date.now() + unevenSpinMs(x);
        while (Date.now() < until) {} // busy, as a CPU-bound task: it holds its worker throughout
      }
      return [];
    })
    .count();
});
