import { describe, expect, it } from "vitest";
import { vmsNeedingDetails } from "../../src/planner/details.js";
import { desired, group, hooked, iid, live, member, state, vm } from "./fixtures.js";

describe("vmsNeedingDetails", () => {
  const healthy = member(1);
  const drifted = member(2, { vm: { cores: 8, node: "pve2" } });
  const orphan = vm(30000, iid(50));
  const stranger = vm(30001, "db", { tags: [], ownership: "unmanaged" });
  const args = [desired([group("web", 2)]), state([healthy.record, drifted.record]), live([healthy.vm, drifted.vm, orphan, stranger])] as const;

  it("asks for nothing by default: a plan costs the two listings", () => {
    expect(vmsNeedingDetails(...args, hooked())).toEqual([]);
  });

  it("asks for orphans' notes when adopting", () => {
    expect(vmsNeedingDetails(...args, hooked({ adopt: true }))).toEqual([{ node: "pve1", vmid: 30000 }]);
  });

  it("asks for every VM the plan modifies under the touched policy", () => {
    expect(vmsNeedingDetails(...args, hooked({ detailPolicy: "touched" }))).toEqual([{ node: "pve2", vmid: drifted.vm.vmid, status: true }]);
  });

  it("asks for every VM of this shard under the ours policy, never for unmanaged ones", () => {
    expect(vmsNeedingDetails(...args, hooked({ detailPolicy: "ours" })).map((v) => v.vmid)).toEqual([healthy.vm.vmid, drifted.vm.vmid, 30000]);
  });
});
