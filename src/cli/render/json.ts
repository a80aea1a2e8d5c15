/**
 * Machine-readable output, versioned and documented in src/cli/README.md ("JSON schemas"):
 * `plan --format json` / `show --format json` (shaped like `terraform show -json`'s
 * `resource_changes`), `drift --format json` (driftctl-style summary + findings with fingerprints).
 * A new field is a minor version bump; a removed or renamed one is a major bump.
 *
 * Plan 2.0: `before` and `after` are one schema (VmValuesJson: the same keys, snake_case, sizes in
 * bytes on both sides); each change has Terraform's `type`/`mode`/`name`/`index`/`provider_name`;
 * userdata and vars are sensitive — their values are never written (the placeholder
 * "(sensitive value)"), `before_sensitive`/`after_sensitive` mark them as Terraform does; a
 * replacement names what forces it in `replace_paths`.
 */
import type { DriftFinding, InstanceChange, Plan, RefreshReport } from "../../planner/types.js";
import type { LiveVm } from "../../providers/types.js";
import { VERSION } from "../../version.js";
import { planHash, driftDigest, isSensitiveAttribute } from "./markdown.js";
import { inSync, type DriftReport } from "./text.js";
import { addressOf, countChanges, DISPLAY, displayOf, groupName, hasChanges } from "./vocabulary.js";

export const PLAN_JSON_FORMAT_VERSION = "2.0";

/** What JSON writes instead of a sensitive value (userdata, vars), as Terraform's human output says it. */
export const SENSITIVE = "(sensitive value)";
const MIB = 1024 * 1024;
export const DRIFT_JSON_FORMAT_VERSION = "1.1";

/**
 * `action_reason`: the planner's typed reason (src/planner/types.ts CHANGE_REASONS), spelled as
 * Terraform spells it where Terraform has one (`replace_because_cannot_update`,
 * `replace_by_request`, `delete_because_…`); pvefleet's own otherwise.
 */
function actionReason(plan: Plan, i: number): string {
  return plan.changes[i]!.reason;
}

export interface PlanJson {
  format_version: string;
  pvefleet_version: string;
  cluster_id: string;
  shard_id: string;
  mode: Plan["mode"];
  created_at: string;
  plan_hash: string;
  prior_state: { lineage: string; serial: number };
  config_digest: string;
  applyable: boolean;
  summary: { add: number; change: number; destroy: number; adopt: number; forget: number; record: number };
  resource_changes: ResourceChangeJson[];
  resource_drift: DriftFindingJson[];
  capacity: { node: string; maxcpu: number; maxmem_bytes: number; before: { cores: number; mem_bytes: number }; after: { cores: number; mem_bytes: number } }[];
  counts: Plan["counts"];
  warnings: string[];
  /** 1.1: how the cluster was read (absent for a plan made without the engine). */
  refresh?: RefreshJson;
}

export interface RefreshJson {
  policy: RefreshReport["policy"];
  listings: number;
  config_reads: number;
  status_reads: number;
  /** API calls the refresh made: listings + config reads + status reads. */
  api_calls: number;
}

function refreshJson(r: RefreshReport | undefined): RefreshJson | undefined {
  if (!r) return undefined;
  return { policy: r.policy, listings: r.listings, config_reads: r.configReads, status_reads: r.statusReads, api_calls: r.listings + r.configReads + r.statusReads };
}

/**
 * One VM as `before` (what Proxmox reported) and `after` (what the plan makes of it): the same keys
 * on both sides, null where that side does not know the value (the live listing does not report
 * storage, bridge, userdata…; `change.attributes` is the diff that matters). Sizes in bytes.
 */
export interface VmValuesJson {
  name: string | null;
  node: string | null;
  vmid: number | null;
  status: string | null;
  /** Whether the VM is itself a Proxmox template. */
  is_template: boolean | null;
  /** The template it is cloned from: its name, or "VMID n". */
  template: string | null;
  kind: string | null;
  arch: string | null;
  cores: number | null;
  memory_bytes: number | null;
  /** null: the template's disk is kept. */
  disk_bytes: number | null;
  storage: string | null;
  bridge: string | null;
  vlan: number | null;
  onboot: boolean | null;
  pool: string | null;
  tags: string[] | null;
  lock: string | null;
  instance_type: string | null;
  subnet_pool: string | null;
  /** Sensitive: "(sensitive value)" when there is userdata, else null. */
  userdata: string | null;
  /** Sensitive: the names, each with "(sensitive value)". */
  vars: Record<string, string> | null;
}

/** Terraform's `before_sensitive`/`after_sensitive`: false for an absent side, else the sensitive keys. */
export type SensitiveJson = false | { userdata: true; vars: true };

export interface ResourceChangeJson {
  address: string;
  /** 2.0: Terraform's resource identification (conftest's tfplan helpers key on `type`). */
  mode: "managed";
  type: "pvefleet_vm";
  name: string;
  index: string;
  provider_name: "pvefleet/proxmox";
  instance_id: string;
  group: string;
  kind: string;
  change: {
    actions: string[];
    before: VmValuesJson | null;
    after: VmValuesJson | null;
    before_sensitive: SensitiveJson;
    after_sensitive: SensitiveJson;
    /** 2.0, on a replacement forced by attributes: their paths in `after` (Terraform's replace_paths), e.g. [["userdata"], ["vars", "TOKEN"]]. */
    replace_paths?: string[][];
    attributes: { attribute: string; before: unknown; after: unknown; forces_replacement: boolean; sensitive?: true }[];
  };
  action_reason?: string;
  reasons: string[];
  placement?: { node: string; vmid: number; scores: Record<string, number> };
  replaces?: string;
  resume_from?: string;
}

export interface DriftFindingJson {
  fingerprint: string;
  kind: DriftFinding["kind"];
  instance_id?: string;
  vmid?: number;
  node?: string;
  attribute?: string;
  expected?: unknown;
  actual?: unknown;
  message: string;
}

function findingJson(f: DriftFinding): DriftFindingJson {
  const hidden = f.attribute !== undefined && isSensitiveAttribute(f.attribute);
  return {
    fingerprint: f.fingerprint, kind: f.kind, instance_id: f.instanceId, vmid: f.vmid, node: f.node,
    attribute: f.attribute, expected: hidden && f.expected !== undefined ? SENSITIVE : f.expected, actual: hidden && f.actual !== undefined ? SENSITIVE : f.actual, message: f.message,
  };
}

const NULL_VM: VmValuesJson = {
  name: null, node: null, vmid: null, status: null, is_template: null, template: null, kind: null, arch: null, cores: null,
  memory_bytes: null, disk_bytes: null, storage: null, bridge: null, vlan: null, onboot: null, pool: null, tags: null, lock: null,
  instance_type: null, subnet_pool: null, userdata: null, vars: null,
};
const SENSITIVE_KEYS = { userdata: true, vars: true } as const;

function beforeJson(vm: LiveVm): VmValuesJson {
  return {
    ...NULL_VM, name: vm.name, node: vm.node, vmid: vm.vmid, status: vm.status, is_template: vm.template, cores: vm.cores,
    memory_bytes: vm.memoryBytes, disk_bytes: vm.diskBytes, pool: vm.pool ?? null, tags: vm.tags, lock: vm.lock ?? null,
  };
}

/** What the plan makes of the VM: the spec, where it goes (a new VM's placement, else where it is), never a sensitive value. */
function afterJson(c: InstanceChange): VmValuesJson | null {
  const spec = c.after;
  if (!spec || c.kind === "delete" || c.kind === "forget") return null;
  const fresh = c.kind === "create" || c.kind === "replace";
  const at = c.placement ?? c.before;
  return {
    name: c.kind === "replace" && c.replaces !== undefined ? c.replaces : c.instanceId,
    node: at?.node ?? null,
    vmid: at?.vmid ?? null,
    status: fresh || c.kind === "start" ? "running" : c.before?.status ?? null,
    is_template: false,
    template: "name" in spec.template ? spec.template.name : `VMID ${spec.template.vmid}`,
    kind: spec.kind, arch: spec.arch, cores: spec.cores, memory_bytes: spec.memoryMiB * MIB, disk_bytes: spec.diskBytes ?? null,
    storage: spec.storage, bridge: spec.bridge ?? null, vlan: spec.vlan ?? null, onboot: spec.onboot, pool: spec.pool ?? null,
    // The ownership tags are the provider's; a VM kept keeps the ones it has.
    tags: fresh ? null : c.before?.tags ?? null,
    lock: null, instance_type: spec.instanceType ?? null, subnet_pool: spec.subnetPool ?? null,
    userdata: spec.userdata ? SENSITIVE : null,
    vars: Object.fromEntries(Object.keys(spec.vars ?? {}).map((k) => [k, SENSITIVE])),
  };
}

/** A replace-forcing attribute (forcedBy) as a path in VmValuesJson. */
function replacePath(attribute: string): string[] {
  if (attribute.startsWith("vars.")) return ["vars", attribute.slice("vars.".length)];
  return [{ diskBytes: "disk_bytes", templateKey: "template_key" }[attribute] ?? attribute];
}

function attributeJson(a: InstanceChange["attributes"][number]): ResourceChangeJson["change"]["attributes"][number] {
  const hidden = a.sensitive === true || isSensitiveAttribute(a.attribute);
  const shown = (v: unknown) => (hidden && v !== undefined && v !== null ? SENSITIVE : v);
  return { attribute: a.attribute, before: shown(a.before), after: shown(a.after), forces_replacement: a.forcesReplacement, ...(hidden ? { sensitive: true as const } : {}) };
}

function changeJson(plan: Plan, c: InstanceChange, i: number): ResourceChangeJson {
  const before = c.before ? beforeJson(c.before) : null;
  const after = afterJson(c);
  return {
    address: addressOf(c),
    mode: "managed",
    type: "pvefleet_vm",
    name: groupName(c),
    index: c.instanceId,
    provider_name: "pvefleet/proxmox",
    instance_id: c.instanceId,
    group: groupName(c),
    kind: c.kind,
    change: {
      actions: DISPLAY[displayOf(c, plan)].actions,
      before,
      after,
      before_sensitive: before ? SENSITIVE_KEYS : false,
      after_sensitive: after ? SENSITIVE_KEYS : false,
      ...(c.forcedBy && c.forcedBy.length > 0 ? { replace_paths: c.forcedBy.map((f) => replacePath(f.attribute)) } : {}),
      attributes: c.attributes.map(attributeJson),
    },
    action_reason: actionReason(plan, i),
    reasons: c.reasons,
    placement: c.placement,
    replaces: c.replaces,
    resume_from: c.resumeFrom,
  };
}

export function planToJson(plan: Plan): PlanJson {
  const counts = countChanges(plan);
  return {
    format_version: PLAN_JSON_FORMAT_VERSION,
    pvefleet_version: VERSION,
    cluster_id: plan.clusterId,
    shard_id: plan.shardId,
    mode: plan.mode,
    created_at: plan.createdAt,
    plan_hash: planHash(plan),
    prior_state: { lineage: plan.state.lineage, serial: plan.state.serial },
    config_digest: plan.configDigest,
    applyable: hasChanges(plan),
    summary: { add: plan.summary.add, change: plan.summary.change, destroy: plan.summary.destroy, adopt: counts.adopt, forget: counts.forget, record: counts.record },
    resource_changes: plan.changes.map((c, i) => changeJson(plan, c, i)),
    resource_drift: plan.drift.map(findingJson),
    capacity: plan.capacity.map((n) => ({
      node: n.node, maxcpu: n.maxcpu, maxmem_bytes: n.maxmemBytes,
      before: { cores: n.before.cores, mem_bytes: n.before.memBytes }, after: { cores: n.after.cores, mem_bytes: n.after.memBytes },
    })),
    counts: plan.counts,
    warnings: plan.warnings,
    refresh: refreshJson(plan.refresh),
  };
}

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(planToJson(plan), null, 2)}\n`;
}

export interface DriftJson {
  format_version: string;
  pvefleet_version: string;
  cluster_id: string;
  shard_id: string;
  in_sync: boolean;
  digest: string;
  summary: { total: number; attribute: number; missing: number; stopped: number; orphan: number; suspicious: number; unmanaged: number; managed_vms?: number; ignored: number };
  /** 1.1: information kinds counted as drift (`--fail-on`); unmanaged and suspicious are information otherwise. */
  fail_on: string[];
  findings: DriftFindingJson[];
  /** 1.1: how the cluster was read. */
  refresh?: RefreshJson;
}

export function driftToJson(report: DriftReport): DriftJson {
  const n = (k: DriftFinding["kind"]) => report.findings.filter((f) => f.kind === k).length;
  return {
    format_version: DRIFT_JSON_FORMAT_VERSION,
    pvefleet_version: VERSION,
    cluster_id: report.clusterId,
    shard_id: report.shardId,
    in_sync: inSync(report),
    digest: driftDigest(report.findings),
    summary: {
      total: report.findings.length, attribute: n("attribute"), missing: n("missing"), stopped: n("stopped"),
      orphan: n("orphan"), suspicious: n("suspicious"), unmanaged: n("unmanaged"), managed_vms: report.managed,
      ignored: report.ignored ?? 0,
    },
    fail_on: [...(report.failOn ?? [])],
    findings: report.findings.map(findingJson),
    refresh: refreshJson(report.refresh),
  };
}

export function renderDriftJson(report: DriftReport): string {
  return `${JSON.stringify(driftToJson(report), null, 2)}\n`;
}
