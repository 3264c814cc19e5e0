// Four chained shuffles over range(n): reduceByKey -> groupByKey -> distinct -> join.
// Args: [--n COUNT] (default 10000). Result: collected [bucket, [sizeClass, label]] records,
// one per bucket whose total falls in a known size class; see the test for the reference.
import { job } from "ballast";

export const BUCKETS = 97;

export default job("chained-shuffles", (ctx) => {
  const n = Number(ctx.arg("n", "10000"));
  // Shuffle 1: per bucket b = i mod 97, the sum of b over its members (b * count).
  const totals = ctx
    .range(n, 4)
    .map((i) => [i % BUCKETS, i % BUCKETS] as const)
    .reduceByKey((a, b) => a + b, { partitions: 3 });
  // Shuffle 2: buckets grouped by the size class of their total (digits of the total).
  const byClass = totals.map(([bucket, total]) => [String(total).length, bucket] as const).groupByKey({ partitions: 5 });
  // Shuffle 3: the distinct (sizeClass, bucket) pairs, flattened back out.
  const pairs = byClass.flatMap(([sizeClass, buckets]) => buckets.map((bucket) => [sizeClass, bucket] as const)).distinct();
  // Shuffle 4: join with a small labels table by size class.
  const labels = ctx.parallelize(
    Array.from({ length: 20 }, (_, digits) => [digits, `${digits}-digit total`] as const),
    2,
  );
  return pairs
    .join(labels, { partitions: 2 })
    .map(([sizeClass, [bucket, label]]) => [bucket, [sizeClass, label]] as const)
    .collect();
});
