/**
 * The no-perpetual-diff property: applying a plan to the facts (in memory, as the provider would)
 * and planning again yields no changes.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import type { DesiredShard } from "../../src/config/model.js";
import type { Plan, PlanSelectors } from "../../src/planner/types.js";
import { applyPlan, desired, detail, group, iid, live, member, planOptions, record, state, vm, type World } from "./fixtures.js";

function planWorld(d: DesiredShard, w: World, opts: PlanSelectors = {}): Plan {
  return plan(d, w.state, w.live, { ...planOptions(), ...opts }, [...w.details.values()]);
}

/** Plans and applies until a plan is empty; returns the final world and the number of rounds. */
function converge(d: DesiredShard, w: World, opts: PlanSelectors = {}, maxRounds = 6): { world: World; rounds: number } {
  for (let round = 1; round <= maxRounds; round++) {
    const p = planWorld(d, w, { ...opts, newInstanceId: ids(round) });
    if (p.changes.length === 0) return { world: w, rounds: round - 1 };
    w = applyPlan(p, w, d);
  }
  throw new Error(`no convergence after ${maxRounds} rounds`);
}

const ids = (round: number) => {
  let n = round * 100;
  return (kind: string) => iid(n++, kind);
};

const empty = (): World => ({ state: undefined, live: live([]), details: new Map(), isos: new Set() });

function healthy(ns: number[]): World {
  const ms = ns.map((n) => member(n));
  return {
    state: state(ms.map((m) => m.record)),
    live: live(ms.map((m) => m.vm)),
    details: new Map(ms.map((m) => [m.vm.vmid, detail(m.vm, m.record)])),
    isos: new Set(ms.map((m) => m.record.isoVolume!)),
  };
}

const vmNames = (w: World) => w.live.vms.map((v) => v.name).sort();

describe("a second plan is empty", () => {
  it("after creating a shard from nothing", () => {
    const d = desired([group("web", 3), group("api", 2, { cores: 4 })]);
    const { world, rounds } = converge(d, empty());
    expect(rounds).toBe(1);
    expect(world.live.vms).toHaveLength(5);
    expect(Object.values(world.state!.instances).every((r) => r.phase === "ready")).toBe(true);
    expect(world.isos.size).toBe(5);
  });

  it("after scaling up and down", () => {
    const up = converge(desired([group("web", 4)]), healthy([1, 2]));
    expect(up.rounds).toBe(1);
    expect(up.world.live.vms).toHaveLength(4);
    const down = converge(desired([group("web", 1)]), up.world);
    expect(down.rounds).toBe(1);
    expect(vmNames(down.world)).toEqual([iid(1)]);
    expect([...down.world.isos]).toEqual([`local:iso/${iid(1)}-cidata.iso`]);
  });

  it("after out-of-band stop, cores, tag and notes edits", () => {
    const w = healthy([1, 2, 3]);
    w.live.vms[0]!.status = "stopped";
    w.live.vms[1]!.cores = 16;
    w.live.vms[2]!.tags = ["dev", "lab", "nstance", "keep-me"];
    w.details.get(w.live.vms[0]!.vmid)!.description = "operator note";
    // A per-VM read is trusted over the listing, so the edits show in both, as on PVE.
    w.details.get(w.live.vms[1]!.vmid)!.cores = 16;
    w.details.get(w.live.vms[2]!.vmid)!.tags = ["dev", "lab", "nstance", "keep-me"];
    const first = planWorld(desired([group("web", 3)]), w);
    expect(first.changes.map((c) => c.kind).sort()).toEqual(["update", "update"]);
    expect(first.actions.filter((a) => a.instanceId === iid(1)).map((a) => a.type)).toEqual(["configure", "start"]);
    const { world, rounds } = converge(desired([group("web", 3)]), w);
    expect(rounds).toBe(1);
    expect(world.live.vms.find((v) => v.vmid === w.live.vms[2]!.vmid)!.tags).toContain("keep-me");
    expect(world.details.get(w.live.vms[0]!.vmid)!.description).toMatch(/^operator note\n\n# DO NOT EDIT BELOW/);
  });

  it("after replacing a whole group in one run, max_surge at a time", () => {
    const d = desired([group("web", 3, {}, { replace: "sha256:r2" })]);
    const { world, rounds } = converge(d, healthy([1, 2, 3]));
    expect(rounds).toBe(1);
    expect(world.live.vms).toHaveLength(3);
    expect(vmNames(world).some((n) => [iid(1), iid(2), iid(3)].includes(n))).toBe(false);
    expect(Object.values(world.state!.instances).every((r) => r.replaceHash === "sha256:r2")).toBe(true);
    expect(world.isos.size).toBe(3);
  });

  it("after a VM deleted out of band is recreated and its ISO removed", () => {
    const w = healthy([1, 2]);
    w.live.vms.splice(1, 1);
    const { world, rounds } = converge(desired([group("web", 2)]), w);
    expect(rounds).toBe(1);
    expect(world.live.vms).toHaveLength(2);
    expect(world.isos.has(`local:iso/${iid(2)}-cidata.iso`)).toBe(false);
    expect(world.state!.instances[iid(2)]).toBeUndefined();
  });

  it("after resuming interrupted creates, without duplicates", () => {
    const notCloned = record(5, { phase: "creating", stepsDone: ["upload-iso"] });
    const untagged = record(6, { phase: "creating", stepsDone: ["clone"] });
    const w: World = {
      state: state([notCloned, untagged]),
      live: live([vm(untagged.vmid, untagged.instanceId, { tags: [], ownership: "unmanaged", status: "stopped", cores: 1 })]),
      details: new Map(),
      isos: new Set([notCloned.isoVolume!]),
    };
    const { world, rounds } = converge(desired([group("web", 2)]), w);
    expect(rounds).toBe(1);
    expect(vmNames(world)).toEqual([notCloned.instanceId, untagged.instanceId]);
  });

  it("after garbage-collecting and adopting orphans", () => {
    const w = healthy([1]);
    const orphanA = vm(30000, iid(50));
    const orphanB = vm(30001, iid(51));
    w.live.vms.push(orphanA, orphanB);
    w.details.set(30000, detail(orphanA, record(50)));
    w.details.set(30001, detail(orphanB, record(51)));
    w.isos.add(`local:iso/${iid(51)}-cidata.iso`);
    const { world, rounds } = converge(desired([group("web", 2)]), w, { adopt: true, gc: true });
    expect(rounds).toBe(1);
    expect(vmNames(world)).toEqual([iid(1), iid(50)]);
    expect(world.state!.instances[iid(50)]?.phase).toBe("ready");
    expect(world.isos.has(`local:iso/${iid(51)}-cidata.iso`)).toBe(false);
  });

  it("after destroying everything", () => {
    const d = desired([group("web", 2)]);
    const p = planWorld(d, healthy([1, 2]), { mode: "destroy" });
    const after = applyPlan(p, healthy([1, 2]), d);
    expect(after.live.vms).toEqual([]);
    expect(after.isos.size).toBe(0);
    expect(planWorld(d, after, { mode: "destroy" }).changes).toEqual([]);
  });
});
