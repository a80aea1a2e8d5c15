import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import { checkSavedPlan, checkVmDigests, parseSavedPlan, serializePlan, vmsToRecheck } from "../../src/planner/saved-plan.js";
import { desired, detail, group, live, member, planOptions, state } from "./fixtures.js";

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
  });

  it("records the config digest of every existing VM it modifies", () => {
    const { m, p } = fixture();
    expect(p.vmDigests).toEqual({ [m.vm.vmid]: `digest-${m.vm.vmid}` });
    expect(vmsToRecheck(p)).toEqual([{ vmid: m.vm.vmid, node: "pve1" }]);
  });

  it("refuses a file that is not a plan, or of another format version", () => {
    expect(() => parseSavedPlan("{nope", "x.plan")).toThrow(/x\.plan is not a pvefleet plan \(not JSON/);
    expect(() => parseSavedPlan(JSON.stringify({ formatVersion: 9 }), "x.plan")).toThrow(/format version 9; this pvefleet reads version 1/);
    const { p } = fixture();
    const broken = JSON.parse(serializePlan(p));
    broken.actions[0].dependsOn = "x";
    expect(() => parseSavedPlan(JSON.stringify(broken), "x.plan")).toThrow(/x\.plan is not a valid pvefleet plan: actions\.0\.dependsOn/);
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
});
