/**
 * The plan: plain, versioned, JSON-serialisable data. Produced by `plan()` (pure), rendered by
 * src/cli, walked by src/applier, saved with `plan --out`.
 */
import type { GroupRef, VmSpec } from "../config/model.js";
import type { LiveVm, Ownership } from "../providers/proxmox/types.js";
import type { CreateStep } from "../state/types.js";

/** What a plan does to one instance. The order is the order humans read a plan in. */
export type ChangeKind = "create" | "update" | "replace" | "start" | "delete" | "adopt" | "forget" | "record";

/** One attribute difference, e.g. { attribute: "cores", before: 2, after: 4, forcesReplacement: false }. */
export interface AttributeChange {
  attribute: string;
  before: unknown;
  after: unknown;
  forcesReplacement: boolean;
}

export interface InstanceChange {
  instanceId: string; // the VM name; the only identity
  group: GroupRef;
  kind: ChangeKind;
  reasons: string[]; // "size 3 > 2", "cores 2 → 4", "stopped out of band", …
  attributes: AttributeChange[];
  before?: LiveVm; // what Proxmox reported
  after?: VmSpec; // what the shard file asks for
  /** Where a new VM goes, and the TOPSIS scores that chose it. */
  placement?: { node: string; vmid: number; scores: Record<string, number> };
  /** For a replacement: the instance this one replaces (or is replaced by). */
  replaces?: string;
  /** For a resumed create: the steps already done. */
  resumeFrom?: CreateStep;
}

export type ActionType =
  | "clone" | "configure" | "resize" | "upload-iso" | "attach-iso" | "tag" | "start"
  | "stop" | "delete-iso" | "delete-vm" | "record-state" | "forget-state";

export interface Action {
  id: string; // `${instanceId}:${type}`
  instanceId: string;
  type: ActionType;
  node: string;
  vmid: number;
  dependsOn: string[]; // action ids
  /** Parameters the applier needs (storage, iso name, config fields …); plain JSON. */
  params: Record<string, unknown>;
}

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
  formatVersion: 1;
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
}

export type { Ownership };

// ---- Planner inputs (added by the planner; additive) ----

/** One plan's reservations on the nodes: each place() books the VM on the node it returns. */
export interface PlacementLedger {
  place(vm: { cores: number; memoryBytes: number }): { node: string; scores: Record<string, number> } | { error: string };
}

/** `createPlacementLedger` of src/providers/proxmox/scheduler.ts. */
export type CreatePlacementLedger = (
  nodes: import("../providers/proxmox/types.js").LiveNode[],
  scheduler: import("../config/model.js").ProxmoxOptions["scheduler"],
) => PlacementLedger;

/** The managed notes block's fields (nstance.md §5); `group` is `tenant.group`. */
export interface NotesBlockFields {
  group?: string;
  kind?: string;
  template?: string;
  created?: string;
}

/** `parseNotesBlock` / `composeDescription` of src/providers/proxmox/notes-block.ts. */
export interface NotesCodec {
  parse(description: string): NotesBlockFields | undefined;
  /** The description with the managed block replaced (or appended), operator text kept. */
  compose(description: string, block: NotesBlockFields): string;
}

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
  /** Default: createPlacementLedger of src/providers/proxmox/scheduler.ts. */
  createPlacementLedger?: CreatePlacementLedger;
  /** Default: the provider's notes-block codec; used only when details are given. */
  notes?: NotesCodec;
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
