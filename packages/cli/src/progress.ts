import type { StageStatus } from "@ballast/common/domain/states";
import type { JobView, StageView } from "@ballast/common/domain/views";

const BAR_WIDTH = 24;

/**
 * Live stage progress: on a terminal, one redrawn line per running stage; on
 * anything else, a plain line whenever a stage starts, advances by a tenth or ends.
 */
export class ProgressView {
  private drawnLines = 0;
  private readonly lastPrinted = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    headline: string,
  ) {
    this.out.write(`${headline}\n`);
  }

  update(job: JobView): void {
    if (this.out.isTTY) this.redraw(job);
    else this.printChanges(job);
  }

  /** A line about the connection, outside the stage lines. */
  note(message: string): void {
    this.drawnLines = 0;
    this.out.write(`${message}\n`);
  }

  finish(): void {
    this.drawnLines = 0;
  }

  private redraw(job: JobView): void {
    const lines = job.stages.filter((s) => s.status === "running").map(stageLine);
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : "";
    text += lines.map((l) => `\x1b[2K${l}\n`).join("");
    for (let i = lines.length; i < this.drawnLines; i++) text += "\x1b[2K\n";
    const total = Math.max(lines.length, this.drawnLines);
    if (total > lines.length) text += `\x1b[${total - lines.length}A`;
    this.drawnLines = lines.length;
    if (job.status !== "running") for (const s of job.stages) text += `${stageLine(s)}\n`;
    this.out.write(text);
  }

  private printChanges(job: JobView): void {
    for (const stage of job.stages) {
      if (stage.status === "waiting") continue;
      const key = `${stage.stageId}`;
      const tenth = Math.floor((10 * stage.completedTasks) / Math.max(1, stage.numTasks));
      const signature = `${stage.attempt}:${stage.status}:${tenth}`;
      if (this.lastPrinted.get(key) === signature) continue;
      this.lastPrinted.set(key, signature);
      this.out.write(`${stageLine(stage)}\n`);
    }
  }
}

/** The stage's status as the progress line says it. */
const STATUS_WORDS: Record<StageStatus, string> = {
  waiting: "waiting",
  running: "running",
  succeeded: "done",
  failed: "failed",
};

export function stageLine(stage: StageView): string {
  const filled = Math.round((BAR_WIDTH * stage.completedTasks) / Math.max(1, stage.numTasks));
  const bar = "=".repeat(filled) + " ".repeat(BAR_WIDTH - filled);
  const attempt = stage.attempt > 0 ? ` attempt ${stage.attempt}` : "";
  const running = stage.runningTasks > 0 ? `, ${stage.runningTasks} running` : "";
  return `stage ${stage.stageId}${attempt} (${stage.name}) [${bar}] ${stage.completedTasks}/${stage.numTasks} ${STATUS_WORDS[stage.status]}${running}`;
}
