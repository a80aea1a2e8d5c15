import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import type { Plan } from "../../src/planner/types.js";
import { UserError } from "../../src/errors.js";
import {
  desired, detail, FETCHED_AT, GIB, group, iid, live, member, MIB, node, notesFor, planOptions, record, state, vm,
} from "./fixtures.js";

const kinds = (p: Plan) => p.changes.map((c) => `${c.kind}:${c.instanceId}`);
const types = (p: Plan, instanceId: string) => p.actions.filter((a) => a.instanceId === instanceId).map((a) => a.type);

describe("reconcile", () => {
  it("creates new instances for a group below its size, placed and numbered from the snapshot", () => {
    const m = member(1);
    const taken = vm(10001 + 0, "someone-else", { ownership: "unmanaged", tags: [] });
    const p = plan(desired([group("web", 3)]), state([m.record]), live([m.vm, taken, vm(10002, "x", { ownership: "unmanaged", tags: [] })]), planOptions());
    const creates = p.changes.filter((c) => c.kind === "create");
    expect(creates).toHaveLength(2);
    expect(creates.map((c) => c.reasons[0])).toEqual(["size 1 < 3", "size 1 < 3"]);
    const vmids = creates.map((c) => c.placement!.vmid);
    // One allocator and policy (the provider's): above the highest VMID in use in the range, so a
    // freshly freed VMID (10000 here) is not handed to a new VM while logs still name the old one.
    expect(vmids).toEqual([10003, 10004]); // 10001 is in the state and the listing, 10002 in the listing
    for (const c of creates) {
      expect(c.instanceId).toMatch(/^web\d{26}$/);
      expect(["pve1", "pve2", "pve3"]).toContain(c.placement!.node);
      expect(Object.keys(c.placement!.scores).length).toBeGreaterThan(0);
      expect(types(p, c.instanceId)).toEqual(["clone", "upload-iso", "configure", "start"]);
    }
    expect(p.summary).toEqual({ add: 2, change: 0, destroy: 0 });
  });

  it("never hands out a VMID held by a creating record whose clone has not run yet", () => {
    const creating = record(5, { phase: "creating", stepsDone: [], vmid: 10000 });
    const p = plan(desired([group("web", 2)]), state([creating]), live([]), planOptions());
    const fresh = p.changes.find((c) => c.kind === "create" && c.instanceId !== creating.instanceId)!;
    expect(fresh.placement!.vmid).toBe(10001);
  });

  it("fails with a clear line when the VMID range is exhausted", () => {
    const d = desired([group("web", 2)], { vmidRange: { min: 10000, max: 10000 } });
    expect(() => plan(d, undefined, live([]), planOptions())).toThrow(/no free VMID left in the range 10000–10000/);
  });

  it("scales down newest first and never removes more than needed", () => {
    const ms = [1, 2, 3, 4].map((n) => member(n));
    const p = plan(desired([group("web", 2)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(kinds(p)).toEqual([`delete:${iid(3)}`, `delete:${iid(4)}`]);
    expect(p.changes[0]!.reasons[0]).toBe("size 4 > 2 (newest first)");
  });

  it("scales down oldest first when asked", () => {
    const ms = [1, 2, 3].map((n) => member(n));
    const p = plan(desired([group("web", 2)], { scaleDownOrder: "oldest" }), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(kinds(p)).toEqual([`delete:${iid(1)}`]);
  });

  it("deletes with stop → delete-vm → delete-iso → forget-state, marking the record deleting first", () => {
    const ms = [1, 2].map((n) => member(n));
    const p = plan(desired([group("web", 1)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    const acts = p.actions.filter((a) => a.instanceId === iid(2));
    expect(acts.map((a) => [a.type, a.dependsOn])).toEqual([
      ["stop", []], ["delete-vm", [`${iid(2)}:stop`]], ["delete-iso", [`${iid(2)}:delete-vm`]], ["forget-state", [`${iid(2)}:delete-iso`]],
    ]);
    expect(acts[0]!.journal?.recordBefore).toEqual({ phase: "deleting" });
    expect(acts[2]).toMatchObject({ type: "delete-iso", params: { volume: `local:iso/${iid(2)}-cidata.iso` } });
  });

  it("recreates an instance whose VM is gone under a new ID and reports the old one deleted out of band", () => {
    const gone = record(1);
    const p = plan(desired([group("web", 1)]), state([gone]), live([]), planOptions());
    const forget = p.changes.find((c) => c.kind === "forget")!;
    expect(forget.instanceId).toBe(gone.instanceId);
    expect(forget.reasons).toEqual(["deleted out of band"]);
    const create = p.changes.find((c) => c.kind === "create")!;
    expect(create.instanceId).not.toBe(gone.instanceId);
    expect(create.replaces).toBe(gone.instanceId);
    expect(types(p, gone.instanceId)).toEqual(["delete-iso", "forget-state"]);
    expect(p.drift.some((f) => f.kind === "missing" && f.instanceId === gone.instanceId)).toBe(true);
  });

  it("starts a VM that was stopped out of band", () => {
    const m = member(1, { vm: { status: "stopped" } });
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions());
    expect(kinds(p)).toEqual([`start:${m.record.instanceId}`]);
    expect(p.changes[0]!.reasons).toEqual(["stopped out of band"]);
    expect(types(p, m.record.instanceId)).toEqual(["start"]);
  });

  it("updates cores and memory in place, sending only what differs", () => {
    const m = member(1, { vm: { cores: 4 } });
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions());
    expect(kinds(p)).toEqual([`update:${m.record.instanceId}`]);
    const configure = p.actions.find((a) => a.type === "configure")!;
    expect(configure.params).toEqual({ cores: 2 });
    expect(p.changes[0]!.attributes).toEqual([{ attribute: "cores", before: 4, after: 2, forcesReplacement: false }]);

    const m2 = member(2, { vm: { memoryBytes: 4096 * MIB } });
    const p2 = plan(desired([group("web", 1)]), state([m2.record]), live([m2.vm]), planOptions());
    expect(p2.actions.find((a) => a.type === "configure")!.params).toEqual({ memoryMiB: 2048 });
  });

  it("compares tags as sets: operator tags are kept", () => {
    const extra = member(1, { vm: { tags: ["backup", "dev", "lab", "nstance"] } });
    expect(plan(desired([group("web", 1)]), state([extra.record]), live([extra.vm]), planOptions()).changes).toEqual([]);
  });

  it("never touches an instance whose VM lost an ownership tag, and makes no second VM for it", () => {
    const stripped = member(2, { vm: { tags: ["backup", "lab", "nstance"], ownership: "suspicious" } });
    const p = plan(desired([group("web", 1)]), state([stripped.record]), live([stripped.vm]), planOptions());
    expect(p.changes).toEqual([]);
    expect(p.actions).toEqual([]);
    expect(p.warnings.join("\n")).toMatch(new RegExp(`${stripped.record.instanceId}: VM ${stripped.vm.vmid} on \\w+ carries this instance's name but lacks the ownership tag dev`));
    expect(p.warnings.join("\n")).toContain(`qm set ${stripped.vm.vmid} --tags 'backup;dev;lab;nstance'`);
    // destroy does not delete it either: it is not recognisably ours any more.
    const d = plan(desired([group("web", 1)]), state([stripped.record]), live([stripped.vm]), planOptions({ mode: "destroy" }));
    expect(d.actions).toEqual([]);
  });

  it("compares notes and onboot only when details were fetched, keeping operator text", () => {
    const m = member(1);
    const edited = detail(m.vm, m.record, { description: "owner: ops\n\n# DO NOT EDIT BELOW - managed by nstance #\ngroup: acme.other\n# DO NOT EDIT ABOVE - managed by nstance #", onboot: false });
    const d = desired([group("web", 1)]);
    expect(plan(d, state([m.record]), live([m.vm]), planOptions()).changes).toEqual([]);

    const p = plan(d, state([m.record]), live([m.vm]), planOptions(), [edited]);
    expect(kinds(p)).toEqual([`update:${m.record.instanceId}`]);
    const params = p.actions.find((a) => a.type === "configure")!.params;
    expect(params.onboot).toBe(true);
    expect(params.description).toBe(notesFor(m.record, "owner: ops"));
    expect(params.digest).toBe(`digest-${m.vm.vmid}`);
    expect(p.vmDigests).toEqual({ [m.vm.vmid]: `digest-${m.vm.vmid}` });

    const clean = detail(m.vm, m.record);
    expect(plan(d, state([m.record]), live([m.vm]), planOptions(), [clean]).changes).toEqual([]);
  });

  it("replaces an instance whose replace hash changed: create the new one first, then delete the old", () => {
    const m = member(1);
    const p = plan(desired([group("web", 1, {}, { replace: "sha256:r2" })]), state([m.record]), live([m.vm]), planOptions());
    expect(p.changes).toHaveLength(1);
    const c = p.changes[0]!;
    expect(c.kind).toBe("replace");
    expect(c.instanceId).toBe(m.record.instanceId);
    const newId = c.replaces!;
    expect(types(p, newId)).toEqual(["clone", "upload-iso", "configure", "start"]);
    const stop = p.actions.find((a) => a.id === `${m.record.instanceId}:stop`)!;
    expect(stop.dependsOn).toEqual([`${newId}:start`]);
    expect(p.summary).toEqual({ add: 1, change: 0, destroy: 1 });
  });

  it("plans every replacement of a group and rolls them max_surge at a time", () => {
    const ms = [1, 2, 3].map((n) => member(n));
    const d = desired([group("web", 3, {}, { replace: "sha256:r2" }), { ...group("api", 1, {}, { replace: "sha256:r2" }) }]);
    const api = member(4, { record: { group: "api" } });
    const p = plan(d, state([...ms.map((m) => m.record), api.record]), live([...ms.map((m) => m.vm), api.vm]), planOptions());
    expect(p.changes.filter((c) => c.kind === "replace").map((c) => c.instanceId)).toEqual([api.record.instanceId, iid(1), iid(2), iid(3)]);
    expect(p.warnings.filter((w) => w.includes("deferred"))).toHaveLength(0);
    // max_surge 1: each new VM of web waits for the previous old one to be gone; api rolls on its own.
    const web = p.changes.filter((c) => c.group.group === "web");
    const cloneOf = (c: (typeof web)[number]) => p.actions.find((a) => a.instanceId === c.replaces && a.type === "clone")!;
    expect(cloneOf(web[0]!).dependsOn).toEqual([]);
    expect(cloneOf(web[1]!).dependsOn).toEqual([`${iid(1)}:forget-state`]);
    expect(cloneOf(web[2]!).dependsOn).toEqual([`${iid(2)}:forget-state`]);
    expect(p.actions.find((a) => a.instanceId === p.changes[0]!.replaces && a.type === "clone")!.dependsOn).toEqual([]);

    const p2 = plan(desired([group("web", 3, {}, { replace: "sha256:r2" })], { maxSurge: 2 }), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    const replaces = p2.changes.filter((c) => c.kind === "replace");
    expect(replaces).toHaveLength(3);
    expect(p2.actions.find((a) => a.instanceId === replaces[2]!.replaces && a.type === "clone")!.dependsOn).toEqual([`${iid(1)}:forget-state`]);

    const none = plan(desired([group("web", 3, {}, { replace: "sha256:r2" })], { maxSurge: 0 }), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    expect(none.changes.filter((c) => c.kind === "replace")).toHaveLength(0);
    expect(none.warnings.filter((w) => w.includes("max_surge is 0"))).toHaveLength(3);
  });

  it("grows a disk in place but replaces on a shrink", () => {
    const m = member(1);
    const grow = plan(desired([group("web", 1, { diskBytes: 20 * GIB })]), state([m.record]), live([m.vm]), planOptions());
    expect(kinds(grow)).toEqual([`update:${m.record.instanceId}`]);
    expect(grow.actions.map((a) => [a.type, a.type === "resize" ? a.params.bytes : undefined])).toEqual([["resize", 20 * GIB]]);

    const shrink = plan(desired([group("web", 1, { diskBytes: 5 * GIB })]), state([m.record]), live([m.vm]), planOptions());
    expect(shrink.changes[0]!.kind).toBe("replace");
    expect(shrink.changes[0]!.reasons).toContain("disk cannot shrink");
  });

  it("records a VM that moved to another node or got a new VMID, without changing the cluster", () => {
    const m = member(1, { vm: { node: "pve2", vmid: 20001 } });
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions());
    expect(kinds(p)).toEqual([`record:${m.record.instanceId}`]);
    expect(p.actions.map((a) => [a.type, a.journal?.record])).toEqual([["record-state", { node: "pve2", vmid: 20001 }]]);
    expect(p.summary).toEqual({ add: 0, change: 0, destroy: 0 });
  });

  it("reports orphans by default and counts unmanaged and suspicious VMs without touching them", () => {
    const orphan = vm(30000, iid(50));
    const stranger = vm(30001, "db1", { tags: [], ownership: "unmanaged" });
    const half = vm(30002, iid(51), { tags: ["nstance"], ownership: "suspicious" });
    const p = plan(desired([group("web", 0)]), state([]), live([orphan, stranger, half]), planOptions());
    expect(p.changes).toEqual([]);
    expect(p.counts).toEqual({ ours: 1, suspicious: 1, unmanaged: 1, orphans: 1 });
    expect(p.warnings.some((w) => w.includes(iid(50)))).toBe(true);
    expect(p.drift.map((f) => f.kind)).toEqual(["orphan", "suspicious", "unmanaged"]);
  });

  it("adopts an orphan into the group its notes name when that group is below size", () => {
    const orphan = vm(30000, iid(50));
    const notes = notesFor(record(50, { createdAt: "2026-02-02T00:00:00Z" }));
    const d = desired([group("web", 2)]);
    const p = plan(d, state([]), live([orphan]), planOptions({ adopt: true }), [detail(orphan, undefined, { description: notes })]);
    const adopt = p.changes.find((c) => c.kind === "adopt")!;
    expect(adopt.instanceId).toBe(iid(50));
    expect(p.changes.filter((c) => c.kind === "create")).toHaveLength(1);
    const rec = p.actions.find((a) => a.type === "record-state")!;
    expect(rec.journal?.record).toMatchObject({ instanceId: iid(50), group: "web", phase: "ready", vmid: 30000, createdAt: "2026-02-02T00:00:00Z" });

    const full = plan(desired([group("web", 0)]), state([]), live([orphan]), planOptions({ adopt: true }), [detail(orphan, undefined, { description: notes })]);
    expect(full.changes).toEqual([]);
  });

  it("deletes orphans with --gc", () => {
    const orphan = vm(30000, iid(50), { node: "pve2" });
    const p = plan(desired([group("web", 0)]), state([]), live([orphan]), planOptions({ gc: true }));
    expect(kinds(p)).toEqual([`delete:${iid(50)}`]);
    expect(types(p, iid(50))).toEqual(["stop", "delete-vm", "delete-iso"]);
    expect(p.actions.every((a) => a.node === "pve2" && a.vmid === 30000)).toBe(true);
  });

  it("resumes a create whose clone never ran under the same ID, not a duplicate", () => {
    const creating = record(5, { phase: "creating", stepsDone: ["upload-iso"], node: "pve3" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([]), planOptions());
    expect(kinds(p)).toEqual([`create:${creating.instanceId}`]);
    expect(p.changes[0]!.resumeFrom).toBe("clone");
    expect(types(p, creating.instanceId)).toEqual(["clone", "configure", "start"]);
    expect(p.actions[0]).toMatchObject({ node: "pve3", vmid: creating.vmid });
  });

  it("abandons an uncloned interrupted create whose spec changed since, and makes a fresh instance", () => {
    const creating = record(5, { phase: "creating", stepsDone: ["upload-iso"], node: "pve3", replaceHash: "sha256:old" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([]), planOptions());
    const abandoned = p.changes.find((c) => c.instanceId === creating.instanceId)!;
    expect(abandoned.kind).toBe("forget");
    expect(types(p, creating.instanceId)).toContain("delete-iso");
    const fresh = p.changes.filter((c) => c.kind === "create");
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.instanceId).not.toBe(creating.instanceId);
    expect(fresh[0]!.resumeFrom).toBeUndefined();
  });

  it("holds an interrupted create for an older spec while a clone may still be running at its VMID", () => {
    const creating = record(5, { phase: "creating", stepsDone: [], node: "pve3", replaceHash: "sha256:old" });
    // A killed run's clone: the listing shows the VMID locked, with no name yet.
    const cloning = vm(creating.vmid, "", { node: "pve3", tags: [], ownership: "unmanaged", status: "unknown", lock: "clone" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([cloning]), planOptions());
    expect(p.changes).toEqual([]);
    expect(p.actions).toEqual([]);
    expect(p.warnings.join("\n")).toContain(`${creating.instanceId}: an interrupted create for an older spec may still be cloning at VMID ${creating.vmid} on pve3`);
  });

  it("resumes a create whose clone finished but whose tags were never written, finding the VM by name", () => {
    const creating = record(5, { phase: "creating", stepsDone: [] });
    const untagged = vm(creating.vmid + 7, creating.instanceId, { tags: [], ownership: "unmanaged", status: "stopped", cores: 1 });
    const p = plan(desired([group("web", 1)]), state([creating]), live([untagged]), planOptions());
    expect(kinds(p)).toEqual([`create:${creating.instanceId}`]);
    expect(p.changes[0]!.resumeFrom).toBe("configure");
    expect(types(p, creating.instanceId)).toEqual(["upload-iso", "configure", "start"]);
    expect(p.actions.every((a) => a.vmid === untagged.vmid)).toBe(true);
    expect(p.counts.orphans).toBe(0);
  });

  it("marks a create whose every step finished as ready without repeating any", () => {
    const creating = record(5, { phase: "creating" });
    const done = vm(creating.vmid, creating.instanceId);
    const p = plan(desired([group("web", 1)]), state([creating]), live([done]), planOptions());
    expect(kinds(p)).toEqual([`record:${creating.instanceId}`]);
    expect(p.actions.map((a) => a.type)).toEqual(["record-state"]);
    expect(p.actions[0]!.journal?.record).toMatchObject({ phase: "ready" });
  });

  it("re-runs a create's own configure when its VM lost the tags before the record said ready", () => {
    const creating = record(5, { phase: "creating" }); // every step recorded
    const untagged = vm(creating.vmid, creating.instanceId, { tags: [], ownership: "suspicious" });
    const p = plan(desired([group("web", 1)]), state([creating]), live([untagged]), planOptions());
    expect(p.changes.map((c) => [c.kind, c.resumeFrom])).toEqual([["create", "configure"]]);
    const configure = p.actions.find((a) => a.type === "configure")!;
    expect(configure).toMatchObject({ params: { fresh: true, tags: ["dev", "lab", "nstance"] } });
  });

  it("finishes an interrupted delete", () => {
    const deleting = member(1, { record: { phase: "deleting" } });
    const p = plan(desired([group("web", 1)]), state([deleting.record]), live([deleting.vm]), planOptions());
    expect(p.changes.map((c) => c.kind)).toEqual(["delete", "create"]);
    expect(types(p, deleting.record.instanceId)).toEqual(["stop", "delete-vm", "delete-iso", "forget-state"]);
  });

  it("deletes the instances of a group removed from the shard file", () => {
    const m = member(1, { record: { group: "old" } });
    const p = plan(desired([]), state([m.record]), live([m.vm]), planOptions());
    expect(kinds(p)).toEqual([`delete:${m.record.instanceId}`]);
    expect(p.changes[0]!.reasons[0]).toBe("group acme.old is not in the shard file");
  });

  it("limits the plan to --target groups or instances", () => {
    const web = member(1, { vm: { cores: 8 } });
    const api = member(2, { record: { group: "api" }, vm: { cores: 8 } });
    const d = desired([group("api", 1), group("web", 1)]);
    const s = state([web.record, api.record]);
    const l = live([web.vm, api.vm]);
    expect(kinds(plan(d, s, l, planOptions({ targets: ["acme.api"] })))).toEqual([`update:${api.record.instanceId}`]);
    expect(kinds(plan(d, s, l, planOptions({ targets: [web.record.instanceId] })))).toEqual([`update:${web.record.instanceId}`]);
    expect(() => plan(d, s, l, planOptions({ targets: ["acme.wbe"] }))).toThrow(UserError);
  });

  it("replaces an instance on request", () => {
    const m = member(1);
    const p = plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions({ replace: [m.record.instanceId] }));
    expect(p.changes[0]).toMatchObject({ kind: "replace", reasons: ["replacement requested"] });
    expect(() => plan(desired([group("web", 1)]), state([m.record]), live([m.vm]), planOptions({ replace: [iid(99)] }))).toThrow(/--replace/);
  });

  it("in refresh-only mode records observations and changes nothing", () => {
    const moved = member(1, { vm: { node: "pve2", cores: 8, status: "stopped" } });
    const gone = record(2);
    const p = plan(desired([group("web", 5)]), state([moved.record, gone]), live([moved.vm]), planOptions({ mode: "refresh-only" }));
    expect(p.changes.map((c) => c.kind).sort()).toEqual(["forget", "record"]);
    expect(p.actions.map((a) => a.type).sort()).toEqual(["forget-state", "record-state"]);
    expect(p.mode).toBe("refresh-only");
  });

  it("in destroy mode removes everything the shard owns and nothing else", () => {
    const ms = [1, 2].map((n) => member(n));
    const stranger = vm(30001, "db1", { tags: [], ownership: "unmanaged" });
    const p = plan(desired([group("web", 2)]), state(ms.map((m) => m.record)), live([...ms.map((m) => m.vm), stranger]), planOptions({ mode: "destroy" }));
    expect(p.changes.map((c) => c.kind)).toEqual(["delete", "delete"]);
    expect(p.actions.some((a) => a.vmid === 30001)).toBe(false);
  });

  it("fails when placement pushes a node past the memory headroom, listing before → after", () => {
    // A stopped VM uses no memory now but is committed: it may be started at any time.
    const parked = vm(500, "big", { tags: [], ownership: "unmanaged", status: "stopped", cores: 4, memoryBytes: 40 * GIB });
    const nodes = [node("pve1", 64, 8)];
    const d = desired([group("web", 5, { memoryMiB: 4096 })]);
    expect(() => plan(d, undefined, live([parked], nodes), planOptions())).toThrow(/pve1 40\.0 → 60\.0 GiB of 64\.0 GiB/);
    const p = plan(d, undefined, live([parked], nodes), planOptions({ ignoreCapacity: true }));
    expect(p.capacity).toEqual([{ node: "pve1", maxcpu: 32, maxmemBytes: 64 * GIB, before: { cores: 4, memBytes: 40 * GIB }, after: { cores: 14, memBytes: 60 * GIB } }]);
  });

  it("is deterministic: same inputs, same plan", () => {
    const m = member(1, { vm: { cores: 8 } });
    const run = () => plan(desired([group("web", 3)]), state([m.record]), live([m.vm]), planOptions());
    expect(run()).toEqual(run());
    expect(run().createdAt).toBe(FETCHED_AT);
  });
});
