/**
 * Every value a saved plan can hold reads back (each change kind, reason, resume step, replace
 * order, VM status, mode, drift kind, refresh policy and saved option), and each part of the file
 * out of shape is refused with its path. One test in a file of its own on purpose: the file schemas
 * are built once per module instance (on first use), so under mutation testing a mutant in them is
 * seen only by the first test of each file that reads a plan (stryker/engine.config.mjs).
 */
import { describe, expect, it } from "vitest";
import { plan, summarise } from "../../src/planner/plan.js";
import { parseSavedPlan, readSavedPlan, savedPlanHash, serializePlan } from "../../src/planner/saved-plan.js";
import { CHANGE_REASONS, type Plan } from "../../src/planner/types.js";
import { CREATE_STEPS } from "../../src/providers/types.js";
import { desired, detail, group, iid, live, member, planOptions, state } from "./fixtures.js";

/** A plan with one existing VM to update (cores) and one new VM to create. */
function updateAndCreate(): Plan {
  const m = member(1, { vm: { cores: 8 } });
  return plan(desired([group("web", 2)]), state([m.record], 7), live([m.vm]), planOptions(), [detail(m.vm, m.record)]);
}

describe("every value a plan can hold", () => {
  const roundTrips = (q: Plan, what: string) => expect(parseSavedPlan(serializePlan(q, { detailPolicy: "ours" }), what), what).toEqual(q);

  it("reads back each change kind, reason, resume step, replace order, VM status, mode, drift kind, refresh policy and option, and refuses each part out of shape", () => {
    const p = updateAndCreate();
    const existing = p.changes.findIndex((c) => c.before !== undefined);
    for (const kind of ["create", "update", "replace", "start", "delete", "adopt", "forget", "record"] as const) {
      const q = structuredClone(p);
      q.changes[existing]!.kind = kind;
      q.summary = summarise(q.changes);
      roundTrips(q, kind);
    }
    for (const reason of CHANGE_REASONS) {
      const q = structuredClone(p);
      q.changes[existing]!.reason = reason;
      roundTrips(q, reason);
    }
    for (const step of CREATE_STEPS) {
      const q = structuredClone(p);
      q.changes[existing]!.resumeFrom = step;
      roundTrips(q, step);
    }
    for (const order of ["create-first", "delete-first"] as const) {
      const q = structuredClone(p);
      q.changes[existing]!.replaceOrder = order;
      roundTrips(q, order);
    }
    for (const status of ["running", "stopped", "suspended", "unknown"] as const) {
      const q = structuredClone(p);
      q.changes[existing]!.before = { ...q.changes[existing]!.before!, status, lock: "backup", pool: "prod" };
      roundTrips(q, status);
    }
    for (const mode of ["normal", "refresh-only", "destroy"] as const) roundTrips({ ...structuredClone(p), mode }, mode);
    const kinds = ["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"] as const;
    roundTrips({ ...structuredClone(p), drift: kinds.map((kind, n) => ({ fingerprint: `f${n}`, kind, message: kind, vmid: 500 + n, node: "pve1", instanceId: iid(n), attribute: "cores", expected: 2, actual: 4 })) }, "drift");
    for (const policy of ["full", "listing"] as const) roundTrips({ ...structuredClone(p), refresh: { policy, listings: 2, configReads: 1, statusReads: 0 } }, policy);
    for (const detailPolicy of ["none", "touched", "ours"] as const) {
      for (const storage of ["file", "s3", "gcs"] as const) {
        const origin = { config: "/srv/shard.jsonc", shard: "dev", storage, bucket: "b", prefix: "p" };
        expect(readSavedPlan(serializePlan(p, { detailPolicy, origin }), "p.json", { strict: false }).options).toMatchObject({ detailPolicy, origin });
      }
    }

    // Each part out of shape, with the hash recomputed: refused by the schema, naming the path.
    const refused = (edit: (b: Record<string, any>) => void) => {
      const file = JSON.parse(serializePlan(p)) as Record<string, any>;
      edit(file.plan);
      file.seal.hash = savedPlanHash(JSON.stringify(file.plan), file.seal.options);
      try {
        parseSavedPlan(JSON.stringify(file), "p.json");
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    const change = (b: Record<string, any>) => b.templates.changes[b.changes.rows[existing][1]];
    const cases: [string, (b: Record<string, any>) => void][] = [
      ["changes.0.group.tenant", (b) => { change(b).group = { tenant: 5, group: "web" }; }],
      ["changes.0.before.cores", (b) => { change(b).before.cores = "many"; }],
      ["changes.0.reasons", (b) => { change(b).reasons = "x"; }],
      ["changes.0.attributes.0.forcesReplacement", (b) => { change(b).attributes = [{ attribute: "cores", before: 8, after: 2, forcesReplacement: "no" }]; }],
      ["clusterId", (b) => { b.clusterId = 5; }],
      ["state.lineage", (b) => { b.state.lineage = 5; }],
      ["drift.0.message", (b) => { b.drift = [{ fingerprint: "f", kind: "missing", message: 5 }]; }],
      ["capacity.0.before.cores", (b) => { b.capacity[0].before.cores = "x"; }],
      ["capacity.0.after.memBytes", (b) => { b.capacity[0].after.memBytes = "x"; }],
      ["summary.add", (b) => { b.summary.add = "1"; }],
      ["counts.ours", (b) => { b.counts.ours = "1"; }],
      ["refresh.listings", (b) => { b.refresh = { policy: "full", listings: "2", configReads: 0, statusReads: 0 }; }],
    ];
    expect(p.capacity.length).toBeGreaterThan(0);
    for (const [where, edit] of cases) expect(refused(edit), where).toMatch(new RegExp(`^p\\.json is not a valid pvefleet plan: ${where.replaceAll(".", "\\.")}: `));
    const created = p.changes.findIndex((c) => c.kind === "create");
    const placement = (b: Record<string, any>) => b.templates.changes[b.changes.rows[created][1]].placement;
    expect(refused((b) => { placement(b).node = 5; }), "placement").toMatch(new RegExp(`^p\\.json is not a valid pvefleet plan: changes\\.${created}\\.placement\\.node: `));
  });
});
