import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two cores: integration suites start simulators and child processes; keep the fan-out modest.
    maxWorkers: 2,
    // `npm run coverage` (scripts/coverage.sh) turns it on and adds the spawned CLI's coverage.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts", "src/**/*.tsx"],
      reporter: ["json", "text-summary"],
      reportsDirectory: "coverage/in-process",
      reportOnFailure: true,
    },
  },
});
