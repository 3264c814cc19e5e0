import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "@ballast/common/grpc";
import { eventToWire } from "@ballast/common/wire/events";
import { LOGIN_TICKET_TTL_MS, mintTimedToken } from "@ballast/common/auth";
import { testToken } from "../testing/tokens.js";
import { applicationEvents, recoveryEvents } from "../testing/fixtures.js";
import { killHard, startHistoryProcess, type RunningHistoryProcess } from "../testing/process.js";

/**
 * The web UI in a real browser: the real history process, a published
 * application, headless Chromium clicking from the application to a job.
 * Skipped (with the reason in the test name) without Chromium or playwright-core.
 */

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];
const APP = "browser-app";
const ARTIFACTS = fileURLToPath(new URL("../../../../test-artifacts", import.meta.url));
/** Kept after the run: what the timeline of a job that lost a node looks like. */
const TIMELINE_SCREENSHOT = join(ARTIFACTS, "history-timeline.png");

type Playwright = typeof import("playwright-core");

async function loadPlaywright(): Promise<Playwright | string> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed`;
  try {
    return await import("playwright-core");
  } catch (err) {
    return `playwright-core cannot be loaded (${(err as Error).message.split("\n")[0]})`;
  }
}

/** A login link as `ballast history-link` prints it: a short-lived ticket the server swaps for a cookie. */
function loginLink(baseUrl: string, jobId?: string): string {
  const ticket = mintTimedToken(testToken({ role: "user", user: "alice" }), "login", Date.now() + LOGIN_TICKET_TTL_MS);
  return `${baseUrl}/login?${jobId ? `job=${jobId}&` : ""}ticket=${ticket}`;
}

const playwright = await loadPlaywright();
const skipReason = typeof playwright === "string" ? playwright : undefined;

describe.skipIf(skipReason)(`history UI in Chromium${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "history-browser-"));
  const screenshotDir = mkdtempSync(join(tmpdir(), "history-screenshot-"));
  let history: RunningHistoryProcess | undefined;
  let browser: import("playwright-core").Browser | undefined;

  beforeAll(async () => {
    history = await startHistoryProcess(dataDir);
    const { client } = history;
    const events = [...applicationEvents(), ...recoveryEvents()].map(eventToWire);
    await call(client.publishEvents.bind(client), { applicationId: APP, events });
    browser = await (playwright as Playwright).chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    if (history) await killHard(history);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(screenshotDir, { recursive: true, force: true });
  });

  it("navigates from the application list to a job and shows its stages and tasks", async () => {
    const page = await browser!.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    // Without a session the page says how to get one; the login link then opens it.
    await page.goto(`${history!.httpUrl}/`);
    await page.getByText("ballast history-link").waitFor();
    await page.goto(loginLink(history!.httpUrl));
    expect(page.url()).toBe(`${history!.httpUrl}/`); // the ticket is gone from the address

    await page.getByRole("link", { name: APP }).click();
    await page.getByRole("heading", { name: "Nodes" }).waitFor();
    const nodes = page.locator("table").nth(1); // jobs, nodes, executors, failovers
    await expect(nodes.locator("tr", { hasText: "node-3" }).innerText()).resolves.toContain("decommissioned");
    expect(await page.getByRole("heading", { name: "Scheduler failovers" }).isVisible()).toBe(true);

    await page.getByRole("link", { name: "job-1", exact: true }).click();
    await page.getByRole("heading", { name: "Stages" }).waitFor();
    expect(page.url()).toContain(`#/app/${APP}/job/job-1`);
    const [stages, tasks] = [page.locator("table").nth(0), page.locator("table").nth(1)];
    expect(await stages.locator("tbody tr").count()).toBe(2);
    expect(await stages.innerText()).toContain("reduceByKey at wordcount.ts:9");
    expect(await tasks.locator("tbody tr").count()).toBe(4);
    const failedTask = await tasks.locator("tr", { hasText: "t-0-1-0" }).innerText();
    expect(failedTask).toContain("failed");
    expect(failedTask).toContain("user_error: boom");

    const screenshot = join(screenshotDir, "job-1.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(1000);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("draws the timeline of a job that lost a node, with its markers; clicking a task bar shows it", async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    // The link `ballast submit` prints: the job id, through a login.
    await page.goto(loginLink(history!.httpUrl, "job-2"));
    expect(page.url()).toBe(`${history!.httpUrl}/#/job/job-2`);
    await page.locator("svg.timeline").waitFor();
    for (const type of ["executorRemoved", "mapOutputsLost", "taskResubmitted", "stageResubmitted", "exclusionChanged", "decommissionChanged", "shuffleMigrated", "schedulerFailover"]) {
      const box = await page.locator(`svg.timeline g.marker-${type} line`).first().boundingBox();
      expect(box?.height, type).toBeGreaterThan(0);
    }
    // The screenshot stays, as a test artifact.
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: TIMELINE_SCREENSHOT, fullPage: true });
    expect(statSync(TIMELINE_SCREENSHOT).size).toBeGreaterThan(1000);

    await page.goto(`${history!.httpUrl}/#/app/${APP}/job/job-1`);
    await page.locator('svg.timeline rect.task.failed').click();
    await expect(page.locator("#timeline-detail").innerText()).resolves.toBe("t-0-1-0 on exec-2 (node-2): failed, 8 ms, user_error: boom");
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
