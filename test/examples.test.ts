import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { builtEntry } from "@ballast/common/entry";
import type { JobDefinition } from "ballast";
import { runLocal, runLocalApp } from "ballast/testing/localRunner";
import wordcount from "../examples/wordcount.js";
import joinExample from "../examples/join.js";
import chained, { BUCKETS } from "../examples/chained-shuffles.js";
import explore from "../examples/explore.js";

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "ballast-sdk-"));
afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }));

function writeInput(name: string, content: string): string {
  const file = path.join(tempDir, name);
  fs.writeFileSync(file, content);
  return pathToFileURL(file).href;
}

function wordText(lines: number): string {
  const vocabulary = ["the", "quick", "brown", "fox", "jumps", "über", "lazy", "dog", ""];
  let text = "";
  for (let i = 0; i < lines; i++) {
    const words = Array.from({ length: (i * 7) % 11 }, (_, j) => vocabulary[(i * 31 + j * 17) % vocabulary.length]);
    text += words.join(" ") + (i % 3 === 0 ? "\r\n" : "\n");
  }
  return text;
}

function directWordCount(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    for (const word of line.split(" ")) if (word.length > 0) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

function parseCounts(parts: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of parts.join("").split("\n").filter((l) => l.length > 0)) {
    const [word, count] = line.split("\t");
    expect(counts.has(word!)).toBe(false);
    counts.set(word!, Number(count));
  }
  return counts;
}

function runWordCount(definition: JobDefinition) {
  const text = wordText(3000);
  const input = writeInput("words.txt", text);
  const result = runLocal(definition, { args: ["--input", input, "--output", "file:///tmp/unused-out"] });
  expect(result.textParts).toHaveLength(4);
  expect(parseCounts(result.textParts!)).toEqual(directWordCount(text));
  return result;
}

describe("examples", () => {
  it("wordcount counts every word of a file", () => {
    const result = runWordCount(wordcount);
    expect(result.plan.datasets[0]!.numPartitions).toBe(8);
    expect(result.plan.datasets.map((d) => d.callSite)).toContain("wordcount.ts:7");
  });

  it("join joins two key,value files (collect and saveAsTextFile)", () => {
    const left = writeInput("left.csv", "a,1\nb,2\na,3\n\nc,4\n");
    const right = writeInput("right.csv", "a,x\nb,y\nb,z\nd,w");
    const args = ["--left", left, "--right", right];
    const records = runLocal(joinExample, { args }).records as [string, [string, string]][];
    const expected = [["a", ["1", "x"]], ["a", ["3", "x"]], ["b", ["2", "y"]], ["b", ["2", "z"]]];
    expect(records.map((r) => JSON.stringify(r)).sort()).toEqual(expected.map((r) => JSON.stringify(r)).sort());
    const saved = runLocal(joinExample, { args: [...args, "--output", "staging://joined"] });
    expect(saved.plan.action).toBe("saveAsTextFile");
    expect(saved.textParts!.join("").split("\n").filter(Boolean).sort()).toEqual(['a\t["1","x"]', 'a\t["3","x"]', 'b\t["2","y"]', 'b\t["2","z"]']);
  });

  it("chained-shuffles matches a direct computation", () => {
    const n = 5000;
    const result = runLocal(chained, { args: ["--n", String(n)] });
    expect(result.plan.shuffles.length).toBeGreaterThanOrEqual(3);
    const expected = Array.from({ length: BUCKETS }, (_, bucket) => {
      let total = 0;
      for (let i = bucket; i < n; i += BUCKETS) total += bucket;
      const sizeClass = String(total).length;
      return [bucket, [sizeClass, `${sizeClass}-digit total`]];
    });
    const records = result.records as [number, unknown][];
    expect([...records].sort((a, b) => a[0] - b[0])).toEqual(expected);
  });

  it("a bundled job (its own SDK copy) runs through the host's runner", async () => {
    const outfile = path.join(tempDir, "wordcount.bundle.mjs");
    await build({
      entryPoints: [new URL("../examples/wordcount.ts", import.meta.url).pathname],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      outfile,
      alias: { ballast: builtEntry("ballast", ".") },
      logLevel: "silent",
    });
    const bundled = (await import(pathToFileURL(outfile).href)) as { default: JobDefinition };
    expect(bundled.default).not.toBe(wordcount);
    expect(bundled.default.kind).toBe("ballast-job");
    const fromBundle = runWordCount(bundled.default);
    expect(fromBundle.plan.graphHash).toBe(runWordCount(wordcount).plan.graphHash);
  });
});

describe("explore (an application)", () => {
  it("counts words, distinct words and the top 10 in three actions", async () => {
    const input = writeInput("explore.txt", wordText(500));
    const { result, jobs } = await runLocalApp(explore, { args: ["--input", input] });
    const counts = [...directWordCount(wordText(500))];
    const top = counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    expect(result).toEqual({ total: counts.reduce((sum, [, n]) => sum + n, 0), distinct: counts.length, top });
    expect(jobs).toHaveLength(3);
  });
});
