// @ts-check
import { areaConfig } from "./area.mjs";

/**
 * Mutation testing of the state backends and the lease lock (issue 18), one of the areas of
 * `npm run mutation -- state` (scripts/mutation.sh starts the S3 server), or directly:
 *   scripts/with-s3.sh npx stryker run stryker/state.config.mjs
 * Narrow further while working: `--mutate src/state/lease-lock.ts` (or `src/x.ts:10-80`).
 * No TypeScript checker: on two shared cores it costs more than the mutants it would drop; mutants
 * that do not type-check simply fail or survive at run time and are read off the report.
 * No buildCommand: none of the suites below spawns bin/pvefleet.js.
 */
export default areaConfig("state", ["src/state/lease-lock.ts", "src/state/file-backend.ts", "src/state/s3-backend.ts", "src/state/store.ts"]);
