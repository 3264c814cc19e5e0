import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources ("source" export condition) inside the
// test processes; processes the tests spawn run the built code, which the global setup rebuilds.
const conditions = ["source", "node", "development|production"];

// The partition scenarios (test/hosts) start a whole multi-host cluster in network namespaces; run
// beside the timing-sensitive failover tests on two cores they starve them, so they are a suite of
// their own: `npm run partitions` (BALLAST_SUITE=partitions), run by .ci/run after `npm test`.
const partitions = process.env.BALLAST_SUITE === "partitions";

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: partitions ? ["test/hosts/**/*.test.ts"] : ["packages/**/*.test.ts", "services/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", ...(partitions ? [] : ["test/hosts/**"])],
    globalSetup: ["test/support/buildOnce.ts"],
    setupFiles: ["test/support/portSlice.ts", "test/support/serviceLogs.ts", "test/support/auth.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Worker threads started inside a test process resolve workspace packages to sources too.
    execArgv: ["--conditions=source"],
    fileParallelism: true,
    maxWorkers: 2,
  },
});
