// @ts-check
/**
 * Mutation testing of the safety-critical modules (issue 18): `npm run mutation` (scripts/mutation.sh
 * starts the S3 test server the state suites need). Mutants are switched in-process, so only tests
 * that import `src/` can kill them; the slowest suites that only spawn the built CLI or child
 * processes are left out of the run (see stryker.vitest.config.ts). Slow — see the note in scripts/mutation.sh.
 * Narrow a run with `npm run mutation -- --mutate src/state/lease-lock.ts`.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: { configFile: "stryker.vitest.config.ts", related: true },
  // Suites that spawn bin/pvefleet.js need dist/ in the sandbox; built from the instrumented
  // sources, it runs with no mutant active (mutants are switched in the test process only).
  buildCommand: "npx tsc -p . --noCheck",
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: "perTest",
  // Mutants in module-level code (constants, top-level statements) would each re-run every related
  // suite — minutes per mutant on two cores. They are reported as ignored, not as survivors.
  ignoreStatic: true,
  // CPU is shared; the integration suites start simulators and bind ports.
  concurrency: 1,
  mutate: [
    "src/state/lease-lock.ts",
    "src/state/file-backend.ts",
    "src/state/s3-backend.ts",
    "src/applier/index.ts",
    "src/planner/reconcile.ts",
    "src/planner/saved-plan.ts",
    "src/providers/proxmox/operations.ts",
    "src/providers/proxmox/api/client.ts",
    "src/providers/proxmox/permissions.ts",
    "src/cli/render/markdown.ts",
  ],
  ignorePatterns: ["dist", "reports", "coverage", ".pvefleet", ".stryker-tmp"],
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  // Re-runs only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
