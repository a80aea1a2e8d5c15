/**
 * Plans right after an apply (the listing lags a pvestatd cycle) and on running VMs whose cold
 * sizes are pending until a restart, from recorded facts: the listing as /cluster/resources showed
 * it, the per-VM reads as config + status/current answered.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import { vmsNeedingDetails } from "../../src/planner/details.js";
import type { PlanSelectors } from "../../src/planner/types.js";
import type { VmDetail } from "../../src/providers/proxmox/types.js";
import { desired, detail, group, hooked, live, MIB, member, planOptions, state, type Vm } from "./fixtures.js";
import type { InstanceRecord } from "../../src/state/types.js";

const d = desired([group("web", 1)]);

function planWith(rec: InstanceRecord, listed: Vm, read: VmDetail | undefined, opts: PlanSelectors = {}) {
  const st = state([rec]);
  const l = live([listed]);
  const want = vmsNeedingDetails(d, st, l, { ...planOptions(), detailPolicy: "touched", ...opts });
  return { want, plan: plan(d, st, l, { ...planOptions(), ...opts }, read ? [read] : undefined) };
}

describe("a plan right after an apply", () => {
  it("does not start a VM the lagging listing shows stopped when status/current says running", () => {
    const m = member(1, { vm: { status: "stopped" } });
    const { want, plan: p } = planWith(m.record, m.vm, detail(m.vm, m.record, { status: "running", running: { cores: 2, memoryMiB: 2048 } }));
    expect(want).toEqual([{ node: "pve1", vmid: m.vm.vmid, status: true }]);
    expect(p.changes).toEqual([]);
    expect(p.actions).toEqual([]);
  });

  it("still starts a VM that status/current confirms stopped", () => {
    const m = member(1, { vm: { status: "stopped" } });
    const { plan: p } = planWith(m.record, m.vm, detail(m.vm, m.record, { status: "stopped" }));
    expect(p.changes.map((c) => c.kind)).toEqual(["start"]);
  });

  it("finds a new VM listed without its name (status unknown) by the recorded VMID instead of recreating it", () => {
    const m = member(1);
    const unpublished: Vm = { ...m.vm, name: "", status: "unknown", cores: 0, memoryBytes: 0, diskBytes: 0, ownership: "suspicious" };
    const read = detail(m.vm, m.record, { name: m.record.instanceId, status: "running", running: { cores: 2, memoryMiB: 2048 } });
    const { want, plan: p } = planWith(m.record, unpublished, read);
    expect(want).toEqual([{ node: "pve1", vmid: m.vm.vmid, status: true }]);
    expect(p.changes).toEqual([]);
    expect(p.counts.ours).toBe(1);
  });

  it("trusts the read sizes over stale listed ones after a configure", () => {
    const m = member(1, { vm: { cores: 1, memoryBytes: 1024 * MIB } });
    const { want, plan: p } = planWith(m.record, m.vm, detail(m.vm, m.record, { cores: 2, memoryMiB: 2048, status: "running", running: { cores: 2, memoryMiB: 2048 } }));
    expect(want).toHaveLength(1);
    expect(p.changes).toEqual([]);
  });

  it("asks for no per-VM read in a steady fleet under the touched policy", () => {
    const ms = [member(1), member(2)];
    expect(vmsNeedingDetails(desired([group("web", 2)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), hooked({ detailPolicy: "touched" }))).toEqual([]);
  });
});

describe("cores pending until a restart", () => {
  // Config (current=0) already holds 4; QEMU still runs with 2 and the listing says 2.
  const m = member(1, { vm: { cores: 2 } });
  const pendingRead = () => detail(m.vm, m.record, { cores: 4, status: "running", running: { cores: 2, memoryMiB: 2048 } });
  const d4 = desired([group("web", 1, { cores: 4 })]);
  const planPending = (opts: PlanSelectors = {}) => plan(d4, state([m.record]), live([m.vm]), { ...planOptions(), ...opts }, [pendingRead()]);

  it("asks for the VM's live reads because the listing differs", () => {
    expect(vmsNeedingDetails(d4, state([m.record]), live([m.vm]), hooked({ detailPolicy: "touched" }))).toEqual([{ node: "pve1", vmid: m.vm.vmid, status: true }]);
  });

  it("warns and plans no change without --allow-restart", () => {
    const p = planPending();
    expect(p.changes).toEqual([]);
    expect(p.actions).toEqual([]);
    expect(p.warnings).toContain(`${m.record.instanceId}: cores 2 → 4 is pending until the VM restarts (use --allow-restart)`);
  });

  it("restarts the VM (stop, then start) with --allow-restart, without configuring again", () => {
    const p = planPending({ allowRestart: true });
    expect(p.changes.map((c) => c.kind)).toEqual(["update"]);
    expect(p.changes[0]!.attributes).toEqual([{ attribute: "cores", before: 2, after: 4, forcesReplacement: false }]);
    expect(p.actions.map((a) => a.type)).toEqual(["stop", "start"]);
    const [stop, start] = p.actions;
    expect(start!.dependsOn).toEqual([stop!.id]);
    expect(p.summary).toEqual({ add: 0, change: 1, destroy: 0 });
    expect(p.warnings).toEqual([]);
  });

  it("restarts after the configure when a running VM's cores change and restarts are allowed", () => {
    const read = detail(m.vm, m.record, { status: "running", running: { cores: 2, memoryMiB: 2048 } });
    const p = plan(d4, state([m.record]), live([m.vm]), { ...planOptions(), allowRestart: true }, [read]);
    const types = p.actions.map((a) => a.type);
    expect(types).toEqual(["configure", "stop", "start"]);
    expect(p.actions[1]!.dependsOn).toEqual([p.actions[0]!.id]);
    expect(p.actions[2]!.dependsOn).toEqual([p.actions[1]!.id]);
  });

  it("configures and warns that the change will wait for a restart when restarts are not allowed", () => {
    const read = detail(m.vm, m.record, { status: "running", running: { cores: 2, memoryMiB: 2048 } });
    const p = plan(d4, state([m.record]), live([m.vm]), planOptions(), [read]);
    expect(p.actions.map((a) => a.type)).toEqual(["configure"]);
    expect(p.warnings).toContain(`${m.record.instanceId}: cores 2 → 4 will be pending until the VM restarts (use --allow-restart)`);
  });

  it("sets an operator's pending cores edit back without a restart or a warning", () => {
    // The operator PUT cores=4 on the running VM: config says 4, QEMU and the listing say 2, we want 2.
    const read = detail(m.vm, m.record, { cores: 4, status: "running", running: { cores: 2, memoryMiB: 2048 } });
    const p = plan(d, state([m.record]), live([m.vm]), { ...planOptions(), allowRestart: true }, [read]);
    expect(p.actions.map((a) => a.type)).toEqual(["configure"]);
    expect(p.actions[0]).toMatchObject({ type: "configure", params: { cores: 2 } });
    expect(p.warnings).toEqual([]);
  });

  it("plans nothing once the restart happened", () => {
    const restarted: Vm = { ...m.vm, cores: 4 };
    const read = detail(restarted, m.record, { status: "running", running: { cores: 4, memoryMiB: 2048 } });
    const p = plan(d4, state([m.record]), live([restarted]), { ...planOptions(), allowRestart: true }, [read]);
    expect(p.changes).toEqual([]);
    expect(p.warnings).toEqual([]);
  });
});

describe("the deep policy", () => {
  it("reads every VM of the shard, and status/current only for those the listing says need a change", () => {
    const ms = [member(1), member(2, { vm: { status: "stopped" } })];
    const want = vmsNeedingDetails(desired([group("web", 2)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), hooked({ detailPolicy: "ours" }));
    expect(want).toEqual([{ node: "pve1", vmid: ms[0]!.vm.vmid }, { node: "pve1", vmid: ms[1]!.vm.vmid, status: true }]);
  });
});
