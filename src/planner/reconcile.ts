/**
 * The reconcile: desired × state × live → one intent per instance (what to do, not yet how). No
 * placement and no VMIDs here, so `vmsNeedingDetails` can run it cheaply to learn which existing
 * VMs a plan touches.
 */
import type { DesiredGroup } from "../config/model.js";
import { UserError } from "../errors.js";
import type { CreateStep, InstanceRecord } from "../state/types.js";
import type { ChangeReason, InstanceChange, NotesBlockFields } from "./types.js";
import { appliedSizes, diffMember, hasInPlaceChange, type MemberDiff } from "./diff.js";
import { cmp, CREATE_STEPS, findRecordVm, groupKey, isoVolumeOf, type Facts, type LiveVmX, type RecordVm } from "./facts.js";

export interface CreateIntent {
  instanceId: string; // a placeholder `new:<group>:<n>` until the plan assigns a real ID
  group: DesiredGroup;
  createdAt?: string; // resumed creates keep theirs
  /** Resumed: where the interrupted create went, and the steps already done. */
  node?: string;
  vmid?: number;
  existingVm?: LiveVmX;
  stepsDone: CreateStep[];
}

export interface RemoveIntent {
  vm?: LiveVmX;
  node: string;
  vmid: number;
  isoVolume: string;
  /** Drop the state record at the end (false for orphans, which have none). */
  forget: boolean;
  /** Delete the VM too (false for a forget after an out-of-band delete). */
  deleteIso: boolean;
}

export interface Intent {
  change: InstanceChange;
  record?: InstanceRecord;
  vm?: LiveVmX;
  group?: DesiredGroup;
  create?: CreateIntent;
  diff?: MemberDiff;
  remove?: RemoveIntent;
  /** Fields written to the state record with no call to Proxmox (record, adopt, phase fixes). */
  recordFields?: Partial<InstanceRecord>;
  /** Adopt: write the record before touching the VM. */
  recordFirst?: boolean;
}

export interface Reconciled {
  intents: Intent[];
  orphans: LiveVmX[];
  warnings: string[];
  /** Groups that lost instances out of band, for the create reasons. */
  lostByGroup: Map<string, string[]>;
}

const PLACEHOLDER = "new:";

export function reconcile(facts: Facts): Reconciled {
  const mode = facts.options.mode ?? "normal";
  const popts = facts.desired.provider.options;
  const intents: Intent[] = [];
  const warnings: string[] = [];
  const lostByGroup = new Map<string, string[]>();
  const members = new Map<string, { record: InstanceRecord; vm?: LiveVmX }[]>();
  const claimed = new Set<LiveVmX>();

  checkSelectors(facts);

  const held = new Map<string, number>();
  for (const record of facts.records) {
    const found = findRecordVm(facts, record);
    if (found) claimed.add(found.vm);
    const key = groupKey(record);
    const group = facts.groups.get(key);
    const ref = { tenant: record.tenant, group: record.group };
    if (found && found.as !== "instance") {
      // Ours by the record, not by the VM's own marks: neither changed, replaced nor deleted, and
      // still a member of its group (no second VM is made for it). The warning says how to fix it.
      warnings.push(heldWarning(facts, record, found));
      held.set(key, (held.get(key) ?? 0) + 1);
      continue;
    }
    const vm = found?.vm;

    if (record.phase === "deleting") {
      if (mode === "refresh-only" && !vm) intents.push(forgetIntent(facts, record, "deleted (an interrupted delete finished out of band)", false));
      else if (mode !== "refresh-only") intents.push(removeIntent(facts, record, vm, "interrupted", ["an interrupted delete resumes"]));
      continue;
    }
    if (record.phase === "ready" && !vm) {
      intents.push(forgetIntent(facts, record, "deleted out of band", mode !== "refresh-only"));
      if (group && mode === "normal") lostByGroup.set(key, [...(lostByGroup.get(key) ?? []), record.instanceId]);
      continue;
    }
    if (mode === "refresh-only") {
      if (vm && (vm.node !== record.node || vm.vmid !== record.vmid)) {
        const fields: Partial<InstanceRecord> = { node: vm.node, vmid: vm.vmid };
        intents.push({
          change: baseChange(record.instanceId, ref, "record", "record_because_observed", movedReasons(record, vm), vm),
          record, vm, recordFields: fields,
        });
      }
      continue;
    }
    if (mode === "destroy" || !group) {
      intents.push(removeIntent(facts, record, vm, mode === "destroy" ? "destroy_mode" : "group_removed", [mode === "destroy" ? "destroy requested" : `group ${key} is not in the shard file`]));
      continue;
    }
    const list = members.get(key) ?? [];
    list.push({ record, vm });
    members.set(key, list);
  }

  const orphans: LiveVmX[] = [];
  for (const [name, list] of facts.byName) {
    for (const vm of list) {
      if (claimed.has(vm)) continue;
      // Only a VM with all three tags and an instance-ID name can be an orphan (rule 2): a VM that
      // merely carries a known instance's name is an operator's, and `--gc`/`--adopt` never see it.
      if (vm.ownership === "ours") orphans.push(vm);
    }
  }
  orphans.sort((a, b) => cmp(a.name, b.name) || a.vmid - b.vmid);
  const adopted = new Set<LiveVmX>();

  if (mode === "normal") {
    for (const group of facts.desired.groups) {
      const key = groupKey(group.ref);
      reconcileGroup(facts, group, members.get(key) ?? [], held.get(key) ?? 0, orphans, adopted, lostByGroup.get(key) ?? [], intents, warnings);
    }
  }

  for (const vm of orphans) {
    if (adopted.has(vm)) continue;
    if (facts.options.gc && mode !== "refresh-only") {
      // A twin of a managed instance (same name, another VMID) shares that instance's ISO name:
      // its ISO is the instance's, and stays.
      const twin = facts.state?.instances[vm.name] !== undefined;
      intents.push({
        change: baseChange(vm.name, notesGroup(facts, vm) ?? { tenant: "", group: "" }, "delete", "delete_because_orphan_gc", ["orphan: not in the state (--gc)"], vm),
        vm,
        remove: { vm, node: vm.node, vmid: vm.vmid, isoVolume: isoVolumeOf(facts.isoStorage, vm.name), forget: false, deleteIso: !twin },
      });
    }
  }

  const kept = filterTargets(facts, intents);
  if (popts.maxSurge < 0) warnings.push("max_surge below 0 is treated as 0");
  return { intents: kept, orphans: orphans.filter((vm) => !adopted.has(vm)), warnings, lostByGroup };
}

function reconcileGroup(
  facts: Facts,
  group: DesiredGroup,
  list: { record: InstanceRecord; vm?: LiveVmX }[],
  held: number,
  orphans: LiveVmX[],
  adopted: Set<LiveVmX>,
  lost: string[],
  intents: Intent[],
  warnings: string[],
): void {
  const key = groupKey(group.ref);
  const popts = facts.desired.provider.options;
  const order = facts.options.scaleDownOrder ?? popts.scaleDownOrder;
  const maxSurge = Math.max(0, facts.options.maxSurge ?? popts.maxSurge);

  // An interrupted create whose VM was never cloned, for a spec the shard file no longer asks for:
  // resuming it would attach an ISO built from outdated userdata (same name, possibly the same
  // size), so it is abandoned (its ISO deleted, its record forgotten) and a fresh instance made.
  // Unless its clone may still be running (a killed run's clone task outlives it): a VM at the
  // recorded VMID that is locked or not yet named could become this instance, so the record waits
  // a run — counted, untouched — rather than be forgotten while its VM appears (a leak).
  let inFlight = 0;
  list = list.filter(({ record, vm }) => {
    if (record.phase !== "creating" || vm || record.replaceHash === group.replaceHash) return true;
    const there = facts.vmByVmid.get(record.vmid);
    if (there && !there.template && (there.lock === "clone" || there.lock === "create" || there.name === "")) {
      warnings.push(`${record.instanceId}: an interrupted create for an older spec may still be cloning at VMID ${record.vmid} on ${there.node}; left alone until it settles (plan again in a minute)`);
      inFlight++;
      return false;
    }
    intents.push(removeIntent(facts, record, undefined, "abandoned", ["interrupted create for a spec the shard file no longer asks for: abandoned"]));
    return false;
  });
  held += inFlight;
  // Oldest first: createdAt, then the instance ID (which sorts by creation time too).
  list.sort((a, b) => cmp(a.record.createdAt, b.record.createdAt) || cmp(a.record.instanceId, b.record.instanceId));
  let keep = list;
  if (list.length + held > group.size && list.length > 0) {
    // Held members (renamed, untagged) count but are never chosen: they cannot be deleted.
    const excess = Math.min(list.length, list.length + held - group.size);
    const victims = order === "oldest" ? list.slice(0, excess) : list.slice(list.length - excess);
    keep = order === "oldest" ? list.slice(excess) : list.slice(0, list.length - excess);
    for (const { record, vm } of victims) {
      intents.push(removeIntent(facts, record, vm, "scale_down", [`size ${list.length + held} > ${group.size} (${order} first)`]));
    }
  }

  for (const { record, vm } of keep) {
    if (record.phase === "creating") {
      const resumed = resumeIntent(facts, group, record, vm);
      if (resumed) {
        intents.push(resumed);
        continue;
      }
    }
    const d = diffMember(facts, record, vm!, group);
    if (record.phase === "creating") d.record = { ...d.record, phase: "ready", stepsDone: [...CREATE_STEPS] };
    if (d.replaceReasons.length > 0) {
      // Every replacement is planned; max_surge is how many run at once (plan.ts rolls them in
      // waves within one apply). 0 leaves no room for a new VM before the old one goes.
      if (maxSurge > 0) {
        intents.push({
          change: {
            ...baseChange(record.instanceId, group.ref, "replace", facts.options.replace?.includes(record.instanceId) ? "replace_by_request" : "replace_because_cannot_update", d.replaceReasons, vm),
            // The old VM is removed only after its successor started (max_surge > 0 made room).
            replaceOrder: "create-first",
            attributes: d.attributes.filter((a) => a.forcesReplacement),
            forcedBy: d.forcedBy,
            after: group.spec,
          },
          record, vm, group, diff: d,
          create: { instanceId: `${PLACEHOLDER}${key}:r:${record.instanceId}`, group, stepsDone: [] },
          remove: removeOf(facts, record, vm, true),
        });
        continue;
      }
      warnings.push(`${key}/${record.instanceId}: replacement deferred (max_surge is 0: no room for a new VM before the old one is deleted)`);
      d.attributes = d.attributes.filter((a) => !a.forcesReplacement);
    }
    for (const w of d.warnings) warnings.push(`${record.instanceId}: ${w}`);
    const intent = memberIntent(record, vm!, group, d);
    if (intent) intents.push(intent);
  }

  let deficit = group.size - keep.length - held;
  if (deficit > 0 && facts.options.adopt) {
    for (const vm of orphans) {
      if (deficit === 0) break;
      if (adopted.has(vm) || vm.ownership !== "ours") continue;
      const notes = notesOf(facts, vm);
      if (!notes || notes.group !== key) continue;
      adopted.add(vm);
      deficit--;
      intents.push(adoptIntent(facts, group, vm, notes));
    }
  }
  for (let n = 0; n < deficit; n++) {
    const replaces = lost[n];
    const reasons = [`size ${keep.length + held} < ${group.size}`];
    if (replaces) reasons.push(`replaces ${replaces} (deleted out of band)`);
    const change = baseChange(`${PLACEHOLDER}${key}:${n}`, group.ref, "create", "create_because_scale_up", reasons);
    change.after = group.spec;
    if (replaces) change.replaces = replaces;
    intents.push({ change, group, create: { instanceId: change.instanceId, group, stepsDone: [] } });
  }
}

/** Why a record's VM is left alone, and how the operator makes it manageable again. */
export function heldWarning(facts: Facts, record: InstanceRecord, found: RecordVm): string {
  const { vm } = found;
  const tags = facts.ownershipTags;
  const where = `VM ${vm.vmid} on ${vm.node}`;
  if (found.as === "renamed") {
    return `${record.instanceId}: ${where} carries this shard's tags but is named "${vm.name}": renamed, so pvefleet will not change, replace or delete it (its ISO is kept); rename it back (qm set ${vm.vmid} --name ${record.instanceId}) to manage it again`;
  }
  const missing = tags.filter((t) => !vm.tags.includes(t));
  return `${record.instanceId}: ${where} carries this instance's name but lacks the ownership tag${missing.length === 1 ? "" : "s"} ${missing.join(", ")}: pvefleet will not change, replace or delete it; restore the tags (qm set ${vm.vmid} --tags '${[...new Set([...vm.tags, ...tags])].sort().join(";")}') to manage it again`;
}

function memberIntent(record: InstanceRecord, vm: LiveVmX, group: DesiredGroup, d: MemberDiff): Intent | undefined {
  const inPlace = hasInPlaceChange(d);
  const reasons = [...d.reasons];
  if (d.start) reasons.push("stopped out of band");
  const recordOnly = Object.keys(d.record).length > 0;
  if (!inPlace && !d.start && !d.restart && !recordOnly) return undefined;
  const kind = inPlace || d.restart ? "update" : d.start ? "start" : "record";
  const change = baseChange(record.instanceId, group.ref, kind, kind === "start" ? "start_because_stopped" : kind === "record" ? "record_because_observed" : "update_because_changed", reasons, vm);
  change.attributes = d.restart ? [...d.attributes, ...d.pending] : d.attributes;
  if (inPlace || d.restart) change.after = group.spec;
  return { change, record, vm, group, diff: d, recordFields: recordOnly ? d.record : undefined };
}

/**
 * A create interrupted anywhere resumes from its first unfinished step. The VM is looked up by
 * name among all VMs: a clone that finished before its tags were written is untagged but named.
 * Returns undefined when every step is done (the record then only needs its phase fixed).
 */
function resumeIntent(facts: Facts, group: DesiredGroup, record: InstanceRecord, vm: LiveVmX | undefined): Intent | undefined {
  let done: CreateStep[];
  if (vm) done = [...new Set<CreateStep>([...record.stepsDone, "clone"])];
  // The VM is gone, so only the ISO upload (which does not need it) can still count as done.
  else done = record.stepsDone.filter((s) => s === "upload-iso");
  // Its tags missing: the create's configure (the step that writes them, on its own clone) runs again.
  if (vm && facts.ownershipTags.some((t) => !vm.tags.includes(t))) done = done.filter((s) => s !== "configure" && s !== "attach-iso" && s !== "tag");
  const next = CREATE_STEPS.find((s) => !done.includes(s));
  if (next === undefined && vm) return undefined;
  const change = baseChange(record.instanceId, group.ref, "create", "create_because_resume", [`resuming an interrupted create at ${next}`], vm);
  change.after = group.spec;
  change.resumeFrom = next;
  return {
    change, record, vm, group,
    create: {
      instanceId: record.instanceId,
      group,
      createdAt: record.createdAt,
      node: vm?.node ?? record.node,
      vmid: vm?.vmid ?? record.vmid,
      existingVm: vm,
      stepsDone: done,
    },
  };
}

function adoptIntent(facts: Facts, group: DesiredGroup, vm: LiveVmX, notes: NotesBlockFields): Intent {
  const createdAt = notes.created ?? now(facts);
  const record: InstanceRecord = {
    instanceId: vm.name,
    tenant: group.ref.tenant,
    group: group.ref.group,
    template: group.templateName,
    kind: group.spec.kind,
    vmid: vm.vmid,
    node: vm.node,
    replaceHash: group.replaceHash,
    updateHash: group.updateHash,
    applied: appliedSizes(group.spec),
    isoVolume: isoVolumeOf(facts.isoStorage, vm.name),
    phase: "ready",
    stepsDone: [...CREATE_STEPS],
    createdAt,
    updatedAt: createdAt,
  };
  const d = diffMember(facts, record, vm, group);
  const change = baseChange(vm.name, group.ref, "adopt", "adopt_because_orphan", ["orphan named this group in its notes (--adopt)", ...d.reasons], vm);
  change.attributes = d.attributes.filter((a) => !a.forcesReplacement);
  change.after = group.spec;
  if (d.start) change.reasons.push("stopped out of band");
  d.replaceReasons = [];
  return { change, record, vm, group, diff: d, recordFields: record, recordFirst: true };
}

/** Why a record is removed; without its VM the change is a `forget`. */
type RemoveWhy = "scale_down" | "group_removed" | "destroy_mode" | "interrupted" | "abandoned";

function removeIntent(facts: Facts, record: InstanceRecord, vm: LiveVmX | undefined, why: RemoveWhy, reasons: string[]): Intent {
  const kind = vm ? "delete" : "forget";
  const reason: ChangeReason = vm && why !== "abandoned" ? `delete_because_${why}` : why === "abandoned" ? "forget_because_abandoned" : "forget_because_missing";
  return {
    change: baseChange(record.instanceId, { tenant: record.tenant, group: record.group }, kind, reason, vm ? reasons : [...reasons, "VM already gone"], vm),
    record, vm,
    remove: removeOf(facts, record, vm, true),
  };
}

function forgetIntent(facts: Facts, record: InstanceRecord, reason: string, deleteIso: boolean): Intent {
  return {
    change: baseChange(record.instanceId, { tenant: record.tenant, group: record.group }, "forget", "forget_because_missing", [reason]),
    record,
    remove: { ...removeOf(facts, record, undefined, true), deleteIso },
  };
}

function removeOf(facts: Facts, record: InstanceRecord, vm: LiveVmX | undefined, forget: boolean): RemoveIntent {
  return {
    vm,
    node: vm?.node ?? record.node,
    vmid: vm?.vmid ?? record.vmid,
    isoVolume: record.isoVolume ?? isoVolumeOf(facts.isoStorage, record.instanceId),
    forget,
    deleteIso: true,
  };
}

export function baseChange(
  instanceId: string,
  group: { tenant: string; group: string },
  kind: InstanceChange["kind"],
  reason: ChangeReason,
  reasons: string[],
  vm?: LiveVmX,
): InstanceChange {
  const change: InstanceChange = { instanceId, group: { tenant: group.tenant, group: group.group }, kind, reason, reasons, attributes: [] };
  if (vm) change.before = stripOwnership(vm);
  return change;
}

function stripOwnership(vm: LiveVmX): InstanceChange["before"] {
  const { ownership: _ownership, ...rest } = vm;
  return rest;
}

function movedReasons(record: InstanceRecord, vm: LiveVmX): string[] {
  const out: string[] = [];
  if (vm.node !== record.node) out.push(`moved ${record.node} → ${vm.node}`);
  if (vm.vmid !== record.vmid) out.push(`VMID ${record.vmid} → ${vm.vmid}`);
  return out;
}

function notesOf(facts: Facts, vm: LiveVmX): NotesBlockFields | undefined {
  const detail = facts.details.get(vm.vmid);
  if (!detail) return undefined;
  return facts.hooks.notes.parse(detail.description);
}

function notesGroup(facts: Facts, vm: LiveVmX): { tenant: string; group: string } | undefined {
  const g = notesOf(facts, vm)?.group;
  const dot = g?.indexOf(".") ?? -1;
  return g && dot > 0 ? { tenant: g.slice(0, dot), group: g.slice(dot + 1) } : undefined;
}

export function now(facts: Facts): string {
  return (facts.options.now?.() ?? new Date(facts.live.fetchedAt)).toISOString();
}

/** `--target` and `--replace` must name something, or the user has a typo. */
function checkSelectors(facts: Facts): void {
  const known = (t: string) => facts.groups.has(t) || facts.state?.instances[t] !== undefined || facts.byName.has(t);
  for (const t of facts.options.targets ?? []) {
    if (!known(t)) throw new UserError("E_TARGET", `--target ${t}: no group (tenant.group) or instance of this shard has that name`);
  }
  for (const id of facts.options.replace ?? []) {
    if (facts.state?.instances[id] === undefined) throw new UserError("E_TARGET", `--replace ${id}: no instance with that ID in the state`);
  }
}

function filterTargets(facts: Facts, intents: Intent[]): Intent[] {
  const targets = facts.options.targets ?? [];
  if (targets.length === 0) return intents;
  const set = new Set(targets);
  return intents.filter((i) => {
    const c = i.change;
    return set.has(c.instanceId) || (c.replaces !== undefined && set.has(c.replaces)) || set.has(groupKey(c.group));
  });
}
