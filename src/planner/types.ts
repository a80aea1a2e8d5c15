/**
 * The plan: plain, versioned, JSON-serialisable data. Produced by `plan()` (pure), rendered by
 * src/cli, walked by src/applier, saved with `plan --out`.
 */
import type { GroupRef, VmSpec } from "../config/model.js";
import type { ActionParams, ActionType, CreateStep, LiveVm, Ownership, PlanningHooks, PreflightReport } from "../providers/types.js";
import type { InstanceRecord } from "../state/types.js";

export type { ActionType, CreatePlacementLedger, NotesBlockFields, NotesCodec, PlacementLedger, PlanningHooks } from "../providers/types.js";

/** What a plan does to one instance. The order is the order humans read a plan in. */
export type ChangeKind = "create" | "update" | "replace" | "start" | "delete" | "adopt" | "forget" | "record";

/** One attribute difference, e.g. { attribute: "cores", before: 2, after: 4, forcesReplacement: false }. */
export interface AttributeChange {
  attribute: string;
  before: unknown;
  after: unknown;
  forcesReplacement: boolean;
  /** Userdata and vars: `before`/`after` are the placeholder "(sensitive value)", never the text. */
  sensitive?: true;
}

/**
 * One attribute that forces a replacement, as data (`InstanceChange.forcedBy`). Attributes:
 * `template` (the Proxmox template cloned from: its name, or "VMID n"), `templateKey` (the shard
 * file's template the group uses), `kind`, `arch`, `storage`, `bridge`, `vlan`, `pool`,
 * `userdata`, `vars.<NAME>`, `diskBytes` (a shrink), or `spec` when the state recorded only the
 * hash (a record written before pvefleet kept the replace-forcing attributes).
 */
export interface ReplaceCause {
  attribute: string;
  /** Old and new value; absent when `sensitive` (userdata, vars) or unknown (`spec`). */
  before?: unknown;
  after?: unknown;
  /** Userdata and vars: render only `linesChanged`, never values, in markdown, JSON and saved plans. */
  sensitive: boolean;
  /** userdata: lines added plus lines removed. */
  linesChanged?: number;
  /**
   * userdata: the unified diff's lines (`@@` hunk headers, then ` `/`+`/`-` lines, 3 of context),
   * of the decoded text before per-instance rendering. Sensitive: for the text plan on a terminal
   * only; a saved plan (`serializePlan`) leaves it out. The array is shared by every change of the
   * group (one diff per group, not per instance).
   */
  diff?: string[];
  /** A sentence for people: "userdata changed (sensitive, 3 lines changed)", "template debian-12 → debian-13". */
  message: string;
}

/**
 * Why a change is in the plan, as data (OpenTofu's ActionReason): views and JSON read it instead of
 * parsing `reasons`, which are for people. Not used for any decision during apply.
 */
export const CHANGE_REASONS = [
  "create_because_scale_up", // the group is below its size
  "create_because_resume", // an interrupted create finishes
  "update_because_changed", // an in-place difference (sizes, onboot, notes, tags, disk growth, restart)
  "start_because_stopped",
  "replace_because_cannot_update", // a replace-forcing attribute differs (template, userdata, disk shrink…)
  "replace_by_request", // --replace
  "delete_because_scale_down",
  "delete_because_group_removed", // its group is no longer in the shard file
  "delete_because_destroy_mode",
  "delete_because_orphan_gc", // --gc
  "delete_because_interrupted", // an interrupted delete finishes
  "forget_because_missing", // deleted out of band
  "forget_because_abandoned", // an uncloned create for an outdated spec
  "adopt_because_orphan", // --adopt
  "record_because_observed", // node/VMID moved, or bookkeeping only
] as const;
export type ChangeReason = (typeof CHANGE_REASONS)[number];

export interface InstanceChange {
  instanceId: string; // the VM name; the only identity
  group: GroupRef;
  kind: ChangeKind;
  /** Why, as data (for views and JSON); `reasons` says it in words. */
  reason: ChangeReason;
  reasons: string[]; // "size 3 > 2", "cores 2 → 4", "stopped out of band", …
  attributes: AttributeChange[];
  before?: LiveVm; // what Proxmox reported
  after?: VmSpec; // what the shard file asks for
  /** Where a new VM goes, and the TOPSIS scores that chose it. */
  placement?: { node: string; vmid: number; scores: Record<string, number> };
  /**
   * On a `replace` change (instanceId = the old instance): its successor's instance ID. On a
   * `create` that refills a VM deleted out of band: the lost instance's ID.
   */
  replaces?: string;
  /** On a `replace`: the new VM is created and started before the old one is stopped (create-first), or the reverse. */
  replaceOrder?: "create-first" | "delete-first";
  /** For a resumed create: the steps already done. */
  resumeFrom?: CreateStep;
  /** On a `replace`: the attributes that force it (empty or absent for `--replace` alone). */
  forcedBy?: ReplaceCause[];
}

/**
 * The applier's bookkeeping around an action (the state document's write-ahead journal), kept
 * apart from what the provider is asked to do.
 */
export interface ActionJournal {
  /** Create steps this action completes: joined to the record's `stepsDone` after it succeeds. */
  steps?: CreateStep[];
  /**
   * Written to the record before the action starts (write-ahead): the whole record for a create
   * (recorded as `creating` before its clone or upload can exist), a patch otherwise (`deleting`).
   */
  recordBefore?: InstanceRecord | Partial<InstanceRecord>;
  /** Merged into the record after the action succeeds. */
  record?: Partial<InstanceRecord>;
}

interface ActionBase {
  id: string; // `${instanceId}:${type}`
  instanceId: string;
  node: string;
  vmid: number;
  dependsOn: string[]; // action ids
  journal?: ActionJournal;
}

/** One step of the plan: a typed request to the provider (ACTION_PARAMS) plus its journal. */
export type Action = { [K in ActionType]: ActionBase & { type: K; params: ActionParams<K> } }[ActionType];

/** A drift finding for `pvefleet drift`, with a stable fingerprint. */
export interface DriftFinding {
  fingerprint: string; // sha256 of kind + instanceId/vmid + attribute
  kind: "attribute" | "missing" | "stopped" | "orphan" | "suspicious" | "unmanaged";
  instanceId?: string;
  vmid?: number;
  node?: string;
  attribute?: string;
  expected?: unknown;
  actual?: unknown;
  message: string;
}

export interface NodeCapacity {
  node: string;
  maxcpu: number;
  maxmemBytes: number;
  before: { cores: number; memBytes: number };
  after: { cores: number; memBytes: number };
}

export interface Plan {
  formatVersion: 2;
  createdAt: string;
  clusterId: string;
  shardId: string;
  /** The state the plan was made from: a saved plan is refused when these moved. */
  state: { lineage: string; serial: number };
  configDigest: string;
  mode: "normal" | "refresh-only" | "destroy";
  changes: InstanceChange[];
  actions: Action[];
  /** Config digest of every existing VM the plan modifies, keyed by vmid. */
  vmDigests: Record<string, string>;
  drift: DriftFinding[];
  capacity: NodeCapacity[];
  summary: { add: number; change: number; destroy: number };
  counts: { ours: number; suspicious: number; unmanaged: number; orphans: number };
  warnings: string[];
  /** How the cluster was read for this plan (set by the engine, which makes the reads). */
  refresh?: RefreshReport;
  /** What the provider's plan-time preflight found missing (set by the engine; see preflightError). */
  preflight?: PreflightReport;
}

/**
 * The refresh policy a plan or drift check ran under and the reads it made (ARCHITECTURE.md rule 9):
 *   full    — the two listings, then every VM of the shard's config (the CLI's default for plan,
 *             apply and drift): pending cores/memory, onboot and notes edits are seen;
 *   listing — the two listings, and per-VM reads only where the listing shows something to change
 *             or cannot be trusted (no name yet, stopped, sizes differ): pending changes, onboot
 *             and notes edits are not seen. For very large fleets.
 */
export interface RefreshReport {
  policy: RefreshPolicy;
  /** Cluster-wide listings (`/cluster/resources`). */
  listings: number;
  /** Per-VM config reads. */
  configReads: number;
  /** Per-VM status/current reads. */
  statusReads: number;
}

export type RefreshPolicy = "full" | "listing";
export const REFRESH_POLICIES: readonly RefreshPolicy[] = ["full", "listing"];

export type { Ownership };

// ---- Planner inputs (added by the planner; additive) ----

/**
 * Which VMs `vmsNeedingDetails` asks per-VM reads for: `none` (the two listings only; orphans
 * still when adopting), `touched` (the CLI's default for plan and apply: every VM the listing says
 * needs a change — stopped or unknown, sizes or tags differ, listed without its name — read live,
 * so a stale listing never plans a change twice), `ours` (`--deep`, drift: every VM of this shard,
 * so onboot and notes edits are seen too).
 */
export type DetailPolicy = "none" | "touched" | "ours";

/** One per-VM read `vmsNeedingDetails` asks for; `status` = also read status/current (live power state, running sizes). */
export interface DetailRequest {
  node: string;
  vmid: number;
  status?: true;
}

/** Plan options without the provider's hooks: what a command line or a saved plan records. */
export type PlanSelectors = Omit<PlanOptions, "hooks">;

export interface PlanOptions {
  mode?: Plan["mode"]; // default "normal"
  /** `tenant.group` or instance IDs; empty = everything. */
  targets?: string[];
  /** Instance IDs to replace even when nothing forces it. */
  replace?: string[];
  adopt?: boolean;
  gc?: boolean;
  ignoreCapacity?: boolean;
  /** The plan's clock; default: the refresh time (`live.fetchedAt`), so plan() never reads a clock. */
  now?: () => Date;
  /** Default: newInstanceId of src/config/instance-id.ts. */
  newInstanceId?: (kind: string) => string;
  /**
   * Required: the provider's pure codecs (ownership, tags, notes, placement, sizes) — passed in, so
   * the planner never imports a provider (test/architecture.test.ts).
   */
  hooks: PlanningHooks;
  /** Overrides of the shard's provider options. */
  scaleDownOrder?: "newest" | "oldest";
  maxSurge?: number;
  detailPolicy?: DetailPolicy;
  /**
   * Cold changes (cores, memory) on a running VM stay `[PENDING]` until a restart. When allowed,
   * the plan restarts the VM (stop → start); otherwise it warns and leaves the VM running.
   */
  allowRestart?: boolean;
}
