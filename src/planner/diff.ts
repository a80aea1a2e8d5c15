/**
 * What differs between one existing VM and its group's spec, in the units Proxmox can be changed
 * in: sizes in bytes, tags as sets (operator tags kept), notes compared by their parsed block. Used
 * by the reconcile (to plan the fix) and by drift (to report it), so both always agree.
 */
import type { DesiredGroup } from "../config/model.js";
import type { AppliedSizes, InstanceRecord } from "../state/types.js";
import type { AttributeChange, ReplaceCause } from "./types.js";
import { causeAttribute, replaceCauses } from "./replace-causes.js";
import { expectedNotes, MIB, notesMatch, type Facts, type LiveVmX } from "./facts.js";

export interface MemberDiff {
  /** In-place differences (forcesReplacement false) and the ones that force a replacement. */
  attributes: AttributeChange[];
  reasons: string[];
  replaceReasons: string[];
  /** The attributes that force a replacement (`replaceReasons` says them in words). */
  forcedBy: ReplaceCause[];
  /** Fields for one configure call; empty when nothing to change in place. */
  configure: {
    cores?: number;
    memoryMiB?: number;
    onboot?: boolean;
    tags?: string[];
    description?: string;
  };
  resizeBytes?: number;
  start: boolean;
  /**
   * Sizes the config already holds but the running VM does not: PVE keeps cold options (cores,
   * memory without hotplug) `[PENDING]` until the VM restarts. Not a configure (that would repeat on
   * every plan); a restart when allowed, else a warning.
   */
  pending: AttributeChange[];
  /** Stop then start the running VM so configured sizes take effect (PlanOptions.allowRestart). */
  restart: boolean;
  /** Pending-until-restart notes for the plan's warnings (without the instance ID). */
  warnings: string[];
  /** State fields that only need recording (moved node or VMID, new updateHash). */
  record: Partial<InstanceRecord>;
}

export function diffMember(facts: Facts, record: InstanceRecord, vm: LiveVmX, group: DesiredGroup): MemberDiff {
  const spec = group.spec;
  const out: MemberDiff = { attributes: [], reasons: [], replaceReasons: [], forcedBy: [], configure: {}, start: false, pending: [], restart: false, warnings: [], record: {} };
  const detail = facts.details.get(vm.vmid);
  const change = (attribute: string, before: unknown, after: unknown, forcesReplacement = false) =>
    out.attributes.push({ attribute, before, after, forcesReplacement });

  // Replacement: the hash over fields that cannot change in place (named attribute by attribute
  // from the spec the state recorded for the old hash), a disk shrink, or a request.
  const forced = (cause: ReplaceCause) => {
    out.forcedBy.push(cause);
    out.attributes.push(causeAttribute(cause));
    out.replaceReasons.push(cause.message);
  };
  if (record.replaceHash !== group.replaceHash) for (const cause of replaceCauses(facts.state, record, group)) forced(cause);
  if (spec.diskBytes !== undefined && vm.diskBytes > spec.diskBytes) {
    forced({ attribute: "diskBytes", before: vm.diskBytes, after: spec.diskBytes, sensitive: false, message: "disk cannot shrink" });
  }
  if (facts.options.replace?.includes(record.instanceId)) out.replaceReasons.push("replacement requested");

  if (vm.cores !== spec.cores) {
    change("cores", vm.cores, spec.cores);
    out.reasons.push(`cores ${vm.cores} → ${spec.cores}`);
    out.configure.cores = spec.cores;
  }
  if (vm.memoryBytes !== spec.memoryMiB * MIB) {
    change("memoryMiB", vm.memoryBytes / MIB, spec.memoryMiB);
    out.reasons.push(`memory ${vm.memoryBytes / MIB} → ${spec.memoryMiB} MiB`);
    out.configure.memoryMiB = spec.memoryMiB;
  }
  if (spec.diskBytes !== undefined && vm.diskBytes < spec.diskBytes) {
    change("diskBytes", vm.diskBytes, spec.diskBytes);
    out.reasons.push("disk grows");
    out.resizeBytes = spec.diskBytes;
  }
  // Ownership tags are never restored by an update: a VM without them is not provably ours (the
  // provider's guard would refuse), so reconcile holds such an instance; a create's own configure
  // (reconcile.ts resumeIntent) is the one step that writes them.
  if (detail) {
    if (detail.onboot !== spec.onboot) {
      change("onboot", detail.onboot, spec.onboot);
      out.reasons.push(`onboot ${detail.onboot} → ${spec.onboot}`);
      out.configure.onboot = spec.onboot;
    }
    const notes = facts.hooks.notes;
    {
      const expected = expectedNotes(record);
      if (!notesMatch(notes.parse(detail.description), expected)) {
        const description = notes.compose(detail.description, expected);
        change("notes", detail.description, description);
        out.reasons.push("managed notes block edited");
        out.configure.description = description;
      }
    }
  }
  if (vm.status === "stopped") out.start = true;
  if (vm.status === "running") pendingUntilRestart(facts, vm, spec, out);

  if (vm.node !== record.node) {
    out.record.node = vm.node;
    change("node", record.node, vm.node);
    out.reasons.push(`moved ${record.node} → ${vm.node} (recorded)`);
  }
  if (vm.vmid !== record.vmid) {
    out.record.vmid = vm.vmid;
    change("vmid", record.vmid, vm.vmid);
    out.reasons.push(`VMID ${record.vmid} → ${vm.vmid} (recorded)`);
  }
  if (record.updateHash !== group.updateHash) {
    // Recorded together: drift compares the cluster with what was applied, not with the file.
    out.record.updateHash = group.updateHash;
    out.record.applied = appliedSizes(spec);
  }
  return out;
}

/** The in-place sizes a configure sets for this spec: what the state records as applied. */
export function appliedSizes(spec: DesiredGroup["spec"]): AppliedSizes {
  return { cores: spec.cores, memoryMiB: spec.memoryMiB, ...(spec.diskBytes !== undefined ? { diskBytes: spec.diskBytes } : {}), onboot: spec.onboot };
}

/**
 * What pvefleet last applied to a record's VM: the recorded sizes, or — for a record written before
 * they were recorded — the group's when its updateHash is the recorded one (the hash covers exactly
 * these fields). Undefined when neither tells.
 */
export function lastApplied(record: InstanceRecord, group: DesiredGroup | undefined): AppliedSizes | undefined {
  if (group && record.updateHash === group.updateHash) return appliedSizes(group.spec);
  return record.applied;
}

/**
 * A running VM's cold sizes: what the config holds (vm.cores, vm.memoryBytes — pending included
 * when read per VM) against what QEMU runs with (facts.running). Equal config but a different
 * running value is pending, not drift; a configure planned now will be pending after it runs.
 */
function pendingUntilRestart(facts: Facts, vm: LiveVmX, spec: DesiredGroup["spec"], out: MemberDiff): void {
  const run = facts.running.get(vm.vmid);
  const notes: string[] = [];
  if (run && out.configure.cores === undefined && run.cores !== spec.cores) {
    out.pending.push({ attribute: "cores", before: run.cores, after: spec.cores, forcesReplacement: false });
    notes.push(`cores ${run.cores} → ${spec.cores}`);
  }
  if (run && out.configure.memoryMiB === undefined && run.memoryBytes !== spec.memoryMiB * MIB) {
    out.pending.push({ attribute: "memoryMiB", before: run.memoryBytes / MIB, after: spec.memoryMiB, forcesReplacement: false });
    notes.push(`memory ${run.memoryBytes / MIB} → ${spec.memoryMiB} MiB`);
  }
  // A configure that sets a size back to what QEMU runs with (an operator's pending edit undone)
  // needs no restart; PVE drops a pending value equal to the running one.
  const runCores = run?.cores ?? vm.cores;
  const runMemoryBytes = run?.memoryBytes ?? vm.memoryBytes;
  const cold: string[] = [];
  if (out.configure.cores !== undefined && runCores !== spec.cores) cold.push(`cores ${runCores} → ${spec.cores}`);
  if (out.configure.memoryMiB !== undefined && runMemoryBytes !== spec.memoryMiB * MIB) cold.push(`memory ${runMemoryBytes / MIB} → ${spec.memoryMiB} MiB`);
  if (notes.length === 0 && cold.length === 0) return;
  if (facts.options.allowRestart) {
    out.restart = true;
    if (notes.length > 0) out.reasons.push(`${notes.join(", ")} pending until restart: restarting (--allow-restart)`);
    else out.reasons.push("restart so the new sizes take effect (--allow-restart)");
    return;
  }
  if (notes.length > 0) out.warnings.push(`${notes.join(", ")} ${notes.length > 1 ? "are" : "is"} pending until the VM restarts (use --allow-restart)`);
  if (cold.length > 0) out.warnings.push(`${cold.join(", ")} will be pending until the VM restarts (use --allow-restart)`);
}

export function hasInPlaceChange(d: MemberDiff): boolean {
  return Object.keys(d.configure).length > 0 || d.resizeBytes !== undefined;
}
