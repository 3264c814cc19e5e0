import type { SchedulerConnection } from "@ballast/clients/scheduler";
import { describeError } from "@ballast/common/errors";
import { call } from "@ballast/common/grpc";
import type { SubmitHooks } from "./submit.js";

/** The shell's convention for a process ended by SIGINT (128 + 2). */
export const INTERRUPTED_EXIT_CODE = 130;

const say = (line: string) => void process.stderr.write(`ballast: ${line}\n`);

function leave(line: string): never {
  say(line);
  process.exit(INTERRUPTED_EXIT_CODE);
}

/** Runs `onPress(n)` for the n-th Ctrl-C until disposed. */
function onCtrlC(onPress: (presses: number) => void): () => void {
  let presses = 0;
  const handler = () => onPress(++presses);
  process.on("SIGINT", handler);
  return () => void process.off("SIGINT", handler);
}

/**
 * Ctrl-C during `ballast submit`: the first press cancels the job and says so, and the watch goes
 * on until the scheduler reports it cancelled; a second press leaves at once. Before the job
 * exists there is nothing to cancel, unless its submission is already on its way.
 */
export class SubmitInterrupt implements SubmitHooks {
  private jobId?: string;
  private scheduler?: SchedulerConnection;
  private sending = false;
  private pressed = false;
  readonly dispose = onCtrlC((presses) => this.press(presses));

  get interrupted(): boolean {
    return this.pressed;
  }

  submitting(): void {
    this.sending = true;
  }

  submitted(jobId: string, scheduler: SchedulerConnection): void {
    this.jobId = jobId;
    this.scheduler = scheduler;
    if (this.pressed) void this.cancel();
  }

  private press(presses: number): void {
    this.pressed = true;
    if (presses > 1) leave(this.jobId ? `left without waiting; cancellation of ${this.jobId} was requested` : "left without waiting for the submission");
    if (this.jobId) void this.cancel();
    else if (this.sending) say("interrupted while submitting: the job is cancelled as soon as the scheduler has it (Ctrl-C again to leave at once)");
    else leave("interrupted before the job was submitted; nothing runs");
  }

  private async cancel(): Promise<void> {
    const jobId = this.jobId!;
    say(`cancelling ${jobId} (Ctrl-C again to leave at once)`);
    try {
      await this.scheduler!.withLeader((client) => call(client.cancelJob.bind(client), { jobId }, 10_000));
    } catch (err) {
      leave(`could not cancel ${jobId}: ${describeError(err)}; it may still run (try: ballast cancel ${jobId})`);
    }
  }
}

/** Ctrl-C during `ballast watch`: stop watching; the job is not the watcher's to cancel. */
export function leaveWatchOnCtrlC(jobId: string): () => void {
  return onCtrlC(() => leave(`stopped watching ${jobId}; it keeps running (ballast watch ${jobId} to reattach, ballast cancel ${jobId} to stop it)`));
}
