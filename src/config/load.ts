/**
 * Where a shard file comes from (a local path, or `s3://bucket/key` / `gs://bucket/object` through
 * an injected reader) and which parser reads it. JSONC is parsed in-process; the HCL module (and its
 * WASM) is imported only for `.hcl` files.
 */
import { access } from "node:fs/promises";
import { UserError, UserErrors } from "../errors.js";
import type { DesiredShard } from "./model.js";
import { resolveShard, shardIdsOf, type ResolveResult } from "./resolve.js";
import { parseJsonc } from "./jsonc.js";
import type { SourceMap } from "./source-map.js";
import type { SyntaxProblem } from "./jsonc.js";
import { sha256Hex } from "./hash.js";
import { formatBytes, readBoundedFile } from "./read-file.js";
import { MAX_SHARD_FILE_BYTES } from "./limits.js";

export interface LoadOptions {
  /** Reads `s3://bucket/key` and `gs://bucket/object` (the state engineer's readers; the CLI wires them). */
  readRemote?: (url: string) => Promise<Uint8Array>;
  /** Shard of a multi-shard file (`--shard`). */
  shard?: string;
  /** Receives each one-line notice (`file:line:col: path: message`). */
  onNotice?: (line: string) => void;
  /** Directory for the default file search (default: process.cwd()). */
  cwd?: string;
}

export const DEFAULT_CONFIG_FILES = ["shard.jsonc", "shard.hcl"];

/** `-c` or the first of ./shard.jsonc, ./shard.hcl that exists. */
export async function defaultConfigLocation(cwd: string = process.cwd()): Promise<string> {
  for (const name of DEFAULT_CONFIG_FILES) {
    try {
      await access(`${cwd}/${name}`);
      return cwd === process.cwd() ? name : `${cwd}/${name}`;
    } catch {
      // try the next one
    }
  }
  throw new UserError("E_NO_CONFIG", `no shard file: pass -c FILE, or create ./shard.jsonc (pvefleet init) or ./shard.hcl`);
}

type Format = "jsonc" | "hcl";

function formatOf(location: string): Format {
  const path = location.replace(/[?#].*$/, "");
  if (/\.jsonc?$/i.test(path)) return "jsonc";
  if (/\.hcl$/i.test(path)) return "hcl";
  throw new UserError("E_CONFIG_FORMAT", `${location}: a shard file must end in .jsonc, .json or .hcl`);
}

async function readSource(location: string, opts: LoadOptions): Promise<Uint8Array> {
  formatOf(location);
  const remote = /^(s3|gs):\/\//.exec(location)?.[1];
  if (remote) {
    if (!/^(s3|gs):\/\/[^/]+\/.+/.test(location)) throw new UserError("E_CONFIG_URL", `${location}: expected ${remote}://bucket/key`);
    if (!opts.readRemote) throw new UserError("E_CONFIG_URL", `${location}: reading shard files from ${remote === "s3" ? "S3" : "GCS"} is not available here`);
    const bytes = await opts.readRemote(location);
    if (bytes.length > MAX_SHARD_FILE_BYTES) throw new UserError("E_CONFIG_READ", `${location}: file is larger than ${formatBytes(MAX_SHARD_FILE_BYTES)}, the limit for this input`);
    return bytes;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new UserError("E_CONFIG_URL", `${location}: only local paths, s3://bucket/key and gs://bucket/object are supported`);
  return readBoundedFile(location, { maxBytes: MAX_SHARD_FILE_BYTES, code: "E_CONFIG_READ" });
}

export interface ParsedShardSource {
  value: unknown;
  map: SourceMap;
}

/** Parses text of either format; syntax problems throw as positioned UserErrors. */
export async function parseShardSource(location: string, text: string): Promise<ParsedShardSource> {
  const format = formatOf(location);
  let parsed: { value: unknown; map: SourceMap; syntax: SyntaxProblem[] };
  if (format === "jsonc") parsed = parseJsonc(location, text);
  else {
    const { parseHcl } = await import("./hcl.js");
    parsed = await parseHcl(location, text);
  }
  if (parsed.syntax.length) throw new UserErrors(parsed.syntax.map((s) => new UserError("E_SYNTAX", s.message, s.where)));
  return { value: parsed.value, map: parsed.map };
}

function decode(location: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    throw new UserError("E_CONFIG_READ", "the file is not UTF-8 text", { file: location, line: 1, column: 1 });
  }
}

/** Parses and resolves shard-file bytes (no I/O). Throws UserError(s), each line `file:line:col: …`. */
export async function loadShardBytes(location: string, bytes: Uint8Array, opts: Pick<LoadOptions, "shard"> = {}): Promise<ResolveResult> {
  const text = decode(location, bytes);
  const { value, map } = await parseShardSource(location, text);
  return resolveShard(value, map, { shard: opts.shard, source: { location, digest: `sha256:${sha256Hex(bytes)}` } });
}

/** Reads, parses and resolves a shard file, with notices and the template count. */
export async function loadShardFileDetailed(location: string | undefined, opts: LoadOptions = {}): Promise<ResolveResult> {
  const where = location || (await defaultConfigLocation(opts.cwd));
  const result = await loadShardBytes(where, await readSource(where, opts), opts);
  for (const n of result.notices) opts.onNotice?.(n);
  return result;
}

/** Reads, parses and resolves a shard file into the DesiredShard the planner consumes. */
export async function loadShardFile(location: string | undefined, opts: LoadOptions = {}): Promise<DesiredShard> {
  return (await loadShardFileDetailed(location, opts)).shard;
}

/** The shard IDs of a file, in file order (for `--all-shards`). */
export async function listShardIds(location: string | undefined, opts: LoadOptions = {}): Promise<string[]> {
  const where = location || (await defaultConfigLocation(opts.cwd));
  const bytes = await readSource(where, opts);
  const { value, map } = await parseShardSource(where, decode(where, bytes));
  return shardIdsOf(value, map);
}
