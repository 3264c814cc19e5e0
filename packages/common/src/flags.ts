import { CommanderError, type Command } from "commander";

/** A mistake on a service's command line: reported in one line, exit code 2, no stack trace. */
export class UsageError extends Error {}

/** Parses argv with commander, turning its errors into UsageError (and --help into exit 0). */
export function parseCommand(program: Command, argv: string[]): void {
  program.exitOverride().configureOutput({ writeErr: () => undefined });
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) process.exit(0); // --help
    throw new UsageError((err as Error).message.replace(/^error: /, ""));
  }
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
