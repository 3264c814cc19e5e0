/**
 * The one set of input limits every Ballast service applies at its wire edge,
 * so that whatever the scheduler accepts, history (and every other service)
 * accepts too: an event the scheduler emits about an id it took can never be
 * refused later and wedge an outbox.
 *
 * Each check returns a message naming the problem, or undefined when the
 * value is fine; callers turn messages into INVALID_ARGUMENT (HTTP 400).
 */
export const LIMITS = {
  /** Job, task, executor, node, application, shuffle and submission ids. */
  idLength: 200,
  /** Job names, call sites, scopes: short human text. */
  nameLength: 200,
  /** Datasets in one plan. */
  datasets: 10_000,
  /** Partitions of one dataset, and shuffle reduce partitions. */
  partitions: 100_000,
  /** Partitions summed over a plan's datasets: every one becomes at least one task. */
  planPartitions: 1_000_000,
  /** The longest parent chain in a plan (lineage depth): an executor nests one iterator per narrow op. */
  planDepth: 1_000,
  /** Parents of one dataset (a union of many). */
  parents: 1_000,
  /** Task slots one executor may offer. */
  slots: 1_024,
  /** Arguments of one job, and their total length in characters. */
  args: 1_000,
  argsLength: 1_000_000,
  /** Names one staging Promote binds: a job's output parts and its _SUCCESS marker. */
  promoteBindings: 100_001,
  /** Input files of one plan: each pinned digest rides in the job's staging token (auth.ts MAX_GRANTS). */
  inputs: 256,
  /** URIs (inputs, outputs). */
  uriLength: 4_096,
  /** Error messages a client reports (an application's failure). */
  messageLength: 10_000,
} as const;

/** ASCII and Unicode control characters break log lines, URLs and terminal output. */
const CONTROL = /\p{Cc}/u;

/** A required id: non-empty, at most LIMITS.idLength characters, no control characters. */
export function idProblem(what: string, id: string): string | undefined {
  if (id === "") return `${what} is required`;
  return textProblem(what, id, LIMITS.idLength);
}

/** An optional id: empty, or a valid id. */
export function optionalIdProblem(what: string, id: string): string | undefined {
  return id === "" ? undefined : idProblem(what, id);
}

/** Human text that may be empty (a job name, a call site): bounded, no control characters. */
export function nameProblem(what: string, name: string, maxLength: number = LIMITS.nameLength): string | undefined {
  return textProblem(what, name, maxLength);
}

function textProblem(what: string, text: string, maxLength: number): string | undefined {
  if (text.length > maxLength) return `${what} is longer than ${maxLength} characters`;
  if (CONTROL.test(text)) return `${what} ${JSON.stringify(text.slice(0, 40))} contains a control character`;
  return undefined;
}

/** An integer in [min, max] (both inclusive), and a safe one: no precision lost on the way in. */
export function integerProblem(what: string, value: number, min: number, max: number = Number.MAX_SAFE_INTEGER): string | undefined {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return max === Number.MAX_SAFE_INTEGER ? `${what} must be an integer >= ${min}, got ${value}` : `${what} must be an integer in [${min}, ${max}], got ${value}`;
  }
  return undefined;
}

/** A program's arguments (a plan's, an application's): bounded in number and in total length. */
export function argsProblem(owner: string, args: readonly string[]): string | undefined {
  if (args.length > LIMITS.args) return `${owner} has ${args.length} arguments; at most ${LIMITS.args} are allowed`;
  const length = args.reduce((sum, arg) => sum + arg.length, 0);
  if (length > LIMITS.argsLength) return `${owner}'s arguments are ${length} characters long; at most ${LIMITS.argsLength} are allowed`;
  return undefined;
}

/** The first problem of several checks, or undefined. */
export function firstProblem(...problems: Array<string | undefined>): string | undefined {
  return problems.find((problem) => problem !== undefined);
}

/**
 * host:port as an executor advertises its shuffle service: a hostname, IPv4
 * or bracketed IPv6 address and a port in 1..65535. Anything else (a newline,
 * a path, a missing port) would break a later dial or log line.
 */
export function addressProblem(what: string, address: string): string | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : 0;
  if (!match || port < 1 || port > 65_535) return `${what} ${JSON.stringify(address.slice(0, 80))} is not host:port`;
  return undefined;
}
