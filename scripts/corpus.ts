import { closeSync, openSync, writeSync } from "node:fs";
import { seededRandom } from "@ballast/common/seededRandom";

const SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "ba", "qu", "ze", "po", "an", "el", "or", "ut"];

function vocabulary(size: number): string[] {
  const words: string[] = [];
  for (let i = 0; words.length < size; i++) {
    let n = i;
    let w = "";
    do {
      w += SYLLABLES[n % SYLLABLES.length];
      n = Math.floor(n / SYLLABLES.length);
    } while (n > 0);
    words.push(w);
  }
  return words;
}

/**
 * Writes about `bytes` of text: lines of 5-15 words drawn from a Zipf
 * distribution (s = 1) over `vocabularySize` words. Returns the exact size.
 */
export function generateCorpus(path: string, bytes: number, seed = 42, vocabularySize = 50_000): number {
  const random = seededRandom(seed);
  const words = vocabulary(vocabularySize);
  // Cumulative Zipf weights, sampled by binary search.
  const cumulative = new Float64Array(vocabularySize);
  let total = 0;
  for (let i = 0; i < vocabularySize; i++) cumulative[i] = total += 1 / (i + 1);
  const sample = () => {
    const x = random() * total;
    let lo = 0;
    let hi = vocabularySize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
  const fd = openSync(path, "w");
  let written = 0;
  try {
    while (written < bytes) {
      const lines: string[] = [];
      for (let i = 0; i < 2000; i++) {
        const n = 5 + Math.floor(random() * 11);
        const line: string[] = [];
        for (let j = 0; j < n; j++) line.push(sample());
        lines.push(line.join(" "));
      }
      written += writeSync(fd, `${lines.join("\n")}\n`);
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** A plain single-process word count, the reference for tests and the benchmark baseline. */
export function countWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    for (const word of line.split(" ")) {
      if (word.length === 0) continue;
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}
