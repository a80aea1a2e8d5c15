/**
 * What the provider tells the rest of pvefleet about a cluster (LiveShard) and what it can do
 * (ProxmoxOps). Plain data out, typed errors (ProxmoxError with a stable code) on failure.
 */

export type { VmStatus, LiveVm, Ownership, LiveNode, LiveStorage, LiveShard, VmDetail } from "../types.js";
import type { LiveShard, PlanningHooks, VmDetail } from "../types.js";

export interface CloneRequest {
  instanceId: string;
  node: string; // target node
  vmid: number; // preferred new VMID (from the refresh snapshot); the provider may move to the next free one
  /** `node` of a TemplateVMID: where its config lives (looked up when absent). */
  template: { name: string } | { vmid: number; node?: string };
  storage: string;
  pool?: string;
  full: boolean;
  /**
   * An earlier, interrupted run may have sent this clone already: before cloning, every VM the
   * listing shows without a published name is read, so that clone is found (and adopted) even
   * within the pvestatd cycle that lists it as `VM <vmid>`.
   */
  resumed?: boolean;
}

/**
 * Whose VM a change is for (ARCHITECTURE.md rule 2). The provider re-reads the VM by VMID right
 * before the change and goes ahead only if it carries the three ownership tags and this name.
 */
export interface VmOwner {
  instanceId: string;
  /**
   * The create chain's own clone, before its first configure has written the tags: the name alone
   * (a fresh, random instance ID) identifies it. Only the create chain's configure sets this.
   */
  fresh?: boolean;
}

/** A change to one existing VM. */
export interface VmTarget extends VmOwner {
  node: string;
  vmid: number;
}

export interface ConfigureRequest extends VmTarget {
  cores?: number;
  memoryMiB?: number;
  /** Bridge and VLAN tag of net0: only these change; the NIC's model, MAC and other options are kept. */
  net?: { bridge: string; vlan?: number };
  /** The VM's net0 when known (from details); the guard's fresh config read takes precedence. */
  currentNet0?: string;
  /** The VM's current `boot` (from details): devices after the disk and ide2 (e.g. net0) are kept. */
  currentBoot?: string;
  onboot?: boolean;
  /** The full description to write (operator text + managed block), already composed. */
  description?: string;
  /** Full tag list to store (ownership tags + operator tags kept). */
  tags?: string[];
  /** `<storage>:iso/<file>` to attach as ide2 with the disk first in the boot order; null detaches. */
  isoVolume?: string | null;
  /** Config digest from a read; when set PVE refuses the write if the VM changed meanwhile. */
  digest?: string;
}

/**
 * The operations the applier uses. Every one is idempotent: safe to re-run after a crash. Every
 * one that changes or removes an existing VM re-reads it first and refuses with NOT_OURS unless it
 * is the named instance (VmTarget); nothing is sent to a VM that is not ours.
 */
export interface ProxmoxOps {
  /** The provider's pure codecs, lent to the planner (the contract's PlanningHooks). */
  readonly hooks: PlanningHooks;
  refresh(options?: { storages?: boolean }): Promise<LiveShard>;
  details(vms: { node: string; vmid: number }[], options?: { status?: boolean }): Promise<VmDetail[]>;
  /** Returns the VMID actually used (a taken VMID moves to the next free one after checking it is not ours). */
  clone(req: CloneRequest): Promise<{ vmid: number; node: string }>;
  configure(req: ConfigureRequest): Promise<void>;
  /**
   * Grows `disk`, or without one the VM's boot disk (from its `boot` order). `currentBytes` (e.g.
   * the template's maxdisk) is the size when the config read does not carry one.
   */
  resize(req: VmTarget & { disk?: string; bytes: number; currentBytes?: number }): Promise<void>;
  /** Uploads the bytes as `<storage>:iso/<filename>`; succeeds if an identical volume already exists. */
  uploadIso(req: { node: string; storage: string; filename: string; bytes: Uint8Array }): Promise<{ volume: string }>;
  start(req: VmTarget): Promise<void>;
  /** Graceful shutdown with a timeout, then a hard stop. A VM that is gone is stopped. */
  stop(req: VmTarget & { timeoutSec: number }): Promise<void>;
  /**
   * Deletes an instance's cloud-init ISO. Never while a VM still references it in a drive (a
   * renamed or duplicated VM): then it is kept and a notice says why.
   */
  deleteVolume(req: { node: string; volume: string; instanceId: string; /** where the instance was last recorded */ vmid?: number }): Promise<void>;
  /** Deletes the VM at vmid if it is this instance; a VM that is gone is deleted. */
  deleteVm(req: VmTarget): Promise<void>;
  /** Fails with code PERMISSION listing the missing privileges before any change. */
  checkPermissions(needed: string[]): Promise<void>;
}
