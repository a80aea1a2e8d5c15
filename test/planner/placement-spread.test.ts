/**
 * A group's new instances spread across nodes (issue 13 #7): soft anti-affinity by default — a new
 * VM goes to a node holding the fewest of its group, the scheduler ranking those — and
 * `placement_spread: "none"` leaves the choice to the scheduler alone.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, group, live, member, node, planOptions, state } from "./fixtures.js";

const created = (p: Plan) => p.changes.filter((c) => c.kind === "create").map((c) => c.placement!.node).sort();

describe("placement spread", () => {
  // pve1 is far emptier than the others: the scheduler alone would put every small VM there.
  const nodes = [node("pve1", 512, 1), node("pve2", 64, 40), node("pve3", 64, 40)];

  it("puts a new group's instances on different nodes", () => {
    const p = plan(desired([group("web", 3)]), undefined, live([], nodes), planOptions());
    expect(created(p)).toEqual(["pve1", "pve2", "pve3"]);
  });

  it("counts the group's existing instances: a refill goes where the group has none", () => {
    const m = member(1); // on pve1
    const p = plan(desired([group("web", 2)]), state([m.record]), live([m.vm], nodes), planOptions());
    expect(m.vm.node).toBe("pve1");
    expect(created(p)).toHaveLength(1);
    expect(created(p)[0]).not.toBe("pve1");
  });

  it("stacks evenly once every node holds one", () => {
    const p = plan(desired([group("web", 6)]), undefined, live([], nodes), planOptions());
    expect(created(p)).toEqual(["pve1", "pve1", "pve2", "pve2", "pve3", "pve3"]);
  });

  it("leaves it to the scheduler with placement_spread none", () => {
    const p = plan(desired([group("web", 3)], { placementSpread: "none" }), undefined, live([], nodes), planOptions());
    expect(created(p)).toEqual(["pve1", "pve1", "pve1"]);
  });
});
