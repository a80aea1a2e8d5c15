/**
 * What differs between one existing VM and its group's spec, in the units Proxmox can be changed
 * in: sizes in bytes, tags as sets (operator tags kept), notes compared by their parsed block. Used
 * by the reconcile (to plan the fix) and by drift (to report it), so both always agree.
 */
import type { DesiredGroup } from "../config/model.js";
import type { InstanceRecord } from "../state/types.js";
import { withOwnershipTags } from "../providers/proxmox/tags.js";
import type { AttributeChange } from "./types.js";
import { expectedNotes, MIB, notesMatch, type Facts, type LiveVmX } from "./facts.js";

export interface MemberDiff {
  /** In-place differences (forcesReplacement false) and the ones that force a replacement. */
  attributes: AttributeChange[];
  reasons: string[];
  replaceReasons: string[];
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
  /** State fields that only need recording (moved node or VMID, new updateHash). */
  record: Partial<InstanceRecord>;
}

export function diffMember(facts: Facts, record: InstanceRecord, vm: LiveVmX, group: DesiredGroup): MemberDiff {
  const spec = group.spec;
  const out: MemberDiff = { attributes: [], reasons: [], replaceReasons: [], configure: {}, start: false, record: {} };
  const detail = facts.details.get(vm.vmid);
  const change = (attribute: string, before: unknown, after: unknown, forcesReplacement = false) =>
    out.attributes.push({ attribute, before, after, forcesReplacement });

  // Replacement: the hash over fields that cannot change in place, a disk shrink, or a request.
  if (record.replaceHash !== group.replaceHash) {
    if (record.template !== group.templateName) change("template", record.template, group.templateName, true);
    if (record.kind !== spec.kind) change("kind", record.kind, spec.kind, true);
    if (record.template === group.templateName && record.kind === spec.kind) {
      change("replaceHash", record.replaceHash, group.replaceHash, true);
    }
    out.replaceReasons.push("template, storage, userdata, kind, arch, network or pool changed");
  }
  if (spec.diskBytes !== undefined && vm.diskBytes > spec.diskBytes) {
    change("diskBytes", vm.diskBytes, spec.diskBytes, true);
    out.replaceReasons.push("disk cannot shrink");
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
  // The listing, not the details: the same answer whether or not details were fetched.
  const liveTags = vm.tags;
  const missing = facts.ownershipTags.filter((t) => !liveTags.includes(t));
  if (missing.length > 0) {
    const tags = withOwnershipTags(liveTags, facts.desired.clusterId, facts.desired.shardId);
    change("tags", liveTags, tags);
    out.reasons.push(`ownership tags missing: ${missing.join(", ")}`);
    out.configure.tags = tags;
  }
  if (detail) {
    if (detail.onboot !== spec.onboot) {
      change("onboot", detail.onboot, spec.onboot);
      out.reasons.push(`onboot ${detail.onboot} → ${spec.onboot}`);
      out.configure.onboot = spec.onboot;
    }
    const notes = facts.options.notes;
    if (notes) {
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
  if (record.updateHash !== group.updateHash) out.record.updateHash = group.updateHash;
  return out;
}

export function hasInPlaceChange(d: MemberDiff): boolean {
  return Object.keys(d.configure).length > 0 || d.resizeBytes !== undefined;
}
