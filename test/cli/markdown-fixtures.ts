/**
 * Large plans for the markdown budget tests and bench/markdown.ts: made by the real planner (so
 * warnings carry the planner's exact wording) or by hand where the planner cannot combine cases in
 * one plan (replacements next to deferred ones).
 */
import type { InstanceChange, Plan } from "../../src/planner/types.js";
import { plan as makePlan } from "../../src/planner/plan.js";
import { desired, group, idSource, live, member, node, planOptions, state } from "../planner/fixtures.js";
import { basePlan, live as liveVm, spec } from "./fixtures.js";

const BIG_NODES = ["pve1", "pve2", "pve3", "pve4"].map((n) => node(n, 100_000, 8));

/**
 * A plan from the planner over four groups of `perGroup` members: `api` has its cores raised on
 * running VMs (updates, each warned pending until restart), `db` has its replace hash changed
 * with max_surge 0 (every replacement deferred, warned), `batch` shrinks by a third (deletes),
 * and `web` grows by `creates`.
 */
export function plannedMixed(perGroup: number, creates: number): Plan {
  const members: ReturnType<typeof member>[] = [];
  let n = 1;
  for (const g of ["api", "db", "batch", "web"]) {
    for (let i = 0; i < perGroup; i++) members.push(member(n++, { record: { group: g }, vm: { cores: g === "api" ? 1 : 2 } }));
  }
  const d = desired([
    group("api", perGroup, { cores: 2 }),
    group("db", perGroup, {}, { replace: "sha256:r2" }),
    group("batch", perGroup - Math.floor(perGroup / 3)),
    group("web", perGroup + creates),
  ], { maxSurge: 0 });
  // New instance IDs numbered past every member's.
  return makePlan(d, state(members.map((m) => m.record)), live(members.map((m) => m.vm), BIG_NODES), planOptions({ newInstanceId: idSource(n + 1) }));
}

const id = (prefix: string, i: number) => `${prefix}${String(i).padStart(29 - prefix.length, "0")}`;

/**
 * The review's 2,050-instance mixed plan, by hand: 101 creates, 400 updates (each pending until
 * restart), 51 deletes, 300 replacements (userdata, create first) and 299 deferred ones, in groups
 * whose names are `nameLength` characters long when asked.
 */
export function mixed2050(nameLength = 0): Plan {
  const name = (base: string) => (nameLength ? `${base}-${"x".repeat(Math.max(0, nameLength - base.length - 1))}` : base);
  const web = { tenant: "acme", group: name("web") };
  const api = { tenant: "acme", group: name("api") };
  const batch = { tenant: "globex", group: name("batch") };
  const db = { tenant: "initech", group: name("db") };
  const changes: InstanceChange[] = [];
  const warnings: string[] = ["node pve7 is offline; its VMs were not refreshed"];
  for (let i = 0; i < 101; i++) {
    changes.push({ instanceId: id("web", i), group: web, kind: "create", reason: "create_because_scale_up", reasons: ["size 1000 < 1101"], attributes: [],
      after: spec({ userdata: { content: "#cloud-config\npassword: hunter2\n", encoding: "utf8" } as never, vars: { token: "s3cr3t" } as never }),
      placement: { node: `pve${i % 8}`, vmid: 30000 + i, scores: {} } });
  }
  for (let i = 0; i < 400; i++) {
    const iid = id("api", i);
    changes.push({ instanceId: iid, group: api, kind: "update", reason: "update_because_changed", reasons: ["cores 1 → 2"],
      attributes: [{ attribute: "cores", before: 1, after: 2, forcesReplacement: false }], before: liveVm({ vmid: 11000 + i, name: iid, cores: 1 }), after: spec() });
    warnings.push(`${iid}: cores 1 → 2 will be pending until the VM restarts (use --allow-restart)`);
  }
  for (let i = 0; i < 51; i++) {
    const iid = id("bat", i);
    changes.push({ instanceId: iid, group: batch, kind: "delete", reason: "delete_because_scale_down", reasons: ["size 400 > 349 (newest first)"], attributes: [],
      before: liveVm({ vmid: 12000 + i, name: iid, node: `pve${i % 8}` }) });
  }
  for (let i = 0; i < 300; i++) {
    const iid = id("dbs", i);
    changes.push({ instanceId: iid, group: db, kind: "replace", reason: "replace_because_cannot_update", replaceOrder: "create-first", reasons: ["userdata changed"],
      attributes: [{ attribute: "userdata", before: "#cloud-config\npassword: old-secret\n", after: "#cloud-config\npassword: new-secret\n", forcesReplacement: true },
        { attribute: "vars", before: { token: "a-secret" }, after: { token: "b-secret" }, forcesReplacement: true }],
      before: liveVm({ vmid: 13000 + i, name: iid, node: `pve${i % 8}` }), after: spec({ kind: "dbs" }),
      placement: { node: `pve${(i + 1) % 8}`, vmid: 40000 + i, scores: {} } });
  }
  for (let i = 300; i < 599; i++) warnings.push(`${db.tenant}.${db.group}/${id("dbs", i)}: replacement deferred (max_surge is 0: no room for a new VM before the old one is deleted)`);
  warnings.push("12 orphan VM(s) carry this shard's tags but are not in the state: a (1), b (2), …; --adopt or --gc");
  warnings.push("25 suspicious VM(s) (an instance-ID name without all ownership tags, or the reverse) are left alone");
  return basePlan({
    changes, warnings,
    summary: { add: 101 + 300, change: 400, destroy: 51 + 300 },
  });
}

/** `n` creates spread over `groups` groups (the review's "2,000 creates over 4 groups", larger). */
export function creates(n: number, groups: number, nameLength = 0): Plan {
  const changes: InstanceChange[] = [];
  for (let i = 0; i < n; i++) {
    const g = `g${i % groups}`;
    changes.push({ instanceId: id("web", i), group: { tenant: "tenant", group: nameLength ? `${g}-${"y".repeat(nameLength)}` : g }, kind: "create", reason: "create_because_scale_up",
      reasons: [`size 0 < ${Math.ceil(n / groups)}`], attributes: [], after: spec({ cores: 1 + (i % groups) % 8 }), placement: { node: `pve${i % 64}`, vmid: 100000 + i, scores: { pve1: 0.5 } } });
  }
  return basePlan({ changes, summary: { add: n, change: 0, destroy: 0 } });
}
