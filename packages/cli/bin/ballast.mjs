#!/usr/bin/env node
// The `ballast` command: runs the CLI's built JavaScript (compiled by `npm ci`), no transpiler.
const { main } = await import("@ballast/cli/main");
process.exit(await main(process.argv));
