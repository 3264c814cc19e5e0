import { parseArgs } from "node:util";

/** A mistake on a service's command line: reported in one line, exit code 2, no stack trace. */
export class UsageError extends Error {}

/** One `--name <value>` flag of a service: its value's placeholder, its help line, whether it repeats. */
export interface FlagDoc {
  value: string;
  help: string;
  multiple?: true;
}

type FlagValues<F extends Record<string, FlagDoc>> = { [K in keyof F]?: F[K] extends { multiple: true } ? string[] : string };

/**
 * Parses a service's flags (argv without node and the script) with node:util: commander's module
 * graph cost a service more start-up time than all of its flag handling. `--help` prints the
 * usage and exits 0; a mistake is a UsageError.
 */
export function parseServiceFlags<F extends Record<string, FlagDoc>>(service: string, summary: string, flags: F, args: string[], footer = ""): FlagValues<F> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(usageOf(service, summary, flags, footer));
    process.exit(0);
  }
  const options = Object.fromEntries(Object.entries(flags).map(([name, doc]) => [name, { type: "string" as const, multiple: doc.multiple === true }]));
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as FlagValues<F>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function usageOf(service: string, summary: string, flags: Record<string, FlagDoc>, footer: string): string {
  const lines = Object.entries(flags).map(([name, doc]) => `  ${`--${name} <${doc.value}>`.padEnd(30)} ${doc.help}${doc.multiple ? " (repeatable)" : ""}`);
  lines.push(`  ${"-h, --help".padEnd(30)} this help`);
  return `usage: ${service} [options]\n\n${summary}\n\nOptions:\n${lines.join("\n")}\n${footer ? `\n${footer}\n` : ""}`;
}

/** Runs a flag parser; a UsageError is printed as `<service>: <message>` and exits 2. */
export function parseFlagsOrExit<T>(service: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}

/** Checks a HOST:PORT flag value (port 0 lets the system pick). */
export function checkAddress(option: string, address: string): string {
  const colon = address.lastIndexOf(":");
  const port = address.slice(colon + 1);
  if (colon <= 0 || !/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`${option} must be HOST:PORT with a port from 0 to 65535, got ${JSON.stringify(address)}`);
  }
  return address;
}
