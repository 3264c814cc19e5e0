// `npm run demo`: a local cluster of real processes runs word count over a generated corpus.
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startCluster, stopCluster } from "@ballast/cli/cluster";
import { useCliCredentials } from "@ballast/cli/credentials";
import { jobLink } from "@ballast/cli/historyLink";
import { formatBytes, outcomeText } from "@ballast/cli/outcome";
import { submitJob } from "@ballast/cli/submit";
import { shutdownTelemetry } from "@ballast/common/telemetry";
import { generateCorpus } from "./corpus.js";

const DIR = resolve(".demo");
const CORPUS_BYTES = 8 * 1024 * 1024;

async function demo(): Promise<number> {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const corpus = join(DIR, "corpus.txt");
  const size = generateCorpus(corpus, CORPUS_BYTES, 1);
  console.log(`generated ${formatBytes(size)} corpus at ${corpus}`);
  console.log("starting a local cluster: scheduler, staging, history, 2 nodes (executor + shuffle service each)...");
  const cluster = await startCluster({ dir: join(DIR, "cluster"), nodes: 2, ports: "auto" });
  useCliCredentials(cluster.dir);
  try {
    const output = join(DIR, "wordcount-out");
    const outcome = await submitJob({
      scheduler: cluster.scheduler,
      staging: cluster.staging,
      jobFile: "examples/wordcount.ts",
      files: [],
      conf: [],
      args: ["--input", pathToFileURL(corpus).href, "--output", pathToFileURL(output).href],
      json: false,
    });
    console.log(outcomeText(outcome));
    if (!outcome.ok) return 1;
    console.log("\ntop 10 words:");
    for (const [word, count] of topWords(output, 10)) console.log(`  ${word.padEnd(12)} ${count}`);
    const historyUrl = `http://${cluster.historyHttp}`;
    console.log(`\nhistory: ${jobLink(historyUrl, outcome.jobId)}\n  (JSON: curl -H "authorization: Bearer $(npx ballast token)" ${historyUrl}/api/v1/applications)`);
    console.log("(the cluster stops now; `npx ballast up` keeps one running)");
    return 0;
  } finally {
    await stopCluster(cluster.dir);
    await shutdownTelemetry();
  }
}

function topWords(outputDir: string, n: number): Array<[string, number]> {
  const counts: Array<[string, number]> = [];
  for (const part of readdirSync(outputDir).filter((f) => f.startsWith("part-"))) {
    for (const line of readFileSync(join(outputDir, part), "utf8").split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) counts.push([line.slice(0, tab), Number(line.slice(tab + 1))]);
    }
  }
  return counts.sort((a, b) => b[1] - a[1]).slice(0, n);
}

demo().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
