/**
 * The vitest configuration stryker/markdown.config.mjs runs: only the fast in-process suites that
 * import the markdown renderer (no CLI-spawning suite: it cannot see an in-process mutant).
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/cli/markdown.test.ts", "test/cli/render.test.ts", "test/cli/markdown-*.test.ts"],
    exclude: ["test/cli/markdown-cli.test.ts"],
  },
});
