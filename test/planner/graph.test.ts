import { describe, expect, it } from "vitest";
import { topoOrder, validateGraph } from "../../src/planner/graph.js";
import type { Action } from "../../src/planner/types.js";

const act = (id: string, dependsOn: string[] = []): Action => ({ id, instanceId: id.split(":")[0]!, type: "configure", node: "pve1", vmid: 100, dependsOn, params: {} });

describe("action graph", () => {
  it("orders every action after its dependencies, keeping input order among ready ones", () => {
    const actions = [act("b:2", ["b:1"]), act("a:1"), act("b:1"), act("a:2", ["a:1", "b:2"])];
    expect(topoOrder(actions).map((a) => a.id)).toEqual(["a:1", "b:1", "b:2", "a:2"]);
  });

  it("names the cycle when there is one", () => {
    const actions = [act("x:0"), act("a:1", ["c:3", "x:0"]), act("b:2", ["a:1"]), act("c:3", ["b:2"])];
    expect(() => validateGraph(actions)).toThrow("action graph has a cycle: b:2 → c:3 → a:1 → b:2");
  });

  it("refuses unknown dependencies and duplicate ids", () => {
    expect(() => validateGraph([act("a:1", ["nope"])])).toThrow(/depends on unknown action nope/);
    expect(() => validateGraph([act("a:1"), act("a:1")])).toThrow(/duplicate action a:1/);
  });

  it("orders a 50,000-action chain without overflowing the stack", () => {
    const n = 50_000;
    const actions: Action[] = [];
    for (let i = n - 1; i >= 0; i--) actions.push(act(`i:${i}`, i > 0 ? [`i:${i - 1}`] : []));
    const order = topoOrder(actions);
    expect(order[0]!.id).toBe("i:0");
    expect(order[n - 1]!.id).toBe(`i:${n - 1}`);
  });

  it("finds a cycle closing a 50,000-action chain without overflowing the stack", () => {
    const n = 50_000;
    const actions: Action[] = [];
    for (let i = 0; i < n; i++) actions.push(act(`i:${i}`, [`i:${(i + n - 1) % n}`]));
    expect(() => validateGraph(actions)).toThrow(/cycle: i:\d+ → /);
  });
});
