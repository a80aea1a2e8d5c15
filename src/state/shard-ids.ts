/**
 * Which cluster and shard a state command works on: the config engineer's `loadShardFile` (so every
 * command reads the shard file one way), with s3:// and gs:// shard files read through this
 * folder's clients.
 * This is CLI glue; nothing else in src/state imports src/config.
 */
import { UserError } from "../errors.js";
import { loadShardFile } from "../config/index.js";
import { readRemoteObject } from "./remote-object.js";
import { STORAGE_KINDS, type StorageKind } from "./storage-kinds.js";

export interface ShardIds {
  clusterId: string;
  shardId: string;
}

export async function resolveShardIds(opts: { config?: string; shard?: string }): Promise<ShardIds> {
  const desired = await loadShardFile(opts.config, { shard: opts.shard, readRemote: (url) => readRemoteObject(url) });
  return { clusterId: desired.clusterId, shardId: desired.shardId };
}

/** The CLI's shard options (`-c`, `--shard`, `--storage`, `--bucket`, `--prefix`, `--state-dir`). */
export interface ShardStoreOptions {
  config?: string;
  shard?: string;
  storage?: string;
  bucket?: string;
  prefix?: string;
  stateDir?: string;
}

/** Opens the store the command-line options name, for the shard the shard file names. */
export async function openShardStore(opts: ShardStoreOptions): Promise<import("./store.js").ShardStateStore> {
  const { openStateStore } = await import("./index.js");
  const ids = await resolveShardIds(opts);
  const storage = opts.storage ?? "file";
  if (!(STORAGE_KINDS as readonly string[]).includes(storage)) throw new UserError("E_STORAGE", `unknown --storage "${storage}" (supported: ${STORAGE_KINDS.join(", ")})`);
  return openStateStore({ storage: storage as StorageKind, stateDir: opts.stateDir, bucket: opts.bucket, prefix: opts.prefix, ...ids });
}
