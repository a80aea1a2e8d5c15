// @ts-check
/**
 * Mutation testing of the state backends and the lease lock (issue 18), one of the areas of
 * `npm run mutation -- state` (scripts/mutation.sh starts the S3 server), or directly:
 *   scripts/with-s3.sh npx stryker run stryker/state.config.mjs
 * Narrow further while working: `--mutate src/state/lease-lock.ts` (or `src/x.ts:10-80`).
 * No TypeScript checker: on two shared cores it costs more than the mutants it would drop; mutants
 * that do not type-check simply fail or survive at run time and are read off the report.
 * No buildCommand: none of the suites below spawns bin/pvefleet.js.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "stryker/state.vitest.config.ts", related: false },
  checkers: [],
  coverageAnalysis: "perTest",
  ignoreStatic: true,
  concurrency: 1,
  mutate: ["src/state/lease-lock.ts", "src/state/file-backend.ts", "src/state/s3-backend.ts", "src/state/store.ts"],
  ignorePatterns: ["dist", "reports", "coverage", ".pvefleet", ".stryker-tmp*"],
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/state/mutation.json" },
  incremental: false,
  tempDirName: ".stryker-tmp-state",
  cleanTempDir: "always",
};
