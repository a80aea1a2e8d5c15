// @ts-check
import { areaConfig } from "./area.mjs";

/**
 * Mutation testing of the applier's machinery (issue 18): the state writer (write-ahead records
 * durable before their action, group commit, nothing acknowledged lost), the graph walk
 * (dependents skipped after a failure, parallelism, stop on a lost lease or a signal) and the retry
 * of transient failures. Run with
 *   scripts/with-s3.sh npx stryker run stryker/applier.config.mjs
 * No TypeScript checker (too slow on two shared cores); no build: every suite imports src/.
 */
export default areaConfig("applier", ["src/applier/state-writer.ts", "src/applier/walk.ts", "src/applier/retry.ts"]);
