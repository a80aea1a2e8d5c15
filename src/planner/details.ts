/**
 * Which VMs need a per-VM config read (ARCHITECTURE.md rule 9: per-VM calls only where a fact is
 * not in the listing). Policies (PlanOptions.detailPolicy):
 *   none    — a plain plan: no per-VM calls, except orphans when adopting (their notes name the group);
 *   touched — saved plans and apply: every existing VM the plan modifies, for its config digest;
 *   ours    — drift's deep check (onboot, notes): every VM of this shard the listing shows.
 * Without details, onboot and notes are not compared (the listing does not carry them).
 */
import type { DesiredShard } from "../config/model.js";
import type { LiveShard } from "../providers/proxmox/types.js";
import type { StateDoc } from "../state/types.js";
import { indexFacts, vmOf } from "./facts.js";
import { reconcile } from "./reconcile.js";
import type { PlanOptions } from "./types.js";

export function vmsNeedingDetails(desired: DesiredShard, state: StateDoc | undefined, live: LiveShard, options: PlanOptions = {}): { node: string; vmid: number }[] {
  const facts = indexFacts(desired, state, live, options);
  const out = new Map<number, { node: string; vmid: number }>();
  const add = (vm: { node: string; vmid: number }) => out.set(vm.vmid, { node: vm.node, vmid: vm.vmid });
  const policy = options.detailPolicy ?? "none";

  if (policy === "ours") {
    for (const record of facts.records) {
      const vm = vmOf(facts, record);
      if (vm) add(vm);
    }
    for (const vm of live.vms) if (!vm.template && vm.ownership === "ours") add(vm);
  } else {
    const rec = reconcile(facts);
    if (options.adopt) for (const vm of rec.orphans) add(vm);
    if (policy === "touched") {
      for (const i of rec.intents) {
        if (i.vm && i.change.kind !== "record" && i.change.kind !== "forget") add(i.vm);
      }
    }
  }
  return [...out.values()].sort((a, b) => a.vmid - b.vmid);
}
