#!/usr/bin/env node
// The `ballast` command: registers tsx so the TypeScript sources run as they are.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../packages/cli/src/main.ts");
process.exit(await main(process.argv));
