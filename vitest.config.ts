import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { ballast: new URL("./packages/sdk/src/index.ts", import.meta.url).pathname } },
  test: {
    include: ["packages/**/*.test.ts", "services/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
  },
});
