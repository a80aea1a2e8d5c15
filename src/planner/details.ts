/**
 * Which VMs need a per-VM read (ARCHITECTURE.md rule 9: per-VM calls only where a fact is not in
 * the listing, or where the listing cannot be trusted). Policies (PlanOptions.detailPolicy):
 *   none    — the two listings only, except orphans when adopting (their notes name the group);
 *   touched — plan and apply (the CLI's default): every VM the listing says needs a change —
 *             stopped or unknown, cores/memory/tags differ, disk to grow, to be deleted — and every
 *             record whose VMID is listed without a name. These get `status: true` as well
 *             (status/current is live; the listing lags up to a pvestatd cycle, pve-api.md §7
 *             rule 20), and the planner then trusts the read over the listing. A steady fleet
 *             costs no per-VM call; a drifted VM costs two (config + status/current).
 *   ours    — `--deep` and drift: every VM of this shard, so onboot and notes (not in the
 *             listing) are compared too; the touched ones still with `status: true`.
 */
import type { DesiredShard } from "../config/model.js";
import type { LiveShard } from "../providers/proxmox/types.js";
import type { StateDoc } from "../state/types.js";
import { indexFacts, vmOf, type Facts } from "./facts.js";
import { reconcile } from "./reconcile.js";
import type { DetailRequest, PlanOptions } from "./types.js";

export function vmsNeedingDetails(desired: DesiredShard, state: StateDoc | undefined, live: LiveShard, options: PlanOptions = {}): DetailRequest[] {
  const facts = indexFacts(desired, state, live, options);
  const out = new Map<number, DetailRequest>();
  const add = (vm: { node: string; vmid: number }, status: boolean) => {
    const seen = out.get(vm.vmid);
    if (seen?.status) return;
    out.set(vm.vmid, status ? { node: vm.node, vmid: vm.vmid, status: true } : { node: vm.node, vmid: vm.vmid });
  };
  const policy = options.detailPolicy ?? "none";

  if (policy === "touched" || policy === "ours") {
    // A record whose VM the listing names nothing: a VM created moments ago is listed with its
    // VMID and tags but no name until pvestatd publishes it. Read it before calling it gone.
    for (const vm of unnamedRecordVms(facts)) add(vm, true);
  }
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

/** Listed VMs without a name at the VMID a record holds, where no VM carries the record's name. */
function unnamedRecordVms(facts: Facts): { node: string; vmid: number }[] {
  const byVmid = new Map(facts.live.vms.map((vm) => [vm.vmid, vm]));
  const out: { node: string; vmid: number }[] = [];
  for (const record of facts.records) {
    if (vmOf(facts, record)) continue;
    const vm = byVmid.get(record.vmid);
    if (vm && !vm.template && vm.name === "") out.push(vm);
  }
  return out;
}
