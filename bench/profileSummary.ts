// `node --import tsx bench/profileSummary.ts FILE.cpuprofile... [N]`: the top N frames of one or
// more CPU profiles (a task worker writes one per 5 s window) by self time, with their share of
// the samples (idle and GC shown as such).
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function topFrames(paths: string[], count: number): Array<{ frame: string; share: number }> {
  const byFrame = new Map<string, number>();
  let total = 0;
  for (const path of paths) total += countFrames(path, byFrame);
  return [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, count).map(([frame, n]) => ({ frame, share: n / total }));
}

/** Adds a profile's samples to `byFrame` by frame (function and place; bundle hashes left out); returns its sample count. */
function countFrames(path: string, byFrame: Map<string, number>): number {
  const profile = JSON.parse(readFileSync(path, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|wt-[^/]+)\//, "").replace(/bundles\/[0-9a-f]{64}\.mjs$/, "bundles/JOB.mjs").replace(/node-\d+\//, "node-N/")}:${lineNumber + 1}` : "";
    const frame = `${functionName || "(anonymous)"} ${where}`.trim();
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + (hits.get(node.id) ?? 0));
  }
  return profile.samples.length;
}

if (process.argv[1]?.endsWith("profileSummary.ts")) {
  const args = process.argv.slice(2);
  const count = args.length > 1 && /^\d+$/.test(args.at(-1)!) ? Number(args.pop()) : 15;
  for (const { frame, share } of topFrames(args, count)) console.log(`${(100 * share).toFixed(1).padStart(5)}%  ${frame}`);
}
