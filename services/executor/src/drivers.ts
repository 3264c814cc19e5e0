/**
 * Supervised driver processes of detached applications: the scheduler sends
 * LaunchDriver, this executor runs `ballast attach APP_ID --supervised` as a
 * child process (the same replay path a user's attach takes) with the
 * submitter's token, and reports its exit. The child's stdin is a pipe from
 * this process: when the executor dies, however it dies, the pipe closes and
 * the driver exits with it, so a driver never outlives the host the
 * scheduler believes it on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@ballast/common/logging";

export interface DriverExit {
  applicationId: string;
  attempt: number;
  /** -1 when a signal ended it. */
  exitCode: number;
  reason: string;
}

export interface DriverProcessOptions {
  schedulerAddresses: string[];
  stagingAddress: string;
  /** Each driver's log is DIR/drivers/<application>.<attempt>.log. */
  dataDir: string;
  logger: Logger;
  onExit(exit: DriverExit): void;
}

interface RunningDriver {
  attempt: number;
  child: ChildProcess;
}

/** Environment a driver must not inherit: the executor's own credentials. */
const WITHHELD_ENV = ["BALLAST_SECRET_FILE", "BALLAST_TOKEN", "BALLAST_INSECURE_NO_AUTH"];

export class DriverProcesses {
  private readonly running = new Map<string, RunningDriver>();
  private readonly cli = fileURLToPath(import.meta.resolve("@ballast/cli/bin"));

  constructor(private readonly options: DriverProcessOptions) {}

  /** Applications whose driver runs here (reported on every registration). */
  applicationIds(): string[] {
    return [...this.running.keys()];
  }

  /** Starts attempt `attempt`; an older attempt still running here is stopped first, a repeated launch changes nothing. */
  launch(applicationId: string, attempt: number, token: string): void {
    const current = this.running.get(applicationId);
    if (current && current.attempt >= attempt) return;
    if (current) this.stopOne(applicationId, current, "a newer attempt was placed here");
    const dir = join(this.options.dataDir, "drivers");
    mkdirSync(dir, { recursive: true });
    const logPath = join(dir, `${applicationId}.${attempt}.log`);
    const log = openSync(logPath, "a");
    const args = [this.cli, "attach", applicationId, "--supervised", "--master", this.options.schedulerAddresses.join(","), "--staging", this.options.stagingAddress];
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ["pipe", log, log], env: driverEnv(token) });
    closeSync(log);
    this.running.set(applicationId, { attempt, child });
    this.options.logger.info({ applicationId, attempt, pid: child.pid, log: logPath }, "driver started");
    child.on("error", (err) => this.options.logger.error({ applicationId, attempt, err: err.message }, "driver process error"));
    child.on("exit", (code, signal) => {
      if (this.running.get(applicationId)?.child === child) this.running.delete(applicationId);
      const reason = signal ? `ended by ${signal}` : lastLine(logPath);
      this.options.logger.info({ applicationId, attempt, code, signal }, "driver exited");
      this.options.onExit({ applicationId, attempt, exitCode: code ?? -1, reason });
    });
  }

  /** The scheduler placed the driver elsewhere: this one stops (its exit is reported, and ignored as stale). */
  stop(applicationId: string, reason: string): void {
    const driver = this.running.get(applicationId);
    if (driver) this.stopOne(applicationId, driver, reason);
  }

  /** The executor stops: its drivers stop with it (the scheduler places them again). */
  stopAll(): void {
    for (const [applicationId, driver] of this.running) this.stopOne(applicationId, driver, "executor stopping");
  }

  private stopOne(applicationId: string, driver: RunningDriver, why: string): void {
    this.options.logger.info({ applicationId, attempt: driver.attempt, why }, "stopping driver");
    this.running.delete(applicationId);
    driver.child.kill("SIGTERM");
  }
}

function driverEnv(token: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of WITHHELD_ENV) delete env[name];
  if (token) env.BALLAST_TOKEN = token;
  return env;
}

/** The driver's last words (its error line), for the scheduler's record of why it failed. */
function lastLine(path: string): string {
  try {
    const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.trim() !== "");
    return (lines[lines.length - 1] ?? "").slice(0, 500);
  } catch {
    return "";
  }
}
