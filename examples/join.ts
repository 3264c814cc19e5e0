// Inner join of two "key,value" text files.
// Args: --left URI --right URI [--output URI] (collects when no output is given).
import { job } from "ballast";

function keyValue(line: string): readonly [string, string] {
  const comma = line.indexOf(",");
  return comma < 0 ? [line, ""] : [line.slice(0, comma), line.slice(comma + 1)];
}

export default job("join", (ctx) => {
  const left = ctx.textFile(ctx.arg("left")).filter((line) => line.length > 0).map(keyValue);
  const right = ctx.textFile(ctx.arg("right")).filter((line) => line.length > 0).map(keyValue);
  const joined = left.join(right);
  const output = ctx.arg("output", "");
  return output ? joined.saveAsTextFile(output) : joined.collect();
});
