import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import { desired, GIB, group, live, node, planOptions, vm } from "./fixtures.js";

const templates = (diskGiB: number) => ["pve1", "pve2", "pve3"].map((n, i) => vm(9000 + i, "debian", { node: n, template: true, tags: [], ownership: "unmanaged", diskBytes: diskGiB * GIB }));

describe("plan-time bounds", () => {
  it("refuses a DiskSize below the template's disk for new VMs, naming the group and both sizes", () => {
    const d = desired([group("web", 2, { diskBytes: 1024 })]);
    expect(() => plan(d, undefined, live(templates(2)), planOptions())).toThrow(
      /^groups\.acme\.web: DiskSize 1K is smaller than the disk of template "debian" on pve\d \(2G\); a clone cannot shrink, so set DiskSize to at least 2G or leave it unset$/,
    );
  });

  it("plans a DiskSize equal to or above the template's, or none", () => {
    for (const diskBytes of [2 * GIB, 20 * GIB, undefined]) {
      const p = plan(desired([group("web", 2, { diskBytes })]), undefined, live(templates(2)), planOptions());
      expect(p.changes.filter((c) => c.kind === "create")).toHaveLength(2);
    }
  });

  it("compares with the template on the node a VM is placed on, and by VMID anywhere", () => {
    // Only pve2 has room, and only pve2's template is small enough.
    const nodes = [node("pve1", 64, 64), node("pve2"), node("pve3", 64, 64)];
    const vms = [vm(9000, "debian", { node: "pve1", template: true, diskBytes: 50 * GIB }), vm(9001, "debian", { node: "pve2", template: true, diskBytes: 2 * GIB }), vm(9002, "debian", { node: "pve3", template: true, diskBytes: 50 * GIB })];
    expect(plan(desired([group("web", 1, { diskBytes: 4 * GIB })]), undefined, live(vms, nodes), planOptions({ ignoreCapacity: true })).changes[0]!.placement!.node).toBe("pve2");
    expect(() => plan(desired([group("web", 1, { diskBytes: 4 * GIB, template: { vmid: 9000 } })]), undefined, live(vms, nodes), planOptions({ ignoreCapacity: true }))).toThrow(/template VMID 9000 on pve1 \(50G\)/);
  });

  it("refuses a DesiredShard over the instance bounds before allocating per instance", () => {
    const started = Date.now();
    expect(() => plan(desired([group("web", 1_000_000_000)]), undefined, live([]), planOptions())).toThrow(/size 1000000000 is not a count from 0 to 10000/);
    expect(() => plan(desired([group("a", 10_000), group("b", 10_000), group("c", 1)]), undefined, live([]), planOptions())).toThrow(/ask for 20001 instances; one shard holds at most 20000/);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
