/**
 * The vitest configuration stryker/state.config.mjs runs: only the state suites that import
 * src/state in-process. Left out: the CLI and GCS-only suites (they reach these modules only through
 * paths the suites below already cover) and the 8-process race in conformance.test.ts — its
 * contenders are child processes, where no mutant is ever active, and it is by far the slowest test.
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "test/state/conformance.test.ts",
      "test/state/lock-edges.test.ts",
      "test/state/lease-edges.test.ts",
      "test/state/store-edges.test.ts",
      "test/state/store-messages.test.ts",
      "test/state/file-backend-edges.test.ts",
      "test/state/s3-backend-edges.test.ts",
      "test/state/s3-faults.test.ts",
      "test/state/s3-probe.test.ts",
    ],
    testNamePattern: /^(?!.*processes × \d+ rounds)/,
  },
});
