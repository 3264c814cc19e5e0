/**
 * The `ballast` command. This module loads nothing but commander: each command's code (gRPC,
 * esbuild, telemetry, the cluster launcher) is imported when the command runs, so `--help` and
 * mistakes answer at once.
 */
import { Command, CommanderError, Option } from "commander";
import { ExitError } from "./exit.js";

const collect = (value: string, all: string[]) => [...all, value];
const DEFAULT_DIR = ".ballast";
/** Commands that act on the cluster itself and so need its own credentials (the secret), not a user's. */
const OPERATOR_COMMANDS = new Set(["decommission", "recommission"]);

const local = () => import("./commands/local.js");
const submission = () => import("./commands/submit.js");
const inspect = () => import("./commands/inspect.js");
const control = () => import("./commands/control.js");

/** Options every command that talks to a running cluster takes. */
function clusterOptions(command: Command, master = "scheduler address(es), comma-separated"): Command {
  return command.option("--master <host:port>", master).option("--dir <dir>", "local cluster directory", DEFAULT_DIR);
}

function jobOptions(command: Command): Command {
  return command
    .option("--file <path>", "upload a file; the job reads it as staging://<basename>", collect, [])
    .option("--conf <key=value>", "ballast.* setting for this job", collect, []);
}

export function buildProgram(): Command {
  const program = new Command("ballast").description("Ballast: a fault-tolerant distributed batch engine").exitOverride();
  // Every command talking to a cluster carries its credentials (credentials.ts); `run` sets its own.
  program.hook("preAction", async (_program, command) => {
    if (command.name() === "run" || command.name() === "token") return;
    const { useCliCredentials } = await import("./credentials.js");
    useCliCredentials(command.opts().dir ?? DEFAULT_DIR, { operator: OPERATOR_COMMANDS.has(command.name()) });
  });
  program
    .command("up")
    .description("start a local cluster (scheduler, staging, history, N nodes of executor + shuffle)")
    .option("--nodes <n>", "number of nodes", "2")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .option("--slots <n>", "task slots per executor (default: cores / nodes, at least 1)")
    .option("--ports <mode>", "default (Spark's ports) or auto (free ports)", "default")
    .option("--schedulers <n>", "schedulers sharing one store: one active, the rest standbys", "1")
    .option("--store <url>", "postgresql://USER[:PASS]@HOST:PORT/DB for the schedulers' state and history's event logs (env BALLAST_STORE; default: SQLite); each scheduler then has its own data directory", process.env.BALLAST_STORE)
    .option("--tls", "make a CA and per-service certificates in DIR/tls and run every service over mutual TLS (history over HTTPS)", false)
    .action(async (opts) => (await local()).up(opts));
  program
    .command("down")
    .description("stop the local cluster")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .action(async (opts) => (await local()).down(opts));
  program
    .command("start <service>")
    .description("start one service of an existing local cluster again (scheduler|staging|history|shuffle|executor)")
    .option("--node <id>", "node id, for shuffle and executor")
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .action(async (service, opts) => (await local()).start(service, opts));
  jobOptions(clusterOptions(program.command("submit <job> [args...]"), "scheduler address (default: from --dir)"))
    .description("bundle, upload and run a job on a cluster; args after -- go to the job")
    .option("--staging <host:port>", "staging address (with --master)")
    .option("--json", "end with one JSON line: job id, status, result, stats", false)
    .option("--detach", "return once the scheduler has the job (then: ballast watch/status/cancel JOB); an application's driver then runs in the cluster (ballast attach APP_ID follows it)", false)
    .option("--trace-url <template>", "trace link printed at the end, {traceId} replaced (default BALLAST_TRACE_URL, then Jaeger's)")
    .option("--app-id <id>", "resume this application (app(...)): finished actions return their recorded results, a running one is rejoined")
    .action(async (job, args, opts) => void (process.exitCode = await (await submission()).submit(job, args, opts)));
  clusterOptions(program.command("attach <applicationId>"))
    .description("resume an application whose driver was lost: its program runs again with its args and --conf, finished actions are not rerun; a detached one is followed to its end")
    .option("--staging <host:port>", "staging address (with --master)")
    .option("--json", "end with one JSON line, as submit --json", false)
    .addOption(new Option("--supervised", "run as a detached application's driver (the executor supervising it passes this)").hideHelp())
    .action(async (applicationId, opts) => void (process.exitCode = await (await submission()).attach(applicationId, opts)));
  clusterOptions(program.command("status <jobId>"))
    .description("a job's state, its stages' progress and its stats")
    .option("--json", "print JSON", false)
    .action(async (jobId, opts) => void (process.exitCode = await (await control()).status(jobId, opts)));
  clusterOptions(program.command("watch <jobId>"))
    .description("reattach to a job: live progress to its end, then its result (Ctrl-C leaves it running)")
    .option("--json", "end with one JSON line, as submit --json", false)
    .action(async (jobId, opts) => void (process.exitCode = await (await control()).watch(jobId, opts)));
  clusterOptions(program.command("cancel <id>"))
    .description("cancel a running job, or an application (APP_ID: its running job too, and it submits no more)")
    .action(async (id, opts) => void (process.exitCode = await (await control()).cancel(id, opts)));
  clusterOptions(program.command("fetch <uri> <dest>"))
    .description("download staging://NAME (a file, or every file of an output directory) to DEST")
    .option("--staging <host:port>", "staging address (with --master)")
    .action(async (uri, dest, opts) => void (process.exitCode = await (await control()).fetch(uri, dest, opts)));
  jobOptions(program.command("run <job> [args...]"))
    .description("run a job on an embedded local cluster started and stopped for it")
    .option("--nodes <n>", "number of nodes", "2")
    .option("--json", "end with one JSON line", false)
    .action(async (job, args, opts) => void (process.exitCode = await (await submission()).run(job, args, opts)));
  clusterOptions(program.command("jobs"))
    .description("list the scheduler's jobs")
    .option("--json", "print JSON", false)
    .action(async (opts) => (await inspect()).jobs(opts));
  clusterOptions(program.command("executors"))
    .description("list the executors the scheduler knows, with their state")
    .option("--json", "print JSON", false)
    .action(async (opts) => (await inspect()).executors(opts));
  clusterOptions(program.command("nodes"))
    .description("list the nodes with their state (active, excluded, decommissioning, decommissioned, lost)")
    .option("--json", "print JSON", false)
    .action(async (opts) => (await inspect()).nodes(opts));
  clusterOptions(program.command("decommission <node>"))
    .description("drain a node and migrate its shuffle data to peers before it goes")
    .option("--deadline <duration>", "time the node has (e.g. 120s)", "120s")
    .action(async (node, opts) => (await inspect()).decommission(node, opts));
  clusterOptions(program.command("recommission <node>"))
    .description("undo a decommission while the node is still up")
    .action(async (node, opts) => (await inspect()).recommission(node, opts));
  program
    .command("history-link <jobId>")
    .description("print a link that opens the job's page in the history UI for you (it logs in with a ticket good for 15 minutes)")
    .option("--history <url>", "history's web address, http(s)://HOST:PORT (default: the cluster in --dir)")
    .option("--dir <dir>", "local cluster directory", DEFAULT_DIR)
    .action(async (jobId, opts) => (await import("./historyLink.js")).printHistoryLink(jobId, opts));
  program
    .command("token")
    .description("print a token minted from the cluster secret (--dir or BALLAST_SECRET_FILE), for BALLAST_TOKEN")
    .option("--user <name>", "whose token (default BALLAST_USER, then the login name)")
    .option("--cluster", "the cluster's own token instead: every call, operator commands included", false)
    .option("--dir <dir>", "cluster directory", DEFAULT_DIR)
    .action(async (opts) => (await import("./credentials.js")).printToken(opts));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    return reportFailure(err);
  }
}

/** One line on stderr, never our stack trace; the exit code says whose mistake it was. */
async function reportFailure(err: unknown): Promise<number> {
  const { BallastError, describeError, isServiceError } = await import("@ballast/common/errors");
  const unreachable = isServiceError(err) && err.code === 14;
  process.stderr.write(`ballast: ${unreachable ? `cannot reach the service: ${err.details}` : describeError(err)}\n`);
  return err instanceof ExitError ? err.exitCode : err instanceof BallastError && !err.retryable ? 2 : 1;
}
