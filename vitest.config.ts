import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources ("source" export condition) inside the
// test processes; processes the tests spawn run the built code, which the global setup rebuilds.
const conditions = ["source", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/**/*.test.ts", "services/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["test/support/buildOnce.ts"],
    setupFiles: ["test/support/serviceLogs.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Worker threads started inside a test process resolve workspace packages to sources too.
    execArgv: ["--conditions=source"],
    fileParallelism: true,
    maxWorkers: 2,
  },
});
