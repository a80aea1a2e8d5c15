/**
 * Drift: what changed outside pvefleet, as findings with fingerprints that stay the same from run to
 * run (sha256 of kind + instance ID or VMID + attribute, never of values or times), so a scheduled
 * job can update one issue per finding instead of opening new ones.
 */
import { createHash } from "node:crypto";
import type { DesiredShard, DriftIgnoreRule } from "../config/model.js";
import type { LiveShard, VmDetail } from "../providers/types.js";
import type { StateDoc } from "../state/types.js";
import type { InstanceRecord } from "../state/types.js";
import { lastApplied } from "./diff.js";
import { cmp, expectedNotes, findRecordVm, groupKey, indexFacts, MIB, notesMatch, type Facts, type LiveVmX } from "./facts.js";
import { heldWarning } from "./reconcile.js";
import type { DriftFinding, PlanOptions } from "./types.js";

export function drift(
  desired: DesiredShard,
  state: StateDoc | undefined,
  live: LiveShard,
  details: VmDetail[] | undefined,
  options: Pick<PlanOptions, "hooks">,
): DriftFinding[] {
  return driftReport(desired, state, live, details, options).findings;
}

/** The findings, and how many the shard file's `drift.ignore` rules left out. */
export function driftReport(
  desired: DesiredShard,
  state: StateDoc | undefined,
  live: LiveShard,
  details: VmDetail[] | undefined,
  options: Pick<PlanOptions, "hooks">,
): { findings: DriftFinding[]; ignored: number } {
  return findingsOf(indexFacts(desired, state, live, { hooks: options.hooks }, details));
}

/** Finding kinds about VMs that are not (or no longer provably) this shard's: information by default. */
export const INFO_KINDS = ["unmanaged", "suspicious"] as const;
export type InfoKind = (typeof INFO_KINDS)[number];

/**
 * Findings that mean "changed outside pvefleet" and make `drift` exit 2 (ARCHITECTURE.md rule 10).
 * VMs that are not this shard's — hand-made VMs, a sibling shard's (unmanaged), and VMs with some
 * of its marks but not all (suspicious: half-tagged, or an instance renamed or stripped of a tag,
 * which pvefleet then leaves alone) — are information, counted and shown, or a shared cluster
 * would never be in sync; `failOn` (`drift --fail-on`) makes those kinds drift too.
 */
export function isDrift(finding: Pick<DriftFinding, "kind">, failOn: readonly InfoKind[] = []): boolean {
  return !(INFO_KINDS as readonly string[]).includes(finding.kind) || (failOn as readonly string[]).includes(finding.kind);
}

export function fingerprint(kind: DriftFinding["kind"], subject: string | number, attribute = ""): string {
  return createHash("sha256").update(`${kind}\u0000${subject}\u0000${attribute}`).digest("hex");
}

/** The plan's drift: every finding the shard file's `drift.ignore` rules do not leave out. */
export function computeDrift(facts: Facts): DriftFinding[] {
  return findingsOf(facts).findings;
}

function findingsOf(facts: Facts): { findings: DriftFinding[]; ignored: number } {
  const all = allFindings(facts);
  const rules = facts.desired.drift?.ignore ?? [];
  if (rules.length === 0) return { findings: all, ignored: 0 };
  const matchers = rules.map(ruleMatcher);
  // Filtering leaves every other finding, and so its fingerprint, exactly as it was.
  const findings = all.filter((f) => !matchers.some((m) => m(subjectOf(facts, f))));
  return { findings, ignored: all.length - findings.length };
}

interface Subject {
  names: string[];
  vmid?: number;
  tags: readonly string[];
}

/** The VM a finding is about: its instance ID and live name, its VMID, its live tags. */
function subjectOf(facts: Facts, f: DriftFinding): Subject {
  const vm = f.vmid !== undefined ? facts.vmByVmid.get(f.vmid) : undefined;
  // A `missing` finding's recorded VMID may be another VM's by now: its tags are not this one's.
  const same = vm && (f.kind !== "missing" || vm.name === f.instanceId);
  const names = [f.instanceId, same ? vm.name : undefined].filter((n): n is string => n !== undefined && n !== "");
  return { names, vmid: f.vmid, tags: same ? vm.tags : [] };
}

function ruleMatcher(rule: DriftIgnoreRule): (s: Subject) => boolean {
  if ("vmid" in rule) return (s) => s.vmid === rule.vmid;
  if ("name" in rule) {
    const re = globRegExp(rule.name, false);
    return (s) => s.names.some((n) => re.test(n));
  }
  // PVE stores tags lower-cased (pve-api.md), so a tag rule matches without regard to case.
  const re = globRegExp(rule.tag, true);
  return (s) => s.tags.some((t) => re.test(t));
}

/** `*` any run of characters, `?` one; everything else literal; the whole string must match. */
export function globRegExp(glob: string, ignoreCase: boolean): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, ignoreCase ? "is" : "s");
}

function allFindings(facts: Facts): DriftFinding[] {
  const out: DriftFinding[] = [];
  const known = new Set<string>();
  const claimed = new Set<number>();
  for (const record of facts.records) {
    known.add(record.instanceId);
    const found = findRecordVm(facts, record);
    if (found) claimed.add(found.vm.vmid);
    if (record.phase !== "ready") continue;
    const id = record.instanceId;
    if (found && found.as !== "instance") {
      // Renamed, or an ownership tag removed: one of this shard's instances changed outside pvefleet
      // (drift, exit 2 — unlike a stranger's suspicious VM), and now out of its reach until fixed.
      const renamed = found.as === "renamed";
      out.push({
        fingerprint: fingerprint("attribute", id, renamed ? "name" : "tags"), kind: "attribute", instanceId: id, vmid: found.vm.vmid, node: found.vm.node,
        attribute: renamed ? "name" : "tags",
        expected: renamed ? id : facts.ownershipTags,
        actual: renamed ? found.vm.name : found.vm.tags,
        message: heldWarning(facts, record, found),
      });
      continue;
    }
    const vm = found?.vm;
    if (!vm) {
      out.push({
        fingerprint: fingerprint("missing", id), kind: "missing", instanceId: id, vmid: record.vmid, node: record.node,
        message: `${id} (VMID ${record.vmid} on ${record.node}) has been deleted outside of pvefleet`,
      });
      continue;
    }
    if (vm.status === "stopped" || vm.status === "suspended") {
      out.push({
        fingerprint: fingerprint("stopped", id), kind: "stopped", instanceId: id, vmid: vm.vmid, node: vm.node,
        expected: "running", actual: vm.status,
        message: `${id} (VMID ${vm.vmid}) is ${vm.status}`,
      });
    }
    for (const a of outOfBand(facts, record, vm)) {
      out.push({
        fingerprint: fingerprint("attribute", id, a.attribute), kind: "attribute", instanceId: id, vmid: vm.vmid, node: vm.node,
        attribute: a.attribute, expected: a.expected, actual: a.actual,
        message: `${id}: ${a.attribute} is ${show(a.actual)}, expected ${show(a.expected)}`,
      });
    }
  }
  const vms = facts.live.vms.filter((vm) => !vm.template).sort((a, b) => a.vmid - b.vmid);
  for (const vm of vms) {
    if (claimed.has(vm.vmid)) continue;
    if (vm.ownership === "unmanaged") {
      if (known.has(vm.name)) continue;
      out.push({
        fingerprint: fingerprint("unmanaged", vm.vmid), kind: "unmanaged", vmid: vm.vmid, node: vm.node,
        message: `VMID ${vm.vmid}${vm.name ? ` (${vm.name})` : ""} on ${vm.node} is not managed by pvefleet`,
      });
    } else if (!known.has(vm.name)) {
      const kind = vm.ownership === "ours" ? "orphan" : "suspicious";
      out.push({
        fingerprint: fingerprint(kind, vm.name || vm.vmid), kind, instanceId: vm.name || undefined, vmid: vm.vmid, node: vm.node,
        message: kind === "orphan"
          ? `${vm.name} (VMID ${vm.vmid}) carries this shard's tags but is not in the state`
          : `VMID ${vm.vmid}${vm.name ? ` (${vm.name})` : ""} has some of this shard's marks but not all; left alone`,
      });
    }
  }
  return out.sort((a, b) => kindOrder(a.kind) - kindOrder(b.kind) || cmp(a.instanceId ?? "", b.instanceId ?? "") || (a.vmid ?? 0) - (b.vmid ?? 0) || cmp(a.attribute ?? "", b.attribute ?? ""));
}

/**
 * A record's VM against what pvefleet last applied to it (rule 10): the recorded sizes, the
 * notes block and tags it wrote, where it put the VM. Never the shard file: an edited file is a
 * planned change, and replacement triggers come from the file only. Sizes are compared only when
 * the state says what was applied (see lastApplied); onboot and notes only with a per-VM read.
 */
function outOfBand(facts: Facts, record: InstanceRecord, vm: LiveVmX): { attribute: string; expected: unknown; actual: unknown }[] {
  const out: { attribute: string; expected: unknown; actual: unknown }[] = [];
  const applied = lastApplied(record, facts.groups.get(groupKey(record)));
  const detail = facts.details.get(vm.vmid);
  if (applied) {
    // vm.cores/memoryBytes are the config's (pending edits included) when read per VM, else the listing's.
    if (vm.cores !== applied.cores) out.push({ attribute: "cores", expected: applied.cores, actual: vm.cores });
    if (vm.memoryBytes !== applied.memoryMiB * MIB) out.push({ attribute: "memoryMiB", expected: applied.memoryMiB, actual: vm.memoryBytes / MIB });
    if (applied.diskBytes !== undefined && vm.diskBytes !== applied.diskBytes) out.push({ attribute: "diskBytes", expected: applied.diskBytes, actual: vm.diskBytes });
    if (detail && detail.onboot !== applied.onboot) out.push({ attribute: "onboot", expected: applied.onboot, actual: detail.onboot });
  }
  const missing = facts.ownershipTags.filter((t) => !vm.tags.includes(t));
  if (missing.length > 0) out.push({ attribute: "tags", expected: facts.hooks.withOwnershipTags(vm.tags, facts.desired.clusterId, facts.desired.shardId), actual: vm.tags });
  if (detail) {
    const expected = expectedNotes(record);
    if (!notesMatch(facts.hooks.notes.parse(detail.description), expected)) {
      out.push({ attribute: "notes", expected: facts.hooks.notes.compose(detail.description, expected), actual: detail.description });
    }
  }
  if (vm.node !== record.node) out.push({ attribute: "node", expected: record.node, actual: vm.node });
  if (vm.vmid !== record.vmid) out.push({ attribute: "vmid", expected: record.vmid, actual: vm.vmid });
  return out;
}

const KIND_ORDER: DriftFinding["kind"][] = ["missing", "stopped", "attribute", "orphan", "suspicious", "unmanaged"];
function kindOrder(k: DriftFinding["kind"]): number {
  return KIND_ORDER.indexOf(k);
}

function show(v: unknown): string {
  if (typeof v === "string") return v.includes("\n") ? `${JSON.stringify(v.slice(0, 40))}…` : JSON.stringify(v);
  return JSON.stringify(v);
}
