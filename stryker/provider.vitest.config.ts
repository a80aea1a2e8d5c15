/**
 * The vitest configuration of the provider mutation run (stryker/provider.config.mjs): only the
 * in-process suites that exercise src/providers/proxmox/{api/client,permissions,operations}.ts —
 * unit tests of the client and codecs, and the e2e suites that drive the provider against an
 * in-process simulator. Suites that spawn the CLI are left out (they cannot see an in-process mutant).
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "test/providers/proxmox/*.test.ts",
      "test/applier/guard-edges.e2e.test.ts",
      "test/applier/ownership.e2e.test.ts",
      "test/applier/permissions.e2e.test.ts",
      "test/applier/preflight.e2e.test.ts",
    ],
  },
});
