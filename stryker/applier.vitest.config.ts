/**
 * The suites stryker/applier.config.mjs runs: the applier's unit suites, against the real file store
 * (milliseconds per mutant). The end-to-end suites also cover these modules but cost seconds per
 * mutant; the score here is what the unit suites alone catch.
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "test/applier/state-writer.test.ts",
      "test/applier/writer-edges.test.ts",
      "test/applier/walk.test.ts",
      "test/applier/retry.test.ts",
    ],
  },
});
