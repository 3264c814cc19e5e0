// Worker threads do not run the parent's `--import tsx` hooks on their entry
// file (Node 20), and under vitest there is no tsx at all: register tsx here,
// then load the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
