/**
 * Userdata: Nstance's source/encoding rules and the per-instance rendering the
 * applier calls when it builds the cloud-init ISO. Encoded inline content is decoded first, then
 * rendered as a Go template — the order Nstance uses.
 */
import { gunzipSync } from "node:zlib";
import type { DesiredGroup, DesiredShard, TemplateData, UserdataSpec, VmSpec } from "./model.js";
import { parseTemplate, executeTemplate, type DataShape } from "./go-template.js";
import { MAX_USERDATA_BYTES } from "./limits.js";

export const USERDATA_SOURCES = ["inline", "url"] as const;
export const USERDATA_ENCODINGS = ["plain", "base64", "gzip", "base64+gzip"] as const;

/** What templates may read. Fields Nstance's server fills but pvefleet has no value for render empty (with a notice at validate). */
export const TEMPLATE_SHAPE: DataShape = {
  Instance: { ID: "string", Kind: "string", Arch: "string", Type: "string", Hostname: "string" },
  Vars: "map",
  Cluster: { ID: "string", CACert: "string" },
  Server: { Shard: "string", RegistrationAddr: "string", AgentAddr: "string", OperatorAddr: "string" },
  Provider: { Kind: "string", Region: "string", Zone: "string" },
  Image: "map",
  Nonce: "string",
};
export const NSTANCE_ONLY_FIELDS = ["Cluster.CACert", "Server.RegistrationAddr", "Server.AgentAddr", "Server.OperatorAddr", "Image", "Nonce"];

/** Nstance's validation messages for a userdata block, or [] when it is fine. Each is [key, message]. */
export function userdataProblems(u: { source?: string; encoding?: string; content?: string }): [string, string][] {
  const out: [string, string][] = [];
  const source = u.source || "inline";
  const encoding = u.encoding || "plain";
  if (source !== "inline" && source !== "url") out.push(["source", `invalid userdata source ${JSON.stringify(u.source)}: must be 'inline' or 'url'`]);
  if (!(USERDATA_ENCODINGS as readonly string[]).includes(encoding)) {
    out.push(["encoding", `invalid userdata encoding ${JSON.stringify(u.encoding)}: must be 'plain', 'base64', 'gzip', or 'base64+gzip'`]);
  }
  if (encoding === "gzip" && source === "inline") out.push(["encoding", "userdata encoding 'gzip' is only valid with source 'url' (cannot embed binary in JSON)"]);
  if (!u.content) out.push(["content", "userdata content is required"]);
  else if (source === "url") {
    let ok = false;
    try {
      const url = new URL(u.content);
      ok = url.protocol === "http:" || url.protocol === "https:";
    } catch {
      ok = false;
    }
    if (!ok) out.push(["content", `userdata source 'url' needs an http(s) URL, got ${JSON.stringify(u.content.slice(0, 60))}`]);
  }
  return out;
}

/**
 * Decodes userdata bytes per encoding (Nstance's messages); throws Error. The decoded bytes are
 * capped at MAX_USERDATA_BYTES (1 MiB): zlib stops inflating at the cap (`maxOutputLength`), so a
 * gzip bomb costs at most that much memory instead of aborting the process.
 */
export function decodeUserdata(content: string | Uint8Array, encoding: UserdataSpec["encoding"], maxBytes = MAX_USERDATA_BYTES): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
  const tooLarge = (what: string) => new Error(`userdata is larger than ${formatCap(maxBytes)}${what ? ` ${what}` : ""} (pvefleet's limit for cloud-init userdata)`);
  const capped = (b: Buffer, what: string): Buffer => {
    if (b.length > maxBytes) throw tooLarge(what);
    return b;
  };
  const base64 = (b: Buffer): Buffer => {
    const text = b.toString("utf8").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error("failed to decode base64: illegal base64 data");
    return Buffer.from(text, "base64");
  };
  const gunzip = (b: Buffer): Buffer => {
    try {
      return gunzipSync(b, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge("after gzip decompression");
      throw new Error(`failed to decompress gzip: ${(err as Error).message}`);
    }
  };
  switch (encoding) {
    case "plain":
      return capped(bytes, "").toString("utf8");
    case "base64":
      return capped(base64(bytes), "after base64 decoding").toString("utf8");
    case "gzip":
      return gunzip(bytes).toString("utf8");
    case "base64+gzip":
      return gunzip(base64(bytes)).toString("utf8");
  }
  throw new Error(`unsupported encoding: ${String(encoding)}`);
}

function formatCap(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes} bytes`;
}

/** cloud-init runs user-data as a script only with a `#!` line: Nstance prepends `#!/bin/bash` unless it starts with `#!` or `#cloud-config`. Idempotent. */
export function withShebang(text: string): string {
  const t = text.trimStart();
  return t.startsWith("#!") || t.startsWith("#cloud-config") ? text : `#!/bin/bash\n${text}`;
}

/** Renders decoded userdata text for one instance (template errors throw GoTemplateError). */
export function renderUserdataText(text: string, data: TemplateData): string {
  return withShebang(executeTemplate(parseTemplate(text), data));
}

/**
 * The final user-data text for one instance: decode inline content, render the Go template, apply
 * the `#!/bin/bash` rule. `source: "url"` content must be fetched by the caller (config does no
 * network I/O): pass the fetched bytes as `fetched`.
 */
export function renderUserdata(spec: VmSpec, data: TemplateData, fetched?: Uint8Array | string): string {
  const u = spec.userdata;
  if (!u) return "";
  if (u.source === "url" && fetched === undefined) {
    throw new Error(`userdata comes from ${u.content}: fetch it and pass the bytes to renderUserdata(spec, data, fetched)`);
  }
  return renderUserdataText(decodeUserdata(fetched ?? u.content, u.encoding), data);
}

/** The template data for one instance of a group (Nstance's template data); the hostname is the instance ID. */
export function templateDataFor(shard: DesiredShard, group: DesiredGroup, instanceId: string): TemplateData {
  const spec = group.spec;
  return {
    Instance: { ID: instanceId, Kind: spec.kind, Arch: spec.arch, Type: spec.instanceType ?? "", Hostname: instanceId },
    Vars: { ...spec.vars },
    Cluster: { ID: shard.clusterId },
    Server: { Shard: shard.shardId },
    Provider: { Kind: shard.provider.kind, Region: shard.provider.region, Zone: shard.provider.zone },
  };
}
