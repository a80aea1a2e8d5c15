/**
 * Saved plans (`plan --out FILE`, `apply FILE`): the Plan in a compact, sealed file (format 3,
 * below), validated on the way back in; the checks that refuse a plan the world has moved away
 * from — Terraform's wording for the state ("Saved plan is stale"), PVE's config `digest` for each VM
 * the plan modifies; and the comparison of a saved plan with the plan made again at
 * apply time, which is what really guards `apply FILE` (the file is never executed, only compared).
 *
 * The file (one line of JSON): `{"formatVersion":3,"seal":{options,hash,mac?},"plan":BODY}`. BODY is
 * the Plan with its two big lists stored once per shape: every change and action is written with
 * its own instance ID, node and VMID replaced by placeholders (TEMPLATES), so the 10,000 creates of
 * a group share one change and one action per step — the group's spec and userdata are written
 * once, not once per VM — plus one row per change/action naming its template and its
 * (ID, node, VMID) tuple. Placement scores are interned the same way. Reading substitutes the
 * tuple back: the plan read is the plan written, key order included (plan_hash stays the same).
 * The seal is a sha256 (and with PVEFLEET_PLAN_KEY an HMAC) over exactly BODY's JSON text.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { UserError } from "../errors.js";
import { INSTANCE_ID_RE } from "../config/instance-id.js";
import { ACTION_PARAMS, ACTION_TYPES, CreateStepSchema, type VmDetail } from "../providers/types.js";
import { InstanceRecordSchema } from "../state/document.js";
import type { StateDoc } from "../state/types.js";
import { secondsUtc } from "./facts.js";
import { validateGraph } from "./graph.js";
import { PLAN_FORMAT_VERSION, summarise } from "./plan.js";
import { withoutSensitiveText } from "./replace-causes.js";
import { CHANGE_REASONS, type Action, type InstanceChange, type Plan, type PlanSelectors } from "./types.js";

/** The saved-plan file format (not the in-memory Plan's `formatVersion`, which BODY carries). 3: compact, templated. */
export const SAVED_PLAN_FORMAT_VERSION = 3;

/**
 * The file's schemas, built on first use: every command imports this module (context.ts), few
 * read a plan file, and the action union is not free to build.
 */
const schemas = once(() => {
  const CREATE_STEP = CreateStepSchema;
  const GROUP_REF = z.object({ tenant: z.string(), group: z.string() });
  const LIVE_VM = z.object({
    vmid: z.number().int(), name: z.string(), node: z.string(),
    status: z.enum(["running", "stopped", "suspended", "unknown"]),
    template: z.boolean(), tags: z.array(z.string()), cores: z.number(), memoryBytes: z.number(), diskBytes: z.number(),
    lock: z.string().optional(), pool: z.string().optional(),
  });

  const CHANGE_SCHEMA = z.object({
    instanceId: z.string(),
    group: GROUP_REF,
    kind: z.enum(["create", "update", "replace", "start", "delete", "adopt", "forget", "record"]),
    reasons: z.array(z.string()),
    // Optional: JSON drops a key whose value is undefined (an attribute set for the first time).
    attributes: z.array(z.object({ attribute: z.string(), before: z.unknown().optional(), after: z.unknown().optional(), forcesReplacement: z.boolean(), sensitive: z.literal(true).optional() })),
    // Never with `diff`: serializePlan leaves the sensitive text out.
    forcedBy: z.array(z.strictObject({
      attribute: z.string(), before: z.unknown().optional(), after: z.unknown().optional(), sensitive: z.boolean(),
      linesChanged: z.number().int().nonnegative().optional(), message: z.string(),
    })).optional(),
    before: LIVE_VM.optional(),
    // The spec is the config model's; it is carried for display and for the applier's rendering.
    after: z.record(z.string(), z.unknown()).optional(),
    placement: z.object({ node: z.string(), vmid: z.number().int(), scores: z.record(z.string(), z.number()) }).optional(),
    replaces: z.string().optional(),
    resumeFrom: CREATE_STEP.optional(),
    reason: z.enum(CHANGE_REASONS),
    replaceOrder: z.enum(["create-first", "delete-first"]).optional(),
  });

  // Each action type's params are the contract's (ACTION_PARAMS): a file whose params the provider
  // would not accept does not load.
  const ACTION_SCHEMA = z.discriminatedUnion("type", ACTION_TYPES.map((type) => z.object({
    id: z.string(),
    instanceId: z.string(),
    type: z.literal(type),
    node: z.string(),
    vmid: z.number().int(),
    dependsOn: z.array(z.string()),
    params: ACTION_PARAMS[type],
    journal: z.object({
      steps: z.array(CREATE_STEP).optional(),
      recordBefore: InstanceRecordSchema.partial().optional(),
      record: InstanceRecordSchema.partial().optional(),
    }).strict().optional(),
  })) as unknown as [z.ZodObject, ...z.ZodObject[]]);

  /** Everything of the Plan but its changes and actions (stored as templates and rows). */
  const HEADER_SCHEMA = z.object({
    formatVersion: z.literal(PLAN_FORMAT_VERSION),
    createdAt: z.string(),
    clusterId: z.string(),
    shardId: z.string(),
    state: z.object({ lineage: z.string(), serial: z.number().int().nonnegative() }),
    configDigest: z.string(),
    mode: z.enum(["normal", "refresh-only", "destroy"]),
    vmDigests: z.record(z.string(), z.string()),
    drift: z.array(z.object({
      fingerprint: z.string(),
      kind: z.enum(["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"]),
      instanceId: z.string().optional(), vmid: z.number().optional(), node: z.string().optional(),
      // Optional: zod 4 makes a bare z.unknown() key required, and JSON drops undefined — an
      // unmanaged, suspicious or orphan finding has neither, so it would not load again (F6).
      attribute: z.string().optional(), expected: z.unknown().optional(), actual: z.unknown().optional(), message: z.string(),
    })),
    capacity: z.array(z.object({
      node: z.string(), maxcpu: z.number(), maxmemBytes: z.number(),
      before: z.object({ cores: z.number(), memBytes: z.number() }),
      after: z.object({ cores: z.number(), memBytes: z.number() }),
    })),
    summary: z.object({ add: z.number(), change: z.number(), destroy: z.number() }),
    counts: z.object({ ours: z.number(), suspicious: z.number(), unmanaged: z.number(), orphans: z.number() }),
    warnings: z.array(z.string()),
    refresh: z.object({ policy: z.enum(["full", "listing"]), listings: z.number(), configReads: z.number(), statusReads: z.number() }).optional(),
  });

  /**
   * BODY's own parts (rows and tuples are checked by hand in expandBody: 50,000 small arrays).
   * A row: [tuple index (-1: the entry is stored as is), template index, scores index (a change with
   * a placement)]. A tuple: [instance ID | null, node | null, VMID | null].
   */
  const BODY_SCHEMA = z.object({
    changes: z.object({ rows: z.array(z.unknown()) }),
    actions: z.object({ rows: z.array(z.unknown()) }),
    tuples: z.array(z.unknown()),
    templates: z.object({ changes: z.array(z.unknown()), actions: z.array(z.unknown()) }),
    /**
     * Placement scores, each distinct set once: `entries[i]` is [key, value, key, value, …] as
     * indices into `keys` (node names) and `values` — 64 nodes' scores take ~400 bytes, not ~900.
     */
    scores: z.object({ keys: z.array(z.string()), values: z.array(z.number()), entries: z.array(z.array(z.number().int().nonnegative())) }),
  });
  return { CHANGE_SCHEMA, ACTION_SCHEMA, HEADER_SCHEMA, BODY_SCHEMA };
});

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const isIndex = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * The plan options a saved plan is made again with at apply time. `mode` is the plan's own; the
 * injections (clock, IDs, scheduler, codec) are never saved.
 */
const SAVED_OPTIONS = z.strictObject({
  targets: z.array(z.string()),
  replace: z.array(z.string()),
  adopt: z.boolean(),
  gc: z.boolean(),
  ignoreCapacity: z.boolean(),
  allowRestart: z.boolean(),
  detailPolicy: z.enum(["none", "touched", "ours"]),
  // Where the plan was made from, so `apply FILE` needs nothing else (src/cli/context.ts): the
  // shard file's absolute path or URL, the shard, and the state's location. Sealed with the rest.
  origin: z.strictObject({
    config: z.string(), shard: z.string(), storage: z.enum(["file", "s3", "gcs"]),
    stateDir: z.string().optional(), bucket: z.string().optional(), prefix: z.string().optional(),
  }).optional(),
});
export type SavedPlanOptions = z.infer<typeof SAVED_OPTIONS>;

const SEAL = z.strictObject({
  options: SAVED_OPTIONS,
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  mac: z.string().regex(/^hmac-sha256:[0-9a-f]{64}$/).optional(),
});

/** The saved options of a planner option set (what `plan --out` records for `apply FILE`). */
export function savedPlanOptions(o: PlanSelectors & Pick<SavedPlanOptions, "origin">): SavedPlanOptions {
  return {
    ...(o.origin ? { origin: o.origin } : {}),
    targets: [...(o.targets ?? [])],
    replace: [...(o.replace ?? [])],
    adopt: o.adopt === true,
    gc: o.gc === true,
    ignoreCapacity: o.ignoreCapacity === true,
    allowRestart: o.allowRestart === true,
    detailPolicy: o.detailPolicy ?? "touched",
  };
}

/** The planner options to make a saved plan again with. */
export function replanOptions(plan: Pick<Plan, "mode">, o: SavedPlanOptions): PlanSelectors {
  return { mode: plan.mode, targets: o.targets, replace: o.replace, adopt: o.adopt, gc: o.gc, ignoreCapacity: o.ignoreCapacity, allowRestart: o.allowRestart, detailPolicy: o.detailPolicy };
}

/** A saved plan as read back: the plan, the options it was made with, and whether a key verified it. */
export interface SavedPlan {
  plan: Plan;
  options: SavedPlanOptions;
  /** True when an HMAC with the operator's key was present and verified. */
  signed: boolean;
}

/**
 * How a reader treats the HMAC. `strict` (apply): with a key the MAC must be there and verify;
 * without a key a signed plan is refused (it cannot be verified). Not strict (show, a library
 * reader): a MAC is verified when there is a key, and otherwise not required.
 */
export interface SealCheck {
  key?: string;
  strict?: boolean;
}

/**
 * JSON with object keys sorted and undefined members dropped (as JSON.stringify drops them): how
 * two plans' parts are compared (planDifferences).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  // Inside an array an undefined or function member is written as null (canonicalJson of it), as JSON.stringify does.
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined && typeof o[k] !== "function").sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

function sealedBytes(body: string, options: SavedPlanOptions): string {
  // Everything the plan says is covered, which binds it to the state it was made from (lineage,
  // serial), the shard file (configDigest), the cluster/shard and each touched VM's config digest.
  return `pvefleet saved plan v${SAVED_PLAN_FORMAT_VERSION}\n${canonicalJson(options)}\n${body}`;
}

/** The saved plan's hash (`seal.hash`): sha256 over the options and BODY's JSON text (the file's `plan`). */
export function savedPlanHash(body: string, options: SavedPlanOptions): string {
  return `sha256:${createHash("sha256").update(sealedBytes(body, options)).digest("hex")}`;
}

/** The keyed MAC (`seal.mac`) over the same bytes; the key is the operator's, never saved anywhere. */
export function savedPlanMac(body: string, options: SavedPlanOptions, key: string): string {
  return `hmac-sha256:${createHmac("sha256", key).update(sealedBytes(body, options)).digest("hex")}`;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---- Templates: one change/action per shape, with the owner's (ID, node, VMID) as placeholders ----

// U+0000 never occurs in a plan the writer templates (it falls back to storing the entry as is),
// so a string holding it is a placeholder.
const T_ID = "\u0000i"; // the instance ID, inside any string
const T_NODE = "\u0000n"; // a string equal to the node
const T_VMID = "\u0000v"; // a number equal to the VMID
const T_SCORES = "\u0000s"; // the change's placement scores (interned apart)
/** What a change's scores are written as while its text is masked (replaced by T_SCORES). */
const SCORES_SENTINEL = "<pvefleet:scores>";

/** Whose values a template's placeholders stand for. A null member is not substituted. */
type Tuple = [id: string | null, node: string | null, vmid: number | null];

/** Own data property, also for a key named `__proto__` (JSON.parse makes those). */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * An entry's JSON text with the tuple's values as placeholders, or undefined when that could be
 * ambiguous (the text holds a \u escape: a placeholder, or one an ID could straddle). Done on the
 * text JSON.stringify makes, not by walking the object: a quoted key is never inside a string
 * (quotes there are escaped), so `"node":"pve2"` is exactly a `node` member holding pve2.
 */
function maskText(json: string, t: Tuple): string | undefined {
  if (json.includes("\\u")) return undefined;
  let s = json;
  if (t[1] !== null) s = s.replaceAll(`"node":${JSON.stringify(t[1])}`, `"node":${JSON.stringify(T_NODE)}`);
  if (t[2] !== null) {
    const tok = JSON.stringify(T_VMID);
    s = s.replaceAll(`"vmid":${t[2]},`, `"vmid":${tok},`).replaceAll(`"vmid":${t[2]}}`, `"vmid":${tok}}`);
  }
  if (t[0] !== null) {
    if (s.includes(`\\${t[0]}`)) return undefined; // an escape (\n…) right before an ID-looking run
    s = s.replaceAll(t[0], JSON.stringify(T_ID).slice(1, -1));
  }
  return s;
}

/** Interns JSON values by their text: the index of an equal value already seen, else a new one. */
class Interner {
  readonly list: unknown[] = [];
  private readonly index = new Map<string, number>();
  add(v: unknown, key = JSON.stringify(v)): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(v);
      this.index.set(key, i);
    }
    return i;
  }
  /** The value of a JSON text, parsed only the first time the text is seen. */
  addText(json: string): number {
    const i = this.index.get(json);
    return i ?? this.add(JSON.parse(json), json);
  }
}

/** The instance ID a template may stand for: only the planner's 29-character IDs (no enum value looks like one). */
function maskableId(id: string): string | null {
  return INSTANCE_ID_RE.test(id) ? id : null;
}

/** The plan as written to the file (sensitive diff text left out), and its BODY. */
function compactBody(plan: Plan): Record<string, unknown> {
  const tuples = new Interner();
  const changes = new Interner();
  const actions = new Interner();
  const scores = new Interner();
  const scoreKeys = new Interner();
  const scoreValues = new Interner();
  const tupleIndex = (t: Tuple) => tuples.add(t, `${t[0]}\u0000${t[1]}\u0000${t[2]}`);
  // A template is parsed from its masked text the first time that text is seen; an entry that
  // cannot be masked is stored as it is, for its row alone (tuple -1).
  const row = (table: Interner, json: string, t: Tuple, after = (m: string) => m): number[] => {
    const masked = maskText(json, t);
    return masked === undefined ? [-1, table.add(JSON.parse(json), `\u0000${json}`)] : [tupleIndex(t), table.addText(after(masked))];
  };
  const changeRows = plan.changes.map((c0) => {
    // A saved plan is a CI artifact: a userdata diff (sensitive) stays in the process that planned.
    const c: InstanceChange = c0.forcedBy ? { ...c0, forcedBy: c0.forcedBy.map(withoutSensitiveText) } : c0;
    const at = c.placement ?? c.before;
    const t: Tuple = [maskableId(c.instanceId), at?.node ?? null, at?.vmid ?? null];
    if (!c.placement) return row(changes, JSON.stringify(c), t);
    const marked = JSON.stringify({ ...c, placement: { ...c.placement, scores: SCORES_SENTINEL } });
    const sentinel = `"scores":"${SCORES_SENTINEL}"`;
    // The placement's is always there; another one (the marker's text inside a spec) would be ambiguous.
    if (marked.includes(sentinel, marked.indexOf(sentinel) + 1)) return row(changes, JSON.stringify(c), [null, null, null]);
    const r = row(changes, marked, t, (m) => m.replace(sentinel, `"scores":${JSON.stringify(T_SCORES)}`));
    if (r[0] === -1) return row(changes, JSON.stringify(c), [null, null, null]); // stored as is, scores included
    const s = c.placement.scores;
    return [...r, scores.add(Object.keys(s).flatMap((k) => [scoreKeys.add(k, k), scoreValues.add(s[k], String(s[k]))]))];
  });
  const actionRows = plan.actions.map((a: Action) => row(actions, JSON.stringify(a), [maskableId(a.instanceId), a.node, a.vmid]));
  const body: Record<string, unknown> = {};
  for (const k of Object.keys(plan)) {
    const v = (plan as unknown as Record<string, unknown>)[k]; // an undefined one is dropped by JSON.stringify
    setOwn(body, k, k === "changes" ? { rows: changeRows } : k === "actions" ? { rows: actionRows } : v);
  }
  body.tuples = tuples.list;
  body.templates = { changes: changes.list, actions: actions.list };
  body.scores = { keys: scoreKeys.list, values: scoreValues.list, entries: scores.list };
  return body;
}

/** A template's objects that hold a placeholder: which members do, and whether a key does (REKEY). */
type Marks = Map<object, { members: (string | number)[]; rekey: boolean }>;

/**
 * Records, for every object of a template that holds a placeholder, which of its members do; the
 * rest is shared by every row (as the planner shares a group's spec between its instances).
 */
function markTokens(v: unknown, marks: Marks): boolean {
  if (typeof v === "string") return v.includes("\u0000");
  if (v === null || typeof v !== "object") return false;
  const members: (string | number)[] = [];
  let rekey = false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (markTokens(v[i], marks)) members.push(i);
  } else {
    for (const k of Object.keys(v)) {
      if (k.includes("\u0000")) rekey = true;
      if (markTokens((v as Record<string, unknown>)[k], marks)) members.push(k);
    }
  }
  if (members.length > 0 || rekey) marks.set(v, { members, rekey });
  return members.length > 0 || rekey;
}

class BadRow extends Error {}

interface FillContext {
  t: Tuple;
  scores: unknown;
  marks: Marks;
}

/** A template with the row's values in place of its placeholders: only the objects on a path to one are copied. */
function fill(v: unknown, c: FillContext, key?: string): unknown {
  if (typeof v === "string") {
    // Where the writer puts them only: node and VMID under `node`/`vmid` (free-form in every
    // schema), so validating a template once holds for every row (readSavedPlan).
    if (v === T_NODE && key === "node" && c.t[1] !== null) return c.t[1];
    if (v === T_VMID && key === "vmid" && c.t[2] !== null) return c.t[2];
    if (v === T_SCORES && key === "scores" && c.scores !== undefined) return c.scores;
    return withId(v, c.t);
  }
  const mark = c.marks.get(v as object);
  if (mark === undefined) return v;
  if (Array.isArray(v)) {
    const out = v.slice();
    for (const i of mark.members as number[]) out[i] = fill(v[i], c);
    return out;
  }
  const o = v as Record<string, unknown>;
  if (mark.rekey) {
    // A key holding the instance ID (none does today): rebuilt in order.
    const out: Record<string, unknown> = {};
    const members = new Set(mark.members);
    for (const k of Object.keys(o)) setOwn(out, withId(k, c.t), members.has(k) ? fill(o[k], c, k) : o[k]);
    return out;
  }
  const out = { ...o };
  for (const k of mark.members as string[]) setOwn(out, k, fill(o[k], c, k));
  return out;
}

/** A string with the row's instance ID in place of T_ID; any other placeholder left is an edit. */
function withId(v: string, t: Tuple): string {
  const s = t[0] === null ? v : v.replaceAll(T_ID, t[0]);
  if (s.includes("\u0000")) throw new BadRow();
  return s;
}

/**
 * The file format: `{"formatVersion":3,"seal":{options,hash,mac?},"plan":BODY}` on one line. It
 * holds no credentials: tokens and keys never enter it (the MAC is a keyed digest, not the key).
 * Like Terraform's plan file it does hold the shard's userdata and vars, once per group: keep it
 * where the state is kept; what pvefleet renders from it (show, JSON, markdown) never shows them.
 */
export function serializePlan(plan: Plan, options: PlanSelectors | SavedPlanOptions = {}, key?: string): string {
  const saved = savedPlanOptions(options as PlanSelectors);
  const body = JSON.stringify(compactBody(plan));
  const seal: z.infer<typeof SEAL> = { options: saved, hash: savedPlanHash(body, saved) };
  if (key) seal.mac = savedPlanMac(body, saved, key);
  return `{"formatVersion":${SAVED_PLAN_FORMAT_VERSION},"seal":${JSON.stringify(seal)},"plan":${body}}\n`;
}

/** Reads a saved plan; any problem is one UserError line (E_PLAN_FILE, E_PLAN_TAMPERED). */
export function parseSavedPlan(text: string, file = "plan file", check: SealCheck = {}): Plan {
  return readSavedPlan(text, file, check).plan;
}

/** The first issue with its path; `where` is empty for the header and BODY only, both objects, so an issue there names a member. */
const issueLine = (file: string, where: string, e: z.ZodError) => {
  const issue = e.issues[0]!;
  const path = [where, ...issue.path.map(String)].filter((p) => p !== "").join(".");
  return new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: ${path}: ${issue.message}`);
};

/**
 * Reads a saved plan and verifies its seal: BODY must hash to the recorded hash, and with a key
 * the MAC must verify. Then the plan must agree with itself (every action belongs to a change,
 * a new VM's steps go where its placement says, the summary counts the changes): a file edited
 * by hand is refused here before anything reads the cluster.
 */
export function readSavedPlan(text: string, file = "plan file", check: SealCheck = { strict: true }): SavedPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError("E_PLAN_FILE", `${file} is not a pvefleet plan (not JSON: ${(e as Error).message})`);
  }
  // Only an object can have one (JSON null, arrays, strings and numbers have none).
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (version === undefined) {
    throw new UserError("E_PLAN_FILE", `${file} is not a pvefleet plan (no formatVersion)`);
  }
  if (typeof version === "number" && version < SAVED_PLAN_FORMAT_VERSION) {
    throw new UserError("E_PLAN_FILE", `${file} was made by an older pvefleet (plan format ${version}; this one reads ${SAVED_PLAN_FORMAT_VERSION}): run plan again`);
  }
  if (version !== SAVED_PLAN_FORMAT_VERSION) {
    throw new UserError("E_PLAN_FILE", `${file} has plan format version ${String(version)}; this pvefleet reads version ${SAVED_PLAN_FORMAT_VERSION}`);
  }
  const { seal: rawSeal, plan: rawBody } = raw as Record<string, unknown>;
  if (rawSeal === undefined) {
    throw new UserError("E_PLAN_FILE", `${file} carries no plan hash (made by an older pvefleet, or rewritten); run plan --out again`);
  }
  const sealed = SEAL.safeParse(rawSeal);
  if (!sealed.success) throw issueLine(file, "seal", sealed.error);
  const seal = sealed.data;
  if (typeof rawBody !== "object" || rawBody === null || Array.isArray(rawBody)) {
    throw new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: plan: not an object`);
  }
  // JSON.stringify of what JSON.parse read gives back the writer's bytes exactly.
  const body = JSON.stringify(rawBody);
  if (!sameText(savedPlanHash(body, seal.options), seal.hash)) {
    throw new UserError("E_PLAN_TAMPERED", `${file} was changed after pvefleet wrote it: its content does not hash to the plan hash recorded at plan time; run plan --out again`);
  }
  let signed = false;
  if (check.key && (seal.mac || check.strict)) {
    if (!seal.mac) throw new UserError("E_PLAN_TAMPERED", `${file} is not signed, but PVEFLEET_PLAN_KEY is set: make the plan with the same key (plan --out)`);
    if (!sameText(savedPlanMac(body, seal.options, check.key), seal.mac)) {
      throw new UserError("E_PLAN_TAMPERED", `${file} does not carry a valid signature for PVEFLEET_PLAN_KEY: it was changed after pvefleet wrote it, or made with another key`);
    }
    signed = true;
  } else if (seal.mac && check.strict) {
    throw new UserError("E_PLAN_TAMPERED", `${file} is signed, but PVEFLEET_PLAN_KEY is not set, so the signature cannot be verified`);
  }
  const plan = expandBody(rawBody as Record<string, unknown>, file);
  validateGraph(plan.actions);
  checkConsistency(plan, file);

  return { plan, options: seal.options, signed };
}

/** BODY back into the Plan, validating each template once per node it is used on (a row's ID and VMID only fill free-form fields). */
function expandBody(raw: Record<string, unknown>, file: string): Plan {
  const { changes: _c, actions: _a, tuples: _t, templates: _tp, scores: _s, ...header } = raw;
  if (raw.formatVersion !== PLAN_FORMAT_VERSION && typeof raw.formatVersion === "number") {
    throw new UserError("E_PLAN_FILE", `${file} holds a plan of format ${raw.formatVersion}; this pvefleet reads ${PLAN_FORMAT_VERSION}: run plan again`);
  }
  const { CHANGE_SCHEMA, ACTION_SCHEMA, HEADER_SCHEMA, BODY_SCHEMA } = schemas();
  const h = HEADER_SCHEMA.safeParse(header);
  if (!h.success) throw issueLine(file, "", h.error);
  const b = BODY_SCHEMA.safeParse(raw);
  if (!b.success) throw issueLine(file, "", b.error);
  const { tuples, templates } = b.data;
  const scores = b.data.scores.entries.map((e, i) => {
    const o: Record<string, number> = {};
    const { keys, values } = b.data.scores;
    const unpaired = () => new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: scores.entries.${i}: names no key or value`);
    // Key/value pairs: an odd entry (even a lone index, which names no pair at all) is an edit —
    // its last pair has no value index, so no value.
    for (let j = 0; j < e.length; j += 2) {
      const k = keys[e[j]!];
      const v = values[e[j + 1]!];
      if (k === undefined || v === undefined) throw unpaired();
      setOwn(o, k, v);
    }
    return o;
  });
  // The row owners' values, checked once: an ID as the planner makes them (so it never equals an
  // enum value or a literal of the schemas), a node, a VMID as the state's schema has it.
  const tupleList = tuples.map((t, i): Tuple => {
    const ok = Array.isArray(t) && t.length === 3
      && (t[0] === null || (typeof t[0] === "string" && INSTANCE_ID_RE.test(t[0])))
      && (t[1] === null || typeof t[1] === "string")
      && (t[2] === null || isIndex(t[2]));
    if (!ok) throw new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: tuples.${i}: not [instance ID | null, node | null, VMID | null]`);
    return t as Tuple;
  });
  const expand = <T>(what: "changes" | "actions", schema: z.ZodType): T[] => {
    const list = templates[what];
    const marks: Marks = new Map();
    for (const t of list) markTokens(t, marks);
    const checked = new Set<number>();
    return b.data[what].rows.map((r, i) => {
      const edited = (why: string) => new UserError("E_PLAN_TAMPERED", `${file} was edited: ${what}.${i} ${why}; run plan --out again`);
      if (!Array.isArray(r) || r.length > 3 || !(r[0] === -1 || isIndex(r[0])) || !isIndex(r[1]) || !(r[2] === undefined || isIndex(r[2]))) {
        throw new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: ${what}.rows.${i}: not [tuple, template, scores?]`);
      }
      const [ti, pi, si] = r as [number, number, number | undefined];
      const template = list[pi];
      if (template === undefined) throw edited("names no template");
      const tuple = ti === -1 ? ([null, null, null] as Tuple) : tupleList[ti];
      if (tuple === undefined) throw edited("names no instance");
      if (si !== undefined && scores[si] === undefined) throw edited("names no placement scores");
      let value: unknown;
      try {
        value = ti === -1 ? template : fill(template, { t: tuple, scores: si === undefined ? undefined : scores[si], marks });
      } catch (e) {
        if (e instanceof BadRow) throw edited("has a placeholder its row does not fill");
        throw e;
      }
      // Placeholders only stand in free-form fields (fill), so a template valid for one row is
      // valid for every row: each is validated once, an entry stored as is each time.
      if (ti === -1 || !checked.has(pi)) {
        const parsed = schema.safeParse(value);
        if (!parsed.success) throw issueLine(file, `${what}.${i}`, parsed.error);
        if (ti !== -1) checked.add(pi);
      }
      return value as T;
    });
  };
  const changes = expand<InstanceChange>("changes", CHANGE_SCHEMA);
  const actions = expand<Action>("actions", ACTION_SCHEMA);
  const plan: Record<string, unknown> = {};
  for (const k of Object.keys(raw)) {
    if (k === "tuples" || k === "templates" || k === "scores") continue;
    setOwn(plan, k, k === "changes" ? changes : k === "actions" ? actions : header[k]);
  }
  return plan as unknown as Plan;
}

/** The new instance IDs of a plan (a create's, a replacement's new one), with the change that places them. */
function newInstances(plan: Plan): Map<string, Plan["changes"][number]> {
  const out = new Map<string, Plan["changes"][number]>();
  for (const c of plan.changes) {
    if (c.kind === "create") out.set(c.instanceId, c);
    else if (c.kind === "replace" && c.replaces !== undefined) out.set(c.replaces, c);
  }
  return out;
}

/** What the planner guarantees by construction; a file that breaks it was edited. */
function checkConsistency(plan: Plan, file: string): void {
  const edited = (why: string) => new UserError("E_PLAN_TAMPERED", `${file} was edited: ${why}; run plan --out again`);
  const owners = new Set<string>();
  for (const c of plan.changes) {
    owners.add(c.instanceId);
    if (c.replaces !== undefined) owners.add(c.replaces);
  }
  const created = newInstances(plan);
  for (const a of plan.actions) {
    if (a.id !== `${a.instanceId}:${a.type}`) throw edited(`action ${a.id} is a ${a.type} of ${a.instanceId}`);
    if (!owners.has(a.instanceId)) throw edited(`action ${a.id} belongs to no change of the plan`);
    const placement = created.get(a.instanceId)?.placement;
    if (!placement) continue;
    const before = a.journal?.recordBefore; // an object when there is one (ACTION_SCHEMA)
    const recorded = before !== undefined && "instanceId" in before;
    const targets = [[a.node, a.vmid], ...(recorded ? [[before.node, before.vmid]] : [])];
    if (recorded && before.instanceId !== a.instanceId) throw edited(`action ${a.id} records another instance`);
    for (const [node, vmid] of targets) {
      if (node !== placement.node || vmid !== placement.vmid) {
        throw edited(`action ${a.id} targets ${String(node)}/${String(vmid)}, but the VM is placed at ${placement.node}/${placement.vmid}`);
      }
    }
  }
  const nodeOf = knownNodes(plan);
  for (const vmid of Object.keys(plan.vmDigests)) {
    if (!nodeOf.has(vmid)) throw edited(`it records the config digest of VM ${vmid}, which it does not touch`);
  }
  const summary = summarise(plan.changes);
  if (summary.add !== plan.summary.add || summary.change !== plan.summary.change || summary.destroy !== plan.summary.destroy) {
    throw edited("its summary does not count its changes");
  }
}

/**
 * Refuses a saved plan whose state moved since it was made, with Terraform's wording. A plan made
 * before any state existed (lineage "") only checks the serial. `currentConfigDigest`, when given,
 * must match the shard file digest the plan was made from.
 */
export function checkSavedPlan(plan: Plan, currentState: StateDoc | undefined, currentConfigDigest?: string): void {
  const serial = currentState?.serial ?? 0;
  if (plan.state.lineage !== "" && plan.state.lineage !== currentState?.lineage) {
    throw new UserError("E_PLAN_LINEAGE", "Saved plan does not match the given state: the plan file can not be applied because it was created from a different state lineage.");
  }
  if (plan.state.serial !== serial) {
    throw new UserError("E_PLAN_STALE", `Saved plan is stale: the plan file can no longer be applied because the state was changed by another operation after the plan was created (serial ${plan.state.serial} → ${serial}).`);
  }
  if (currentConfigDigest !== undefined && currentConfigDigest !== plan.configDigest) {
    throw new UserError("E_PLAN_STALE", "Saved plan is stale: the shard file changed after the plan was created; run plan again.");
  }
}

/**
 * Refuses a saved plan when any VM it modifies changed since the plan (PVE's config digest
 * differs, or the VM is gone). `details` are fresh reads of the VMs in `plan.vmDigests`.
 */
export function checkVmDigests(plan: Plan, details: VmDetail[]): void {
  const byVmid = new Map(details.map((d) => [String(d.vmid), d]));
  const moved: string[] = [];
  for (const [vmid, digest] of Object.entries(plan.vmDigests)) {
    const now = byVmid.get(vmid);
    if (!now) moved.push(`VM ${vmid} is gone`);
    else if (now.digest !== digest) moved.push(`VM ${vmid} config changed`);
  }
  if (moved.length > 0) {
    throw new UserError("E_PLAN_STALE", `Saved plan is stale: ${moved.join(", ")} since the plan was created; run plan again.`);
  }
}

/** The VMs `checkVmDigests` needs fresh details for. */
export function vmsToRecheck(plan: Plan): { node: string; vmid: number }[] {
  const nodeOf = knownNodes(plan);
  return Object.keys(plan.vmDigests).map((vmid) => ({ vmid: Number(vmid), node: nodeOf.get(vmid) ?? "" }));
}

/** The node of each VMID the plan names: where its actions go, else where the listing saw it. */
function knownNodes(plan: Plan): Map<string, string> {
  const nodeOf = new Map<string, string>();
  for (const a of plan.actions) if (!nodeOf.has(String(a.vmid))) nodeOf.set(String(a.vmid), a.node);
  for (const c of plan.changes) if (c.before && !nodeOf.has(String(c.before.vmid))) nodeOf.set(String(c.before.vmid), c.before.node);
  return nodeOf;
}

/**
 * `apply FILE` makes the plan again (inside the lock, from the current state, cluster and shard
 * file) and applies that fresh plan only when it is the saved one in everything that matters;
 * otherwise it refuses with Terraform's wording. So every action that runs was produced by the
 * planner now, and the file only decides whether to run it.
 *
 * What must match: cluster, shard, mode, the state (lineage, serial), the shard file digest, each
 * touched VM's config digest; the set of changes, and for every existing instance its change
 * (kind, group, attributes, spec incl. userdata) and every action on it (type, instanceId, node,
 * vmid, params, dependencies). New VMs (creates, a replacement's new VM) are compared per group as
 * a multiset: count, spec (incl. userdata), and each step's params — with only their new instance
 * ID, placement (node, VMID, scores) and the plan's clock masked, which legitimately differ between
 * two plannings. Not compared: prose (reasons, forcedBy, warnings), drift, capacity, the listing snapshot.
 */
export function checkSameAsFresh(saved: Plan, fresh: Plan): void {
  const diffs = planDifferences(saved, fresh);
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, 3).join("; ");
  throw new UserError(
    "E_PLAN_STALE",
    `Saved plan is stale: it does not match what pvefleet would do now (${shown}${diffs.length > 3 ? `; ${diffs.length - 3} more` : ""}); run plan again.`,
  );
}

/** Every way `saved` differs from `fresh` that matters to apply, as short phrases (empty: equivalent). */
export function planDifferences(saved: Plan, fresh: Plan): string[] {
  const diffs: string[] = [];
  const header = (p: Plan) => ({ cluster: `${p.clusterId}/${p.shardId}`, mode: p.mode, lineage: p.state.lineage, serial: p.state.serial, configDigest: p.configDigest });
  const hs = header(saved);
  const hf = header(fresh);
  for (const k of Object.keys(hs) as (keyof typeof hs)[]) {
    if (hs[k] !== hf[k]) diffs.push(`${k} ${String(hs[k])} in the file, ${String(hf[k])} now`);
  }
  if (canonicalJson(saved.vmDigests) !== canonicalJson(fresh.vmDigests)) diffs.push("the VM config digests differ");

  const a = shapeOf(saved);
  const b = shapeOf(fresh);
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? [];
    const y = b.get(key) ?? [];
    const what = key.startsWith(NEW) ? `new VMs of ${key.slice(NEW.length)}` : key;
    if (x.length !== y.length) {
      if (key.startsWith(NEW)) diffs.push(`the file creates ${x.length} ${what}, pvefleet would now create ${y.length}`);
      else if (y.length === 0) diffs.push(`${what}: in the file, but pvefleet would not change it now`);
      else diffs.push(`${what}: pvefleet would now change it, the file does not`);
      continue;
    }
    // Each side's texts in one order (a multiset), the first unequal pair read back to name where.
    const xs = x.map((f) => canonicalJson(f)).sort();
    const ys = y.map((f) => canonicalJson(f)).sort();
    const i = xs.findIndex((t, n) => t !== ys[n]);
    if (i >= 0) diffs.push(`${key.startsWith(NEW) ? `a new VM of ${key.slice(NEW.length)}` : what}: ${firstDifference(JSON.parse(xs[i]!), JSON.parse(ys[i]!), "")} differs`);
  }
  return diffs;
}

const NEW = "(new) ";
/** What a new VM's node and VMID are compared as (the same on both sides). */
const PLACED = "(placed)";

/**
 * Each instance the plan touches in a comparable form: existing ones under their instance ID; new
 * ones under `(new) tenant.group` (a replacement's new VM under the instance it replaces), with
 * their ID, placement and the plan's clock masked.
 */
function shapeOf(plan: Plan): Map<string, unknown[]> {
  const created = newInstances(plan);
  const labels = new Map<string, string>();
  for (const [id, c] of created) labels.set(id, c.kind === "replace" ? `(new for ${c.instanceId})` : "(new)");
  const times = new Set([plan.createdAt, secondsUtc(plan.createdAt)]);
  const mask = (v: unknown): unknown => {
    if (typeof v === "string") {
      if (times.has(v)) return "(plan time)";
      return labels.size > 0 ? v.replace(/[0-9a-z]+/g, (tok) => labels.get(tok) ?? tok) : v;
    }
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };

  const entries = new Map<string, { change?: unknown; actions: Record<string, unknown>; group?: string; isNew: boolean }>();
  const entry = (id: string) => {
    let e = entries.get(id);
    if (!e) entries.set(id, (e = { actions: {}, isNew: created.has(id) }));
    return e;
  };
  for (const c of plan.changes) {
    // forcedBy explains the replacement (prose and a terminal-only diff), like reasons.
    const { reasons: _prose, before: _snapshot, placement: _placed, forcedBy: _why, ...rest } = c;
    const e = entry(c.instanceId);
    e.group = `${c.group.tenant}.${c.group.group}`;
    e.change = mask(rest);
    if (c.kind === "replace" && c.replaces !== undefined) entry(c.replaces).group = e.group;
  }
  for (const act of plan.actions) {
    const e = entry(act.instanceId);
    const form: Record<string, unknown> = { id: act.id, type: act.type, instanceId: act.instanceId, node: act.node, vmid: act.vmid, dependsOn: [...act.dependsOn].sort(), params: act.params, journal: act.journal };
    if (e.isNew) {
      // Placement may differ between two plannings; readSavedPlan already checked that the file's
      // steps go where its placement says, and the fresh plan is what runs.
      form.node = PLACED;
      form.vmid = PLACED;
      const before = act.journal?.recordBefore;
      if (before !== undefined && "instanceId" in before) form.journal = { ...act.journal, recordBefore: { ...before, node: PLACED, vmid: PLACED } };
    }
    e.actions[act.type] = mask(form); // one action per type and instance (ids are unique)
  }
  const out = new Map<string, unknown[]>();
  for (const [id, e] of entries) {
    // A new instance's entry always has its change's group (created is made of changes).
    const label = labels.get(id);
    const key = e.isNew ? `${NEW}${e.group}${label === "(new)" ? "" : ` ${label}`}` : id;
    out.set(key, [...(out.get(key) ?? []), { change: e.change, actions: e.actions }]);
  }
  return out;
}

/**
 * The path of the first difference between two unequal JSON values (two objects at the root), e.g.
 * `change.after.userdata.content` or `actions.clone.dependsOn[1]`: it goes down while both are
 * objects, or arrays of one length.
 */
function firstDifference(a: unknown, b: unknown, path: string): string {
  const differs = (x: unknown, y: unknown) => canonicalJson(x) !== canonicalJson(y);
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    const i = a.findIndex((v, n) => differs(v, b[n]));
    return firstDifference(a[i], b[i], `${path}[${i}]`);
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const k = keys.find((m) => Object.hasOwn(a, m) !== Object.hasOwn(b, m) || differs(a[m], b[m]))!;
    return firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
  }
  return path;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
