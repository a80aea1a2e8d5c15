/**
 * The vitest configuration of the provider mutation run (stryker/provider.config.mjs): only the
 * in-process suites that exercise src/providers/proxmox/{api/client,permissions,operations}.ts.
 * Suites that spawn the CLI are left out (they cannot see an in-process mutant).
 *
 * The client is on every path, so with every suite each of its ~480 mutants would re-run nearly
 * all of them (about 2 h on two shared cores); `PVEFLEET_MUTATION_TESTS=<set>` picks the suites that
 * target one module:
 *   PVEFLEET_MUTATION_TESTS=client scripts/with-s3.sh npx stryker run stryker/provider.config.mjs --mutate src/providers/proxmox/api/client.ts
 * Without it, every set runs.
 */
import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";

const SETS: Record<string, string[]> = {
  permissions: [
    "test/providers/proxmox/permissions.test.ts",
    "test/providers/proxmox/units.test.ts",
    "test/applier/permissions.e2e.test.ts",
    "test/applier/preflight.e2e.test.ts",
  ],
  // secret-masking.test.ts is left out on purpose: its CLI and S3 cases take ~10 s a run, and
  // client.test.ts checks redactError directly.
  client: [
    "test/providers/proxmox/client.test.ts",
    "test/providers/proxmox/act-then-fail.test.ts",
    "test/providers/proxmox/api-url.test.ts",
    "test/providers/proxmox/tasks.test.ts",
    "test/providers/proxmox/gzip.test.ts",
    "test/providers/proxmox/units.test.ts",
  ],
  // shards.e2e.test.ts is left out: its two concurrent applies fail now and then when the machine
  // is loaded (load average 16 on two cores during these runs), which would fail the dry run.
  operations: [
    "test/providers/proxmox/operations-edges.e2e.test.ts",
    "test/providers/proxmox/provider.e2e.test.ts",
    "test/providers/proxmox/templates.e2e.test.ts",
    "test/providers/proxmox/template-nic.e2e.test.ts",
    "test/providers/proxmox/cross-node-clone.e2e.test.ts",
    "test/providers/proxmox/act-then-fail.test.ts",
    "test/providers/proxmox/permanent-errors.test.ts",
    "test/providers/proxmox/version.test.ts",
    "test/providers/proxmox/details-running.test.ts",
    "test/applier/guard-edges.e2e.test.ts",
    "test/applier/ownership.e2e.test.ts",
    "test/providers/proxmox/clone-retry.e2e.test.ts",
    "test/providers/proxmox/clone-settle.e2e.test.ts",
    "test/providers/proxmox/configure-edges.e2e.test.ts",
    "test/providers/proxmox/power-delete-edges.e2e.test.ts",
  ],
};

const chosen = process.env.PVEFLEET_MUTATION_TESTS;
if (chosen !== undefined && !(chosen in SETS)) throw new Error(`PVEFLEET_MUTATION_TESTS=${chosen}: one of ${Object.keys(SETS).join(", ")}`);
/** `PVEFLEET_MUTATION_FILES=a.test.ts,b.test.ts`: exactly these suites (while killing a few survivors). */
const files = process.env.PVEFLEET_MUTATION_FILES?.split(",").filter(Boolean);

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: files ?? (chosen ? SETS[chosen]! : [...new Set(Object.values(SETS).flat())]),
  },
});
