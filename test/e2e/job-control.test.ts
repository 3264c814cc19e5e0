import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCluster } from "@ballast/cli/cluster";
import { lastJson, runCli, spawnCli, startTestCluster, type TestCluster } from "../support/cluster.js";

let cluster: TestCluster;
let work: string;
const dirFlag = () => ["--dir", cluster.dir];
const SLOW = ["test/fixtures/slow.ts", "--", "--tasks", "4", "--ms", "20000"];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ballast-control-"));
  cluster = await startTestCluster({ nodes: 1 });
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

const jobIdIn = (text: string) => /submitted (job-\d+)/.exec(text)![1]!;
const statusOf = async (jobId: string) => JSON.parse((await runCli(["status", jobId, ...dirFlag(), "--json"])).stdout).status;

describe("job control from the command line", () => {
  it("submits detached, shows status, reattaches with watch to the result, and the printed link opens the job", async () => {
    const detached = await runCli(["submit", ...dirFlag(), "--detach", "test/fixtures/slow.ts", "--", "--tasks", "2", "--ms", "1500"]);
    expect(detached.code, detached.stderr).toBe(0);
    const jobId = jobIdIn(detached.stdout);
    expect(detached.stdout).toContain(`ballast watch ${jobId}`);
    const link = /history: (\S+)/.exec(detached.stdout)![1]!;
    expect(link).toMatch(new RegExp(`^http://${cluster.historyHttp}/login\\?job=${jobId}&ticket=bt1t\\.login\\.`));

    const status = await runCli(["status", jobId, ...dirFlag()]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${jobId} \\(slow\\) (running|succeeded) after`));
    expect(status.stdout).toMatch(/stage 0 \(.*\) \[.*\] \d\/2/);
    expect(status.stdout).toMatch(/stats: \d+ tasks/);

    const watched = await runCli(["watch", jobId, ...dirFlag()]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain(`watching ${jobId}`);
    expect(watched.stdout).toMatch(new RegExp(`^2\\njob ${jobId} succeeded`));
    expect(await statusOf(jobId)).toBe("succeeded");

    // The printed link, and a fresh one from `ballast history-link`, log the user in and open the job's page,
    // whose job route resolves the application that holds the job.
    const fresh = await runCli(["history-link", jobId, ...dirFlag()]);
    expect(fresh.code, fresh.stderr).toBe(0);
    for (const url of [link, fresh.stdout.trim()]) {
      const login = await fetch(url, { redirect: "manual" });
      expect(login.status).toBe(303);
      expect(login.headers.get("location")).toBe(`/#/job/${jobId}`);
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      const found = await (await fetch(`http://${cluster.historyHttp}/api/v1/jobs/${jobId}`, { headers: { cookie } })).json();
      expect(found.applicationId).toBeTruthy();
    }
    expect((await fetch(`http://${cluster.historyHttp}/api/v1/jobs/${jobId}`)).status).toBe(401);
  });

  it("cancels a running job; says so for a finished or unknown one", async () => {
    const jobId = jobIdIn((await runCli(["submit", ...dirFlag(), "--detach", ...SLOW])).stdout);
    const cancelled = await runCli(["cancel", jobId, ...dirFlag()]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`${jobId} cancelled`);
    expect(await statusOf(jobId)).toBe("cancelled");
    const watched = await runCli(["watch", jobId, ...dirFlag(), "--json"]);
    expect([watched.code, lastJson(watched.stdout).status]).toEqual([1, "cancelled"]);

    const finished = jobIdIn((await runCli(["submit", ...dirFlag(), "--detach", "test/fixtures/slow.ts", "--", "--tasks", "1", "--ms", "1"])).stdout);
    await runCli(["watch", finished, ...dirFlag()]);
    const late = await runCli(["cancel", finished, ...dirFlag()]);
    expect([late.code, late.stderr]).toEqual([1, `ballast: ${finished} had already succeeded; nothing to cancel\n`]);

    for (const command of ["cancel", "status", "watch"]) {
      const unknown = await runCli([command, "job-9999", ...dirFlag()]);
      expect(unknown.code, command).toBe(2);
      const message = `ballast: the scheduler has no job job-9999 (ballast jobs lists them; an ended job leaves the scheduler after ballast.scheduler.jobRetention, and history keeps ended jobs: http://${cluster.historyHttp}/login?job=job-9999&ticket=`;
      expect(unknown.stderr.startsWith(message), unknown.stderr).toBe(true);
      expect(unknown.stderr).toMatch(/&ticket=bt1t\.login\.[^\s)]+\)\n$/);
    }
  });

  it("Ctrl-C on submit cancels the job and says so", async () => {
    const submit = spawnCli(["submit", ...dirFlag(), ...SLOW]);
    await submit.waitFor(/stage 0 .*running/);
    const jobId = jobIdIn(submit.output().stderr);
    submit.child.kill("SIGINT");
    const result = await submit.done;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain(`ballast: cancelling ${jobId} (Ctrl-C again to leave at once)`);
    expect(result.stdout).toContain(`job ${jobId} cancelled`);
    expect(await statusOf(jobId)).toBe("cancelled");
  });

  it("a second Ctrl-C leaves at once; Ctrl-C on watch leaves the job running", async () => {
    const submit = spawnCli(["submit", ...dirFlag(), ...SLOW]);
    await submit.waitFor(/stage 0 .*running/);
    const jobId = jobIdIn(submit.output().stderr);
    // Hold the scheduler while the first press's cancellation is on its way, so the job cannot
    // end before the second press: that press must find the cancellation still pending.
    const scheduler = readCluster(cluster.dir).services.find((s) => s.name === "scheduler")!;
    process.kill(scheduler.pid, "SIGSTOP");
    let result: Awaited<typeof submit.done>;
    try {
      submit.child.kill("SIGINT");
      await submit.waitFor("cancelling");
      submit.child.kill("SIGINT");
      result = await submit.done;
    } finally {
      process.kill(scheduler.pid, "SIGCONT");
    }
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/left without waiting/);

    const running = jobIdIn((await runCli(["submit", ...dirFlag(), "--detach", ...SLOW])).stdout);
    const watch = spawnCli(["watch", running, ...dirFlag()]);
    await watch.waitFor(`watching ${running}`);
    watch.child.kill("SIGINT");
    const left = await watch.done;
    expect(left.code).toBe(130);
    expect(left.stderr).toContain(`stopped watching ${running}; it keeps running`);
    expect(await statusOf(running)).toBe("running");
    await runCli(["cancel", running, ...dirFlag()]);
    // The first press had asked for the cancellation before the second one left.
    await expect.poll(() => statusOf(jobId), { timeout: 10_000 }).toBe("cancelled");
  });

  it("fetches a staged file and a job's output directory", async () => {
    const corpus = join(work, "corpus.txt");
    writeFileSync(corpus, "b a\na b\nc\n");
    const job = await runCli(["submit", ...dirFlag(), "--json", "--file", corpus, "examples/wordcount.ts", "--", "--input", "staging://corpus.txt", "--output", "staging://results/wc"]);
    expect(job.code, job.stderr).toBe(0);

    const file = await runCli(["fetch", "staging://corpus.txt", join(work, "copy.txt"), ...dirFlag()]);
    expect(file.code, file.stderr).toBe(0);
    expect(readFileSync(join(work, "copy.txt"), "utf8")).toBe("b a\na b\nc\n");

    const out = join(work, "wc");
    const dir = await runCli(["fetch", "staging://results/wc", out, ...dirFlag()]);
    expect(dir.code, dir.stderr).toBe(0);
    const parts = readdirSync(out).filter((f) => f.startsWith("part-"));
    expect(parts.length).toBeGreaterThan(0);
    const lines = parts.flatMap((p) => readFileSync(join(out, p), "utf8").split("\n").filter(Boolean));
    expect(lines.sort()).toEqual(["a\t2", "b\t2", "c\t1"].sort());

    expect(await runCli(["fetch", "staging://nothing/here", out, ...dirFlag()])).toMatchObject({ code: 2, stderr: "ballast: nothing in staging at staging://nothing/here\n" });
    expect(await runCli(["fetch", "/etc/passwd", out, ...dirFlag()])).toMatchObject({ code: 2 });
  });
});
