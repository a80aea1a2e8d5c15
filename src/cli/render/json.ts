/**
 * Machine-readable output, versioned and documented in src/cli/README.md ("JSON schemas"):
 * `plan --format json` / `show --format json` (shaped like `terraform show -json`'s
 * `resource_changes`), `drift --format json` (driftctl-style summary + findings with fingerprints).
 * A new field is a minor version bump; a removed or renamed one is a major bump.
 */
import type { DriftFinding, Plan, RefreshReport } from "../../planner/types.js";
import { VERSION } from "../../version.js";
import { planHash, driftDigest } from "./markdown.js";
import { inSync, type DriftReport } from "./text.js";
import { addressOf, countChanges, DISPLAY, displayOf, groupName, hasChanges } from "./vocabulary.js";

export const PLAN_JSON_FORMAT_VERSION = "1.1";
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

export interface ResourceChangeJson {
  address: string;
  instance_id: string;
  group: string;
  kind: string;
  change: {
    actions: string[];
    before: unknown;
    after: unknown;
    attributes: { attribute: string; before: unknown; after: unknown; forces_replacement: boolean }[];
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
  return {
    fingerprint: f.fingerprint, kind: f.kind, instance_id: f.instanceId, vmid: f.vmid, node: f.node,
    attribute: f.attribute, expected: f.expected, actual: f.actual, message: f.message,
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
    resource_changes: plan.changes.map((c, i) => ({
      address: addressOf(c),
      instance_id: c.instanceId,
      group: groupName(c),
      kind: c.kind,
      change: {
        actions: DISPLAY[displayOf(c, plan)].actions,
        before: c.before ?? null,
        after: c.after ?? null,
        attributes: c.attributes.map((a) => ({ attribute: a.attribute, before: a.before, after: a.after, forces_replacement: a.forcesReplacement })),
      },
      action_reason: actionReason(plan, i),
      reasons: c.reasons,
      placement: c.placement,
      replaces: c.replaces,
      resume_from: c.resumeFrom,
    })),
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
