/**
 * Which cluster and shard a state command works on: the config engineer's `loadShardFile` (so every
 * command reads the shard file one way), with s3:// shard files read through this folder's client.
 * This is CLI glue; nothing else in src/state imports src/config.
 */
import { UserError } from "../errors.js";
import { loadShardFile } from "../config/index.js";
import { readS3Object } from "./s3-backend.js";

export interface ShardIds {
  clusterId: string;
  shardId: string;
}

export async function resolveShardIds(opts: { config?: string; shard?: string }): Promise<ShardIds> {
  const desired = await loadShardFile(opts.config, { shard: opts.shard, readRemote: (url) => readS3Object(url) });
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
  if (storage !== "file" && storage !== "s3") throw new UserError("E_STORAGE", `unknown --storage "${storage}" (supported: file, s3)`);
  return openStateStore({ storage, stateDir: opts.stateDir, bucket: opts.bucket, prefix: opts.prefix, ...ids });
}
