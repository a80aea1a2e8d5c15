/**
 * Markdown for pull-request comments and drift issues, rendered from plan data (never by parsing
 * text). Always fits GitHub's 65,536-character comment limit: header, summary, warnings and tables
 * are kept; table rows, then per-instance details, are dropped from the end with a line saying how
 * many were left out (anchors.md §2, ideas from tfcmt and dflook).
 */
import { createHash } from "node:crypto";
import type { DriftFinding, InstanceChange, Plan } from "../../planner/types.js";
import { inSync, isManagedDrift, refreshSentence, unifiedDiff, type DriftReport } from "./text.js";
import { isDrift } from "../../planner/drift.js";
import {
  addressOf, countChanges, displayOf, formatValue, groupName, isTextAttribute, liveAttributes,
  noChangesSentence, sentenceOf, specAttributes, summarySentence, type Display,
} from "./vocabulary.js";

/** GitHub's limit on an issue or pull-request comment body, in characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** The sticky-comment marker CI looks for to update its own comment (one per shard). */
export function planMarker(plan: Pick<Plan, "clusterId" | "shardId">): string {
  return `<!-- pvefleet:plan ${plan.clusterId}/${plan.shardId} -->`;
}

export function driftMarker(report: Pick<DriftReport, "clusterId" | "shardId">): string {
  return `<!-- pvefleet:drift ${report.clusterId}/${report.shardId} -->`;
}

/** A digest of the whole plan, so an apply can tell it applies what was reviewed. */
export function planHash(plan: Plan): string {
  return `sha256:${createHash("sha256").update(JSON.stringify(plan)).digest("hex")}`;
}

/** One digest over every finding's fingerprint: equal digests mean the same drift. */
export function driftDigest(findings: DriftFinding[]): string {
  const h = createHash("sha256");
  for (const f of [...findings].map((f) => f.fingerprint).sort()) h.update(`${f}\n`);
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

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export interface MarkdownOptions {
  /** Maximum characters (default GitHub's 65,536). */
  limit?: number;
  /** Text linking to the full plan (e.g. the CI run), printed when details are left out. */
  fullPlanHint?: string;
}

/** `diff`-fenced change lines for one instance (GitHub colours `+`, `-` and `!`). */
function diffLines(c: InstanceChange): string[] {
  const out: string[] = [];
  if (c.kind === "create" && c.after && c.attributes.length === 0) {
    for (const [k, v] of specAttributes(c.after)) out.push(`+ ${k}: ${formatValue(k, v)}`);
  } else if (c.kind === "delete" && c.before && c.attributes.length === 0) {
    for (const [k, v] of liveAttributes(c.before)) out.push(`- ${k}: ${formatValue(k, v)}`);
  }
  for (const a of c.attributes) {
    const force = a.forcesReplacement ? "   # forces replacement" : "";
    if (isTextAttribute(a.attribute, a.before, a.after)) {
      out.push(`! ${a.attribute}:${force}`);
      for (const l of unifiedDiff(String(a.before ?? ""), String(a.after ?? ""))) out.push(l.startsWith("@@") ? `# ${l}` : l);
    } else if (a.before === undefined) out.push(`+ ${a.attribute}: ${formatValue(a.attribute, a.after)}${force}`);
    else if (a.after === undefined) out.push(`- ${a.attribute}: ${formatValue(a.attribute, a.before)}${force}`);
    else out.push(`! ${a.attribute}: ${formatValue(a.attribute, a.before)} → ${formatValue(a.attribute, a.after)}${force}`);
  }
  for (const r of c.reasons) out.push(`# because ${r}`);
  return out;
}

function fence(lines: string[]): string {
  const body = lines.join("\n");
  const ticks = body.includes("```") ? "~~~~" : "```";
  return `${ticks}diff\n${body}\n${ticks}`;
}

function shortChange(c: InstanceChange): string {
  if (c.attributes.length) {
    const list = c.attributes.slice(0, 3).map((a) =>
      isTextAttribute(a.attribute, a.before, a.after) ? a.attribute : `${a.attribute} ${formatValue(a.attribute, a.before)} → ${formatValue(a.attribute, a.after)}`);
    return list.join(", ") + (c.attributes.length > 3 ? `, +${c.attributes.length - 3} more` : "");
  }
  return c.reasons[0] ?? "";
}

/** The pull-request comment for a plan. */
export function renderPlanMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? GITHUB_COMMENT_LIMIT;
  const counts = countChanges(plan);
  const displays = new Map(plan.changes.map((c) => [c, displayOf(c, plan)] as const));

  const head: string[] = [];
  const meta = (truncated: boolean) =>
    `<!-- pvefleet-plan ${JSON.stringify({ cluster: plan.clusterId, shard: plan.shardId, plan_hash: planHash(plan), lineage: plan.state.lineage, serial: plan.state.serial, config_digest: plan.configDigest, truncated })} -->`;
  head.push(planMarker(plan), meta(false), "");
  head.push(`## pvefleet plan for \`${plan.clusterId}/${plan.shardId}\`${plan.mode === "normal" ? "" : ` (${plan.mode})`}`, "");
  head.push(plan.changes.length ? `**${summarySentence(plan.summary, counts)}**` : `**${noChangesSentence(plan.mode)}**`, "");
  if (plan.refresh) head.push(`<sub>${refreshSentence(plan.refresh)}</sub>`, "");

  const deleted = plan.changes.filter((c) => c.kind === "delete").length;
  const replaced = plan.changes.filter((c) => c.kind === "replace").length;
  if (deleted || replaced) {
    const parts = [deleted ? `${deleted} destroyed` : "", replaced ? `${replaced} replaced` : ""].filter(Boolean).join(", ");
    head.push("> [!WARNING]", `> **This plan destroys VMs:** ${parts}. Review the instances marked 🗑️ and ♻️ below.`, "");
  }
  for (const w of plan.warnings) head.push("> [!CAUTION]", `> ${w.replace(/\n/g, "\n> ")}`, "");
  const managedDrift = plan.drift.filter(isManagedDrift);
  if (plan.drift.length) {
    const others = plan.drift.length - managedDrift.length;
    head.push("> [!NOTE]", `> **Objects have changed outside of pvefleet:** ${managedDrift.length} finding${managedDrift.length === 1 ? "" : "s"} on managed VMs` +
      (others ? `, ${others} about VMs pvefleet does not manage` : "") + ". Run `pvefleet drift` for details.", "");
  }

  if (plan.changes.length) {
    const groups = new Map<string, InstanceChange[]>();
    for (const c of plan.changes) groups.set(groupName(c), [...(groups.get(groupName(c)) ?? []), c]);
    head.push("| group | add | change | destroy | replace | other |", "|---|--:|--:|--:|--:|--:|");
    for (const [g, cs] of groups) {
      const n = (k: InstanceChange["kind"][]) => cs.filter((c) => k.includes(c.kind)).length;
      head.push(`| ${cell(g)} | ${n(["create"])} | ${n(["update", "start"])} | ${n(["delete"])} | ${n(["replace"])} | ${n(["adopt", "forget", "record"])} |`);
    }
    head.push("");
  }

  const leftOutReserve = 400;
  let budget = limit - head.join("\n").length - leftOutReserve;
  const body: string[] = [];
  let rowsLeftOut = 0;

  const groups = new Map<string, InstanceChange[]>();
  for (const c of plan.changes) groups.set(groupName(c), [...(groups.get(groupName(c)) ?? []), c]);
  let full = false;
  for (const [g, cs] of groups) {
    const title = [`### ${g}`, "", "| | instance | node | vmid | change |", "|:-:|---|---|--:|---|"];
    const titleLen = title.join("\n").length + 1;
    if (full || titleLen + 200 > budget) { full = true; rowsLeftOut += cs.length; continue; }
    body.push(...title);
    budget -= titleLen;
    let shown = 0;
    for (const c of cs) {
      const d = displays.get(c)!;
      const moved = c.placement && c.before && (c.placement.node !== c.before.node || c.placement.vmid !== c.before.vmid);
      const node = moved ? `${c.before!.node} → ${c.placement!.node}` : c.placement?.node ?? c.before?.node ?? "";
      const vmid = moved ? `${c.before!.vmid} → ${c.placement!.vmid}` : String(c.placement?.vmid ?? c.before?.vmid ?? "");
      const row = `| ${ICON[d]} | \`${c.instanceId}\` | ${cell(node)} | ${vmid} | ${WORD[d]}${shortChange(c) ? `: ${cell(shortChange(c))}` : ""} |`;
      if (full || row.length + 120 > budget) { full = true; continue; }
      body.push(row);
      budget -= row.length + 1;
      shown++;
    }
    if (shown < cs.length) {
      const more = `\n_… and ${cs.length - shown} more in ${g}._`;
      body.push(more);
      budget -= more.length + 1;
      rowsLeftOut += cs.length - shown;
    }
    body.push("");
    budget -= 1;
  }

  let detailsLeftOut = 0;
  let detailsShown = 0;
  for (const c of plan.changes) {
    const d = displays.get(c)!;
    const block = [`<details><summary>${ICON[d]} <code>${addressOf(c)}</code> ${sentenceOf(d, c)}</summary>`, "", fence(diffLines(c)), "", "</details>", ""].join("\n");
    if (rowsLeftOut > 0 || block.length + 1 > budget) { detailsLeftOut++; continue; }
    if (detailsShown === 0) { body.push("#### Changes by instance", ""); budget -= 25; }
    body.push(block);
    budget -= block.length + 1;
    detailsShown++;
  }

  const truncated = rowsLeftOut > 0 || detailsLeftOut > 0;
  if (truncated) {
    head[1] = meta(true);
    const what = [rowsLeftOut ? `${rowsLeftOut} table row${rowsLeftOut === 1 ? "" : "s"}` : "", detailsLeftOut ? `${detailsLeftOut} instance detail${detailsLeftOut === 1 ? "" : "s"}` : ""].filter(Boolean).join(" and ");
    body.push(`> [!NOTE]`, `> ${what} left out to fit GitHub's ${GITHUB_COMMENT_LIMIT.toLocaleString("en-US")}-character comment limit. ${options.fullPlanHint ?? "Run `pvefleet plan` to see the full plan."}`.slice(0, 380), "");
  }
  return [...head, ...body].join("\n");
}

/** The scheduled drift issue body (one issue per shard, updated while the fingerprints match). */
export function renderDriftMarkdown(report: DriftReport, options: MarkdownOptions = {}): string {
  const limit = options.limit ?? GITHUB_COMMENT_LIMIT;
  const head: string[] = [driftMarker(report),
    `<!-- pvefleet-drift ${JSON.stringify({ cluster: report.clusterId, shard: report.shardId, digest: driftDigest(report.findings), findings: report.findings.length })} -->`, "",
    `## pvefleet drift for \`${report.clusterId}/${report.shardId}\``, ""];
  if (inSync(report)) {
    const unmanaged = report.findings.filter((f) => f.kind === "unmanaged").length;
    const suspicious = report.findings.filter((f) => f.kind === "suspicious").length;
    head.push(`**No drift.** The cluster matches the state.${unmanaged ? ` ${unmanaged} VM${unmanaged === 1 ? "" : "s"} on the cluster ${unmanaged === 1 ? "is" : "are"} not this shard's (left alone).` : ""}` +
      `${suspicious ? ` ${suspicious} suspicious VM${suspicious === 1 ? "" : "s"} (some of this shard's marks, not all) left alone.` : ""}` +
      `${report.ignored ? ` ${report.ignored} finding${report.ignored === 1 ? "" : "s"} ignored by \`drift.ignore\`.` : ""}`, "");
    if (report.refresh) head.push(`<sub>${refreshSentence(report.refresh)}</sub>`, "");
    return head.join("\n");
  }
  const kinds: DriftFinding["kind"][] = ["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"];
  if (report.refresh) head.push(`<sub>${refreshSentence(report.refresh)}</sub>`, "");
  head.push(`**${report.findings.length} finding${report.findings.length === 1 ? "" : "s"}.**`, "", "| kind | count |", "|---|--:|");
  for (const k of kinds) {
    const n = report.findings.filter((f) => f.kind === k).length;
    if (n) head.push(`| ${k} | ${n} |`);
  }
  head.push("", "| fingerprint | kind | instance | vmid | node | attribute | expected | actual |", "|---|---|---|--:|---|---|---|---|");
  let budget = limit - head.join("\n").length - 300;
  const rows: string[] = [];
  let left = 0;
  for (const f of report.findings) {
    const row = `| \`${f.fingerprint.replace(/^sha256:/, "").slice(0, 16)}\` | ${f.kind} | ${f.instanceId ? `\`${f.instanceId}\`` : ""} | ${f.vmid ?? ""} | ${cell(f.node ?? "")} | ${cell(f.attribute ?? "")} | ${f.expected === undefined ? "" : cell(formatValue(f.attribute ?? "", f.expected))} | ${f.actual === undefined ? "" : cell(formatValue(f.attribute ?? "", f.actual))} |`;
    if (row.length + 1 > budget) { left++; continue; }
    rows.push(row);
    budget -= row.length + 1;
  }
  const out = [...head, ...rows, ""];
  if (left) out.push(`> [!NOTE]`, `> ${left} finding${left === 1 ? "" : "s"} left out to fit GitHub's comment limit. Run \`pvefleet drift --format json\` for all of them.`, "");
  return out.join("\n");
}
