/**
 * The planner's view of its three inputs, indexed once: groups by `tenant.group`, VMs by name
 * (the identity, ARCHITECTURE.md rule 1) and details by VMID. Every other planner module reads
 * from here so that each lookup is O(1) at 10,000 instances.
 */
import type { DesiredGroup, DesiredShard, GroupRef } from "../config/model.js";
import { CREATE_STEPS, type LiveShard, type LiveVm, type Ownership, type PlanningHooks, type VmDetail } from "../providers/types.js";
import type { InstanceRecord, StateDoc } from "../state/types.js";
import type { NotesBlockFields, PlanOptions } from "./types.js";

export { CREATE_STEPS };

export type LiveVmX = LiveVm & { ownership: Ownership };

export const MIB = 1024 * 1024;


export interface Facts {
  desired: DesiredShard;
  state: StateDoc | undefined;
  live: LiveShard;
  options: PlanOptions;
  /** The provider's pure codecs (ownership, tags, notes, placement, sizes). */
  hooks: PlanningHooks;
  details: Map<number, VmDetail>;
  /** What running VMs run with (details' status/current, else the listing), for pending changes. */
  running: Map<number, { cores: number; memoryBytes: number }>;
  groups: Map<string, DesiredGroup>;
  /** Non-template VMs by name; several when a name is duplicated. */
  byName: Map<string, LiveVmX[]>;
  /** Non-template and template VMs by VMID. */
  vmByVmid: Map<number, LiveVmX>;
  records: InstanceRecord[]; // sorted by instanceId
  ownershipTags: string[];
  isoStorage: string;
}

export function groupKey(ref: GroupRef | { tenant: string; group: string }): string {
  return `${ref.tenant}.${ref.group}`;
}

export function indexFacts(
  desired: DesiredShard,
  state: StateDoc | undefined,
  live: LiveShard,
  options: PlanOptions,
  details: VmDetail[] = [],
): Facts {
  const groups = new Map<string, DesiredGroup>();
  for (const g of desired.groups) groups.set(groupKey(g.ref), g);
  const detailMap = new Map(details.map((d) => [d.vmid, d]));
  const running = new Map<number, { cores: number; memoryBytes: number }>();
  const hooks = options.hooks;
  if (detailMap.size > 0) live = { ...live, vms: live.vms.map((vm) => trustDetail(vm, detailMap.get(vm.vmid), desired, running, hooks)) };
  const byName = new Map<string, LiveVmX[]>();
  for (const vm of live.vms) {
    if (vm.template || vm.name === "") continue;
    const list = byName.get(vm.name);
    if (list) list.push(vm);
    else byName.set(vm.name, [vm]);
  }
  const records = Object.values(state?.instances ?? {}).sort((a, b) => cmp(a.instanceId, b.instanceId));
  return {
    desired,
    state,
    live,
    options,
    hooks,
    details: detailMap,
    running,
    groups,
    byName,
    vmByVmid: new Map(live.vms.map((vm) => [vm.vmid, vm])),
    records,
    ownershipTags: hooks.ownershipTags(desired.clusterId, desired.shardId),
    isoStorage: desired.provider.options.cloudInitIsoStorage,
  };
}

/**
 * A VM as the planner sees it when a per-VM read exists: the read is live, the listing is not.
 * PVE republishes `/cluster/resources` stats only every pvestatd cycle (~10 s; pve-api.md §7 rule
 * 20), so right after an apply the listing can show a started VM as stopped, a new VM without its
 * name (`status: unknown`) or a resized one with its old sizes. Status, name, sizes and tags are
 * therefore taken from the read. The sizes are the config's, pending changes included; what a
 * running VM really runs with goes to `running` (status/current, else the listing).
 */
function trustDetail(vm: LiveVmX, d: VmDetail | undefined, desired: DesiredShard, running: Facts["running"], hooks: PlanningHooks): LiveVmX {
  if (!d || vm.template || d.node !== vm.node) return vm;
  const status = d.status ?? vm.status;
  const out: LiveVmX = {
    ...vm,
    // The config's name is live; the listing's lags a clone or a rename by a pvestatd cycle.
    name: d.name ?? vm.name,
    status,
    tags: d.tags,
    cores: d.cores,
    memoryBytes: d.memoryMiB * MIB,
  };
  // The boot disk (from the boot order), not an assumed scsi0: virtio0 and sata0 templates too.
  const drive = d.disk ?? d.scsi0;
  const disk = drive ? diskBytesOf(drive, hooks) : undefined;
  if (disk !== undefined) out.diskBytes = disk;
  if (out.name !== vm.name || out.tags.join(",") !== vm.tags.join(",")) out.ownership = hooks.ownershipOf(out, desired.clusterId, desired.shardId);
  if (status === "running") {
    if (d.running) running.set(vm.vmid, { cores: d.running.cores, memoryBytes: d.running.memoryMiB * MIB });
    else if (vm.status === "running" && vm.cores > 0) running.set(vm.vmid, { cores: vm.cores, memoryBytes: vm.memoryBytes });
  }
  return out;
}

function diskBytesOf(drive: string, hooks: PlanningHooks): number | undefined {
  const size = /(?:^|,)size=([^,]+)/.exec(drive)?.[1];
  if (size === undefined) return undefined;
  try {
    return hooks.parseSize(size);
  } catch {
    return undefined;
  }
}

/**
 * How a record's VM was found (ARCHITECTURE.md rules 1, 2, 7):
 *   instance — named after the instance and carrying the three ownership tags; for a `creating`
 *              record, named after it whatever its tags (the clone exists before its tags do);
 *   untagged — named after a ready instance but missing an ownership tag: never touched, reported;
 *   renamed  — no VM has the name, but the VM at the recorded VMID carries the three tags: it is
 *              the instance under another name (it still uses the instance's ISO), never touched.
 */
export type RecordVm = { as: "instance" | "untagged" | "renamed"; vm: LiveVmX };

export function findRecordVm(facts: Facts, record: Pick<InstanceRecord, "instanceId" | "vmid" | "phase">): RecordVm | undefined {
  const list = facts.byName.get(record.instanceId) ?? [];
  const atVmid = (l: LiveVmX[]) => l.find((vm) => vm.vmid === record.vmid) ?? l[0];
  const ours = list.filter((vm) => vm.ownership === "ours");
  if (ours.length > 0) return { as: "instance", vm: atVmid(ours)! };
  if (list.length > 0) return { as: record.phase === "creating" ? "instance" : "untagged", vm: atVmid(list)! };
  const there = facts.vmByVmid.get(record.vmid);
  if (there && !there.template && there.name !== "" && hasAll(there.tags, facts.ownershipTags)) return { as: "renamed", vm: there };
  return undefined;
}

function hasAll(tags: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((t) => tags.includes(t));
}

/** The VM a record stands for, when it is that instance (see findRecordVm); the recorded VMID preferred. */
export function vmOf(facts: Facts, record: Pick<InstanceRecord, "instanceId" | "vmid" | "phase">): LiveVmX | undefined {
  const found = findRecordVm(facts, record);
  return found?.as === "instance" ? found.vm : undefined;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isoFilename(instanceId: string): string {
  return `${instanceId}-cidata.iso`;
}

export function isoVolumeOf(storage: string, instanceId: string): string {
  return `${storage}:iso/${isoFilename(instanceId)}`;
}

/** RFC 3339 UTC with seconds precision, as the notes block writes `created` (as Nstance does). */
export function secondsUtc(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The notes block a VM of this record should carry. */
export function expectedNotes(record: Pick<InstanceRecord, "tenant" | "group" | "kind" | "template" | "createdAt">): NotesBlockFields {
  return {
    group: groupKey(record),
    kind: record.kind,
    template: record.template,
    created: secondsUtc(record.createdAt),
  };
}

/**
 * Whether a parsed notes block matches. `template` is written but not every reader returns it
 * (Nstance's parser does not), so it only counts when the parser reported it; otherwise the block would be
 * rewritten on every plan.
 */
export function notesMatch(actual: NotesBlockFields | undefined, expected: NotesBlockFields): boolean {
  if (!actual) return false;
  if (actual.group !== expected.group || actual.kind !== expected.kind) return false;
  if (actual.template !== undefined && actual.template !== expected.template) return false;
  return actual.created !== undefined && secondsUtc(actual.created) === expected.created;
}
