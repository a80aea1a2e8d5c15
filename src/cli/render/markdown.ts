/**
 * Markdown for pull-request comments and drift issues, rendered from plan data (never by parsing
 * text). The whole body always fits GitHub's 65,536-character comment limit: at most DEFAULT_LIMIT
 * UTF-8 bytes (never fewer than characters), 1 KiB left for a CI job's own lines. In this order:
 *   markers and summary → commit/run line with the pointer to the full plan → destroy/replace
 *   callouts → per-group counts → warnings aggregated by kind → one section per group (its spec
 *   once, sample rows, loudest first, "… and N more") → per-instance details while room is left.
 * Work and memory are linear in the plan: rows and details are built only for what is shown.
 * Userdata and vars are never rendered, only their names.
 */
import { createHash } from "node:crypto";
import type { VmSpec } from "../../config/model.js";
import type { ChangeKind, DriftFinding, InstanceChange, Plan } from "../../planner/types.js";
import { inSync, isManagedDrift, refreshSentence, unifiedDiff, type DriftReport } from "./text.js";
import {
  addressOf, attributeLabel, countChanges, displayOf, formatBytes, formatValue, groupName, isTextAttribute, liveAttributes,
  noChangesSentence, sentenceOf, specAttributes, summarySentence, type Display,
} from "./vocabulary.js";
import { alert, Budget, cell, clip, code, cost, fence, html, num, plural, topCounts } from "./markdown-text.js";
import { ciContext, fullPointer, provenanceLine, type CiContext } from "./markdown-ci.js";
import { warningCallouts } from "./markdown-warnings.js";

/** GitHub's limit on an issue or pull-request comment body, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** What a body may take by default: GitHub's limit less 1 KiB for a CI wrapper's own lines (a marker, a heading). */
export const DEFAULT_LIMIT = GITHUB_COMMENT_LIMIT - 1_024;

/** The sticky-comment marker CI looks for to update its own comment (one per shard). */
export function planMarker(plan: Pick<Plan, "clusterId" | "shardId">): string {
  return `<!-- pvefleet:plan ${plan.clusterId}/${plan.shardId} -->`;
}

export function driftMarker(report: Pick<DriftReport, "clusterId" | "shardId">): string {
  return `<!-- pvefleet:drift ${report.clusterId}/${report.shardId} -->`;
}

/**
 * A digest of the whole plan, so an apply can tell it applies what was reviewed: sha256 of
 * `JSON.stringify(plan)`, fed in slices of 256 changes or actions so a 100,000-instance plan never
 * becomes one string (the same bytes: a slice's JSON is its elements' JSON joined by commas).
 */
export function planHash(plan: Plan): string {
  const h = createHash("sha256");
  h.update("{");
  let first = true;
  for (const [key, value] of Object.entries(plan)) {
    if (value === undefined || typeof value === "function" || typeof value === "symbol") continue;
    h.update(`${first ? "" : ","}${JSON.stringify(key)}:`);
    first = false;
    if (Array.isArray(value) && value.length > HASH_SLICE) {
      h.update("[");
      for (let i = 0; i < value.length; i += HASH_SLICE) {
        const json = JSON.stringify(value.slice(i, i + HASH_SLICE));
        h.update(i ? `,${json.slice(1, -1)}` : json.slice(1, -1));
      }
      h.update("]");
    } else h.update(JSON.stringify(value));
  }
  h.update("}");
  return `sha256:${h.digest("hex")}`;
}

const HASH_SLICE = 256;

/** One digest over every finding's fingerprint: equal digests mean the same drift. */
export function driftDigest(findings: DriftFinding[]): string {
  const h = createHash("sha256");
  for (const f of findings.map((f) => f.fingerprint).sort()) h.update(`${f}\n`);
  return `sha256:${h.digest("hex")}`;
}

const ICON: Record<Display, string> = {
  create: "➕", update: "🔄", start: "▶️", delete: "🗑️", "replace-delete-first": "♻️", "replace-create-first": "♻️",
  adopt: "📥", forget: "📤", record: "📝",
};

const WORD: Record<Display, string> = {
  create: "create", update: "update", start: "start", delete: "destroy", "replace-delete-first": "replace (destroy first)",
  "replace-create-first": "replace (create first)", adopt: "adopt", forget: "forget", record: "record",
};

/** Rows sampled loudest first: what destroys VMs, then what changes them, creates last. */
const ROW_ORDER: ChangeKind[] = ["delete", "replace", "update", "start", "adopt", "forget", "record", "create"];

/** Counts-table columns: kinds always shown, then the rare ones only when a plan has them. */
const COLUMNS: { title: string; kinds: ChangeKind[]; always: boolean }[] = [
  { title: "➕ create", kinds: ["create"], always: true },
  { title: "🔄 update", kinds: ["update", "start"], always: true },
  { title: "♻️ replace", kinds: ["replace"], always: true },
  { title: "🗑️ destroy", kinds: ["delete"], always: true },
  { title: "📥 adopt", kinds: ["adopt"], always: false },
  { title: "📤 forget", kinds: ["forget"], always: false },
  { title: "📝 record", kinds: ["record"], always: false },
];

const KIND_WORD: Record<ChangeKind, string> = {
  create: "to create", update: "to update", start: "to start", replace: "to replace", delete: "to destroy",
  adopt: "to adopt", forget: "to forget", record: "to record",
};

/** Groups listed in the counts table before the rest is summed up in one row. */
const MAX_TABLE_GROUPS = 100;
/** Rows a group's section lists at most (a sample: the full plan has them all). */
const MAX_ROWS_PER_GROUP = 100;
/** Per-instance `<details>` a group's section gets at most: its first (loudest) distinct changes. */
const MAX_DETAILS_PER_GROUP = 5;
/** Lines of one instance's diff in its `<details>`. */
const MAX_DIFF_LINES = 40;
/** Bytes kept for the closing note. */
const TAIL_RESERVE = 1_100;

export interface MarkdownOptions {
  /** Maximum size of the whole body in UTF-8 bytes (default DEFAULT_LIMIT: GitHub's 65,536 less 1 KiB). */
  limit?: number;
  /** Where the CI variables are read (default `process.env`): GITHUB_* and PVEFLEET_PLAN_URL. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The saved plan file, named in the pointer to the full plan when no CI link is known. */
  savedTo?: string;
}

/** Sensitive attributes: their values never appear in markdown, only their names. */
export function isSensitiveAttribute(attribute: string): boolean {
  return /^(userdata|vars)(\b|[.[]|$)/i.test(attribute);
}

/** An attribute change whose values must not be shown (marked by the planner, or by its name). */
function isSensitive(a: { attribute: string; sensitive?: unknown }): boolean {
  return a.sensitive === true || isSensitiveAttribute(a.attribute);
}

/** The attributes that force a replacement (`forcedBy`), as names: "(sensitive)" after userdata and vars. */
function forcedNames(c: InstanceChange): string[] {
  return (c.forcedBy ?? []).map((f) => (f.sensitive || isSensitiveAttribute(f.attribute) ? `${attributeLabel(f.attribute)} (sensitive)` : attributeLabel(f.attribute)));
}

/** `diff`-fenced change lines for one instance (GitHub colours `+`, `-` and `!`). */
function diffLines(c: InstanceChange): string[] {
  const out: string[] = [];
  if (c.kind === "delete" && c.before && c.attributes.length === 0) {
    for (const [k, v] of liveAttributes(c.before)) out.push(`- ${attributeLabel(k)}: ${formatValue(k, v)}`);
  }
  for (const a of c.attributes) {
    const force = a.forcesReplacement ? "   # forces replacement" : "";
    const name = attributeLabel(a.attribute);
    if (isSensitive(a)) {
      const what = a.before === undefined ? "+" : a.after === undefined ? "-" : "!";
      out.push(`${what} ${name}: (sensitive value${what === "!" ? " changed" : ""})${force}`);
    } else if (isTextAttribute(a.attribute, a.before, a.after)) {
      out.push(`! ${name}:${force}`);
      for (const l of unifiedDiff(String(a.before ?? ""), String(a.after ?? ""))) out.push(l.startsWith("@@") ? `# ${l}` : l);
    } else if (a.before === undefined) out.push(`+ ${name}: ${formatValue(a.attribute, a.after)}${force}`);
    else if (a.after === undefined) out.push(`- ${name}: ${formatValue(a.attribute, a.before)}${force}`);
    else out.push(`! ${name}: ${formatValue(a.attribute, a.before)} → ${formatValue(a.attribute, a.after)}${force}`);
  }
  // Causes the attribute lines above do not already name.
  const shown = new Set(c.attributes.filter((a) => a.forcesReplacement).map((a) => a.attribute));
  const unnamed = (c.forcedBy ?? []).filter((f) => !shown.has(f.attribute));
  if (unnamed.length) out.push(`# replacement forced by ${forcedNames({ ...c, forcedBy: unnamed }).join(", ")}`);
  for (const r of c.reasons) out.push(`# because ${r}`);
  const clipped = out.slice(0, MAX_DIFF_LINES).map((l) => clip(l, 200));
  if (out.length > MAX_DIFF_LINES) clipped.push(`# … ${out.length - MAX_DIFF_LINES} more lines in the full plan`);
  return clipped;
}

/**
 * The change column: what forces a replacement (names only), then the other attributes with values
 * (names only for sensitive ones); else the first reason.
 */
function shortChange(c: InstanceChange): string {
  const forced = forcedNames(c);
  const attrs = forced.length ? c.attributes.filter((a) => !a.forcesReplacement) : c.attributes;
  const list = attrs.map((a) =>
    isSensitive(a) ? `${attributeLabel(a.attribute)} (sensitive)`
      : isTextAttribute(a.attribute, a.before, a.after) ? attributeLabel(a.attribute)
        : `${attributeLabel(a.attribute)} ${formatValue(a.attribute, a.before)} → ${formatValue(a.attribute, a.after)}`);
  const parts = [...(forced.length ? [`forced by ${forced.join(", ")}`] : []), ...list];
  if (!parts.length) return c.reasons[0] ?? "";
  return parts.slice(0, 3).join(", ") + (parts.length > 3 ? `, +${parts.length - 3} more` : "");
}

/** A group's spec in one line: template, cores, memory, disk, then where it goes. Never userdata or vars content. */
function specLine(spec: VmSpec): string {
  const parts: string[] = [];
  for (const [k, v] of specAttributes(spec)) {
    switch (k) {
      case "template": parts.push(`template ${code(String(v), 80)}`); break;
      case "cores": parts.push(plural(Number(v), "core")); break;
      case "memoryMiB": parts.push(`${formatBytes(Number(v) * 1048576)} memory`); break;
      case "diskBytes": parts.push(`${formatBytes(Number(v))} disk`); break;
      case "onboot": parts.push(v ? "starts on boot" : "no start on boot"); break;
      case "userdata": parts.push("userdata (sensitive)"); break;
      default: parts.push(`${k} ${code(String(v), 60)}`);
    }
  }
  // Without a disk size the clone keeps the template's: say so, so "disk" is never missing.
  if (spec.diskBytes === undefined) parts.splice(Math.min(3, parts.length), 0, "the template's disk size");
  if (Object.keys(spec.vars ?? {}).length) parts.push("vars (sensitive)");
  return `Spec: ${parts.join(" · ")}`;
}

interface GroupInfo {
  name: string;
  total: number;
  counts: Map<ChangeKind, number>;
  byKind: Map<ChangeKind, InstanceChange[]>;
  spec?: VmSpec;
  /** Rows chosen so far, in ROW_ORDER, and their lines. */
  shown: InstanceChange[];
  rows: string[];
  /** Next row to take: index into ROW_ORDER and into that kind's list. */
  cursor: { kind: number; index: number };
  /** Bytes reserved for the "… and N more" line while rows are left. */
  moreReserve: number;
}

function groupsOf(plan: Plan): Map<string, GroupInfo> {
  const groups = new Map<string, GroupInfo>();
  for (const c of plan.changes) {
    const name = groupName(c);
    let g = groups.get(name);
    if (!g) {
      g = { name, total: 0, counts: new Map(), byKind: new Map(), shown: [], rows: [], cursor: { kind: 0, index: 0 }, moreReserve: 0 };
      groups.set(name, g);
    }
    g.total++;
    g.counts.set(c.kind, (g.counts.get(c.kind) ?? 0) + 1);
    const list = g.byKind.get(c.kind);
    if (list) list.push(c);
    else g.byKind.set(c.kind, [c]);
    if (!g.spec && c.after && c.kind !== "delete") g.spec = c.after;
  }
  return groups;
}

function nextRow(g: GroupInfo): InstanceChange | undefined {
  while (g.cursor.kind < ROW_ORDER.length) {
    const list = g.byKind.get(ROW_ORDER[g.cursor.kind]!);
    if (list && g.cursor.index < list.length) return list[g.cursor.index];
    g.cursor = { kind: g.cursor.kind + 1, index: 0 };
  }
  return undefined;
}

function row(c: InstanceChange): string {
  const d = displayOf(c);
  const moved = c.placement && c.before && (c.placement.node !== c.before.node || c.placement.vmid !== c.before.vmid);
  const node = moved ? `${c.before!.node} → ${c.placement!.node}` : c.placement?.node ?? c.before?.node ?? "";
  const vmid = moved ? `${c.before!.vmid} → ${c.placement!.vmid}` : String(c.placement?.vmid ?? c.before?.vmid ?? "");
  const change = shortChange(c);
  return `| ${ICON[d]} | ${code(c.instanceId, 64)} | ${cell(node, 80)} | ${vmid} | ${WORD[d]}${change ? `: ${cell(change)}` : ""} |`;
}

/** Kinds of a group in a phrase: `985 to create, 5 to update`. */
function kindsPhrase(counts: ReadonlyMap<ChangeKind, number>): string {
  return ROW_ORDER.filter((k) => counts.get(k)).map((k) => `${num(counts.get(k)!)} ${KIND_WORD[k]}`).join(", ");
}

function moreLine(g: GroupInfo, remaining: ReadonlyMap<ChangeKind, number>, left: number): string {
  return `_… and ${num(left)} more in ${cell(g.name, 80)} (${kindsPhrase(remaining)})._`;
}

/** One instance's `<details>`; `same`: how many other listed rows have exactly this change. */
function detailBlock(c: InstanceChange, lines: string[], same: number): string[] {
  const d = displayOf(c);
  const also = same ? ` (and ${plural(same, "more row")} above with the same change)` : "";
  return [`<details><summary>${ICON[d]} <code>${html(addressOf(c))}</code> ${html(sentenceOf(d, c))}${also}</summary>`, "",
    ...fence("diff", lines), "", "</details>", ""];
}

/** Worth a `<details>`: what a row cannot say (creates show their group's spec instead). */
function hasDetails(c: InstanceChange): boolean {
  return c.attributes.length > 0 || (c.kind !== "create" && c.kind !== "start");
}

/** The pull-request comment for a plan. */
export function renderPlanMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  const hash = planHash(plan);
  // First as if everything fits; when something is left out, again with room for the closing note.
  const groups = groupsOf(plan);
  let groupOf: Map<string, string> | undefined;
  const callouts = warningCallouts(plan.warnings, (id) => (groupOf ??= new Map(plan.changes.map((c) => [c.instanceId, groupName(c)]))).get(id));
  const facts: PlanFacts = { plan, hash, groups, callouts };
  return layoutPlan(facts, options, 0) ?? layoutPlan(facts, options, tailReserveFor(plan, options))!;
}

/** What both layouts share, computed once. */
interface PlanFacts {
  plan: Plan;
  hash: string;
  groups: Map<string, GroupInfo>;
  /** The warnings, one callout per kind. */
  callouts: string[][];
}

/** The comment within the limit, or undefined when something is left out and no room was kept for saying so. */
function layoutPlan({ plan, hash, groups, callouts }: PlanFacts, options: MarkdownOptions, tailReserve: number): string | undefined {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const ci = ciContext(options.env ?? process.env);
  const counts = countChanges(plan);
  for (const g of groups.values()) {
    g.shown = [];
    g.rows = [];
    g.cursor = { kind: 0, index: 0 };
    g.moreReserve = 0;
  }
  const budget = new Budget(limit);
  budget.reserve(tailReserve);

  const meta = (truncated: boolean) =>
    `<!-- pvefleet-plan ${JSON.stringify({ cluster: plan.clusterId, shard: plan.shardId, plan_hash: hash, lineage: plan.state.lineage, serial: plan.state.serial, config_digest: plan.configDigest, truncated })} -->`;
  const head: string[] = [];
  budget.force(head, [planMarker(plan), meta(false), ""]);
  budget.force(head, [`## pvefleet plan for ${code(`${plan.clusterId}/${plan.shardId}`, 200)}${plan.mode === "normal" ? "" : ` (${plan.mode})`}`, ""]);
  budget.force(head, [plan.changes.length ? `**${summarySentence(plan.summary, counts)}**` : `**${noChangesSentence(plan.mode)}**`, ""]);
  // A plan without changes has no more to show elsewhere: the commit/run only, when known.
  if (plan.changes.length) budget.force(head, [provenanceLine(ci, "plan", options.savedTo), ""]);
  else if (ci.sha || ci.runUrl) budget.force(head, [provenanceLine(ci, "plan", undefined, false), ""]);
  if (plan.refresh) budget.take(head, [`<sub>${refreshSentence(plan.refresh)}</sub>`, ""]);

  // Severity: destroying VMs is the loud one; replacements warn; creates and updates need none.
  const kindCount = (k: ChangeKind) => [...groups.values()].reduce((s, g) => s + (g.counts.get(k) ?? 0), 0);
  const perGroup = (k: ChangeKind) => new Map([...groups.values()].filter((g) => g.counts.get(k)).map((g) => [g.name, g.counts.get(k)!] as const));
  const deleted = kindCount("delete");
  if (deleted) {
    budget.force(head, alert("CAUTION", [`**This plan destroys ${plural(deleted, "VM")}** (${cell(topCounts(perGroup("delete"), 5), 400)}), marked 🗑️ below. ${deleted === 1 ? "Its disks are deleted with it" : "Their disks are deleted with them"}.`]));
  }
  const replaced = kindCount("replace");
  if (replaced) {
    const first = plan.changes.filter((c) => c.kind === "replace" && c.replaceOrder !== "create-first").length;
    const order = first === 0 ? "each new VM is created and started before the old one is destroyed"
      : first === replaced ? "each old VM is destroyed before its successor is created"
        : `${num(replaced - first)} create their successor first, ${num(first)} destroy the old VM first`;
    budget.force(head, alert("WARNING", [`**${plural(replaced, "VM")} will be replaced** (${cell(topCounts(perGroup("replace"), 5), 400)}): ${order}. New VMs get new instance IDs; marked ♻️ below.`]));
  }
  const managedDrift = plan.drift.filter(isManagedDrift);
  if (plan.drift.length) {
    const others = plan.drift.length - managedDrift.length;
    budget.take(head, alert("NOTE", [`**Objects have changed outside of pvefleet:** ${plural(managedDrift.length, "finding")} on managed VMs` +
      (others ? `, ${num(others)} about VMs pvefleet does not manage` : "") + ". Run `pvefleet drift` for details."]));
  }

  // Per-group counts, capped: the rest of the groups summed in one row.
  const all = [...groups.values()];
  let tableLeftOut = 0;
  if (all.length) {
    const cols = COLUMNS.filter((col) => col.always || col.kinds.some((k) => kindCount(k) > 0));
    const sum = (gs: GroupInfo[], kinds: ChangeKind[]) => gs.reduce((s, g) => s + kinds.reduce((t, k) => t + (g.counts.get(k) ?? 0), 0), 0);
    const line = (label: string, gs: GroupInfo[]) => `| ${label} | ${cols.map((col) => num(sum(gs, col.kinds))).join(" | ")} |`;
    const table = [`| group | ${cols.map((c) => c.title).join(" | ")} |`, `|---|${cols.map(() => "--:").join("|")}|`];
    if (budget.take(head, table)) {
      const tail: string[] = [];
      if (all.length > 1) tail.push(line("**all groups**", all));
      tail.push("");
      budget.reserve(cost(tail) + 200);
      for (const [i, g] of all.entries()) {
        if (i >= MAX_TABLE_GROUPS || !budget.take(head, [line(cell(g.name, 80), [g])])) {
          tableLeftOut = all.length - i;
          budget.release(200);
          budget.take(head, [line(`… ${plural(tableLeftOut, "more group")}`, all.slice(i))]);
          break;
        }
      }
      if (!tableLeftOut) budget.release(200);
      budget.release(cost(tail));
      budget.take(head, tail);
    }
  }

  // Warnings, one callout per kind.
  let warningsLeftOut = 0;
  for (const callout of callouts) if (!budget.take(head, callout)) warningsLeftOut++;

  // One section per group: its heading, counts, spec, the table header and at least one row.
  const body: string[] = [];
  const sections: GroupInfo[] = [];
  let sectionsLeftOut = 0;
  const skeleton = (g: GroupInfo) => [`### ${cell(g.name, 120)}`, "", `**${kindsPhrase(g.counts)}**`, ...(g.spec ? ["", specLine(g.spec)] : []), "",
    "| | instance | node | vmid | change |", "|:-:|---|---|--:|---|"];
  // Sections are handed out loudest first, so a group that destroys or replaces VMs keeps its
  // section (and the rows the callouts point to) when quieter groups earlier in the plan would use
  // up the room; they are printed in the plan's order.
  const loudness = (g: GroupInfo) => (g.counts.get("delete") ? 0 : g.counts.get("replace") ? 1 : 2);
  for (const g of [...all].sort((a, b) => loudness(a) - loudness(b))) {
    const first = nextRow(g)!;
    const lines = [...skeleton(g), row(first)];
    const more = g.total > 1 ? cost(["", moreLine(g, g.counts, g.total), ""]) : cost([""]);
    if (cost(lines) + more > budget.left) {
      sectionsLeftOut++;
      continue;
    }
    budget.take([], lines);
    budget.reserve(more);
    g.moreReserve = more;
    g.shown.push(first);
    g.rows.push(lines[lines.length - 1]!);
    g.cursor.index++;
    sections.push(g);
  }
  const position = new Map(all.map((g, i) => [g, i]));
  sections.sort((a, b) => position.get(a)! - position.get(b)!);
  // Then rows round-robin, so a big group never starves a small one; a group whose next row does
  // not fit is done. Each round places a row or ends: linear in the rows shown.
  let open = sections.filter((g) => g.shown.length < g.total);
  while (open.length) {
    const still: GroupInfo[] = [];
    for (const g of open) {
      if (g.shown.length >= MAX_ROWS_PER_GROUP) continue;
      const c = nextRow(g)!;
      const r = row(c);
      if (!budget.take([], [r])) continue;
      g.shown.push(c);
      g.rows.push(r);
      g.cursor.index++;
      if (g.shown.length < g.total) still.push(g);
      else {
        budget.release(g.moreReserve);
        g.moreReserve = cost([""]);
        budget.reserve(g.moreReserve);
      }
    }
    open = still;
  }
  let rowsShown = 0;
  for (const g of sections) {
    rowsShown += g.shown.length;
    body.push(...skeleton(g), ...g.rows);
    budget.release(g.moreReserve);
    if (g.shown.length < g.total) {
      const remaining = new Map<ChangeKind, number>(g.counts);
      for (const c of g.shown) remaining.set(c.kind, remaining.get(c.kind)! - 1);
      budget.force(body, ["", moreLine(g, remaining, g.total - g.shown.length), ""]);
    } else budget.force(body, [""]);
  }

  // Per-instance details for shown rows, while room is left.
  let detailsShown = 0;
  let detailsLeftOut = 0;
  const heading = ["#### Changes by instance", ""];
  for (const g of sections) {
    // One block per distinct change among the group's rows: 100 identical updates need one.
    const distinct = new Map<string, { c: InstanceChange; lines: string[]; same: number }>();
    for (const c of g.shown) {
      if (!hasDetails(c)) continue;
      const lines = diffLines(c);
      const key = `${displayOf(c)}\n${lines.join("\n")}`;
      const seen = distinct.get(key);
      if (seen) seen.same++;
      else if (distinct.size < MAX_DETAILS_PER_GROUP) distinct.set(key, { c, lines, same: 0 });
    }
    for (const { c, lines, same } of distinct.values()) {
      // The heading comes with the first block that fits, never alone.
      const block = detailBlock(c, lines, same);
      if (budget.take(body, detailsShown ? block : [...heading, ...block])) detailsShown++;
      else detailsLeftOut++;
    }
  }

  const rowsLeftOut = plan.changes.length - rowsShown;
  const truncated = rowsLeftOut > 0 || detailsLeftOut > 0 || warningsLeftOut > 0 || tableLeftOut > 0;
  if (truncated) {
    if (!tailReserve) return undefined;
    head[1] = meta(true);
    budget.release(tailReserve);
    budget.force(body, tailNote({ rowsShown, total: plan.changes.length, sections: sectionsLeftOut, table: tableLeftOut, details: detailsLeftOut, warnings: warningsLeftOut, limited: budget.refused || sectionsLeftOut > 0 }, ci, options.savedTo));
  }
  const md = [...head, ...body].join("\n");
  // Only a limit smaller than the forced parts (markers, summary, destroy/replace callouts) can
  // overflow: then the forced parts alone, cut to the limit at a line end.
  if (Buffer.byteLength(md) <= limit) return md;
  const minimal: string[] = [];
  const room = new Budget(limit);
  for (const l of [...head.slice(0, head.indexOf("") + 1), ...head.slice(3, 7)]) if (!room.take(minimal, [l])) break;
  return minimal.join("\n");
}

interface LeftOut {
  rowsShown: number;
  total: number;
  sections: number;
  /** Groups summed in the counts table's "… N more groups" row. */
  table: number;
  details: number;
  warnings: number;
  /** Left out for want of room (else only for the per-group sample size). */
  limited: boolean;
}

/** The closing note: what was left out and where the full plan is. */
function tailNote(l: LeftOut, ci: CiContext, savedTo: string | undefined): string[] {
  const what = [
    l.rowsShown < l.total ? `${num(l.rowsShown)} of ${plural(l.total, "change")} shown as rows` : "",
    l.sections ? `${plural(l.sections, "group")} without a section` : "",
    l.table ? `${plural(l.table, "group")} summed in one row of the counts table` : "",
    l.details ? `${plural(l.details, "instance detail")} left out` : "",
    l.warnings ? `${plural(l.warnings, "kind")} of warning left out` : "",
  ].filter(Boolean).join(", ");
  const caps = [l.rowsShown < l.total ? `up to ${MAX_ROWS_PER_GROUP} rows per group` : "", l.table ? `up to ${MAX_TABLE_GROUPS} groups listed` : ""];
  const why = l.limited ? ` to fit GitHub's ${num(GITHUB_COMMENT_LIMIT)}-character comment limit` : ` (${caps.filter(Boolean).join(", ")})`;
  return alert("NOTE", [`${clip(what, 300)}${why}. The full plan: ${fullPointer(ci, "plan", savedTo)}.`]);
}

/** Room for the closing note with every count at its largest. */
function tailReserveFor(plan: Plan, options: MarkdownOptions): number {
  const n = Math.max(2, plan.changes.length);
  return cost(tailNote({ rowsShown: n - 1, total: n, sections: n, table: n, details: n, warnings: 99, limited: true }, ciContext(options.env ?? process.env), options.savedTo));
}

const DRIFT_KINDS: DriftFinding["kind"][] = ["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"];

function driftValue(f: DriftFinding, v: unknown): string {
  if (v === undefined) return "";
  if (f.attribute && isSensitiveAttribute(f.attribute)) return "(sensitive)";
  return cell(formatValue(f.attribute ?? "", v), 80);
}

function driftRow(f: DriftFinding): string {
  return `| \`${f.fingerprint.replace(/^sha256:/, "").slice(0, 16)}\` | ${f.kind} | ${f.instanceId ? code(f.instanceId, 64) : ""} | ${f.vmid ?? ""} | ${cell(f.node ?? "", 60)} | ${cell(f.attribute ? attributeLabel(f.attribute) : "", 60)} | ${driftValue(f, f.expected)} | ${driftValue(f, f.actual)} |`;
}

/** The scheduled drift issue body (one issue per shard, updated while the fingerprints match). */
export function renderDriftMarkdown(report: DriftReport, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const ci = ciContext(options.env ?? process.env);
  const budget = new Budget(limit);
  budget.reserve(TAIL_RESERVE);
  const head: string[] = [];
  budget.take(head, [driftMarker(report),
    `<!-- pvefleet-drift ${JSON.stringify({ cluster: report.clusterId, shard: report.shardId, digest: driftDigest(report.findings), findings: report.findings.length })} -->`, "",
    `## pvefleet drift for ${code(`${report.clusterId}/${report.shardId}`, 200)}`, ""]);
  const byKind = new Map<DriftFinding["kind"], DriftFinding[]>();
  for (const f of report.findings) {
    const list = byKind.get(f.kind);
    if (list) list.push(f);
    else byKind.set(f.kind, [f]);
  }
  const n = (k: DriftFinding["kind"]) => byKind.get(k)?.length ?? 0;
  if (inSync(report)) {
    const unmanaged = n("unmanaged");
    const suspicious = n("suspicious");
    budget.take(head, [`**No drift.** The cluster matches the state.${unmanaged ? ` ${plural(unmanaged, "VM")} on the cluster ${unmanaged === 1 ? "is" : "are"} not this shard's (left alone).` : ""}` +
      `${suspicious ? ` ${plural(suspicious, "suspicious VM")} (some of this shard's marks, not all) left alone.` : ""}` +
      `${report.ignored ? ` ${plural(report.ignored, "finding")} ignored by \`drift.ignore\`.` : ""}`, ""]);
    budget.take(head, [provenanceLine(ci, "drift"), ""]);
    if (report.refresh) budget.take(head, [`<sub>${refreshSentence(report.refresh)}</sub>`, ""]);
    return head.join("\n");
  }
  budget.take(head, [provenanceLine(ci, "drift"), ""]);
  if (report.refresh) budget.take(head, [`<sub>${refreshSentence(report.refresh)}</sub>`, ""]);
  budget.take(head, [`**${plural(report.findings.length, "finding")}.**`, "", "| kind | count |", "|---|--:|",
    ...DRIFT_KINDS.filter((k) => n(k)).map((k) => `| ${k} | ${num(n(k))} |`), "",
    "| fingerprint | kind | instance | vmid | node | attribute | expected | actual |", "|---|---|---|--:|---|---|---|---|"]);
  // Rows round-robin over kinds (every kind keeps samples), printed grouped by kind.
  const shown = new Map<DriftFinding["kind"], string[]>();
  const kinds = DRIFT_KINDS.filter((k) => n(k));
  let open = kinds;
  for (let i = 0; open.length; i++) {
    open = open.filter((k) => {
      const f = byKind.get(k)![i];
      if (!f) return false;
      const r = driftRow(f);
      if (!budget.take([], [r])) return false;
      (shown.get(k) ?? shown.set(k, []).get(k)!).push(r);
      return true;
    });
  }
  const out = [...head];
  let left = 0;
  for (const k of kinds) {
    out.push(...(shown.get(k) ?? []));
    left += n(k) - (shown.get(k)?.length ?? 0);
  }
  out.push("");
  if (left) {
    out.push(...alert("NOTE", [`${plural(left, "finding")} left out to fit GitHub's comment limit. Run \`pvefleet drift --format json\` for all of them.`]));
  }
  return out.join("\n");
}
