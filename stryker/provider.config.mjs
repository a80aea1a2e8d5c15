// @ts-check
import { areaConfig } from "./area.mjs";

/**
 * Mutation testing of the Proxmox provider's safety paths (issue 18): the API client (no re-send of
 * a non-idempotent call, secrets masked), the permission backstop and the operations (ownership
 * guard, ISO-in-use check, delete only when ours). Run one module with its own suites, e.g.
 *   PVEFLEET_MUTATION_TESTS=client scripts/with-s3.sh npx stryker run stryker/provider.config.mjs \
 *     --mutate src/providers/proxmox/api/client.ts
 * (sets: permissions, client, operations — stryker/provider.vitest.config.ts). The report
 * (reports/mutation/provider/<set>.json) and the sandbox are named after the set, so two sets can
 * run side by side. The TypeScript checker is off: on two shared cores it costs more than the test
 * runs themselves, and a mutant that does not type-check is still run against the tests.
 */
// PVEFLEET_MUTATION_RUN names the report and sandbox when two runs share a set (e.g. two line ranges).
const set = process.env.PVEFLEET_MUTATION_RUN ?? process.env.PVEFLEET_MUTATION_TESTS ?? "all";

export default areaConfig("provider", ["src/providers/proxmox/api/client.ts", "src/providers/proxmox/permissions.ts", "src/providers/proxmox/operations.ts"], { report: set === "all" ? "mutation" : set });
