// @ts-check
/**
 * What every mutation-testing area (stryker/<area>.config.mjs, `npm run mutation -- <area>`) shares:
 * the vitest runner on the area's own narrowed suite list, per-test coverage (a mutant runs only
 * the tests that reach it), static mutants ignored (each would re-run every suite), one runner at
 * a time (two shared cores; the suites bind ports and start simulators), no TypeScript checker
 * (`--checkers typescript` turns it on), and the JSON report under reports/mutation/<area>/ that
 * scripts/mutation-score.mjs reads.
 */

/**
 * @param {string} area the area's name: its vitest config is stryker/<area>.vitest.config.ts
 * @param {string[]} mutate the modules it mutates
 * @param {{ report?: string } & import('@stryker-mutator/api/core').PartialStrykerOptions} [extra]
 *   `report`: the report's and sandbox's name within the area (default "mutation")
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function areaConfig(area, mutate, extra = {}) {
  const { report = "mutation", ...options } = extra;
  return {
    packageManager: "npm",
    testRunner: "vitest",
    vitest: { configFile: `stryker/${area}.vitest.config.ts`, related: false },
    checkers: [],
    coverageAnalysis: "perTest",
    ignoreStatic: true,
    concurrency: 1,
    mutate,
    ignorePatterns: ["dist", "reports", "coverage", ".pvefleet", ".stryker-tmp*"],
    timeoutMS: 20_000,
    timeoutFactor: 2,
    reporters: ["clear-text", "progress", "json"],
    jsonReporter: { fileName: `reports/mutation/${area}/${report}.json` },
    clearTextReporter: { allowColor: false, logTests: false },
    incremental: false,
    tempDirName: `.stryker-tmp-${area}${report === "mutation" ? "" : `-${report}`}`,
    cleanTempDir: "always",
    ...options,
  };
}
