// An application that keeps what it computed: the words on disk (the node's shuffle service
// keeps them past an executor's death), their lengths in executor memory, and the word counts
// on disk, so the later actions read them instead of computing them again. Killed midway, it
// resumes with `ballast attach APP_ID` (printed when it starts): finished actions are not rerun.
//   npx ballast submit examples/cached-explore.ts -- --input file:///abs/corpus.txt
import { app } from "ballast";

export default app("cached-explore", async (ctx) => {
  const words = ctx
    .textFile(ctx.arg("input"), { minPartitions: 4 })
    .flatMap((line) => line.split(" "))
    .filter((w) => w.length > 0)
    .persist("disk");
  const lengths = words.map((w) => w.length).cache();
  const counts = words
    .map((w) => [w, 1] as const)
    .reduceByKey((a, b) => a + b)
    .persist("disk");

  const total = await words.count(); // computes and keeps the words
  const letters = await lengths.reduce((a, b) => a + b); // reads the words, keeps the lengths
  const distinct = await counts.count(); // reads the words, keeps the counts
  const top = await counts.takeOrdered(5, ([w, n]) => `${String(1e9 - n).padStart(10, "0")} ${w}`); // reads only the counts
  const longest = await lengths.reduce((a, b) => Math.max(a, b)); // reads only the lengths
  words.unpersist(); // its disk copies are removed; the lengths and counts stay
  return { total, distinct, meanLength: letters / total, longest, top };
});
