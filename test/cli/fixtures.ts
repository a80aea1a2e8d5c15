/** Hand-written plans for the renderer tests: fixed data, no network. */
import type { VmSpec } from "../../src/config/model.js";
import type { InstanceChange, Plan } from "../../src/planner/types.js";
import type { LiveVm } from "../../src/providers/proxmox/types.js";

export const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
  template: { name: "debian-13-template" },
  kind: "tst",
  arch: "amd64",
  cores: 2,
  memoryMiB: 2048,
  diskBytes: 32 * 1024 ** 3,
  storage: "local-lvm",
  bridge: "vmbr0",
  onboot: true,
  vars: {},
  args: {},
  ...over,
});

export const live = (over: Partial<LiveVm> = {}): LiveVm => ({
  vmid: 10001,
  name: "tst06dx9xy919t3v9kzd2xdsyzb3g",
  node: "pve1",
  status: "running",
  template: false,
  tags: ["dev", "my-cluster", "nstance"],
  cores: 2,
  memoryBytes: 2048 * 1048576,
  diskBytes: 32 * 1024 ** 3,
  ...over,
});

const web = { tenant: "acme", group: "web" };
const db = { tenant: "acme", group: "db" };
const batch = { tenant: "acme", group: "batch" };

export function basePlan(over: Partial<Plan> = {}): Plan {
  return {
    formatVersion: 2,
    createdAt: "2026-11-26T00:00:00.000Z",
    clusterId: "my-cluster",
    shardId: "dev",
    state: { lineage: "5d1c1e4e-7a39-4d0e-9a55-3f8e2f0c9b11", serial: 7 },
    configDigest: "sha256:1111",
    mode: "normal",
    changes: [],
    actions: [],
    vmDigests: {},
    drift: [],
    capacity: [],
    summary: { add: 0, change: 0, destroy: 0 },
    counts: { ours: 3, suspicious: 0, unmanaged: 1, orphans: 0 },
    warnings: [],
    ...over,
  };
}

/**
 * Every kind of change, a drift block and a capacity table, as the planner would make them: web
 * holds 2 members and wants 3 (reason `size 2 < 3`), batch holds 2 and wants 1 (`size 2 > 1
 * (newest first)`), db's member is replaced. The capacity rows add up the VMs shown: 2 GiB / 2 cores
 * each, the update to 4 GiB / 4 cores, and VM 200 (legacy-db, 1 GiB / 1 core) on pve3.
 */
export function mixedPlan(): Plan {
  const changes: InstanceChange[] = [
    {
      instanceId: "tst06dxa00000000000000000001", group: web, kind: "create", reason: "create_because_scale_up", reasons: ["size 2 < 3"], attributes: [],
      after: spec(), placement: { node: "pve2", vmid: 10004, scores: { pve1: 0.41, pve2: 0.77 } },
    },
    {
      instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g", group: web, kind: "update", reason: "update_because_changed", reasons: ["cores 2 → 4"],
      attributes: [{ attribute: "cores", before: 2, after: 4, forcesReplacement: false },
        { attribute: "memoryMiB", before: 2048, after: 4096, forcesReplacement: false }],
      before: live(), after: spec({ cores: 4, memoryMiB: 4096 }),
    },
    {
      instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3h", group: web, kind: "start", reason: "start_because_stopped", reasons: ["stopped out of band"], attributes: [],
      before: live({ vmid: 10002, name: "tst06dx9xy919t3v9kzd2xdsyzb3h", status: "stopped" }), after: spec(),
    },
    {
      instanceId: "dbs06dx9xy919t3v9kzd2xdsyzb3k", group: db, kind: "replace", reason: "replace_because_cannot_update", replaceOrder: "create-first", reasons: ["userdata changed"],
      replaces: "dbs06dxa00000000000000000009",
      attributes: [{ attribute: "userdata", before: "#cloud-config\npackages:\n  - nginx\n", after: "#cloud-config\npackages:\n  - nginx\n  - postgresql\n", forcesReplacement: true }],
      before: live({ vmid: 10003, name: "dbs06dx9xy919t3v9kzd2xdsyzb3k", node: "pve3" }), after: spec({ kind: "dbs" }),
      placement: { node: "pve1", vmid: 10005, scores: { pve1: 0.8 } },
    },
    {
      instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3m", group: batch, kind: "delete", reason: "delete_because_scale_down", reasons: ["size 2 > 1 (newest first)"], attributes: [],
      before: live({ vmid: 10006, name: "tst06dx9xy919t3v9kzd2xdsyzb3m", node: "pve2" }),
    },
  ];
  return basePlan({
    changes,
    actions: [
      { id: "dbs06dxa00000000000000000009:clone", instanceId: "dbs06dxa00000000000000000009", type: "clone", node: "pve1", vmid: 10005, dependsOn: [], params: { template: { name: "debian-13-template" }, storage: "local-lvm", full: true } },
      { id: "dbs06dx9xy919t3v9kzd2xdsyzb3k:stop", instanceId: "dbs06dx9xy919t3v9kzd2xdsyzb3k", type: "stop", node: "pve3", vmid: 10003, dependsOn: ["dbs06dxa00000000000000000009:clone"], params: {} },
    ],
    drift: [
      { fingerprint: "sha256:aaaa000000000000000000000000", kind: "stopped", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3h", vmid: 10002, node: "pve1", message: "stopped out of band" },
      { fingerprint: "sha256:bbbb000000000000000000000000", kind: "attribute", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g", vmid: 10001, node: "pve1", attribute: "cores", expected: 4, actual: 2, message: "cores is 2, the shard file says 4" },
      { fingerprint: "sha256:cccc000000000000000000000000", kind: "unmanaged", vmid: 200, node: "pve3", message: "VM 200 (legacy-db) has no ownership tags" },
    ],
    capacity: [
      // pve1: 3g (2 → 4 cores, 2 → 4 GiB) and 3h (2, 2 GiB), plus db's successor (2, 2 GiB).
      { node: "pve1", maxcpu: 16, maxmemBytes: 64 * 1024 ** 3, before: { cores: 4, memBytes: 4 * 1024 ** 3 }, after: { cores: 8, memBytes: 8 * 1024 ** 3 } },
      // pve2: 3m (2, 2 GiB) deleted, web's new member (2, 2 GiB) placed here.
      { node: "pve2", maxcpu: 16, maxmemBytes: 64 * 1024 ** 3, before: { cores: 2, memBytes: 2 * 1024 ** 3 }, after: { cores: 2, memBytes: 2 * 1024 ** 3 } },
      // pve3: db's old member (2, 2 GiB) goes, VM 200 (1, 1 GiB) stays.
      { node: "pve3", maxcpu: 8, maxmemBytes: 32 * 1024 ** 3, before: { cores: 3, memBytes: 3 * 1024 ** 3 }, after: { cores: 1, memBytes: 1 * 1024 ** 3 } },
    ],
    summary: { add: 2, change: 2, destroy: 2 },
    warnings: ["node pve3 is offline; its VMs were not refreshed"],
  });
}

/** A plan that creates `n` instances across a few groups (for the markdown budget). */
export function hugePlan(n: number): Plan {
  const changes: InstanceChange[] = [];
  for (let i = 0; i < n; i++) {
    const g = { tenant: "acme", group: `g${i % 7}` };
    changes.push({
      instanceId: `tst06dx${String(i).padStart(21, "0")}`, group: g, kind: i % 10 === 0 ? "delete" : "create", reason: i % 10 === 0 ? "delete_because_scale_down" : "create_because_scale_up", reasons: ["size"],
      attributes: [], after: i % 10 === 0 ? undefined : spec(), before: i % 10 === 0 ? live({ vmid: 20000 + i }) : undefined,
      placement: i % 10 === 0 ? undefined : { node: `pve${i % 5}`, vmid: 20000 + i, scores: {} },
    });
  }
  // Counted the way the planner counts (a create adds, a delete destroys), not typed in.
  const add = changes.filter((c) => c.kind === "create").length;
  const destroy = changes.filter((c) => c.kind === "delete").length;
  return basePlan({ changes, summary: { add, change: 0, destroy } });
}
