// What the memory benchmark's jobs must have produced, computed from their inputs by a plain scan.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import type { JobOutcome } from "@ballast/cli/outcome";
import { partFileLines, validateSortedLines, type RecordSetSummary } from "../test/support/teraSort.js";

/** A check's verdict, printed as the "validator" row. */
export interface Check {
  ok: boolean;
  text: string;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Words (runs of bytes other than space and newline) and non-empty lines of a file, read in 16 MiB steps. */
export function countWordsAndLines(path: string): { words: number; lines: number } {
  const buffer = Buffer.alloc(16 * 1024 * 1024);
  const fd = openSync(path, "r");
  let words = 0;
  let lines = 0;
  let inWord = false;
  let lineEmpty = true;
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
      for (let i = 0; i < n; i++) {
        const byte = buffer[i]!;
        if (byte === NEWLINE) {
          if (!lineEmpty) lines++;
          lineEmpty = true;
          inWord = false;
        } else {
          lineEmpty = false;
          if (byte === SPACE) {
            inWord = false;
          } else if (!inWord) {
            inWord = true;
            words++;
          }
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return { words, lines: lines + (lineEmpty ? 0 : 1) };
}

/** group-words writes "word<TAB>number of its positions": the numbers add up to the input's words. */
export function checkGroupedWords(output: string, input: string): Check {
  let total = 0;
  let keys = 0;
  for (const line of partFileLines(output)) {
    total += Number(line.slice(line.lastIndexOf("\t") + 1));
    keys++;
  }
  const { words } = countWordsAndLines(input);
  return { ok: total === words, text: `${keys} words, ${total} positions ${total === words ? "=" : "!="} ${words} words in the input` };
}

/** join-words counts every non-empty line once: its first word has exactly one match. */
export function checkJoinCount(outcome: JobOutcome, input: string): Check {
  const { lines } = countWordsAndLines(input);
  return { ok: outcome.count === lines, text: `${outcome.count} joined records ${outcome.count === lines ? "=" : "!="} ${lines} non-empty input lines` };
}

/** The sort's part files in order are globally sorted and hold the input's records (count and checksum). */
export function checkSorted(output: string, input: string): Check {
  const expected = JSON.parse(readFileSync(`${input}.json`, "utf8")) as RecordSetSummary;
  const found = validateSortedLines(partFileLines(output));
  const complete = found.records === expected.records && found.checksum === expected.checksum;
  const order = found.firstDisorder ? `NOT SORTED (${found.firstDisorder})` : "globally sorted";
  return { ok: !found.firstDisorder && complete, text: `${order}, ${complete ? "complete" : `INCOMPLETE (${found.records} of ${expected.records} records)`}` };
}
