#!/usr/bin/env node
// The `ballast` command: runs the CLI's built JavaScript (compiled by `npm ci`), no transpiler,
// from its one-file bundle (scripts/build.mjs): one module to load instead of some 650.
const { main } = await import("../dist/ballast.bundle.mjs");
process.exit(await main(process.argv));
