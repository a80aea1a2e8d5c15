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
  isoVolume: z.string().optional(),
  phase: z.enum(["creating", "ready", "deleting"]),
  stepsDone: z.array(CreateStepSchema),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const StateDocSchema = z
  .looseObject({
    formatVersion: z.literal(1),
    lineage: z.uuid(),
    serial: z.number().int().nonnegative(),
    writeId: z.string().min(1),
    clusterId: z.string().min(1),
    shardId: z.string().min(1),
    instances: z.record(z.string(), InstanceRecordSchema),
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

export function serializeStateDoc(doc: StateDoc): Uint8Array {
  return new TextEncoder().encode(canonicalJson(doc));
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
