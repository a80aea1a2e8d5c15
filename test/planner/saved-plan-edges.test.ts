/**
 * The saved-plan format's checks at their edges, found by mutation testing (issue 18,
 * stryker/engine.config.mjs): every refusal says which part of the file is wrong (version, seal,
 * body, tuples, rows, scores), the HMAC rules of a strict and a lenient reader, the consistency a
 * hand edit breaks even with the hash recomputed (placement, records, digests, summary), the
 * state and VM-digest checks' wording, and how `apply FILE` names what differs from the plan made
 * again. Pure: hand-built facts, no network.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import {
  canonicalJson, checkSameAsFresh, checkSavedPlan, checkVmDigests, parseSavedPlan, planDifferences, readSavedPlan, replanOptions, savedPlanHash,
  savedPlanOptions, serializePlan, vmsToRecheck,
} from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, detail, group, iid, live, member, planOptions, record, state, vm } from "./fixtures.js";
import { type Body, edited, refusal, updateAndCreate } from "./saved-plan-files.js";

/** A replacement (the old instance stays until its successor started). */
function replacement(): Plan {
  const m = member(1);
  return plan(desired([group("web", 1)]), state([m.record], 7), live([m.vm]), planOptions({ replace: [m.record.instanceId] }), [detail(m.vm, m.record)]);
}

/** The plan as an editor rewrites it (whole, then written by the writer: the hash is right). */
function forged(p: Plan, edit: (q: Plan) => void): string {
  const q = structuredClone(p);
  edit(q);
  return serializePlan(q);
}

describe("a saved plan's envelope", () => {
  it("refuses what is not one, naming the file", () => {
    expect(refusal("{nope")).toMatchObject({ code: "E_PLAN_FILE", message: expect.stringMatching(/^p\.json is not a pvefleet plan \(not JSON: .+\)$/) });
    for (const text of ["null", "[]", "3", "{}", '"plan"']) {
      expect(refusal(text), text).toEqual({ code: "E_PLAN_FILE", message: "p.json is not a pvefleet plan (no formatVersion)" });
    }
  });

  it("tells an older file to plan again and a newer or odd one which version it has", () => {
    expect(refusal(JSON.stringify({ formatVersion: 2 }))?.message).toBe("p.json was made by an older pvefleet (plan format 2; this one reads 3): run plan again");
    expect(refusal(JSON.stringify({ formatVersion: 4 }))?.message).toBe("p.json has plan format version 4; this pvefleet reads version 3");
    expect(refusal(JSON.stringify({ formatVersion: "3" }))?.message).toBe("p.json has plan format version 3; this pvefleet reads version 3");
    expect(refusal(serializePlan(updateAndCreate()))).toBeUndefined();
  });

  it("refuses a seal that is not one, saying which member", () => {
    const p = updateAndCreate();
    expect(refusal(edited(p, (f) => { f.seal.hash = "md5:abc"; }, false))).toEqual({ code: "E_PLAN_FILE", message: expect.stringMatching(/^p\.json is not a valid pvefleet plan: seal\.hash: /) });
    expect(refusal(edited(p, (f) => { f.seal.mac = "hmac-sha256:xyz"; }, false))?.message).toMatch(/^p\.json is not a valid pvefleet plan: seal\.mac: /);
    expect(refusal(edited(p, (f) => { f.seal.extra = 1; }, false))?.message).toMatch(/^p\.json is not a valid pvefleet plan: seal: /);
    expect(refusal(edited(p, (f) => { f.seal = 5; }, false))?.message).toMatch(/^p\.json is not a valid pvefleet plan: seal: /);
    expect(refusal(edited(p, (f) => { f.seal.options.detailPolicy = "all"; }, false))?.message).toMatch(/^p\.json is not a valid pvefleet plan: seal\.options\.detailPolicy: /);
  });

  it("refuses a body that is not an object", () => {
    const p = updateAndCreate();
    for (const body of [[], null, "x", undefined]) {
      expect(refusal(edited(p, (f) => { f.plan = body; }, false)), String(body)).toEqual({ code: "E_PLAN_FILE", message: "p.json is not a valid pvefleet plan: plan: not an object" });
    }
  });

  it("a lenient reader (show) verifies a signature when it has the key, and needs none otherwise; a strict one (apply) is strict by default", () => {
    const p = updateAndCreate();
    const key = "k".repeat(32);
    const signed = serializePlan(p, {}, key);
    const unsigned = serializePlan(p);
    expect(readSavedPlan(unsigned, "p.json", { key, strict: false }).signed).toBe(false);
    expect(readSavedPlan(signed, "p.json", { key, strict: false }).signed).toBe(true);
    expect(readSavedPlan(signed, "p.json", { strict: false }).signed).toBe(false);
    expect(refusal(signed, { key: "o".repeat(32), strict: false })).toMatchObject({ code: "E_PLAN_TAMPERED", message: expect.stringMatching(/^p\.json does not carry a valid signature/) });
    expect(() => readSavedPlan(signed, "p.json")).toThrowError(expect.objectContaining({ code: "E_PLAN_TAMPERED", message: "p.json is signed, but PVEFLEET_PLAN_KEY is not set, so the signature cannot be verified" }));
    expect(readSavedPlan(unsigned).signed).toBe(false);
    expect(() => readSavedPlan(unsigned, "p.json", { key, strict: true })).toThrowError(expect.objectContaining({ code: "E_PLAN_TAMPERED", message: "p.json is not signed, but PVEFLEET_PLAN_KEY is set: make the plan with the same key (plan --out)" }));
    expect(refusal(edited(p, (f) => { f.plan.warnings = ["x"]; }, false))).toEqual({
      code: "E_PLAN_TAMPERED",
      message: "p.json was changed after pvefleet wrote it: its content does not hash to the plan hash recorded at plan time; run plan --out again",
    });
    expect(() => parseSavedPlan("{nope")).toThrow(/^plan file is not a pvefleet plan/);
  });

  it("records the options: the origin when there is one, a flag only when it is true", () => {
    const origin = { config: "/srv/shard.jsonc", shard: "dev", storage: "file" as const, stateDir: "/srv/state" };
    expect(savedPlanOptions({ origin, adopt: "yes" as unknown as boolean, gc: 1 as unknown as boolean, allowRestart: true, ignoreCapacity: true })).toEqual({
      origin, targets: [], replace: [], adopt: false, gc: false, ignoreCapacity: true, allowRestart: true, detailPolicy: "touched",
    });
    const text = serializePlan(updateAndCreate(), { origin, targets: ["acme.web"], replace: [iid(1)], adopt: true });
    const back = readSavedPlan(text, "p.json", { strict: false }).options;
    expect(back).toEqual({ origin, targets: ["acme.web"], replace: [iid(1)], adopt: true, gc: false, ignoreCapacity: false, allowRestart: false, detailPolicy: "touched" });
    expect(replanOptions({ mode: "destroy" }, back)).toEqual({ mode: "destroy", targets: ["acme.web"], replace: [iid(1)], adopt: true, gc: false, ignoreCapacity: false, allowRestart: false, detailPolicy: "touched" });
  });
});

describe("a saved plan's body, even with the hash recomputed", () => {
  const p = updateAndCreate();
  const bad = (edit: (b: Body) => void) => refusal(edited(p, (f) => edit(f.plan)));

  it("refuses a plan of another in-memory format, and a header out of shape, naming the member", () => {
    expect(bad((b) => { b.formatVersion = 1; })).toEqual({ code: "E_PLAN_FILE", message: "p.json holds a plan of format 1; this pvefleet reads 2: run plan again" });
    expect(bad((b) => { b.formatVersion = "2"; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: formatVersion: /);
    expect(bad((b) => { b.mode = "bogus"; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: mode: /);
    expect(bad((b) => { b.state.serial = -1; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: state\.serial: /);
    expect(bad((b) => { b.tuples = {}; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: tuples: /);
    expect(bad((b) => { b.scores.entries = [[-1]]; })?.message).toMatch(/^p\.json is not a valid pvefleet plan: scores\.entries\.0\.0: /);
  });

  it("refuses scores that name no key or value, or a lone index", () => {
    const message = "p.json is not a valid pvefleet plan: scores.entries.0: names no key or value";
    expect(bad((b) => { b.scores.entries[0] = [0]; })).toEqual({ code: "E_PLAN_FILE", message });
    expect(bad((b) => { b.scores.entries[0] = [0, 0, 0]; })?.message).toBe(message);
    expect(bad((b) => { b.scores.entries[0] = [999, 0]; })?.message).toBe(message);
    expect(bad((b) => { b.scores.entries[0] = [0, 999]; })?.message).toBe(message);
  });

  it("refuses a tuple that is not [instance ID | null, node | null, VMID | null]", () => {
    const message = "p.json is not a valid pvefleet plan: tuples.0: not [instance ID | null, node | null, VMID | null]";
    for (const t of ["x", [iid(1), "pve1"], [iid(1), "pve1", 1, 2], ["WEB" + "0".repeat(26), "pve1", 1], [7, "pve1", 1], [iid(1), 7, 1], [iid(1), "pve1", -1], [iid(1), "pve1", 1.5], [iid(1), "pve1", "1"]]) {
      expect(bad((b) => { b.tuples[0] = t; }), JSON.stringify(t)).toEqual({ code: "E_PLAN_FILE", message });
    }
    // Null members are not substituted: the template's placeholder is then left, which is an edit.
    expect(bad((b) => { b.tuples[0] = [null, null, null]; })).toMatchObject({ code: "E_PLAN_TAMPERED", message: expect.stringMatching(/has a placeholder its row does not fill/) });
  });

  it("refuses a row that is not [tuple, template, scores?], or names no template, instance or scores", () => {
    for (const r of ["x", [0], [0, 0, 0, 0], [-2, 0], [0.5, 0], [0, -1], [0, 0.5], [0, 0, -1], ["0", 0]]) {
      expect(bad((b) => { b.changes.rows[0] = r; }), JSON.stringify(r)).toEqual({ code: "E_PLAN_FILE", message: "p.json is not a valid pvefleet plan: changes.rows.0: not [tuple, template, scores?]" });
    }
    expect(bad((b) => { b.actions.rows[0] = [0]; })?.message).toBe("p.json is not a valid pvefleet plan: actions.rows.0: not [tuple, template, scores?]");
    const created = p.changes.findIndex((c) => c.kind === "create");
    expect(bad((b) => { b.changes.rows[created][2] = 999; })).toEqual({ code: "E_PLAN_TAMPERED", message: `p.json was edited: changes.${created} names no placement scores; run plan --out again` });
    expect(bad((b) => { b.actions.rows[0][1] = 999; })?.message).toBe("p.json was edited: actions.0 names no template; run plan --out again");
    expect(bad((b) => { b.changes.rows[0][0] = 999; })?.message).toBe("p.json was edited: changes.0 names no instance; run plan --out again");
  });

  it("validates a template for every row stored as it is, and refuses one out of shape", () => {
    // A reason holding a control character is escaped (\u0001) in the JSON: stored as is (tuple -1).
    const q = structuredClone(p);
    q.changes[0]!.reasons = ["odd \u0001 reason"];
    q.changes[1]!.reasons = ["odd \u0001 reason"];
    expect(parseSavedPlan(serializePlan(q))).toEqual(q);
    const file = JSON.parse(serializePlan(q)) as Body;
    expect(file.plan.changes.rows.map((r: number[]) => r[0])).toEqual([-1, -1]);
    const broken = edited(q, (f) => { f.plan.templates.changes[f.plan.changes.rows[1][1]].kind = "explode"; });
    expect(refusal(broken)?.message).toMatch(/^p\.json is not a valid pvefleet plan: changes\.1\.kind: /);
  });
});

describe("what a writer-made file must agree with", () => {
  it("round-trips a replacement, its successor's steps belonging to the change that names it", () => {
    const p = replacement();
    expect(p.changes.map((c) => c.kind)).toEqual(["replace"]);
    expect(parseSavedPlan(serializePlan(p))).toEqual(p);
  });

  it("refuses a new VM's step retargeted to another node, or whose write-ahead record names another instance or place", () => {
    const p = updateAndCreate();
    const created = p.changes.find((c) => c.kind === "create")!;
    const at = `${created.placement!.node}/${created.placement!.vmid}`;
    const clone = (q: Plan) => q.actions.find((a) => a.instanceId === created.instanceId && a.type === "clone")!;
    expect(refusal(forged(p, (q) => { clone(q).node = "pve9"; }))?.message).toBe(`p.json was edited: action ${created.instanceId}:clone targets pve9/${created.placement!.vmid}, but the VM is placed at ${at}; run plan --out again`);
    const before = (q: Plan) => clone(q).journal!.recordBefore as Record<string, unknown>;
    expect(refusal(forged(p, (q) => { before(q).vmid = 500; }))?.message).toBe(`p.json was edited: action ${created.instanceId}:clone targets ${created.placement!.node}/500, but the VM is placed at ${at}; run plan --out again`);
    expect(refusal(forged(p, (q) => { before(q).node = "pve9"; }))?.message).toMatch(/targets pve9\//);
    expect(refusal(forged(p, (q) => { before(q).instanceId = iid(77); }))?.message).toBe(`p.json was edited: action ${created.instanceId}:clone records another instance; run plan --out again`);
  });

  it("refuses a config digest of a VM the plan does not touch, and a summary that does not count its changes", () => {
    const p = updateAndCreate();
    expect(refusal(forged(p, (q) => { q.vmDigests["4242"] = "digest"; }))?.code).toBe("E_PLAN_TAMPERED");
    expect(refusal(forged(p, (q) => { q.vmDigests["4242"] = "digest"; }))?.message).toBe("p.json was edited: it records the config digest of VM 4242, which it does not touch; run plan --out again");
    for (const k of ["add", "change", "destroy"] as const) {
      expect(refusal(forged(p, (q) => { q.summary[k] += 1; }))?.message, k).toBe("p.json was edited: its summary does not count its changes; run plan --out again");
    }
  });

  it("keeps an entry whose own text holds the scores marker, and one with two `scores`, exactly", () => {
    const g = group("web", 2, { vars: { scores: "<pvefleet:scores>" } as Record<string, string> });
    const p = plan(desired([g]), undefined, live([]), planOptions());
    expect(parseSavedPlan(serializePlan(p))).toEqual(p);
    expect(JSON.stringify(parseSavedPlan(serializePlan(p)))).toBe(JSON.stringify(p));
  });

  it("keeps a string where an escape runs into an instance ID's letters", () => {
    // An `nfs` instance: "\n" followed by the rest of its ID reads, in JSON text, as a backslash
    // followed by the whole ID — masking that ID there would break the escape.
    const g = group("store", 1, { kind: "nfs" });
    const p = plan(desired([g]), undefined, live([]), planOptions());
    const id = p.changes[0]!.instanceId;
    expect(id.startsWith("nfs")).toBe(true);
    const q = structuredClone(p);
    q.changes[0]!.reasons = [`line\n${id.slice(1)}`, `plain ${id}`];
    const back = parseSavedPlan(serializePlan(q));
    expect(back).toEqual(q);
    expect(JSON.stringify(back)).toBe(JSON.stringify(q));
  });

  it("keeps a member named __proto__ as the plan's own data", () => {
    const p = updateAndCreate();
    const q = structuredClone(p);
    const create = q.changes.find((c) => c.kind === "create")!;
    create.after = { ...create.after!, vars: JSON.parse('{"__proto__":"x","motd":"hi"}') as Record<string, string> };
    const back = parseSavedPlan(serializePlan(q));
    const vars = back.changes.find((c) => c.kind === "create")!.after!.vars as Record<string, unknown>;
    expect(Object.keys(vars)).toEqual(["__proto__", "motd"]);
    expect(Object.getPrototypeOf(vars)).toBe(Object.prototype);
    expect(JSON.stringify(back)).toBe(JSON.stringify(q));
  });
});

describe("the state and VM checks", () => {
  const p = updateAndCreate();

  it("say which state moved, with the codes apply reports", () => {
    expect(() => checkSavedPlan(p, { ...state([], 7), lineage: "other" })).toThrowError(expect.objectContaining({ code: "E_PLAN_LINEAGE" }));
    expect(() => checkSavedPlan(p, state([], 8))).toThrowError(expect.objectContaining({
      code: "E_PLAN_STALE",
      message: "Saved plan is stale: the plan file can no longer be applied because the state was changed by another operation after the plan was created (serial 7 → 8).",
    }));
    // The state is gone: another lineage (""), not a fresh start.
    expect(() => checkSavedPlan(p, undefined)).toThrowError(expect.objectContaining({ code: "E_PLAN_LINEAGE" }));
    expect(() => checkSavedPlan(p, state([], 7), "sha256:other")).toThrowError(expect.objectContaining({ code: "E_PLAN_STALE", message: "Saved plan is stale: the shard file changed after the plan was created; run plan again." }));
    expect(() => checkSavedPlan(p, state([], 7), "sha256:cfg1")).not.toThrow();
  });

  it("accept a plan made before any state once the state exists at serial 0, whatever its lineage", () => {
    const first = plan(desired([group("web", 1)]), undefined, live([]), planOptions());
    expect(() => checkSavedPlan(first, state([], 0))).not.toThrow();
  });

  it("name every VM that changed or is gone, in one line", () => {
    const ms = [1, 2, 3].map((n) => member(n, { vm: { cores: 8 } }));
    const q = plan(desired([group("web", 3)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions(), ms.map((m) => detail(m.vm, m.record)));
    expect(Object.keys(q.vmDigests)).toHaveLength(3);
    expect(() => checkVmDigests(q, [detail(ms[0]!.vm, ms[0]!.record, { digest: "new" }), detail(ms[2]!.vm, ms[2]!.record)])).toThrowError(expect.objectContaining({
      code: "E_PLAN_STALE",
      message: "Saved plan is stale: VM 10001 config changed, VM 10002 is gone since the plan was created; run plan again.",
    }));
  });

  it("look a VM up where its first action goes, else where the listing saw it, else on no node", () => {
    const hand = {
      vmDigests: { "500": "a", "501": "b", "502": "c" },
      actions: [
        { vmid: 500, node: "pve1" },
        { vmid: 500, node: "pve2" },
      ],
      changes: [{ before: vm(501, "x", { node: "pve3" }) }, { before: vm(500, "y", { node: "pve4" }) }, {}],
    } as unknown as Plan;
    expect(vmsToRecheck(hand)).toEqual([{ vmid: 500, node: "pve1" }, { vmid: 501, node: "pve3" }, { vmid: 502, node: "" }]);
  });
});

describe("apply FILE against the plan made again", () => {
  const base = (now = "2026-03-01T12:00:00.000Z") => {
    const m = member(1, { vm: { cores: 8 } });
    const gone = member(2);
    const p = plan(desired([group("web", 3)]), state([m.record, gone.record], 7), live([m.vm, gone.vm]), planOptions({ now: () => new Date(now) }), [detail(m.vm, m.record), detail(gone.vm, gone.record)]);
    return { m, gone, p };
  };

  it("names each header that differs, an instance the file changes but the fresh plan does not, and counts what it leaves out", () => {
    const { p } = base();
    const saved = structuredClone(p);
    saved.clusterId = "other";
    saved.mode = "destroy";
    saved.state.lineage = "l2";
    saved.configDigest = "sha256:cfg0";
    const diffs = planDifferences(saved, p);
    expect(diffs.slice(0, 4)).toEqual([
      "cluster other/dev in the file, lab/dev now",
      "mode destroy in the file, normal now",
      `lineage l2 in the file, ${p.state.lineage} now`,
      "configDigest sha256:cfg0 in the file, sha256:cfg1 now",
    ]);
    expect(() => checkSameAsFresh(saved, p)).toThrowError(expect.objectContaining({
      code: "E_PLAN_STALE",
      message: `Saved plan is stale: it does not match what pvefleet would do now (${diffs.slice(0, 3).join("; ")}; ${diffs.length - 3} more); run plan again.`,
    }));
    const one = structuredClone(p);
    one.mode = "destroy";
    expect(() => checkSameAsFresh(one, p)).toThrowError(expect.objectContaining({ message: "Saved plan is stale: it does not match what pvefleet would do now (mode destroy in the file, normal now); run plan again." }));

    const fresh = structuredClone(p);
    fresh.changes = fresh.changes.filter((c) => c.instanceId !== iid(1));
    fresh.actions = fresh.actions.filter((a) => a.instanceId !== iid(1));
    expect(planDifferences(p, fresh)).toEqual([`${iid(1)}: in the file, but pvefleet would not change it now`]);
  });

  it("compares new VMs as a multiset, their clock masked, and names the first field that differs", () => {
    const { p } = base();
    // The same plan made half an hour later: its clock (in records and notes) is masked on both sides.
    const later = base("2026-03-01T12:30:07.000Z").p;
    expect(later.createdAt).not.toBe(p.createdAt);
    expect(planDifferences(p, later)).toEqual([]);
    const reordered = structuredClone(p);
    reordered.changes.reverse();
    reordered.actions.reverse();
    expect(planDifferences(p, reordered)).toEqual([]);

    const edited = structuredClone(p);
    const create = edited.changes.find((c) => c.kind === "create")!;
    create.after = { ...create.after!, cores: 64 };
    expect(planDifferences(edited, p)).toEqual(["a new VM of acme.web: change.after.cores differs"]);
    const steps = structuredClone(p);
    const clone = steps.actions.find((a) => a.type === "clone")!;
    clone.dependsOn = [...clone.dependsOn, "x"];
    expect(planDifferences(steps, p)).toEqual(["a new VM of acme.web: actions.clone.dependsOn differs"]);
  });

  it("labels a replacement's new VM by the instance it replaces", () => {
    const p = replacement();
    const edited = structuredClone(p);
    edited.changes[0]!.after = { ...edited.changes[0]!.after!, cores: 64 };
    expect(planDifferences(edited, p)).toEqual([`${iid(1)}: change.after.cores differs`]);
    const step = structuredClone(p);
    const newId = p.changes[0]!.replaces!;
    (step.actions.find((a) => a.instanceId === newId && a.type === "configure")!.params as Record<string, unknown>).cores = 64;
    expect(planDifferences(step, p)).toEqual([`a new VM of acme.web (new for ${iid(1)}): actions.configure.params.cores differs`]);
  });
});

describe("more of the format's edges", () => {
  /** Two creates of one group: one refills an instance deleted out of band (it names it), one does not. */
  const refill = () => plan(desired([group("web", 2)]), state([record(1)], 7), live([]), planOptions());

  it("reads back exactly the plan's own members, and a refill whose create names the lost instance", () => {
    const p = refill();
    expect(p.changes.filter((c) => c.kind === "create" && c.replaces === iid(1))).toHaveLength(1);
    const back = parseSavedPlan(serializePlan(p));
    expect(back).toEqual(p);
    expect(Object.keys(back)).toEqual(Object.keys(p));
  });

  it("compares a plan's new VMs whatever their order, and their steps' dependencies as sets", () => {
    const p = refill();
    const fresh = structuredClone(p);
    fresh.changes.reverse();
    fresh.actions.reverse();
    for (const a of fresh.actions) a.dependsOn.reverse();
    expect(p.actions.some((a) => a.dependsOn.length > 1)).toBe(true);
    expect(planDifferences(p, fresh)).toEqual([]);
    expect(planDifferences(fresh, p)).toEqual([]);
  });

  it("compares a new VM's write-ahead record, and names the first differing element or key", () => {
    const p = updateAndCreate();
    const edit = (f: (q: Plan) => void) => {
      const q = structuredClone(p);
      f(q);
      return planDifferences(q, p);
    };
    const clone = (q: Plan) => q.actions.find((a) => a.type === "clone")!;
    expect(edit((q) => { (clone(q).journal!.recordBefore as Record<string, unknown>).template = "evil"; })).toEqual(["a new VM of acme.web: actions.clone.journal.recordBefore.template differs"]);
    expect(edit((q) => { const c = q.actions.find((a) => a.dependsOn.length > 1)!; c.dependsOn = [c.dependsOn[0]!, "other:clone"]; })).toEqual([expect.stringMatching(/: actions\.\w+\.dependsOn\[\d\] differs$/)]);
    expect(edit((q) => { const c = q.changes.find((x) => x.kind === "create")!; c.after = { ...c.after!, cores: 9, arch: "arm64" }; })).toEqual(["a new VM of acme.web: change.after.arch differs"]);
    expect(edit((q) => { const c = q.changes.find((x) => x.kind === "create")!; c.after = { ...c.after!, vars: [] as unknown as Record<string, string> }; })).toEqual(["a new VM of acme.web: change.after.vars differs"]);
  });

  it("says how many more differences there are only beyond three", () => {
    const p = updateAndCreate();
    const saved = structuredClone(p);
    saved.mode = "destroy";
    saved.configDigest = "sha256:cfg0";
    saved.state.serial = 1;
    expect(planDifferences(saved, p)).toHaveLength(3);
    expect(() => checkSameAsFresh(saved, p)).toThrowError(expect.objectContaining({ message: expect.not.stringContaining("more") }));
  });

  it("leaves every userdata diff out of the file when only some causes carry one", () => {
    const p = replacement();
    const q = structuredClone(p);
    q.changes[0]!.forcedBy = [
      { attribute: "template", sensitive: false, before: "debian", after: "debian-13", message: "template debian → debian-13" },
      { attribute: "userdata", sensitive: true, linesChanged: 1, message: "userdata changed", diff: ["-SECRET-LINE", "+other"] },
    ];
    const text = serializePlan(q);
    expect(text).not.toContain("SECRET-LINE");
    expect(text).toContain("template debian → debian-13");
  });

  it("writes a change with neither placement nor listed VM (a record forgotten), and an unplaced entry holding null", () => {
    const gone = record(1);
    const p = plan(desired([group("web", 0)]), state([gone], 7), live([]), planOptions());
    expect(p.changes.map((c) => [c.kind, c.before, c.placement])).toEqual([["forget", undefined, undefined]]);
    expect(parseSavedPlan(serializePlan(p))).toEqual(p);
    const q = structuredClone(p);
    q.changes[0]!.attributes = [{ attribute: "notes", before: null, after: "x", forcesReplacement: false }];
    q.changes[0]!.instanceId = "not-an-id";
    q.actions = q.actions.map((a) => ({ ...a, instanceId: "not-an-id", id: `not-an-id:${a.type}`, dependsOn: a.dependsOn.map((d) => d.replace(iid(1), "not-an-id")) }));
    expect(parseSavedPlan(serializePlan(q))).toEqual(q);
  });

  it("tells a version written as text which one it holds, with the file-format code, and names the file by default", () => {
    expect(refusal(JSON.stringify({ formatVersion: "2" }))).toEqual({ code: "E_PLAN_FILE", message: "p.json has plan format version 2; this pvefleet reads version 3" });
    expect(refusal(JSON.stringify({ formatVersion: 2 }))?.code).toBe("E_PLAN_FILE");
    expect(refusal(JSON.stringify({ formatVersion: 3 }))).toEqual({ code: "E_PLAN_FILE", message: "p.json carries no plan hash (made by an older pvefleet, or rewritten); run plan --out again" });
    expect(() => readSavedPlan("{nope")).toThrow(/^plan file is not a pvefleet plan/);
  });
});

describe("canonicalJson", () => {
  it("sorts keys, drops undefined and function members, writes them as null inside arrays", () => {
    expect(canonicalJson({ b: 1, a: [undefined, () => 1, { d: undefined, c: 2, f: () => 0 }], e: null })).toBe('{"a":[null,null,{"c":2}],"b":1,"e":null}');
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson("x")).toBe('"x"');
    expect(canonicalJson([])).toBe("[]");
  });
});

