/**
 * The reconcile's edges, found by mutation testing (issue 18, stryker/engine.config.mjs): the typed
 * reason and the words of every kind of change, which record a scale-down keeps, held VMs counted
 * but never chosen, a clone that may still be running, resumes whose VM is gone or half-tagged,
 * adoption only into the group the notes name, --gc of twins and of VMs with no notes, --target
 * and --replace with and without a state. Pure: hand-built facts, no network.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import type { InstanceChange, Plan } from "../../src/planner/types.js";
import { renderNotesBlock } from "../../src/providers/proxmox/codecs/notes-block.js";
import { desired, detail, GIB, group, iid, live, member, notesFor, planOptions, record, state, vm } from "./fixtures.js";

const CREATE_STEPS = ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"];
const change = (p: Plan, instanceId: string) => p.changes.find((c) => c.instanceId === instanceId)!;
const types = (p: Plan, instanceId: string) => p.actions.filter((a) => a.instanceId === instanceId).map((a) => a.type);
const why = (c: InstanceChange) => [c.kind, c.reason, c.reasons];
const creates = (p: Plan) => p.changes.filter((c) => c.kind === "create");

describe("reconcile: what each change says and why", () => {
  it("names the typed reason and the words of an update, a start and a record fix, with `before` minus the ownership mark and `after` only where the VM is reconfigured", () => {
    const cores = member(1, { vm: { cores: 4 } });
    const stopped = member(2, { vm: { status: "stopped" } });
    const moved = member(3, { vm: { node: "pve2" } });
    const p = plan(desired([group("web", 3)]), state([cores.record, stopped.record, moved.record]), live([cores.vm, stopped.vm, moved.vm]), planOptions());

    const update = change(p, iid(1));
    expect(why(update)).toEqual(["update", "update_because_changed", ["cores 4 → 2"]]);
    expect(update.after).toEqual(group("web", 3).spec);
    const { ownership: _mark, ...listed } = cores.vm;
    expect(update.before).toEqual(listed);
    expect("ownership" in update.before!).toBe(false);

    const start = change(p, iid(2));
    expect(why(start)).toEqual(["start", "start_because_stopped", ["stopped out of band"]]);
    expect("after" in start).toBe(false);

    const record = change(p, iid(3));
    expect(why(record)).toEqual(["record", "record_because_observed", ["moved pve1 → pve2 (recorded)"]]);
    expect("after" in record).toBe(false);
    expect(p.actions.find((a) => a.instanceId === iid(3))?.journal?.record).toEqual({ node: "pve2" });
  });

  it("in destroy mode deletes with the destroy reason; a removed group's instances with theirs", () => {
    const m = member(1);
    const destroy = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions({ mode: "destroy" }));
    expect(why(change(destroy, iid(1)))).toEqual(["delete", "delete_because_destroy_mode", ["destroy requested"]]);
    expect(change(destroy, iid(1)).group).toEqual({ tenant: "acme", group: "web" });
    const removed = plan(desired([]), state([m.record]), live([m.vm]), planOptions());
    expect(why(change(removed, iid(1)))).toEqual(["delete", "delete_because_group_removed", ["group acme.web is not in the shard file"]]);
  });

  it("deletes the VM where it is now, not where its record says, and the ISO the record names", () => {
    const ms = [1, 2].map((n) => member(n));
    const moved = member(3, { record: { isoVolume: "isos:iso/kept-name.iso" }, vm: { node: "pve2", vmid: 20003 } });
    const p = plan(desired([group("web", 2)]), state([...ms.map((m) => m.record), moved.record]), live([...ms.map((m) => m.vm), moved.vm]), planOptions());
    expect(why(change(p, iid(3)))).toEqual(["delete", "delete_because_scale_down", ["size 3 > 2 (newest first)"]]);
    const chain = p.actions.filter((a) => a.instanceId === iid(3));
    expect(chain.map((a) => [a.type, a.node, a.vmid])).toEqual([["stop", "pve2", 20003], ["delete-vm", "pve2", 20003], ["delete-iso", "pve2", 20003], ["forget-state", "pve2", 20003]]);
    expect(chain[2]!.params).toEqual({ volume: "isos:iso/kept-name.iso" });
  });

  it("forgets a record whose VM is gone with the group it belonged to, and recreates it naming the lost instance; a second create replaces nothing", () => {
    const gone = record(1);
    const p = plan(desired([group("web", 2)]), state([gone]), live([]), planOptions());
    const forget = change(p, iid(1));
    expect(why(forget)).toEqual(["forget", "forget_because_missing", ["deleted out of band"]]);
    expect(forget.group).toEqual({ tenant: "acme", group: "web" });
    const made = creates(p).sort((a, b) => (a.replaces ? -1 : b.replaces ? 1 : 0));
    expect(made.map((c) => [c.reason, c.reasons])).toEqual([
      ["create_because_scale_up", ["size 0 < 2", `replaces ${iid(1)} (deleted out of band)`]],
      ["create_because_scale_up", ["size 0 < 2"]],
    ]);
    expect(made[0]!.replaces).toBe(iid(1));
    expect("replaces" in made[1]!).toBe(false);
  });
});

describe("reconcile: interrupted deletes", () => {
  it("finishes an interrupted delete whose VM is still there, saying so", () => {
    const m = member(1, { record: { phase: "deleting" } });
    const p = plan(desired([group("web", 0)]), state([m.record]), live([m.vm]), planOptions());
    expect(why(change(p, iid(1)))).toEqual(["delete", "delete_because_interrupted", ["an interrupted delete resumes"]]);
  });

  it("forgets an interrupted delete whose VM is already gone, deleting its ISO", () => {
    const r = record(1, { phase: "deleting" });
    const p = plan(desired([group("web", 0)]), state([r]), live([]), planOptions());
    expect(why(change(p, iid(1)))).toEqual(["forget", "forget_because_missing", ["an interrupted delete resumes", "VM already gone"]]);
    expect(types(p, iid(1))).toEqual(["delete-iso", "forget-state"]);
  });

  it("in refresh-only mode forgets an interrupted delete that finished out of band, touching no ISO, and leaves one whose VM is still there", () => {
    const gone = record(1, { phase: "deleting" });
    const there = member(2, { record: { phase: "deleting" } });
    const p = plan(desired([group("web", 0)]), state([gone, there.record]), live([there.vm]), planOptions({ mode: "refresh-only" }));
    expect(p.changes.map((c) => [c.instanceId, ...why(c)])).toEqual([[iid(1), "forget", "forget_because_missing", ["deleted (an interrupted delete finished out of band)"]]]);
    expect(p.actions.map((a) => a.type)).toEqual(["forget-state"]);
  });
});

describe("reconcile: refresh-only records where a VM went", () => {
  it("records a new VMID and a new node in the group's name, and nothing for a VM that did not move", () => {
    const renumbered = member(1, { vm: { vmid: 20001 } });
    const both = member(2, { vm: { node: "pve3", vmid: 20002 } });
    const still = member(3, { vm: { cores: 8 } });
    const migrated = member(4, { vm: { node: "pve2" } });
    const ms = [renumbered, both, still, migrated];
    const p = plan(desired([group("web", 4)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions({ mode: "refresh-only" }));
    expect(p.changes.map((c) => [c.instanceId, c.group, ...why(c)])).toEqual([
      [iid(1), { tenant: "acme", group: "web" }, "record", "record_because_observed", ["VMID 10001 → 20001"]],
      [iid(2), { tenant: "acme", group: "web" }, "record", "record_because_observed", ["moved pve1 → pve3", "VMID 10002 → 20002"]],
      [iid(4), { tenant: "acme", group: "web" }, "record", "record_because_observed", ["moved pve1 → pve2"]],
    ]);
    expect(p.actions.map((a) => a.journal?.record)).toEqual([{ node: "pve1", vmid: 20001 }, { node: "pve3", vmid: 20002 }, { node: "pve2", vmid: 10004 }]);
  });
});

describe("reconcile: scale-down chooses from the records, and keeps the others", () => {
  it("reconfigures the members it keeps, newest first, never the ones it deletes", () => {
    // 1 and 3 drifted; 3 is the newest and goes, 1 stays and is fixed.
    const ms = [member(1, { vm: { cores: 4 } }), member(2), member(3, { vm: { cores: 4 } })];
    const p = plan(desired([group("web", 2)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(p.changes.map((c) => `${c.kind}:${c.instanceId}`)).toEqual([`update:${iid(1)}`, `delete:${iid(3)}`]);
  });

  it("reconfigures the members it keeps, oldest first, never the ones it deletes", () => {
    const ms = [member(1, { vm: { cores: 4 } }), member(2), member(3, { vm: { cores: 4 } })];
    const p = plan(desired([group("web", 2)], { scaleDownOrder: "oldest" }), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(p.changes.map((c) => `${c.kind}:${c.instanceId}`)).toEqual([`delete:${iid(1)}`, `update:${iid(3)}`]);
    expect(change(p, iid(1)).reasons).toEqual(["size 3 > 2 (oldest first)"]);
  });

  it("orders by creation time, then by instance ID, not by the state's order", () => {
    const newest = member(1, { record: { createdAt: "2026-01-03T00:00:00.000Z" } });
    const tieLow = member(2, { record: { createdAt: "2026-01-02T00:00:00.000Z" } });
    const tieHigh = member(3, { record: { createdAt: "2026-01-02T00:00:00.000Z" } });
    const d = desired([group("web", 1)]);
    const s = state([newest.record, tieHigh.record, tieLow.record]);
    const l = live([newest.vm, tieHigh.vm, tieLow.vm]);
    expect(plan(d, s, l, planOptions()).changes.map((c) => c.instanceId)).toEqual([iid(1), iid(3)]);
    const oldest = plan(desired([group("web", 2)], { scaleDownOrder: "oldest" }), s, l, planOptions());
    expect(oldest.changes.map((c) => c.instanceId)).toEqual([iid(2)]);
  });

  it("deletes nothing below size, oldest first too", () => {
    const ms = [1, 2, 3].map((n) => member(n));
    const p = plan(desired([group("web", 5)], { scaleDownOrder: "oldest" }), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(p.changes.map((c) => c.kind)).toEqual(["create", "create"]);
    expect(creates(p).map((c) => c.reasons)).toEqual([["size 3 < 5"], ["size 3 < 5"]]);
  });

  it("counts a held VM towards the size but never deletes it: one member goes, and the words count both", () => {
    const held = member(1, { vm: { tags: ["lab", "nstance"], ownership: "suspicious" } });
    const ms = [2, 3].map((n) => member(n));
    const p = plan(desired([group("web", 2)]), state([held.record, ...ms.map((m) => m.record)]), live([held.vm, ...ms.map((m) => m.vm)]), planOptions());
    expect(p.changes.map((c) => [c.instanceId, ...why(c)])).toEqual([[iid(3), "delete", "delete_because_scale_down", ["size 3 > 2 (newest first)"]]]);
  });

  it("makes up the size around held VMs: two held of three leave one create, counted with them", () => {
    const held = [1, 2].map((n) => member(n, { vm: { tags: ["nstance"], ownership: "suspicious" } }));
    const p = plan(desired([group("web", 3)]), state(held.map((m) => m.record)), live(held.map((m) => m.vm)), planOptions());
    expect(creates(p).map((c) => c.reasons)).toEqual([["size 2 < 3"]]);
    expect(p.warnings.filter((w) => w.includes("lacks the ownership tags dev, lab:"))).toHaveLength(2);
  });

  it("adopts nothing when held VMs already exceed the size, even with --adopt", () => {
    const held = [1, 2].map((n) => member(n, { vm: { tags: ["nstance"], ownership: "suspicious" } }));
    const orphan = vm(30000, iid(50));
    const notes = notesFor(record(50));
    const p = plan(desired([group("web", 1)]), state(held.map((m) => m.record)), live([...held.map((m) => m.vm), orphan]), planOptions({ adopt: true }), [detail(orphan, undefined, { description: notes })]);
    expect(p.changes).toEqual([]);
    expect(p.counts.orphans).toBe(1);
  });
});

describe("reconcile: a VM held by its record, not by its marks", () => {
  it("leaves a renamed instance alone, says how to rename it back, and makes no second VM", () => {
    const r = record(1);
    const renamed = vm(r.vmid, "renamed-by-hand", { ownership: "suspicious" });
    const p = plan(desired([group("web", 1)]), state([r]), live([renamed]), planOptions());
    expect(p.changes).toEqual([]);
    expect(p.actions).toEqual([]);
    expect(p.warnings).toContain(
      `${iid(1)}: VM ${r.vmid} on pve1 carries this shard's tags but is named "renamed-by-hand": renamed, so pvefleet will not change, replace or delete it (its ISO is kept); rename it back (qm set ${r.vmid} --name ${iid(1)}) to manage it again`,
    );
  });

  it("names a single missing tag in the singular", () => {
    const m = member(1, { vm: { tags: ["lab", "nstance"], ownership: "suspicious" } });
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions());
    expect(p.warnings.join("\n")).toContain(`lacks the ownership tag dev: pvefleet will not change`);
  });
});

describe("reconcile: interrupted creates", () => {
  const older = { phase: "creating" as const, stepsDone: [], node: "pve3", replaceHash: "sha256:old" };

  it("holds an older-spec create while its VMID is locked by a named clone or create, or listed without a name", () => {
    for (const there of [{ lock: "clone", name: "tmp-name" }, { lock: "create", name: "tmp-name" }, { name: "" }]) {
      const creating = record(5, older);
      const busy = vm(creating.vmid, there.name, { node: "pve3", tags: [], ownership: "unmanaged", ...(there.lock ? { lock: there.lock } : {}) });
      const p = plan(desired([group("web", 1)]), state([creating]), live([busy]), planOptions());
      expect(p.changes, JSON.stringify(there)).toEqual([]);
      expect(p.warnings.join("\n")).toContain(`${creating.instanceId}: an interrupted create for an older spec may still be cloning at VMID ${creating.vmid} on pve3`);
    }
  });

  it("abandons an older-spec create when its VMID holds someone else's settled VM or a template, and says why", () => {
    for (const other of [vm(10005, "ops-db", { tags: [], ownership: "unmanaged" }), vm(10005, "", { tags: [], ownership: "unmanaged", template: true, lock: "clone" })]) {
      const creating = record(5, older);
      const p = plan(desired([group("web", 1)]), state([creating]), live([other]), planOptions());
      expect(why(change(p, creating.instanceId))).toEqual(["forget", "forget_because_abandoned", ["interrupted create for a spec the shard file no longer asks for: abandoned", "VM already gone"]]);
      expect(creates(p)).toHaveLength(1);
    }
  });

  it("resumes, not abandons, an older-spec create whose clone already exists", () => {
    const creating = record(5, { ...older, stepsDone: ["clone"], node: "pve1" });
    const cloned = vm(creating.vmid, creating.instanceId, { tags: [], ownership: "suspicious", status: "stopped" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([cloned]), planOptions());
    expect(why(change(p, creating.instanceId))).toEqual(["create", "create_because_resume", ["resuming an interrupted create at configure"]]);
  });

  it("with its VM gone, counts only the ISO upload as done and clones again", () => {
    const creating = record(5, { phase: "creating", stepsDone: ["clone", "configure", "upload-iso"] });
    const p = plan(desired([group("web", 1)]), state([creating]), live([]), planOptions());
    expect(change(p, creating.instanceId).resumeFrom).toBe("clone");
    expect(types(p, creating.instanceId)).toEqual(["clone", "configure", "start"]);
  });

  it("re-runs its configure when the VM lacks only some of the ownership tags", () => {
    const creating = record(5, { phase: "creating" });
    const half = vm(creating.vmid, creating.instanceId, { tags: ["nstance"], ownership: "suspicious" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([half]), planOptions());
    expect(p.changes.map((c) => [c.kind, c.resumeFrom])).toEqual([["create", "configure"]]);
  });

  it("marks a finished create ready with every step recorded", () => {
    const creating = record(5, { phase: "creating" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([vm(creating.vmid, creating.instanceId)]), planOptions());
    expect(p.actions.map((a) => a.journal?.record)).toEqual([{ phase: "ready", stepsDone: CREATE_STEPS }]);
  });

  it("never resumes a ready record, whatever steps it lists", () => {
    const m = member(1, { record: { stepsDone: ["clone"] } });
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions());
    expect(p.changes).toEqual([]);
  });
});

describe("reconcile: replacements", () => {
  it("names a requested replacement as such, and lists only the replace-forcing attributes", () => {
    const m = member(1, { vm: { cores: 4 } });
    const p = plan(desired([group("web", 1, { diskBytes: 5 * GIB })]), state([m.record]), live([m.vm]), planOptions({ replace: [iid(1)] }));
    const c = change(p, iid(1));
    expect([c.kind, c.reason]).toEqual(["replace", "replace_by_request"]);
    expect(c.attributes.length).toBeGreaterThan(0);
    expect(c.attributes.every((a) => a.forcesReplacement)).toBe(true);
    const forced = plan(desired([group("web", 1, { diskBytes: 5 * GIB })]), state([m.record]), live([m.vm]), planOptions());
    expect(change(forced, iid(1)).reason).toBe("replace_because_cannot_update");
  });

  it("with max_surge 0 defers the replacement and still makes the in-place changes, listing only those", () => {
    const m = member(1, { vm: { cores: 4 } });
    const p = plan(desired([group("web", 1, { diskBytes: 5 * GIB })], { maxSurge: 0 }), state([m.record]), live([m.vm]), planOptions());
    const c = change(p, iid(1));
    expect(c.kind).toBe("update");
    expect(c.attributes.map((a) => [a.attribute, a.forcesReplacement])).toEqual([["cores", false]]);
    expect(p.warnings).toContain(`acme.web/${iid(1)}: replacement deferred (max_surge is 0: no room for a new VM before the old one is deleted)`);
    expect(p.warnings).not.toContain("max_surge below 0 is treated as 0");
  });

  it("warns that a negative max_surge counts as 0", () => {
    const p = plan(desired([group("web", 0)], { maxSurge: -1 }), state([]), live([]), planOptions());
    expect(p.warnings).toContain("max_surge below 0 is treated as 0");
  });
});

describe("reconcile: orphans", () => {
  const notes = (g: string) => renderNotesBlock({ group: g, kind: "web", template: "web", created: "2026-02-02T00:00:00.000Z" });

  it("adopts only an orphan whose notes name this group, never without --adopt", () => {
    const mine = vm(30000, iid(50));
    const theirs = vm(30001, iid(51));
    const bare = vm(30002, iid(52));
    const details = [detail(mine, undefined, { description: notes("acme.web") }), detail(theirs, undefined, { description: notes("acme.api") })];
    const l = live([mine, theirs, bare]);
    const d = desired([group("web", 3)]);
    const p = plan(d, state([]), l, planOptions({ adopt: true }), details);
    expect(p.changes.filter((c) => c.kind === "adopt").map((c) => c.instanceId)).toEqual([iid(50)]);
    expect(p.counts.orphans).toBe(2);
    expect(p.warnings.join("\n")).toContain(`2 orphan VM(s) carry this shard's tags but are not in the state: ${iid(51)} (30001), ${iid(52)} (30002)`);
    // Without --adopt (and a state that knows one instance, so the plan is not refused as empty):
    // the group is filled with new VMs, the orphans stay orphans.
    const m = member(1);
    const without = plan(d, state([m.record]), live([m.vm, mine, theirs, bare]), planOptions(), details);
    expect(without.changes.map((c) => c.kind)).toEqual(["create", "create"]);
    expect(without.counts.orphans).toBe(3);
  });

  it("adopts with its reasons, the record first and complete, no replace-forcing attribute, and starts it when stopped", () => {
    const orphan = vm(30000, iid(50), { status: "stopped", diskBytes: 10 * GIB });
    const p = plan(desired([group("web", 1, { diskBytes: 5 * GIB })]), state([]), live([orphan]), planOptions({ adopt: true }), [detail(orphan, undefined, { description: notes("acme.web") })]);
    const c = change(p, iid(50));
    expect(why(c)).toEqual(["adopt", "adopt_because_orphan", ["orphan named this group in its notes (--adopt)", "stopped out of band"]]);
    expect(c.attributes.every((a) => !a.forcesReplacement)).toBe(true);
    const chain = p.actions.filter((a) => a.instanceId === iid(50));
    expect(chain[0]!.type).toBe("record-state");
    expect(chain[0]!.journal?.record).toMatchObject({ phase: "ready", stepsDone: CREATE_STEPS });
    expect(chain.map((a) => a.type)).toContain("start");
    // Running, with more cores than the group asks for: adopted and set back in place.
    const running = vm(30000, iid(50), { cores: 4 });
    const q = plan(desired([group("web", 1)]), state([]), live([running]), planOptions({ adopt: true }), [detail(running, undefined, { description: notes("acme.web") })]);
    expect(change(q, iid(50)).reasons).toEqual(["orphan named this group in its notes (--adopt)", "cores 4 → 2"]);
    expect(change(q, iid(50)).attributes).toEqual([{ attribute: "cores", before: 4, after: 2, forcesReplacement: false }]);
  });

  it("lists orphans by name, then VMID, whatever the listing's order", () => {
    const p = plan(desired([group("web", 0)]), state([]), live([vm(30009, iid(51)), vm(30005, iid(50)), vm(30001, iid(50))]), planOptions());
    expect(p.warnings.join("\n")).toContain(`3 orphan VM(s) carry this shard's tags but are not in the state: ${iid(50)} (30001), ${iid(50)} (30005), ${iid(51)} (30009)`);
  });

  it("--gc deletes an orphan under the group its notes name, with its reason, and one with no notes under no group", () => {
    const named = vm(30000, iid(50));
    const dotless = vm(30001, iid(51));
    const leadingDot = vm(30002, iid(52));
    const bare = vm(30003, iid(53));
    const details = [
      detail(named, undefined, { description: notes("acme.web") }),
      detail(dotless, undefined, { description: notes("web") }),
      detail(leadingDot, undefined, { description: notes(".web") }),
    ];
    const p = plan(desired([group("web", 0)]), state([]), live([named, dotless, leadingDot, bare]), planOptions({ gc: true }), details);
    expect(why(change(p, iid(50)))).toEqual(["delete", "delete_because_orphan_gc", ["orphan: not in the state (--gc)"]]);
    expect(p.changes.map((c) => [c.instanceId, c.group])).toEqual([
      [iid(51), { tenant: "", group: "" }],
      [iid(52), { tenant: "", group: "" }],
      [iid(53), { tenant: "", group: "" }],
      [iid(50), { tenant: "acme", group: "web" }],
    ]);
    expect(p.warnings.join("\n")).not.toContain("orphan VM(s)");
  });

  it("--gc keeps the ISO of a twin (a managed instance's name on another VMID), deletes an orphan's own, and works with no state", () => {
    const m = member(1);
    const twin = vm(30001, iid(1));
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm, twin]), planOptions({ gc: true }));
    expect(p.actions.filter((a) => a.vmid === 30001).map((a) => a.type)).toEqual(["stop", "delete-vm"]);
    const alone = plan(desired([group("web", 0)]), undefined, live([vm(30002, iid(2))]), planOptions({ gc: true }));
    expect(alone.actions.map((a) => a.type)).toEqual(["stop", "delete-vm", "delete-iso"]);
  });

  it("--gc deletes nothing in refresh-only mode", () => {
    const p = plan(desired([group("web", 0)]), state([]), live([vm(30000, iid(50))]), planOptions({ gc: true, mode: "refresh-only" }));
    expect(p.changes).toEqual([]);
  });
});

describe("reconcile: --target and --replace", () => {
  it("accepts a target that only the state knows (its VM gone), and keeps the create that replaces it", () => {
    const gone = record(1);
    const other = member(2, { record: { group: "api" }, vm: { cores: 8 } });
    const d = desired([group("web", 1), group("api", 1)]);
    const p = plan(d, state([gone, other.record]), live([other.vm]), planOptions({ targets: [iid(1)] }));
    expect(p.changes.map((c) => [c.kind, c.kind === "create" ? c.replaces : c.instanceId])).toEqual([["forget", iid(1)], ["create", iid(1)]]);
    const api = plan(d, state([gone, other.record]), live([other.vm]), planOptions({ targets: ["acme.api"] }));
    expect(api.changes.map((c) => `${c.kind}:${c.instanceId}`)).toEqual([`update:${other.record.instanceId}`]);
  });

  it("accepts a target naming a listed VM with no state at all", () => {
    const p = plan(desired([group("web", 0)]), undefined, live([vm(30000, iid(50))]), planOptions({ targets: [iid(50)], gc: true }));
    expect(p.changes.map((c) => c.instanceId)).toEqual([iid(50)]);
  });

  it("refuses an unknown --target or --replace with E_TARGET, also with no state", () => {
    const d = desired([group("web", 1)]);
    expect(() => plan(d, state([]), live([]), planOptions({ targets: ["acme.wbe"] }))).toThrowError(
      expect.objectContaining({ code: "E_TARGET", message: "--target acme.wbe: no group (tenant.group) or instance of this shard has that name" }),
    );
    expect(() => plan(d, undefined, live([]), planOptions({ replace: [iid(9)] }))).toThrowError(
      expect.objectContaining({ code: "E_TARGET", message: `--replace ${iid(9)}: no instance with that ID in the state` }),
    );
  });
});

