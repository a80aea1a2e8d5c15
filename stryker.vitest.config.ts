/**
 * The vitest configuration StrykerJS runs (stryker.config.mjs): the project's, minus suites that
 * import none of the mutated modules (config, sim) and minus the slowest suites that can never
 * see an in-process mutant because they only drive child processes (crash-resume's SIGKILL loop,
 * the realistic-latency CLI convergence, the tmux terminal). Other CLI-spawning suites stay: they
 * run once in the dry run against the sandbox's dist/ and are not associated with any mutant.
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
        "test/providers/**/*.test.ts",
        "test/cli/**/*.test.ts",
        "test/cli/**/*.test.tsx",
      ],
      exclude: [
        "test/applier/crash-resume.e2e.test.ts",
        "test/applier/crash-realistic.e2e.test.ts",
        "test/applier/listing-lag.e2e.test.ts",
        "test/cli/converge.test.ts",
        "test/cli/pty.test.ts",
      ],
    },
  }),
);
