// @ts-check
import { areaConfig } from "./area.mjs";

/**
 * Mutation testing of the engine's safety paths (issue 18): the applier's entry point, the
 * planner's reconcile and the saved-plan format. One of the areas of `npm run mutation -- engine`
 * (scripts/mutation.sh); one module runs in tens of minutes, not hours:
 *   npx stryker run stryker/engine.config.mjs
 *   ENGINE_SUITES=planner npx stryker run stryker/engine.config.mjs --mutate src/planner/reconcile.ts
 * (ENGINE_SUITES: see engine.vitest.config.ts). No S3 server needed: the applier's suites use the
 * file state backend. No TypeScript checker (too slow on two shared cores): mutants that do not
 * type-check simply run and are killed or reported like the others. No build: every suite in the
 * run imports src/.
 */
export default areaConfig("engine", ["src/applier/index.ts", "src/planner/reconcile.ts", "src/planner/saved-plan.ts"]);
