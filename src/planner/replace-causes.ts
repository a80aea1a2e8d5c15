/**
 * What forces a replacement, attribute by attribute. The state keeps, next to the records, the
 * replace-forcing attributes behind each `replaceHash` (`StateDoc.replaceSpecs`: one entry per
 * group spec, so 10,000 instances cost nothing more); comparing the entry of a record's hash with
 * the group's spec now names the template change, the storage move, the userdata diff, the var that
 * changed. Userdata and vars are sensitive: their causes carry no values, only how many lines
 * changed and (for a terminal) the diff, which a saved plan leaves out.
 */
import { structuredPatch } from "diff";
import type { DesiredGroup, DesiredShard, UserdataSpec, VmSpec } from "../config/model.js";
import { canonicalJson, hashOf } from "../config/hash.js";
import { decodeUserdata } from "../config/userdata.js";
import type { InstanceRecord, ReplaceSpec, StateDoc } from "../state/types.js";
import type { AttributeChange, ReplaceCause } from "./types.js";

/** What `AttributeChange.before`/`after` say for a sensitive attribute, as Terraform does. */
export const SENSITIVE_VALUE = "(sensitive value)";

/** The replace-forcing fields of a spec, as the state records them (config/resolve.ts `hashes` covers the same). */
export function replaceSpecOf(spec: VmSpec): ReplaceSpec {
  const out: ReplaceSpec = { template: spec.template, kind: spec.kind, arch: spec.arch, storage: spec.storage };
  if (spec.bridge !== undefined) out.bridge = spec.bridge;
  if (spec.vlan !== undefined) out.vlan = spec.vlan;
  if (spec.pool !== undefined) out.pool = spec.pool;
  if (spec.userdata) {
    out.userdata = { source: spec.userdata.source, encoding: spec.userdata.encoding, content: spec.userdata.content };
    out.vars = Object.fromEntries(Object.entries(spec.vars).map(([k, v]) => [k, hashOf(v)]));
  }
  return out;
}

/**
 * The document the applier starts writing from: `replaceSpecs` holds an entry for every group of
 * the shard file (the records this apply creates carry those hashes) and keeps only the entries a
 * record still uses. Pure; the entries ride along with the first record the apply writes.
 */
export function withReplaceSpecs(doc: StateDoc, desired: DesiredShard): StateDoc {
  const used = new Set<string>();
  for (const record of Object.values(doc.instances)) used.add(record.replaceHash);
  const specs: Record<string, ReplaceSpec> = {};
  for (const [hash, spec] of Object.entries(doc.replaceSpecs ?? {})) if (used.has(hash)) specs[hash] = spec;
  for (const g of desired.groups) specs[g.replaceHash] = replaceSpecOf(g.spec);
  return { ...doc, replaceSpecs: specs };
}

// One computation per (group, recorded hash, recorded template): 300 replacements of a group share
// one userdata diff.
const cache = new WeakMap<DesiredGroup, Map<string, ReplaceCause[]>>();

/**
 * Why a record whose `replaceHash` differs from its group's must be replaced, most telling first.
 * A record whose hash has no recorded spec (written before pvefleet kept them) gets one `spec` cause.
 */
export function replaceCauses(state: StateDoc | undefined, record: InstanceRecord, group: DesiredGroup): ReplaceCause[] {
  let byRecord = cache.get(group);
  if (!byRecord) cache.set(group, (byRecord = new Map()));
  // An entry is content-addressed (its key is the hash of what it holds), so only whether the
  // state has one matters beyond the hash.
  const recorded = state?.replaceSpecs?.[record.replaceHash];
  const key = `${record.replaceHash}\u0000${record.template}\u0000${recorded ? "recorded" : "unknown"}`;
  let causes = byRecord.get(key);
  if (!causes) {
    causes = computeCauses(recorded, record, group);
    byRecord.set(key, causes);
  }
  return causes;
}

function computeCauses(old: ReplaceSpec | undefined, record: InstanceRecord, group: DesiredGroup): ReplaceCause[] {
  const out: ReplaceCause[] = [];
  const now = replaceSpecOf(group.spec);
  if (record.template !== group.templateName) {
    out.push({ attribute: "templateKey", before: record.template, after: group.templateName, sensitive: false, message: `shard-file template ${record.template} → ${group.templateName}` });
  }
  if (!old) {
    out.push({
      attribute: "spec", before: record.replaceHash, after: group.replaceHash, sensitive: false,
      message: "replace-forcing spec changed (recorded by an older pvefleet, which kept only its hash: template, storage, userdata, kind, arch, network or pool)",
    });
    return out;
  }
  const plain = (attribute: string, before: unknown, after: unknown) => {
    if (canonicalJson(before ?? null) === canonicalJson(after ?? null)) return;
    const cause: ReplaceCause = { attribute, sensitive: false, message: `${attribute} ${shown(before)} → ${shown(after)}` };
    if (before !== undefined) cause.before = before;
    if (after !== undefined) cause.after = after;
    out.push(cause);
  };
  plain("template", templateName(old.template), templateName(now.template));
  plain("kind", old.kind, now.kind);
  plain("arch", old.arch, now.arch);
  plain("storage", old.storage, now.storage);
  plain("bridge", old.bridge, now.bridge);
  plain("vlan", old.vlan, now.vlan);
  plain("pool", old.pool, now.pool);
  const userdata = userdataCause(old.userdata, now.userdata);
  if (userdata) out.push(userdata);
  if (old.userdata && now.userdata) {
    // Vars render into userdata; only their hashes are recorded, so only the name is shown.
    const was = old.vars ?? {};
    const is = now.vars ?? {};
    for (const name of [...new Set([...Object.keys(was), ...Object.keys(is)])].sort()) {
      if (was[name] === is[name]) continue;
      const what = was[name] === undefined ? "added" : is[name] === undefined ? "removed" : "changed";
      out.push({ attribute: `vars.${name}`, sensitive: true, message: `vars.${name} ${what} (sensitive)` });
    }
  }
  if (!out.some((c) => c.attribute !== "templateKey")) {
    // The hashes differ but the recorded fields agree: the entry was recorded under other rules.
    out.push({ attribute: "spec", before: record.replaceHash, after: group.replaceHash, sensitive: false, message: "replace-forcing spec changed" });
  }
  return out;
}

function templateName(t: ReplaceSpec["template"]): string {
  return "name" in t ? t.name : `VMID ${t.vmid}`;
}

function shown(v: unknown): string {
  return v === undefined || v === null ? "(none)" : typeof v === "string" ? v : JSON.stringify(v);
}

type Userdata = NonNullable<ReplaceSpec["userdata"]>;

function userdataCause(old: Userdata | undefined, now: Userdata | undefined): ReplaceCause | undefined {
  if (canonicalJson(old ?? null) === canonicalJson(now ?? null)) return undefined;
  const before = old ? textOf(old) : "";
  const after = now ? textOf(now) : "";
  const cause: ReplaceCause = { attribute: "userdata", sensitive: true, message: "" };
  if (before === undefined || after === undefined) {
    cause.message = `userdata ${!old ? "added" : !now ? "removed" : "changed"} (sensitive)`;
    return cause;
  }
  const diff = unifiedDiffLines(before, after);
  const changed = diff.filter((l) => l.startsWith("+") || l.startsWith("-")).length;
  cause.linesChanged = changed;
  if (changed > 0) cause.diff = diff;
  const lines = `${changed} line${changed === 1 ? "" : "s"} changed`;
  if (!old) cause.message = `userdata added (sensitive, ${lines})`;
  else if (!now) cause.message = `userdata removed (sensitive, ${lines})`;
  else if (changed === 0) cause.message = `userdata ${old.source}/${old.encoding} → ${now.source}/${now.encoding} (sensitive, same text)`;
  else cause.message = `userdata changed (sensitive, ${lines})`;
  return cause;
}

/** The text a person wrote: decoded when inline and encoded; a `url` source's URL as is. Undefined when not text. */
function textOf(u: Userdata): string | undefined {
  if (u.source !== "inline" || u.encoding === "plain") return u.content;
  try {
    const text = decodeUserdata(u.content, u.encoding as UserdataSpec["encoding"]);
    return text.includes("\u0000") ? undefined : text;
  } catch {
    return undefined;
  }
}

/** Hunks of a unified diff (3 lines of context), without file headers: `@@ … @@`, then ` `, `+`, `-` lines. */
export function unifiedDiffLines(before: string, after: string): string[] {
  const nl = (s: string) => (s === "" || s.endsWith("\n") ? s : `${s}\n`);
  const patch = structuredPatch("before", "after", nl(before), nl(after), "", "", { context: 3 });
  const out: string[] = [];
  for (const h of patch.hunks) {
    out.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    for (const l of h.lines) if (!l.startsWith("\\")) out.push(l);
  }
  return out;
}

/** The attribute change a cause adds to `InstanceChange.attributes` (placeholders for sensitive ones). */
export function causeAttribute(cause: ReplaceCause): AttributeChange {
  if (cause.sensitive) return { attribute: cause.attribute, before: SENSITIVE_VALUE, after: SENSITIVE_VALUE, forcesReplacement: true, sensitive: true };
  return { attribute: cause.attribute, before: cause.before, after: cause.after, forcesReplacement: true };
}

/** A cause as a saved plan or a CI artifact may carry it: without the sensitive diff. */
export function withoutSensitiveText(cause: ReplaceCause): ReplaceCause {
  if (cause.diff === undefined) return cause;
  const { diff: _text, ...rest } = cause;
  return rest;
}
