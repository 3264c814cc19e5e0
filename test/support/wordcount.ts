import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { countWords, generateCorpus } from "../../scripts/corpus.js";

/** A generated corpus and its word counts computed in the test process. */
export function prepareCorpus(path: string, bytes: number, seed: number): Map<string, number> {
  generateCorpus(path, bytes, seed);
  return countWords(readFileSync(path, "utf8"));
}

/** Parses `word<TAB>count` lines; a word written twice (a partition committed twice) fails. */
export function parseCounts(text: string, into = new Map<string, number>()): Map<string, number> {
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [word, count] = line.split("\t");
    if (into.has(word!)) throw new Error(`word ${word} written twice`);
    into.set(word!, Number(count));
  }
  return into;
}

/** The counts in a saveAsTextFile output directory, with the part files found. */
export function readCountsDir(dir: string): { counts: Map<string, number>; parts: string[] } {
  const parts = readdirSync(dir).filter((f) => f.startsWith("part-")).sort();
  const counts = new Map<string, number>();
  for (const part of parts) parseCounts(readFileSync(join(dir, part), "utf8"), counts);
  return { counts, parts };
}
