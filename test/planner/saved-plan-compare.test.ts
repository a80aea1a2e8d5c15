/**
 * How `apply FILE` names where the saved plan differs from the plan made again (issue 18, found by
 * mutation testing): the first differing path goes down only while both sides are objects, or
 * arrays of one length — any other pair of values (a string and an object, null and an object, an
 * array and an object, arrays of two lengths, a value and no value) is named where it sits; keys
 * are taken in order, whichever side holds them. Pure: hand-built facts, no network.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import { planDifferences } from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, detail, group, iid, live, member, planOptions, record, state } from "./fixtures.js";
import { updateAndCreate } from "./saved-plan-files.js";

const NONE = Symbol("no member");

describe("the first difference of a new VM", () => {
  const p = updateAndCreate();
  /** What differs when the new VM's spec member `x` is `saved` in the file and `fresh` now (NONE: no member). */
  const differs = (saved: unknown, fresh: unknown) => {
    const side = (v: unknown) => {
      const q = structuredClone(p);
      const c = q.changes.find((x) => x.kind === "create")!;
      c.after = { ...c.after!, ...(v === NONE ? {} : { x: v }) } as typeof c.after;
      return q;
    };
    return planDifferences(side(saved), side(fresh));
  };
  const at = (path: string) => [`a new VM of acme.web: change.after.${path} differs`];

  it("names the member itself when its two values are not both objects or both arrays of one length", () => {
    const pairs: [unknown, unknown][] = [
      [{ a: 1 }, "a"], ["a", { a: 1 }], [{ a: 1 }, null], [null, { a: 1 }], [{ a: 1 }, 1],
      [[1, 2], { 0: 1, 1: 3 }], [{ 0: 1, 1: 3 }, [1, 2]], ["ab", ["a", "c"]], [["a", "c"], "ab"],
      [[1], [1, 2]], [[1, 2], [1]], [null, NONE], [NONE, null], [1, 2],
    ];
    for (const [saved, fresh] of pairs) expect(differs(saved, fresh), `${String(saved)} / ${String(fresh)}`).toEqual(at("x"));
  });

  it("goes down into arrays of one length and objects, to the first index or key that differs on either side", () => {
    expect(differs([1, 2, 3], [1, 5, 6])).toEqual(at("x[1]"));
    expect(differs([[1], [2]], [[1], [3]])).toEqual(at("x[1][0]"));
    expect(differs({ b: 1, c: { d: [0, 1] } }, { b: 1, c: { d: [0, 2] } })).toEqual(at("x.c.d[1]"));
    expect(differs({ zz: 1 }, { aa: 1, zz: 1 })).toEqual(at("x.aa"));
    expect(differs({ zz: 1 }, { aa: 1 })).toEqual(at("x.aa"));
    expect(differs({ zz: 1, aa: null }, { zz: 2 })).toEqual(at("x.aa"));
  });

  it("masks the plan's clock as a token no value holds: an empty note where the file holds its clock differs", () => {
    const fresh = structuredClone(p);
    const params = (a: Plan["actions"][number]) => a.params as { notes?: Record<string, string> };
    const notes = params(fresh.actions.find((a) => a.type === "configure" && params(a).notes !== undefined)!).notes!;
    expect(notes.created).toBe("2026-03-01T12:00:00Z");
    notes.created = "";
    expect(planDifferences(p, fresh)).toEqual(["a new VM of acme.web: actions.configure.params.notes.created differs"]);
  });

  it("compares new VMs whose steps carry no journal", () => {
    const q = structuredClone(p);
    const created = q.changes.find((c) => c.kind === "create")!.instanceId;
    for (const a of q.actions) if (a.instanceId === created) delete a.journal;
    expect(planDifferences(q, structuredClone(q))).toEqual([]);
    const r = structuredClone(q);
    r.actions.find((a) => a.instanceId === created && a.type === "clone")!.dependsOn.push("x");
    expect(planDifferences(q, r)).toEqual(["a new VM of acme.web: actions.clone.dependsOn differs"]);
    // Only a record naming an instance has its place masked: an empty one is not made up on the other side.
    const empty = structuredClone(q);
    empty.actions.find((a) => a.instanceId === created && a.type === "clone")!.journal = { recordBefore: {} };
    expect(planDifferences(empty, q)).toEqual(["a new VM of acme.web: actions.clone.journal differs"]);
  });
});

describe("a refill (a create naming the instance deleted out of band)", () => {
  const refill = (): Plan => plan(desired([group("web", 2)]), state([record(1)], 7), live([]), planOptions());

  it("differs in the instance it names and nothing else: the lost instance is not one the plan changes", () => {
    const p = refill();
    const fresh = structuredClone(p);
    const c = fresh.changes.find((x) => x.replaces === iid(1))!;
    expect(c.kind).toBe("create");
    c.replaces = iid(5);
    expect(planDifferences(p, fresh)).toEqual(["a new VM of acme.web: change.replaces differs"]);
  });
});

describe("a replacement whose change names no new instance (an edited file)", () => {
  it("is compared like any other: its successor's steps are an existing instance's the fresh plan does not have", () => {
    const m = member(1);
    const p = plan(desired([group("web", 1)]), state([m.record], 7), live([m.vm]), planOptions({ replace: [m.record.instanceId] }), [detail(m.vm, m.record)]);
    const saved = structuredClone(p);
    const successor = saved.changes[0]!.replaces!;
    delete saved.changes[0]!.replaces;
    expect(planDifferences(saved, p)).toEqual([
      `${iid(1)}: actions.stop.dependsOn[0] differs`, // its stop waits for a successor that is not new here
      `${successor}: in the file, but pvefleet would not change it now`,
      `the file creates 0 new VMs of acme.web (new for ${iid(1)}), pvefleet would now create 1`,
    ]);
  });
});
