/**
 * The state document and the backend contract (src/state owns both). No Proxmox knowledge here.
 */

export type InstancePhase = "creating" | "ready" | "deleting";

/** Steps of a create, in order; a record in phase `creating` lists the ones already done. */
import type { CreateStep } from "../providers/types.js";

/** The create chain's steps: written once, in the provider contract. */
export type { CreateStep };

export interface InstanceRecord {
  instanceId: string;
  tenant: string;
  group: string;
  template: string; // template name in the shard file
  kind: string;
  vmid: number;
  node: string;
  replaceHash: string;
  updateHash: string;
  /**
   * The in-place sizes pvefleet last applied to this VM (the values `updateHash` covers), written
   * with `updateHash` when a create configures the VM or an update completes. Drift compares the
   * cluster with these, not with the shard file (ARCHITECTURE.md rule 10). Absent in documents
   * written before it existed; `updateHash` equal to the group's then stands for the file's values.
   */
  applied?: AppliedSizes;
  /** Volume id of the cloud-init ISO, e.g. `local:iso/tst06...-cidata.iso`. */
  isoVolume?: string;
  phase: InstancePhase;
  stepsDone: CreateStep[];
  createdAt: string; // ISO-8601 UTC
  updatedAt: string;
}

/** What a configure set on a VM: the fields of `updateHash`. */
export interface AppliedSizes {
  cores: number;
  memoryMiB: number;
  /** Absent when the shard file keeps the template's disk. */
  diskBytes?: number;
  onboot: boolean;
}

export interface StateDoc {
  formatVersion: 1;
  lineage: string; // UUID, fixed at creation
  serial: number; // bumped by every write
  writeId: string; // unique per write so two writers never produce identical bytes
  clusterId: string;
  shardId: string;
  instances: Record<string, InstanceRecord>; // keyed by instanceId
  /**
   * The replace-forcing attributes behind each `replaceHash` the records carry, keyed by that hash:
   * one entry per group spec, not per instance, so the plan can say what forces a replacement
   * (a template change, a userdata diff) at any fleet size. Written by the applier with the records;
   * an entry no record and no group uses is dropped. Absent in documents written before it existed
   * (still format 1): a record whose hash has no entry says only that the spec changed.
   */
  replaceSpecs?: Record<string, ReplaceSpec>;
}

/** The fields `replaceHash` covers (src/config/resolve.ts `hashes`), as recorded in the state. */
export interface ReplaceSpec {
  /** The Proxmox template cloned from: `TemplateName` or `TemplateVMID`. */
  template: { name: string } | { vmid: number };
  kind: string;
  arch: string;
  storage: string;
  bridge?: string;
  vlan?: number;
  pool?: string;
  /** The userdata before per-instance rendering (the group's template source, as written). */
  userdata?: { source: string; encoding: string; content: string };
  /**
   * `sha256:<hex>` of each var's value, when there is userdata (vars render into it). Values are
   * often secrets: the state records only enough to say which one changed.
   */
  vars?: Record<string, string>;
}

/** An object read from a backend with its version tag (ETag for S3/file; the generation, in decimal, for GCS). */
export interface Versioned {
  body: Uint8Array;
  etag: string; // unquoted
}

/**
 * The minimal conditional object store every backend implements. Writes are always conditional:
 * `ifNoneMatch: "*"` creates only; `ifMatch` replaces only that version. Lost races surface as
 * StoreConflictError, never as a silent overwrite.
 */
export interface ObjectBackend {
  readonly description: string; // e.g. "s3://bucket/prefix (endpoint http://127.0.0.1:7480)" — no secrets
  get(key: string): Promise<Versioned | undefined>;
  put(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }>;
  /** Best effort; correctness never depends on it (RGW ignores conditions on DELETE). */
  delete(key: string): Promise<void>;
}

export interface LockInfo {
  id: string;
  operation: string; // "apply", "destroy", …
  who: string; // user@host
  version: string; // pvefleet version
  created: string;
  expires: string;
  path: string; // key of the lock object
  released?: boolean;
}

/** A held lease lock; renewed in the background while held. */
export interface LeaseLock {
  readonly info: LockInfo;
  /** Throws (code LOCK_LOST) if a renewal failed and someone else may hold the lock now. */
  assertHeld(): void;
  /** Marks the lease released (If-Match) then deletes it; idempotent. */
  release(): Promise<void>;
}

/**
 * One shard's state on one backend: `shard/{shard}/state.json` and `shard/{shard}/state.lock`
 * under an optional prefix.
 */
export interface StateStore {
  readonly location: string; // human-readable, no secrets
  /** undefined when the shard has no state yet. */
  read(): Promise<{ doc: StateDoc; etag: string } | undefined>;
  /**
   * Compare-and-swap: writes `doc` with serial+1 and a fresh writeId, conditional on `expectedEtag`
   * (undefined = create only). Throws a UserError with code STATE_CONFLICT when the race was lost.
   */
  write(doc: StateDoc, expectedEtag: string | undefined): Promise<{ doc: StateDoc; etag: string }>;
  /** Acquires the lease lock, waiting up to timeoutMs with backoff; refusal prints Terraform-style Lock Info. */
  lock(
    operation: string,
    options?: {
      timeoutMs?: number;
      ttlMs?: number;
      onWait?: (holder: LockInfo) => void;
      /** Backoff while waiting: Terraform's 1 s doubling to 16 s by default (tests scale it down). */
      backoffInitialMs?: number;
      backoffMaxMs?: number;
    },
  ): Promise<LeaseLock>;
  forceUnlock(lockId: string): Promise<void>;
}
