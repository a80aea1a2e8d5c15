/**
 * Which cluster and shard a state command works on.
 *
 * STOPGAP (marked for replacement): until `src/config/index.ts` exports `loadShardFile`, this reads
 * only `cluster.id` and `shard.id` (or `shards[].id` with --shard) from the shard file itself. When
 * the config engineer's loader exists it is used instead, so every command sees one interpretation.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { UserError } from "../errors.js";
import { readS3Object } from "./s3-backend.js";

export interface ShardIds {
  clusterId: string;
  shardId: string;
}

type LoadShardFile = (location: string, opts: { shard?: string }) => Promise<{ clusterId: string; shardId: string }>;

export async function resolveShardIds(opts: { config?: string; shard?: string }): Promise<ShardIds> {
  const location = opts.config ?? (existsSync("shard.jsonc") ? "shard.jsonc" : existsSync("shard.hcl") ? "shard.hcl" : "shard.jsonc");
  const loader = await configLoader();
  if (loader) {
    const desired = await loader(location, { shard: opts.shard });
    return { clusterId: desired.clusterId, shardId: desired.shardId };
  }
  return readIdsMinimally(location, opts.shard);
}

async function configLoader(): Promise<LoadShardFile | undefined> {
  // A computed specifier: this module must compile before src/config/index.ts exists.
  const specifier = ["..", "config", "index.js"].join("/");
  try {
    const mod = (await import(specifier)) as { loadShardFile?: LoadShardFile };
    return typeof mod.loadShardFile === "function" ? mod.loadShardFile : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes("config")) return undefined;
    throw e;
  }
}

async function readIdsMinimally(location: string, shard: string | undefined): Promise<ShardIds> {
  let text: string;
  try {
    text = location.startsWith("s3://") ? new TextDecoder().decode(await readS3Object(location)) : await readFile(location, "utf8");
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError("E_CONFIG_READ", `cannot read shard file ${location}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (use -c FILE)`);
  }
  let doc: Record<string, unknown>;
  if (/\.hcl$/i.test(location)) {
    const { parse } = await import("@cdktn/hcl2json");
    doc = (await parse(location, text)) as Record<string, unknown>;
  } else {
    const { parse, printParseErrorCode } = await import("jsonc-parser");
    const errors: import("jsonc-parser").ParseError[] = [];
    doc = parse(text, errors, { allowTrailingComma: true }) as Record<string, unknown>;
    if (errors.length) throw new UserError("E_SYNTAX", `${location}: ${printParseErrorCode(errors[0]!.error)} at offset ${errors[0]!.offset}`);
  }
  const first = (v: unknown): Record<string, unknown> | undefined => {
    const o = Array.isArray(v) ? v[0] : v;
    return o && typeof o === "object" ? (o as Record<string, unknown>) : undefined;
  };
  const clusterId = first(doc?.cluster)?.id;
  if (typeof clusterId !== "string" || !clusterId) throw new UserError("E_SCHEMA", `${location}: cluster.id is missing`);
  const shards: Record<string, unknown>[] = [];
  const single = first(doc.shard);
  if (single) shards.push(single);
  if (Array.isArray(doc.shards)) shards.push(...doc.shards.map(first).filter((s): s is Record<string, unknown> => !!s));
  const ids = shards.map((s) => s.id).filter((id): id is string => typeof id === "string");
  if (shard) {
    if (!ids.includes(shard)) throw new UserError("E_REF", `${location}: shard "${shard}" is not defined (shards: ${ids.join(", ") || "none"})`);
    return { clusterId, shardId: shard };
  }
  if (ids.length === 1) return { clusterId, shardId: ids[0]! };
  throw new UserError("E_REF", ids.length ? `${location} holds several shards (${ids.join(", ")}): choose one with --shard` : `${location}: shard.id is missing`);
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
