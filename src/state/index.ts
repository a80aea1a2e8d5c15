/**
 * src/state: the state document (lineage, serial, one record per instance), its backends (`file`,
 * the embedded default, `s3` with conditional writes and `gcs` with generation preconditions) and
 * the lease lock. Knows nothing about Proxmox. See README.md.
 */
import path from "node:path";
import { UserError } from "../errors.js";
import { FileBackend } from "./file-backend.js";
import { GcsBackend } from "./gcs-backend.js";
import type { LockOptions } from "./lease-lock.js";
import { S3Backend } from "./s3-backend.js";
import { STORAGE_KINDS, type StorageKind } from "./storage-kinds.js";
import { ShardStateStore } from "./store.js";
import type { ObjectBackend } from "./types.js";

export interface OpenStateStoreOptions {
  storage: StorageKind;
  /** File backend directory; default `./.pvefleet`. */
  stateDir?: string;
  bucket?: string;
  prefix?: string;
  clusterId: string;
  shardId: string;
  /** Environment for the S3/GCS client (region, endpoint, path style, keys, emulator host); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults for every lock() of this store (tests scale the backoff and grace down). */
  lockDefaults?: LockOptions;
}

export async function openBackend(opts: Pick<OpenStateStoreOptions, "storage" | "stateDir" | "bucket" | "prefix" | "env">): Promise<ObjectBackend> {
  switch (opts.storage) {
    case "file": {
      const prefix = (opts.prefix ?? "").replace(/^\/+|\/+$/g, "");
      if (prefix.split("/").includes("..")) throw new UserError("E_PREFIX", `--prefix "${opts.prefix}" may not contain ".."`);
      return new FileBackend(path.join(opts.stateDir ?? "./.pvefleet", prefix));
    }
    case "s3":
      if (!opts.bucket) throw new UserError("E_BUCKET", "--storage s3 needs --bucket (or PVEFLEET_BUCKET)");
      return S3Backend.open({ bucket: opts.bucket, prefix: opts.prefix, env: opts.env });
    case "gcs":
      if (!opts.bucket) throw new UserError("E_BUCKET", "--storage gcs needs --bucket (or PVEFLEET_BUCKET)");
      return GcsBackend.open({ bucket: opts.bucket, prefix: opts.prefix, env: opts.env });
    default:
      throw new UserError("E_STORAGE", `unknown --storage "${String(opts.storage)}" (supported: ${STORAGE_KINDS.join(", ")})`);
  }
}

export async function openStateStore(opts: OpenStateStoreOptions): Promise<ShardStateStore> {
  const backend = await openBackend(opts);
  return new ShardStateStore(backend, opts.clusterId, opts.shardId, opts.lockDefaults);
}

export { ShardStateStore, stateKeys } from "./store.js";
export { resolveShardIds, openShardStore, type ShardIds, type ShardStoreOptions } from "./shard-ids.js";
export { FileBackend } from "./file-backend.js";
export { S3Backend, readS3Object, normalizePrefix } from "./s3-backend.js";
export { GcsBackend, readGcsObject } from "./gcs-backend.js";
export { readRemoteObject } from "./remote-object.js";
export { STORAGE_KINDS, type StorageKind } from "./storage-kinds.js";
export { StoreConflictError, isStoreConflict } from "./store-conflict.js";
export { newStateDoc, parseStateDoc, serializeStateDoc, canonicalJson, contentHash, StateDocSchema, InstanceRecordSchema } from "./document.js";
export { acquireLease, forceUnlock, formatLockInfo, DEFAULT_LEASE_TTL_MS, DEFAULT_RELEASE_GRACE_MS, type LockOptions } from "./lease-lock.js";
export type * from "./types.js";
