/**
 * The state document: creation, canonical bytes, and validation on read. The schema is the type
 * check at the edge (a file or an object store); a document that fails it is a clear error and is
 * never silently replaced.
 */
import { CreateStepSchema } from "../providers/types.js";
import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { UserError } from "../errors.js";
import type { InstanceRecord, StateDoc } from "./types.js";

const isoTime = z.string().min(1);

// Loose objects: a field added to the contract by another area survives a read/write round trip
// even before this schema learns about it.
export const InstanceRecordSchema = z.looseObject({
  instanceId: z.string().min(1),
  tenant: z.string(),
  group: z.string(),
  template: z.string(),
  kind: z.string(),
  vmid: z.number().int().nonnegative(),
  node: z.string(),
  replaceHash: z.string(),
  updateHash: z.string(),
  // Optional: documents written before pvefleet recorded the applied sizes still load.
  applied: z.object({
    cores: z.number().int().positive(),
    memoryMiB: z.number().int().positive(),
    diskBytes: z.number().int().positive().optional(),
    onboot: z.boolean(),
  }).optional(),
  isoVolume: z.string().optional(),
  phase: z.enum(["creating", "ready", "deleting"]),
  stepsDone: z.array(CreateStepSchema),
  createdAt: isoTime,
  updatedAt: isoTime,
});

// Optional: documents written before pvefleet recorded them still load (formatVersion stays 1).
const ReplaceSpecsSchema = z.record(z.string(), z.looseObject({
  template: z.union([z.object({ name: z.string() }), z.object({ vmid: z.number().int() })]),
  kind: z.string(),
  arch: z.string(),
  storage: z.string(),
  bridge: z.string().optional(),
  vlan: z.number().int().optional(),
  pool: z.string().optional(),
  userdata: z.object({ source: z.string(), encoding: z.string(), content: z.string() }).optional(),
  vars: z.record(z.string(), z.string()).optional(),
})).optional();

export const StateDocSchema = z
  .looseObject({
    formatVersion: z.literal(1),
    lineage: z.uuid(),
    serial: z.number().int().nonnegative(),
    writeId: z.string().min(1),
    clusterId: z.string().min(1),
    shardId: z.string().min(1),
    instances: z.record(z.string(), InstanceRecordSchema),
    replaceSpecs: ReplaceSpecsSchema,
  })
  .superRefine((doc, ctx) => {
    for (const [key, rec] of Object.entries(doc.instances)) {
      if (rec.instanceId !== key) ctx.addIssue({ code: "custom", path: ["instances", key, "instanceId"], message: `record keyed "${key}" names instance "${rec.instanceId}"` });
    }
  });

/** A fresh document for a shard: new lineage, serial 0 (the first write makes it 1). */
export function newStateDoc(clusterId: string, shardId: string): StateDoc {
  return { formatVersion: 1, lineage: randomUUID(), serial: 0, writeId: randomUUID(), clusterId, shardId, instances: {} };
}

/** JSON with keys sorted at every level, two-space indent, trailing newline: equal docs give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + "\n";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * How much per-record work writes did: records serialised and records validated (cache misses
 * only). Tests read it to prove a write costs the records that changed, not the whole fleet.
 */
export const documentWork = { recordsSerialized: 0, recordsValidated: 0 };

// A frozen record can never change, so its canonical text and its validity are computed once and
// remembered by identity. Only records frozen here qualify: any other object may be mutated
// after it was seen, so it is serialised and validated afresh every time.
const frozenRecords = new WeakSet<object>();
const recordTexts = new WeakMap<object, { id: string; bytes: Buffer }>();
const validRecords = new WeakSet<object>();

/**
 * Deep-freezes a record and registers it, so every later write that carries this very object reuses
 * its canonical text and its validation instead of redoing them (a fleet of 10,000 instances costs
 * a write only the records that changed). Returns the same object.
 */
export function freezeRecord<T extends InstanceRecord>(record: T): T {
  deepFreeze(record);
  frozenRecords.add(record);
  return record;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

/**
 * Canonical bytes of the document: exactly `canonicalJson(doc)`, without re-serialising frozen
 * records. The document is its top-level keys in canonical order; `instances` is the records'
 * cached bytes (each indented for its depth, with its key) in canonical key order, which is
 * recomputed only when the set of instance IDs changes. Bytes are assembled once, straight into
 * one buffer: no document-sized string is built per write.
 */
export function serializeStateDoc(doc: StateDoc): Uint8Array {
  const top = doc as unknown as Record<string, unknown>;
  const chunks: Buffer[] = [];
  let first = true;
  for (const key of canonicalKeyOrder(Object.keys(top))) {
    const value = top[key];
    if (value === undefined) continue;
    const lead = `${first ? "{\n" : ",\n"}  ${JSON.stringify(key)}: `;
    if (key === "instances" && isPlainObject(value)) {
      chunks.push(Buffer.from(lead));
      instancesBytes(value, chunks);
    } else {
      const text = indent(JSON.stringify(sortKeys(value), null, 2), "  ");
      if (text === undefined) continue;
      chunks.push(Buffer.from(lead + text));
    }
    first = false;
  }
  chunks.push(Buffer.from(first ? "{}\n" : "\n}\n"));
  return Buffer.concat(chunks);
}

/** The canonical text of the document (`serializeStateDoc` decoded). */
export function stateDocJson(doc: StateDoc): string {
  return Buffer.from(serializeStateDoc(doc)).toString("utf8");
}

const OPEN = Buffer.from("{\n");
const SEPARATOR = Buffer.from(",\n");
const CLOSE = Buffer.from("\n  }");
const EMPTY = Buffer.from("{}");

function instancesBytes(instances: Record<string, unknown>, chunks: Buffer[]): void {
  let any = false;
  for (const id of instanceOrder(Object.keys(instances))) {
    const bytes = recordBytes(id, instances[id]);
    if (bytes === undefined) continue;
    chunks.push(any ? SEPARATOR : OPEN, bytes);
    any = true;
  }
  chunks.push(any ? CLOSE : EMPTY);
}

/** `    "<id>": <record>` as bytes; cached for a frozen record (under the key it was seen with). */
function recordBytes(id: string, record: unknown): Buffer | undefined {
  const frozen = record !== null && typeof record === "object" && frozenRecords.has(record);
  const cached = frozen ? recordTexts.get(record as object) : undefined;
  if (cached && cached.id === id) return cached.bytes;
  if (record === undefined) return undefined;
  const text = indent(JSON.stringify(sortKeys(record), null, 2), "    ");
  if (text === undefined) return undefined;
  documentWork.recordsSerialized++;
  const bytes = Buffer.from(`    ${JSON.stringify(id)}: ${text}`);
  if (frozen) recordTexts.set(record as object, { id, bytes });
  return bytes;
}

/** Re-indents a JSON text for its depth; JSON strings never hold a raw newline. */
function indent(text: string | undefined, prefix: string): string | undefined {
  return text?.replaceAll("\n", `\n${prefix}`);
}

/**
 * The order `JSON.stringify(sortKeys(x))` emits keys in: sorted, except that the object it builds
 * puts integer-like keys first in numeric order (and an assigned `__proto__` is not an own key).
 */
function canonicalKeyOrder(keys: string[]): string[] {
  const probe: Record<string, number> = {};
  for (const k of [...keys].sort()) probe[k] = 0;
  return Object.keys(probe);
}

let lastInstanceOrder: { keys: string[]; set: Set<string> } = { keys: [], set: new Set() };

/** Instance IDs in canonical order; the sort is redone only when the set of IDs changed. */
function instanceOrder(keys: string[]): string[] {
  const last = lastInstanceOrder;
  if (keys.length === last.set.size && keys.every((k) => last.set.has(k))) return last.keys;
  const ordered = canonicalKeyOrder(keys);
  lastInstanceOrder = { keys: ordered, set: new Set(keys) };
  return ordered;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// The document's own fields; `instances` only as a plain object here, its records are checked one
// by one below so that a record already validated (and frozen since) is not checked again.
const StateDocTopSchema = z.looseObject({
  formatVersion: z.literal(1),
  lineage: z.uuid(),
  serial: z.number().int().nonnegative(),
  writeId: z.string().min(1),
  clusterId: z.string().min(1),
  shardId: z.string().min(1),
  instances: z.custom<Record<string, unknown>>(isPlainObject, { message: "Invalid input: expected record" }),
  replaceSpecs: ReplaceSpecsSchema,
});

/**
 * Validates a document before it is written: what `StateDocSchema` accepts, but each frozen record
 * is validated once in its life. Returns the first issue, or undefined when the document is valid.
 */
export function stateDocIssue(doc: StateDoc): { path: PropertyKey[]; message: string } | undefined {
  const top = StateDocTopSchema.safeParse(doc);
  if (!top.success) return top.error.issues[0]!;
  for (const [key, record] of Object.entries(doc.instances)) {
    if (validRecords.has(record) && record.instanceId === key) continue;
    documentWork.recordsValidated++;
    const parsed = InstanceRecordSchema.safeParse(record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { path: ["instances", key, ...issue.path], message: issue.message };
    }
    if (record.instanceId !== key) return { path: ["instances", key, "instanceId"], message: `record keyed "${key}" names instance "${record.instanceId}"` };
    if (frozenRecords.has(record)) validRecords.add(record);
  }
  return undefined;
}

/** Parses and validates; `where` names the object in the error (path or s3:// URL). */
export function parseStateDoc(bytes: Uint8Array | string, where: string): StateDoc {
  const text = typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError("STATE_CORRUPT", `state document ${where} is not valid JSON (${(e as Error).message}); it was left untouched — restore it or fix it by hand`);
  }
  if (raw !== null && typeof raw === "object" && "formatVersion" in raw && typeof raw.formatVersion === "number" && raw.formatVersion > 1) {
    throw new UserError("STATE_VERSION", `state document ${where} has format version ${raw.formatVersion}; this pvefleet reads version 1 — upgrade pvefleet`);
  }
  const parsed = StateDocSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length ? issue.path.join(".") : "(document)";
    throw new UserError("STATE_CORRUPT", `state document ${where} is invalid at ${path}: ${issue.message}; it was left untouched — restore it or fix it by hand`);
  }
  return parsed.data as StateDoc;
}

/** sha256 hex of bytes: the file backend's ETag. */
export function contentHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export type { InstanceRecord };
