/**
 * Plan-time checks that a plan can be carried out at all, made from the desired shard and the
 * live listing before (or right after) the planner walks instances:
 *
 * - `checkPlanBounds`: the instance counts the config schema enforces (per group, per shard),
 *   checked *before* reconcile allocates anything per instance — a
 *   `DesiredShard` built without `loadShardFile` (the library) must not be able to ask for a
 *   billion VMs and exhaust the heap.
 * - `checkTemplateDisks`: a new VM's `DiskSize` below its template's disk would clone and then fail
 *   at resize on every run (PVE only grows a disk), leaving stopped half-built VMs; the template's
 *   size is `maxdisk` in the `/cluster/resources` listing the plan already has.
 */
import type { DesiredShard, VmSpec } from "../config/model.js";
import { MAX_GROUP_SIZE, MAX_SHARD_INSTANCES } from "../config/limits.js";
import { formatSize } from "../config/size.js";
import { UserError } from "../errors.js";
import type { LiveShard } from "../providers/types.js";
import type { InstanceChange } from "./types.js";

export function checkPlanBounds(desired: DesiredShard): void {
  let total = 0;
  for (const g of desired.groups) {
    if (!Number.isSafeInteger(g.size) || g.size < 0 || g.size > MAX_GROUP_SIZE) {
      throw new UserError("E_SIZE", `groups.${g.ref.tenant}.${g.ref.group}: size ${g.size} is not a count from 0 to ${MAX_GROUP_SIZE}`);
    }
    total += g.size;
  }
  if (total > MAX_SHARD_INSTANCES) {
    throw new UserError("E_SIZE", `the groups ask for ${total} instances; one shard holds at most ${MAX_SHARD_INSTANCES} (split the fleet into shards)`);
  }
}

/** Throws E_DISK_SIZE naming every group whose new VMs would be smaller than their template's disk. */
export function checkTemplateDisks(desired: DesiredShard, live: LiveShard, changes: InstanceChange[]): void {
  const problems = new Map<string, string>();
  for (const c of changes) {
    if ((c.kind !== "create" && c.kind !== "replace") || !c.placement) continue;
    const group = desired.groups.find((g) => g.ref.tenant === c.group.tenant && g.ref.group === c.group.group);
    const spec = group?.spec;
    if (!spec || spec.diskBytes === undefined) continue;
    const key = `${c.group.tenant}.${c.group.group}`;
    if (problems.has(key)) continue;
    const template = templateOf(live, spec.template, c.placement.node);
    if (!template || template.diskBytes <= spec.diskBytes) continue;
    const name = "name" in spec.template ? `"${spec.template.name}"` : `VMID ${spec.template.vmid}`;
    problems.set(key, `groups.${key}: DiskSize ${formatSize(spec.diskBytes)} is smaller than the disk of template ${name} on ${template.node} (${formatSize(template.diskBytes)}); a clone cannot shrink, so set DiskSize to at least ${formatSize(template.diskBytes)} or leave it unset`);
  }
  if (problems.size) throw new UserError("E_DISK_SIZE", [...problems.values()].join("\n"));
}

/** The template a clone on `node` starts from: by name on that node (as the clone resolves it), or by VMID anywhere. */
function templateOf(live: LiveShard, template: VmSpec["template"], node: string) {
  if ("name" in template) return live.vms.find((vm) => vm.template && vm.name === template.name && vm.node === node);
  return live.vms.find((vm) => vm.template && vm.vmid === template.vmid);
}
