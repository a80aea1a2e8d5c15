/**
 * The provider contract: everything the engine (planner, applier, state, CLI) knows about a
 * provider, and the only provider module they import. A provider reports the cluster as plain
 * facts (LiveShard, VmDetail), lends the planner its pure codecs (PlanningHooks), and carries out
 * the plan's actions. Proxmox (src/providers/proxmox) is the one implementation; a second one
 * starts here. This module is pure: types, zod schemas and constants, no I/O.
 *
 * The create chain and the action vocabulary are written once, below, as zod enums; the state
 * document, saved plans, the planner, the applier and the privilege map derive from them, so a new
 * step is a compile error everywhere it must be handled.
 */
import { z } from "zod";
import type { ProxmoxOptions } from "../config/model.js";

// ---- the vocabulary -------------------------------------------------------------------------

/** A create's steps in order; a record's `stepsDone` is a subset (state document, write-ahead). */
export const CREATE_STEPS = ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"] as const;
export const CreateStepSchema = z.enum(CREATE_STEPS);
export type CreateStep = z.infer<typeof CreateStepSchema>;

export function isCreateStep(value: string): value is CreateStep {
  return (CREATE_STEPS as readonly string[]).includes(value);
}

/**
 * Every action a plan can hold: the create chain (`attach-iso` and `tag` are steps of a configure,
 * kept in CREATE_STEPS so old state documents load, never actions), the delete chain, and two that
 * only touch the state (no provider call).
 */
export const ACTION_TYPES = ["clone", "upload-iso", "configure", "resize", "start", "stop", "delete-vm", "delete-iso", "record-state", "forget-state"] as const;
export const ActionTypeSchema = z.enum(ACTION_TYPES);
export type ActionType = z.infer<typeof ActionTypeSchema>;

/** Actions that only write the state document: no provider call, no privilege. */
export const STATE_ONLY_ACTIONS: readonly ActionType[] = ["record-state", "forget-state"];

// ---- what each action asks of the provider (the plan writes it whole; nothing is re-derived) ----

const TemplateRefSchema = z.union([
  z.object({ name: z.string().min(1) }).strict(),
  z.object({ vmid: z.number().int(), node: z.string().optional() }).strict(),
]);

export const TemplateDataSchema = z.object({
  Instance: z.object({ ID: z.string(), Kind: z.string(), Arch: z.string(), Type: z.string(), Hostname: z.string() }).strict(),
  Vars: z.record(z.string(), z.string()),
  Cluster: z.object({ ID: z.string() }).strict(),
  Server: z.object({ Shard: z.string() }).strict(),
  Provider: z.object({ Kind: z.string(), Region: z.string(), Zone: z.string() }).strict(),
}).strict();

const NotesSchema = z.object({ group: z.string().optional(), kind: z.string().optional(), template: z.string().optional(), created: z.string().optional() }).strict();

/** Per action type, the parameters a provider needs to carry it out. */
export const ACTION_PARAMS = {
  clone: z.object({
    template: TemplateRefSchema,
    storage: z.string().min(1),
    pool: z.string().optional(),
    /** Full clone (else linked). */
    full: z.boolean(),
  }).strict(),
  "upload-iso": z.object({
    storage: z.string().min(1),
    filename: z.string().min(1),
    volume: z.string().min(1),
    /** What the userdata is rendered with; the userdata itself is the change's `after.userdata`. */
    templateData: TemplateDataSchema,
  }).strict(),
  configure: z.object({
    cores: z.number().int().positive().optional(),
    memoryMiB: z.number().int().positive().optional(),
    net: z.object({ bridge: z.string(), vlan: z.number().int().optional() }).strict().optional(),
    onboot: z.boolean().optional(),
    tags: z.array(z.string()).optional(),
    /** The whole description to write (operator text + managed block)… */
    description: z.string().optional(),
    /** …or, for a new VM, just the managed block (the template's description is replaced). */
    notes: NotesSchema.optional(),
    /** `<storage>:iso/<file>` to attach as the cloud-init drive; null detaches. */
    isoVolume: z.string().nullable().optional(),
    /** The config digest the plan saw: the write is refused if the VM changed since. */
    digest: z.string().optional(),
    /** The create chain's configure, which writes the ownership tags onto its own fresh clone. */
    fresh: z.literal(true).optional(),
  }).strict(),
  /**
   * `disk`: the drive to grow, a disk-bus key PVE accepts (ide0-3, sata0-5, scsi0-30, virtio0-15);
   * absent: the VM's boot disk, from its `boot` order, found by the provider when it resizes (a
   * new VM's is its template's). Plans saved with `"scsi0"` still load.
   */
  resize: z.object({
    disk: z.string().regex(/^(?:ide[0-3]|sata[0-5]|scsi(?:[0-9]|[12][0-9]|30)|virtio(?:[0-9]|1[0-5]))$/, "a disk such as scsi0, virtio0 or sata0").optional(),
    bytes: z.number().int().positive(),
  }).strict(),
  start: z.object({ reason: z.literal("restart").optional() }).strict(),
  stop: z.object({ timeoutSec: z.number().int().nonnegative().optional(), reason: z.literal("restart").optional() }).strict(),
  "delete-vm": z.object({ digest: z.string().optional() }).strict(),
  "delete-iso": z.object({ volume: z.string().min(1) }).strict(),
  "record-state": z.object({}).strict(),
  "forget-state": z.object({}).strict(),
} satisfies Record<ActionType, z.ZodType>;

export type ActionParams<T extends ActionType = ActionType> = { [K in ActionType]: z.infer<(typeof ACTION_PARAMS)[K]> }[T];

// ---- what a provider reports ------------------------------------------------------------------

/** Guide status mapping: running → Running, stopped → Stopped, paused (qmpstatus) → Suspended, else Unknown. */
export type VmStatus = "running" | "stopped" | "suspended" | "unknown";

export interface LiveVm {
  vmid: number;
  name: string; // "" when PVE has no name yet, or the listing shows its `VM <vmid>` placeholder
  node: string;
  status: VmStatus;
  template: boolean;
  tags: string[]; // normalised: split on , ; space, lower-case, sorted, de-duplicated
  cores: number; // maxcpu
  memoryBytes: number; // maxmem
  diskBytes: number; // maxdisk
  lock?: string;
  pool?: string;
}

/** How a VM relates to this shard (rule 2 of ARCHITECTURE.md). */
export type Ownership =
  | "ours" // all three tags and an instance-ID name
  | "suspicious" // the name but not all tags, or all tags but not the name: never changed
  | "unmanaged"; // no ownership tags: counted, never changed

export interface LiveNode {
  node: string;
  online: boolean;
  maxcpu: number;
  cpu: number; // fraction 0..1
  maxmem: number; // bytes
  mem: number; // bytes
}

export interface LiveStorage {
  node: string;
  storage: string;
  plugintype: string;
  shared: boolean;
  content: string[];
  available: boolean;
  diskBytes: number;
  maxdiskBytes: number;
}

export interface LiveShard {
  fetchedAt: string;
  vms: (LiveVm & { ownership: Ownership })[]; // every qemu VM, templates included
  nodes: LiveNode[];
  storages?: LiveStorage[];
  /** Number of API calls the refresh made (2 expected; 3 with storages). */
  apiCalls: number;
  /** Every VMID in use cluster-wide (qemu and lxc share the id space), for VMID choice. */
  usedVmids?: number[];
}

/** Facts only a per-VM config read can give (the planner asks for these explicitly). */
export interface VmDetail {
  vmid: number;
  node: string;
  digest: string;
  description: string;
  net0?: string;
  ide2?: string;
  boot?: string;
  onboot: boolean;
  cores: number;
  memoryMiB: number;
  scsi0?: string;
  /** The boot disk's drive key (first disk of the `boot` order, else `bootdisk`, else the first disk) and its value. */
  diskKey?: string;
  disk?: string;
  tags: string[];
  lock?: string;
  /** Only with `details(vms, { status: true })`: status/current mapped with qmpstatus (paused → suspended). */
  status?: VmStatus;
  /** The config's `name` (the listing lags it on a new VM: rule 20 of pve-api.md §7). */
  name?: string;
  /**
   * Only with `status: true` on a running VM: the sizes QEMU runs with (status/current `cpus`,
   * `maxmem`). `cores`/`memoryMiB` above come from `config`, which includes changes still
   * `[PENDING]` until a restart; the two differ exactly when a cold change waits for a restart.
   */
  running?: { cores: number; memoryMiB: number };
}

// ---- what the planner borrows from the provider -----------------------------------------------

/** The managed notes block's fields (Nstance's); `group` is `tenant.group`. */
export interface NotesBlockFields {
  group?: string;
  kind?: string;
  template?: string;
  created?: string;
}

/** How a provider reads and writes its managed notes block in a VM description. */
export interface NotesCodec {
  parse(description: string): NotesBlockFields | undefined;
  /** The description with the managed block replaced (or appended), operator text kept. */
  compose(description: string, block: NotesBlockFields): string;
}

/** One plan's reservations on the nodes: each place() books the VM on the node it returns. */
export interface PlacementLedger {
  /**
   * `spread`: how many instances of the VM's group each node already holds; only the nodes holding
   * the fewest (that fit the VM) are candidates — soft anti-affinity — and the scheduler ranks them.
   */
  place(vm: { cores: number; memoryBytes: number }, spread?: Record<string, number>): { node: string; scores: Record<string, number> } | { error: string };
}

export type CreatePlacementLedger = (nodes: LiveNode[], scheduler: ProxmoxOptions["scheduler"]) => PlacementLedger;

/**
 * The provider's pure knowledge the planner needs, passed in (never imported) so the planner has
 * no path to a provider's HTTP client: who owns a VM, which tags mark ownership, the notes codec,
 * placement, and the provider's size syntax.
 */
export interface PlanningHooks {
  /** ours / suspicious / unmanaged for a VM's name and tags (ARCHITECTURE.md rule 2). */
  ownershipOf(vm: { name: string; tags: readonly string[] }, clusterId: string, shardId: string): Ownership;
  /** The ownership tags, normalised as the provider stores them. */
  ownershipTags(clusterId: string, shardId: string): string[];
  /** A VM's tags with the ownership tags added, normalised (operator tags kept). */
  withOwnershipTags(tags: readonly string[], clusterId: string, shardId: string): string[];
  notes: NotesCodec;
  createPlacementLedger: CreatePlacementLedger;
  /** A size as the provider writes it (`32G`, `512M`) → bytes; throws on a malformed size. */
  parseSize(size: string): number;
  /** True for a name that is an instance ID. */
  isInstanceId(name: string): boolean;
  /**
   * VMIDs for new VMs, from one snapshot of the VMIDs in use (PVE cannot reserve them): the one
   * allocator and policy of the codebase, shared by the plan and the provider's clone.
   */
  createVmidAllocator(used: Iterable<number>, range: { min: number; max: number }): VmidAllocation;
}

/** Hands out VMIDs no VM in the snapshot uses and no earlier call handed out. */
export interface VmidAllocation {
  next(): number;
  /** Marks a VMID taken (a resumed create keeping its recorded one; a VMID the provider moved to). */
  reserve(vmid: number): void;
}

// ---- what a provider does ----------------------------------------------------------------------

/** The VM an action is for: where it is now, and whose it must be (the provider checks, rule 2). */
export interface ActionTarget {
  node: string;
  vmid: number;
  instanceId: string;
}

/** One action as the provider receives it: its type and typed params, and where it applies. */
export type ProviderAction = { [K in ActionType]: { type: K; params: ActionParams<K> } }[ActionType];

/** A planned action as the preflight reads it: what, for which instance, where. */
export type PreflightAction = ProviderAction & { instanceId: string; node: string; vmid: number };

/** One missing thing the plan needs, and how to fix it (a command where there is one). */
export interface PreflightProblem {
  message: string;
  fix: string;
}

/** The plan-time preflight's result: nothing missing when `problems` is empty. */
export interface PreflightReport {
  problems: PreflightProblem[];
  /** API requests the preflight made. */
  requests: number;
}

/** What the applier knows that the plan could not: where the VM is now, and the change's spec. */
export interface RunContext {
  target: ActionTarget;
  /** The userdata of the change (upload-iso renders it; too large to copy into every action). */
  userdata?: import("../config/model.js").UserdataSpec;
  /** A clone that an earlier, interrupted attempt may already have made. */
  resumed?: boolean;
  /** Default graceful-shutdown timeout for a stop without one. */
  shutdownTimeoutSec: number;
}

/** What the state learns from an action: the placement a clone got, the ISO volume an upload made. */
export interface ActionOutcome {
  node?: string;
  vmid?: number;
  isoVolume?: string;
}

/**
 * A provider as the engine uses it. Every action is idempotent (safe to run again after a crash),
 * and every change to an existing VM is preceded by the ownership check.
 */
export interface Provider {
  readonly kind: string;
  readonly hooks: PlanningHooks;
  refresh(options?: { storages?: boolean }): Promise<LiveShard>;
  details(vms: { node: string; vmid: number }[], options?: { status?: boolean }): Promise<VmDetail[]>;
  /**
   * Plan time, before anything is shown: everything the plan's actions need from the cluster —
   * templates on the chosen nodes, storages with the right content, bridges, pools — and every
   * privilege the cluster will check for them, on the paths it checks them. Reports each missing
   * thing with its fix; throws only when the cluster cannot be asked.
   */
  checkPlan(actions: readonly PreflightAction[], facts: { live: LiveShard; details?: readonly VmDetail[] }): Promise<PreflightReport>;
  /** Before the first change: fails listing every privilege the credentials hold nowhere for these actions. */
  preflight(actions: readonly ActionType[]): Promise<void>;
  run(action: ProviderAction, context: RunContext): Promise<ActionOutcome>;
  close(): Promise<void>;
}
