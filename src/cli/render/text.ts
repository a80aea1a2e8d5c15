/**
 * The human plan, in Terraform's layout and words (its plan output and drift report): drift block, legend,
 * one block per instance, capacity table, summary line. Pure: takes a Plan, returns a string.
 */
import { unifiedDiffLines } from "../../planner/replace-causes.js";
import type { DriftFinding, InstanceChange, NodeCapacity, Plan, RefreshReport } from "../../planner/types.js";
import { palette, type Palette } from "./ansi.js";
import { isDrift, type InfoKind } from "../../planner/drift.js";
import {
  addressOf, attributeLabel, countChanges, DISPLAY, displayOf, formatBytes, formatValue, groupName, isTextAttribute,
  LEGEND_ORDER, liveAttributes, naturalCompare, noChangesSentence, plural, sentenceOf, specAttributes, summarySentence, type Display, type Tone,
} from "./vocabulary.js";

export interface TextOptions {
  color?: boolean;
  /** The file the plan was saved to (`--out`); without it the "not saved" note is printed. */
  savedTo?: string;
  /** Omit the trailing "Note: You didn't use the --out option" paragraph (apply, show). */
  quietNote?: boolean;
  /** Each group's size in the shard file (`tenant.group` → size), for the "Groups:" table; without it the size shows as "-". */
  groupSizes?: ReadonlyMap<string, number>;
  /**
   * Print the userdata diff the planner made for a replacement. Userdata is sensitive: the CLI
   * turns this off in CI (`CI` set), where the output becomes a log others read; a terminal shows it.
   */
  sensitiveDiff?: boolean;
}

function paint(p: Palette, tone: Tone, s: string): string {
  return tone === "plain" ? s : p[tone](s);
}

export function renderPlanText(plan: Plan, options: TextOptions = {}): string {
  const p = palette(options.color ?? false);
  const out: string[] = [];
  if (plan.refresh) out.push(p.dim(refreshSentence(plan.refresh)), "");

  const drift = renderDriftBlock(plan, p);
  if (drift) out.push(drift, "─".repeat(77), "");

  for (const w of plan.warnings) out.push(`${p.yellow(p.bold("Warning:"))} ${w}`, "");

  if (plan.changes.length === 0) {
    out.push(p.green(p.bold(noChangesSentence(plan.mode))), "");
    if (plan.mode === "normal" && plan.drift.some(isManagedDrift)) {
      out.push("Your shard file already matches the changes detected above. To record them in the state,",
        "run: pvefleet apply --refresh-only", "");
    }
    out.push(...renderCapacity(plan.capacity, p));
    return out.join("\n");
  }

  const displays = plan.changes.map((c) => displayOf(c, plan));
  out.push("pvefleet used the shard file and the cluster to generate the following execution plan. Actions",
    "are indicated with the following symbols:");
  for (const d of LEGEND_ORDER) {
    if (displays.includes(d) || (d === "update" && displays.includes("start"))) {
      const info = DISPLAY[d];
      out.push(`${paint(p, info.tone, info.symbol.padStart(4))} ${info.legend}`);
    }
  }
  out.push("", "pvefleet will perform the following actions:", "");
  plan.changes.forEach((c, i) => out.push(...renderChange(c, displays[i]!, p, options.sensitiveDiff ?? true), ""));

  out.push(...renderGroupCounts(plan, options.groupSizes, p));
  const counts = countChanges(plan);
  out.push(p.bold(summarySentence(plan.summary, counts)), "");
  const capacity = renderCapacity(plan.capacity, p);
  if (capacity.length) out.push(...capacity);

  if (options.savedTo) {
    out.push(`Saved the plan to: ${options.savedTo}`, "", "To perform exactly these actions, run the following command to apply:",
      `    pvefleet apply ${JSON.stringify(options.savedTo)}`, "");
  } else if (!options.quietNote) {
    out.push("─".repeat(77), "",
      `Note: You didn't use the --out option to save this plan, so pvefleet can't guarantee to take`,
      `exactly these actions if you run "pvefleet apply" now.`, "");
  }
  return out.join("\n");
}

/**
 * The "Groups:" table: per group (natural order), its size in the shard file and what the plan does
 * to it — `+` creates, `~` in-place updates (and starts), `-/+` replacements, `-` destroys.
 */
export function renderGroupCounts(plan: Pick<Plan, "changes">, sizes: ReadonlyMap<string, number> | undefined, p: Palette): string[] {
  type Row = { create: number; update: number; replace: number; destroy: number };
  const rows = new Map<string, Row>();
  const row = (g: string) => rows.get(g) ?? rows.set(g, { create: 0, update: 0, replace: 0, destroy: 0 }).get(g)!;
  for (const c of plan.changes) {
    const r = row(groupName(c));
    if (c.kind === "create") r.create++;
    else if (c.kind === "update" || c.kind === "start") r.update++;
    else if (c.kind === "replace") r.replace++;
    else if (c.kind === "delete") r.destroy++;
  }
  if (rows.size === 0) return [];
  const names = [...rows.keys()].sort(naturalCompare);
  const head = ["group", "size", "+create", "~update", "-/+replace", "-destroy"];
  const cells = names.map((g) => {
    const r = rows.get(g)!;
    return [g, String(sizes?.get(g) ?? "-"), String(r.create), String(r.update), String(r.replace), String(r.destroy)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `  ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ")}`;
  return [p.bold("Groups:"), line(head), ...cells.map(line), ""];
}

function renderChange(c: InstanceChange, d: Display, p: Palette, sensitiveDiff: boolean): string[] {
  const info = DISPLAY[d];
  const lines: string[] = [];
  lines.push(p.bold(`  # ${addressOf(c)} ${sentenceOf(d, c)}`));
  for (const r of c.reasons) lines.push(`  # (because ${r})`);
  if (c.replaces && c.kind === "replace") lines.push(`  # (${c.before ? "replaced by" : "replaces"} ${c.replaces})`);
  lines.push(`${paint(p, info.tone, info.symbol)} vm "${c.instanceId}" {`);

  const fixed: [string, unknown][] = [["group", groupName(c)]];
  const node = c.placement?.node ?? c.before?.node;
  const vmid = c.placement?.vmid ?? c.before?.vmid;
  if (node !== undefined) fixed.push(["node", node]);
  if (vmid !== undefined) fixed.push(["vmid", vmid]);
  if (c.before && c.placement && (c.before.node !== c.placement.node || c.before.vmid !== c.placement.vmid)) {
    fixed.splice(1, 2, ["node", `${c.before.node} → ${c.placement.node}`], ["vmid", `${c.before.vmid} → ${c.placement.vmid}`]);
  }

  const rows: { mark: string; tone: Tone; name: string; value: string; note?: string; diff?: string[] }[] = [];
  for (const [k, v] of fixed) rows.push({ mark: "   ", tone: "plain", name: k, value: String(v) });

  if (c.kind === "create" && c.after && c.attributes.length === 0) {
    for (const [k, v] of specAttributes(c.after)) rows.push({ mark: "  +", tone: "green", name: attributeLabel(k), value: formatValue(k, v) });
  } else if (c.kind === "delete" && c.before && c.attributes.length === 0) {
    for (const [k, v] of liveAttributes(c.before)) rows.push({ mark: "  -", tone: "red", name: attributeLabel(k), value: formatValue(k, v) });
  }
  for (const a of c.attributes) {
    if (a.sensitive) {
      // Userdata and vars: what changed, and on the text plan the userdata diff the planner made
      // (never in a saved plan, markdown or JSON).
      const cause = c.forcedBy?.find((f) => f.attribute === a.attribute);
      const hidden = cause?.diff !== undefined && !sensitiveDiff ? "; diff not shown in CI" : "";
      const value = cause?.linesChanged !== undefined ? `(sensitive, ${cause.linesChanged} line${cause.linesChanged === 1 ? "" : "s"} changed${hidden})` : "(sensitive value)";
      rows.push({ mark: "  ~", tone: "yellow", name: a.attribute, value, note: a.forcesReplacement ? "# forces replacement" : undefined, diff: sensitiveDiff ? cause?.diff : undefined });
      continue;
    }
    if (isTextAttribute(a.attribute, a.before, a.after)) {
      rows.push({ mark: "  ~", tone: "yellow", name: attributeLabel(a.attribute), value: "", note: a.forcesReplacement ? "# forces replacement" : undefined,
        diff: unifiedDiff(String(a.before ?? ""), String(a.after ?? "")) });
      continue;
    }
    const mark = a.before === undefined ? "  +" : a.after === undefined ? "  -" : "  ~";
    const tone: Tone = mark === "  +" ? "green" : mark === "  -" ? "red" : "yellow";
    const value = a.before === undefined ? formatValue(a.attribute, a.after)
      : a.after === undefined ? formatValue(a.attribute, a.before)
      : `${formatValue(a.attribute, a.before)} → ${formatValue(a.attribute, a.after)}`;
    rows.push({ mark, tone, name: attributeLabel(a.attribute), value, note: a.forcesReplacement ? "# forces replacement" : undefined });
  }

  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const note = r.note ? p.red(r.note) : "";
    const value = [r.value, note.trim()].filter(Boolean).join(" ");
    lines.push(`    ${paint(p, r.tone, r.mark)} ${`${r.name}:`.padEnd(width + 1)} ${value}`.trimEnd());
    if (r.diff) for (const l of r.diff) lines.push(`          ${colourDiffLine(l, p)}`);
  }
  lines.push("    }");
  return lines;
}

/** A unified diff of two texts (hunks only, no file header), as lines: the planner's, for the renderers. */
export const unifiedDiff = unifiedDiffLines;

function colourDiffLine(l: string, p: Palette): string {
  if (l.startsWith("+")) return p.green(l);
  if (l.startsWith("-")) return p.red(l);
  if (l.startsWith("@@")) return p.cyan(l);
  return l;
}

/** Findings about VMs we manage; orphans, suspicious and unmanaged VMs are reported as counts. */
export function isManagedDrift(f: DriftFinding): boolean {
  return f.kind === "attribute" || f.kind === "missing" || f.kind === "stopped";
}

function renderDriftBlock(plan: Plan, p: Palette): string | undefined {
  const managed = plan.drift.filter(isManagedDrift);
  const others = plan.drift.filter((f) => !isManagedDrift(f));
  if (managed.length === 0 && others.length === 0) return undefined;
  const out: string[] = [];
  if (managed.length) {
    out.push(p.bold("Note: Objects have changed outside of pvefleet"), "",
      `pvefleet detected the following changes made outside of pvefleet since the last "pvefleet apply"`,
      "which may have affected this plan:", "");
    out.push(...renderFindings(managed, p));
    out.push(plan.mode === "refresh-only"
      ? "This is a refresh-only plan, so pvefleet will not take any actions to undo these. If you were\nexpecting these changes then you can apply this plan to record the updated values in the state\nwithout changing any VM."
      : "Unless you have made equivalent changes to your shard file, the following plan may include\nactions to undo or respond to these changes.", "");
  }
  if (others.length) {
    const by = (k: DriftFinding["kind"]) => others.filter((f) => f.kind === k).length;
    const parts = [
      by("orphan") ? `${plural(by("orphan"), "orphan")} (our tags, not in the state; use --gc or --adopt)` : "",
      by("suspicious") ? `${by("suspicious")} suspicious (half-tagged, never changed)` : "",
      by("unmanaged") ? `${by("unmanaged")} unmanaged (no ownership tags, never changed)` : "",
    ].filter(Boolean);
    out.push(`Other VMs on the cluster: ${parts.join("; ")}.`, "");
  }
  return out.join("\n");
}

export function renderFindings(findings: DriftFinding[], p: Palette): string[] {
  const out: string[] = [];
  const byInstance = new Map<string, DriftFinding[]>();
  for (const f of findings) {
    const key = f.instanceId ?? `vmid ${f.vmid ?? "?"}`;
    byInstance.set(key, [...(byInstance.get(key) ?? []), f]);
  }
  for (const [who, fs] of byInstance) {
    const where = [fs[0]!.node, fs[0]!.vmid !== undefined ? `vmid ${fs[0]!.vmid}` : ""].filter(Boolean).join(", ");
    const what = fs.some((f) => f.kind === "missing") ? "has been deleted"
      : fs.every((f) => f.kind === "stopped") ? "has been stopped"
      : fs.every((f) => f.kind === "attribute") ? "has changed"
      : ({ orphan: "is an orphan", suspicious: "is suspicious", unmanaged: "is unmanaged" } as Record<string, string>)[fs[0]!.kind] ?? "has changed";
    out.push(p.bold(`  # ${who} ${what}`) + (where ? p.dim(` (${where})`) : ""));
    for (const f of fs) {
      if (f.kind === "attribute" && f.attribute) {
        out.push(`    ${p.yellow("~")} ${attributeLabel(f.attribute)}: ${formatValue(f.attribute, f.expected)} → ${formatValue(f.attribute, f.actual)}`);
      } else {
        out.push(`    ${p.dim("#")} ${f.message}`);
      }
    }
    out.push("");
  }
  return out;
}

const BAR = 20;

/** `█` what was used, `▓` what the plan adds, `▒` what it frees, `░` what stays free. */
function bar(maxv: number, before: number, after: number, p: Palette): string {
  // Any use shows as at least one cell, so a small VM on a big node is still visible.
  const cells = (v: number) => (v <= 0 ? 0 : Math.max(1, Math.min(BAR, Math.round((v / Math.max(maxv, 1)) * BAR))));
  const b = cells(before);
  const a = cells(after);
  const kept = Math.min(a, b);
  const grow = Math.max(0, a - b);
  const shrink = Math.max(0, b - a);
  return "█".repeat(kept) + p.green("▓".repeat(grow)) + p.red("▒".repeat(shrink)) + "░".repeat(BAR - kept - grow - shrink);
}

function pct(v: number, maxv: number): string {
  return `${Math.round((v / Math.max(maxv, 1)) * 100)}%`;
}

export function renderCapacity(capacity: NodeCapacity[], p: Palette): string[] {
  if (capacity.length === 0) return [];
  const rows = [...capacity].sort((a, b) => naturalCompare(a.node, b.node)).map((n) => ({
    node: n.node,
    mem: bar(n.maxmemBytes, n.before.memBytes, n.after.memBytes, p),
    memText: `${formatBytes(n.before.memBytes)} → ${formatBytes(n.after.memBytes)} of ${formatBytes(n.maxmemBytes)} (${pct(n.after.memBytes, n.maxmemBytes)})`,
    cpu: bar(n.maxcpu, n.before.cores, n.after.cores, p),
    cpuText: `${n.before.cores} → ${n.after.cores} of ${plural(n.maxcpu, "core")} (${pct(n.after.cores, n.maxcpu)})`,
    over: n.after.memBytes > n.maxmemBytes,
  }));
  const nw = Math.max(4, ...rows.map((r) => r.node.length));
  const mw = Math.max(...rows.map((r) => r.memText.length));
  const out = [p.bold("Node capacity (committed VM memory and cores, before → after this plan):"),
    `  ${"node".padEnd(nw)}  ${"memory".padEnd(BAR + 1 + mw)}  cpu`];
  for (const r of rows) {
    out.push(`  ${r.node.padEnd(nw)}  ${r.mem} ${r.over ? p.red(r.memText.padEnd(mw)) : r.memText.padEnd(mw)}  ${r.cpu} ${r.cpuText}`);
  }
  out.push("");
  return out;
}

/**
 * One line saying how the cluster was read (ARCHITECTURE.md rule 9), and under `listing` what it
 * could not see, so nobody takes a listing-only "no changes" for more than it is.
 */
export function refreshSentence(r: RefreshReport): string {
  const reads = `${plural(r.listings, "listing")}, ${r.configReads} config read${r.configReads === 1 ? "" : "s"}, ${r.statusReads} status read${r.statusReads === 1 ? "" : "s"}`;
  return r.policy === "full"
    ? `Refresh: full (${reads}): every VM of the shard read, so edits the listing cannot show (cores/memory awaiting a restart, onboot, notes) are compared.`
    : `Refresh: listing (${reads}): pending cores/memory changes, onboot and notes edits are not seen; --refresh full reads them.`;
}

/** A drift report for `pvefleet drift` in text. */
export interface DriftReport {
  clusterId: string;
  shardId: string;
  findings: DriftFinding[];
  /** VMs the shard manages (for "N of M in sync"). */
  managed?: number;
  /** How the cluster was read. */
  refresh?: RefreshReport;
  /** Information kinds that count as drift here (`drift --fail-on`). */
  failOn?: readonly InfoKind[];
  /** Findings the shard file's `drift.ignore` rules left out. */
  ignored?: number;
}

/** No finding is drift under the report's `--fail-on`. */
export function inSync(report: Pick<DriftReport, "findings" | "failOn">): boolean {
  return !report.findings.some((f) => isDrift(f, report.failOn));
}

/** " N VMs … not this shard's (left alone). N suspicious … N findings ignored …" for the in-sync line. */
function informationNote(report: DriftReport): string {
  const n = (k: DriftFinding["kind"]) => report.findings.filter((f) => f.kind === k).length;
  const unmanaged = n("unmanaged");
  const suspicious = n("suspicious");
  const parts: string[] = [];
  if (unmanaged) parts.push(` ${unmanaged} VM${unmanaged === 1 ? "" : "s"} on the cluster ${unmanaged === 1 ? "is" : "are"} not this shard's (left alone).`);
  if (suspicious) parts.push(` ${suspicious} suspicious VM${suspicious === 1 ? "" : "s"} (some of this shard's marks, not all) left alone (--fail-on suspicious makes ${suspicious === 1 ? "it" : "them"} drift).`);
  if (report.ignored) parts.push(` ${report.ignored} finding${report.ignored === 1 ? "" : "s"} ignored by drift.ignore.`);
  return parts.join("");
}

export function renderDriftText(report: DriftReport, options: { color?: boolean } = {}): string {
  const p = palette(options.color ?? false);
  const head = `Shard ${report.clusterId}/${report.shardId}`;
  if (inSync(report)) {
    // VMs that are not this shard's are information, not drift (rule 10); suspicious ones say why.
    const lines = [`${head}: ${p.green("no drift.")} The cluster matches the state${report.managed !== undefined ? ` (${plural(report.managed, "VM")} checked)` : ""}.${informationNote(report)}`];
    for (const f of report.findings.filter((x) => x.kind === "suspicious")) lines.push(`  ${p.dim("#")} ${f.message}`);
    if (report.refresh) lines.push(p.dim(refreshSentence(report.refresh)));
    return `${lines.join("\n")}\n`;
  }
  const managed = report.findings.filter(isManagedDrift);
  const others = report.findings.filter((f) => !isManagedDrift(f));
  const out = [`${head}: ${p.yellow(p.bold(plural(report.findings.length, "drift finding")))}`, ""];
  if (managed.length) out.push(p.bold("Objects have changed outside of pvefleet:"), "", ...renderFindings(managed, p));
  if (others.length) out.push(p.bold("VMs on the cluster that pvefleet does not manage:"), "", ...renderFindings(others, p));
  out.push(driftCountsLine(report.findings));
  const info = report.findings.filter((f) => !isDrift(f, report.failOn)).length;
  if (info || report.ignored) {
    out.push(`${info ? `${info} of these ${info === 1 ? "is" : "are"} information (unmanaged or suspicious VMs; --fail-on makes them drift). ` : ""}${report.ignored ? `${report.ignored} finding${report.ignored === 1 ? "" : "s"} ignored by drift.ignore.` : ""}`.trim(), "");
  }
  if (report.refresh) out.push(refreshSentence(report.refresh), "");
  out.push("Fingerprints (stable across runs):");
  for (const f of report.findings) out.push(`  ${f.fingerprint.replace(/^sha256:/, "").slice(0, 16)}  ${f.kind.padEnd(10)} ${findingSentence(f)}`);
  out.push("");
  return out.join("\n");
}

/**
 * A finding in one line: the planner's words, except a size, said from its data with the attribute
 * named by what it is and the unit on the value (`memory is 1 GiB, expected 512 MiB`, not `memoryMiB is 1024`).
 */
export function findingSentence(f: DriftFinding): string {
  if (f.kind !== "attribute" || !f.attribute || !f.instanceId || attributeLabel(f.attribute) === f.attribute) return f.message;
  return `${f.instanceId}: ${attributeLabel(f.attribute)} is ${formatValue(f.attribute, f.actual)}, expected ${formatValue(f.attribute, f.expected)}`;
}

export function driftCountsLine(findings: DriftFinding[]): string {
  const kinds: DriftFinding["kind"][] = ["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"];
  const noun: Record<string, [string, string]> = { attribute: ["attribute change", "attribute changes"], orphan: ["orphan", "orphans"] };
  return `Drift: ${kinds.map((k) => plural(findings.filter((f) => f.kind === k).length, ...(noun[k] ?? [k, k]))).join(", ")}.\n`;
}
