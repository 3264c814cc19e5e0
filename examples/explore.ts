// An application: one driver program, three actions, each a job of the application.
// The words are persisted, so the second and third actions can read them instead of
// reading and splitting the input again.
import { app } from "ballast";

export default app("explore", async (ctx) => {
  const words = ctx
    .textFile(ctx.arg("input"))
    .flatMap((line) => line.split(" "))
    .filter((w) => w.length > 0)
    .persist("disk");
  const total = await words.count();
  const distinct = await words.distinct().count();
  const top = await words
    .map((w) => [w, 1] as const)
    .reduceByKey((a, b) => a + b)
    // Most frequent first; equal counts alphabetically (the key sorts as a string).
    .takeOrdered(10, ([w, n]) => `${String(1e9 - n).padStart(10, "0")} ${w}`);
  return { total, distinct, top };
});
