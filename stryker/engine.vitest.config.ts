/**
 * The suites stryker/engine.config.mjs runs: the fast ones that import src/applier and src/planner
 * (mutants are switched in the test process only, so suites that only spawn bin/pvefleet.js cannot
 * kill anything and are left out, as are the slow crash-* and listing-lag suites).
 *
 * ENGINE_SUITES=applier or ENGINE_SUITES=planner narrows the run to one half (the applier's suites
 * drive the simulator and cost seconds per mutant; the planner's are pure and cost milliseconds):
 *   ENGINE_SUITES=planner npx stryker run stryker/engine.config.mjs --mutate src/planner/saved-plan.ts
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

const APPLIER = [
  "test/applier/action-fails.e2e.test.ts",
  "test/applier/interrupt.e2e.test.ts",
  "test/applier/lease-lost.e2e.test.ts",
  "test/applier/create.e2e.test.ts",
  "test/applier/preflight.e2e.test.ts",
  "test/applier/apply-edges.e2e.test.ts",
];

const PLANNER = [
  "test/planner/reconcile.test.ts",
  "test/planner/reconcile-edges.test.ts",
  "test/planner/converge.test.ts",
  "test/planner/drift.test.ts",
  "test/planner/pending.test.ts",
  "test/planner/details.test.ts",
  "test/planner/replace-causes.test.ts",
  "test/planner/saved-plan.test.ts",
  "test/planner/saved-plan-compact.test.ts",
  "test/planner/saved-plan-edges.test.ts",
  "test/planner/saved-plan-values.test.ts",
  "test/planner/saved-plan-fill.test.ts",
  "test/planner/saved-plan-compare.test.ts",
];

const suites = process.env.ENGINE_SUITES;
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: suites === "applier" ? APPLIER : suites === "planner" ? PLANNER : [...APPLIER, ...PLANNER],
  },
});
