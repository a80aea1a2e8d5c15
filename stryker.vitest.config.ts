/**
 * The vitest configuration StrykerJS runs (stryker.config.mjs): the project's, minus the suites
 * that cannot see an in-process mutant — they spawn the built CLI (`bin/pvefleet.js` → dist/) or
 * fork child processes — and minus suites that import none of the mutated modules.
 */
import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.js";

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: [
        "test/state/**/*.test.ts",
        "test/applier/**/*.test.ts",
        "test/planner/**/*.test.ts",
        "test/provider/**/*.test.ts",
        "test/provider-unit/**/*.test.ts",
        "test/cli/**/*.test.ts",
      ],
      exclude: [
        "test/state/cli.test.ts",
        "test/applier/crash-resume.e2e.test.ts",
        "test/provider-unit/place-cli.test.ts",
        "test/cli/commands.test.ts",
        "test/cli/converge.test.ts",
        "test/cli/pty.test.ts",
        "test/cli/s3-backend.test.ts",
        "test/cli/saved-plan*.test.ts",
      ],
    },
  }),
);
