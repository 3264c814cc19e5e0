import { job } from "ballast";

// One task per partition that does nothing: measures scheduling overhead, not compute.
export default job("empty-tasks", (ctx) =>
  ctx
    .range(Number(ctx.arg("tasks", "20000")), Number(ctx.arg("tasks", "20000")))
    .mapPartitions(() => [])
    .count(),
);
