/**
 * Which VMs need a per-VM read (ARCHITECTURE.md rule 9: per-VM calls only where a fact is not in
 * the listing, or where the listing cannot be trusted). Policies (PlanOptions.detailPolicy):
 *   (all)   — every VM listed without a published name (`VM <vmid>` or empty), with `status: true`:
 *             a fresh clone looks like that for a pvestatd cycle, and only a read tells whose it is;
 *   none    — the two listings only, except orphans when adopting (their notes name the group);
 *   touched — plan and apply (the CLI's default): every VM the listing says needs a change —
 *             stopped or unknown, cores/memory/tags differ, disk to grow, to be deleted. These get `status: true` as well
 *             (status/current is live; the listing lags up to a pvestatd cycle, pve-api.md §7
 *             rule 20), and the planner then trusts the read over the listing. A steady fleet
 *             costs no per-VM call; a drifted VM costs two (config + status/current).
 *   ours    — `--deep` and drift: every VM of this shard, so onboot and notes (not in the
 *             listing) are compared too; the touched ones still with `status: true`.
 */
import type { DesiredShard } from "../config/model.js";
import type { LiveShard } from "../providers/types.js";
import type { StateDoc } from "../state/types.js";
import { indexFacts, vmOf, type Facts } from "./facts.js";
import { reconcile } from "./reconcile.js";
import type { DetailRequest, PlanOptions } from "./types.js";

export function vmsNeedingDetails(desired: DesiredShard, state: StateDoc | undefined, live: LiveShard, options: PlanOptions): DetailRequest[] {
  const facts = indexFacts(desired, state, live, options);
  const out = new Map<number, DetailRequest>();
  const add = (vm: { node: string; vmid: number }, status: boolean) => {
    const seen = out.get(vm.vmid);
    if (seen?.status) return;
    out.set(vm.vmid, status ? { node: vm.node, vmid: vm.vmid, status: true } : { node: vm.node, vmid: vm.vmid });
  };
  const policy = options.detailPolicy ?? "none";

  // Every policy: a VM listed without a published name (a clone or rename of the last ~10 s, shown
  // as `VM <vmid>`) may be one of ours, or a clone an interrupted run left behind. Absence from the
  // listing never proves a VM gone (ARCHITECTURE.md rule 7), so it is read by VMID before any
  // decision. A settled cluster has none, so this costs nothing in steady state.
  for (const vm of unnamedVms(facts)) add(vm, true);
  if (policy === "ours") {
    for (const record of facts.records) {
      const vm = vmOf(facts, record);
      if (vm) add(vm, false);
    }
    for (const vm of live.vms) if (!vm.template && vm.ownership === "ours") add(vm, false);
  }
  const rec = reconcile(facts);
  if (options.adopt) for (const vm of rec.orphans) add(vm, false);
  if (policy === "touched" || policy === "ours") {
    for (const i of rec.intents) {
      if (i.vm && i.change.kind !== "record" && i.change.kind !== "forget") add(i.vm, true);
    }
    // An unknown status (listing not yet published, node unreachable) decides nothing by itself.
    for (const record of facts.records) {
      const vm = vmOf(facts, record);
      if (vm && vm.status === "unknown") add(vm, true);
    }
  }
  return [...out.values()].sort((a, b) => a.vmid - b.vmid);
}

/** Non-template VMs the listing shows without a published name. */
function unnamedVms(facts: Facts): { node: string; vmid: number }[] {
  return facts.live.vms.filter((vm) => !vm.template && vm.name === "");
}
