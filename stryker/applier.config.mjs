// @ts-check
/**
 * Mutation testing of the applier's machinery (issue 18): the state writer (write-ahead records
 * durable before their action, group commit, nothing acknowledged lost), the graph walk
 * (dependents skipped after a failure, parallelism, stop on a lost lease or a signal) and the retry
 * of transient failures. Run with
 *   scripts/with-s3.sh npx stryker run stryker/applier.config.mjs
 * No TypeScript checker (too slow on two shared cores); no build: every suite imports src/.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "stryker/applier.vitest.config.ts", related: false },
  checkers: [],
  coverageAnalysis: "perTest",
  ignoreStatic: true,
  concurrency: 1,
  mutate: ["src/applier/state-writer.ts", "src/applier/walk.ts", "src/applier/retry.ts"],
  ignorePatterns: ["dist", "reports", "coverage", ".pvefleet", ".stryker-tmp*"],
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/applier/mutation.json" },
  incremental: false,
  tempDirName: ".stryker-tmp-applier",
  cleanTempDir: "always",
};
