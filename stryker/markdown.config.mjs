// @ts-check
import { areaConfig } from "./area.mjs";

/**
 * Mutation testing of the PR-comment plan preview (issue 18, area "markdown"): the markdown renderer
 * and its size budget (GitHub's 65,536-character comment limit; a cut keeps the summary and says
 * what it dropped, never hides a destroy or a replacement).
 *   scripts/with-s3.sh npx stryker run stryker/markdown.config.mjs
 * Only in-process suites run (stryker/markdown.vitest.config.ts); test/cli/markdown-cli.test.ts
 * spawns the built CLI and cannot see a mutant, so no buildCommand. The TypeScript checker is left
 * out: on two shared cores it costs more than the test runs themselves. A full run: about 1,060
 * mutants, 36 minutes on two shared cores (measured 2026-11-30); narrow it while working, e.g.
 *   npx stryker run stryker/markdown.config.mjs --mutate src/cli/render/markdown.ts:300-480
 */
export default areaConfig("markdown", ["src/cli/render/markdown.ts", "src/cli/render/markdown-ci.ts", "src/cli/render/markdown-warnings.ts"]);
