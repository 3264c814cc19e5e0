/**
 * Removes stack frames that belong to the executor itself (the worker that
 * called user code, Node internals), so a user sees only their code and the SDK.
 */
export function trimStack(stack: string, hiddenFragments: string[]): string {
  const lines = stack.split("\n");
  const kept = lines.filter((line, index) => {
    if (index === 0 || !/^\s+at /.test(line)) return true;
    if (line.includes("node:internal") || line.includes("(<anonymous>)")) return false;
    return !hiddenFragments.some((fragment) => line.includes(fragment));
  });
  return kept.join("\n");
}
