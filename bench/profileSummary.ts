// `node --import tsx bench/profileSummary.ts FILE.cpuprofile [N]`: the top N frames of a CPU
// profile by self time, with their share of the samples (idle and GC shown as such).
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function topFrames(path: string, count: number): Array<{ frame: string; share: number }> {
  const profile = JSON.parse(readFileSync(path, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byFrame = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|wt-[^/]+)\//, "")}:${lineNumber + 1}` : "";
    const frame = `${functionName || "(anonymous)"} ${where}`.trim();
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + (hits.get(node.id) ?? 0));
  }
  const total = profile.samples.length;
  return [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, count).map(([frame, n]) => ({ frame, share: n / total }));
}

if (process.argv[1]?.endsWith("profileSummary.ts")) {
  const count = Number(process.argv[3] ?? 15);
  for (const { frame, share } of topFrames(process.argv[2]!, count)) console.log(`${(100 * share).toFixed(1).padStart(5)}%  ${frame}`);
}
