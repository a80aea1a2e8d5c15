import { describe, expect, it } from "vitest";
import { drift, fingerprint } from "../../src/planner/drift.js";
import { desired, detail, group, hooked, iid, live, member, record, state, vm } from "./fixtures.js";

describe("drift", () => {
  const facts = (cores: number) => {
    const a = member(1, { vm: { cores, status: "stopped" } });
    const gone = record(2);
    return {
      d: desired([group("web", 2)]),
      s: state([a.record, gone]),
      l: live([a.vm, vm(30000, iid(50)), vm(30001, "db", { tags: [], ownership: "unmanaged" })]),
      a,
    };
  };

  it("reports attribute drift, missing and stopped VMs, orphans and unmanaged VMs", () => {
    const { d, s, l } = facts(4);
    const found = drift(d, s, l, undefined, hooked());
    expect(found.map((f) => `${f.kind}:${f.attribute ?? ""}`)).toEqual(["missing:", "stopped:", "attribute:cores", "orphan:", "unmanaged:"]);
    expect(found[2]).toMatchObject({ instanceId: iid(1), expected: 2, actual: 4 });
  });

  it("keeps fingerprints stable across runs and across values", () => {
    const one = drift(facts(4).d, facts(4).s, facts(4).l, undefined, hooked());
    const two = drift(facts(8).d, facts(8).s, facts(8).l, undefined, hooked());
    expect(two.map((f) => f.fingerprint)).toEqual(one.map((f) => f.fingerprint));
    expect(one[2]!.fingerprint).toBe(fingerprint("attribute", iid(1), "cores"));
    expect(new Set(one.map((f) => f.fingerprint)).size).toBe(one.length);
  });

  it("checks notes and onboot only with details", () => {
    const { d, s, l, a } = facts(2);
    expect(drift(d, s, l, undefined, hooked()).some((f) => f.attribute === "notes")).toBe(false);
    const found = drift(d, s, l, [detail(a.vm, a.record, { description: "hello", onboot: false })], hooked());
    expect(found.filter((f) => f.kind === "attribute").map((f) => f.attribute)).toEqual(["notes", "onboot"]);
  });

  it("is embedded in the plan, with the plan's per-VM reads, next to the changes that repair it", async () => {
    const { plan } = await import("../../src/planner/plan.js");
    const { planOptions } = await import("./fixtures.js");
    const { d, s, l, a } = facts(4);
    const p = plan(d, s, l, planOptions(), [detail(a.vm, a.record, { description: "hello", onboot: false })]);
    expect(p.drift.map((f) => `${f.kind}:${f.attribute ?? ""}`)).toEqual(["missing:", "stopped:", "attribute:cores", "attribute:notes", "attribute:onboot", "orphan:", "unmanaged:"]);
    expect(p.drift.find((f) => f.attribute === "cores")).toMatchObject({ instanceId: iid(1), expected: 2, actual: 4, fingerprint: fingerprint("attribute", iid(1), "cores") });
    // The drifted member is repaired in place; the missing one is replaced by a create.
    expect(p.changes.find((c) => c.instanceId === iid(1))?.kind).toBe("update");
    expect(p.changes.filter((c) => c.kind === "create")).toHaveLength(1);
  });
});
