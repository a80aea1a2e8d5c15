/**
 * The apply screen as lines, computed from the model and the terminal's size (pure: the ink
 * component only draws what this returns, and tests check it without a terminal).
 *
 * The frame is never taller than `rows - 1` lines. ink 6 (6.8.0 is the last 6.x; 7.1.1 too)
 * falls back to `clearTerminal` (ESC[2J ESC[3J) once a frame reaches the terminal's height, and
 * that escape erases the scrollback: the plan the operator just approved would be gone. The fix
 * upstream (vadimdemedes/ink#994, home + erase-down) shipped in ink 8.0.0, which needs Node 22
 * and React 19.3 (we support Node 20.19), so the list of VMs is sized to the terminal instead; the
 * VMs it leaves out are counted on one line. Every line is at most `columns` wide (the component
 * truncates too), so none wraps. Left: shrinking the terminal below the frame mid-run still makes
 * ink 6 clear once (its resize handler compares the previous frame with the new height).
 */
import { etaMs, formatElapsed, stepLabel, vmCounts, type InstanceRow, type ProgressModel } from "./model.js";

export type Tone = "green" | "red" | "yellow" | "cyan" | "dim" | "plain";

export interface Segment {
  text: string;
  tone?: Tone;
  bold?: boolean;
  /** Draw a spinner here (1 column) instead of `text`. */
  spinner?: boolean;
}

export type Line = Segment[];

export interface Screen {
  rows: number;
  columns: number;
}

export interface LayoutInput {
  model: ProgressModel;
  now: number;
  screen: Screen;
  destroyMode?: boolean;
  outcome?: { ok: boolean; line: string };
}

/**
 * Rows of the list, most wanted first: failures, then steps running, then VMs queued between
 * steps, then VMs not started, then those that finished last.
 */
function priority(r: InstanceRow): number {
  switch (r.status) {
    case "failed": return 0;
    case "running": return r.inFlight.size > 0 ? 1 : 2;
    case "pending": return 3;
    default: return 4;
  }
}

function addrOf(r: InstanceRow): string {
  return r.group ? `${r.group}/${r.instanceId}` : r.instanceId;
}

/** Cuts `s` to `w` columns with a trailing ellipsis. */
export function fit(s: string, w: number): string {
  if (w <= 0) return "";
  if (s.length <= w) return s;
  return w === 1 ? "…" : `${s.slice(0, w - 1)}…`;
}

const MAX_NOTICES = 2;
const ELAPSED_W = 6;

export function layout(input: LayoutInput): Line[] {
  const { model: m, now, destroyMode, outcome } = input;
  const columns = Math.max(20, input.screen.columns);
  const budget = Math.max(1, input.screen.rows - 1);
  const rows = m.rows.filter((r) => r.actionsTotal > 0);
  const c = vmCounts(m);

  // The footer: a blank line, the bar, notices, and at the end a blank line and the final sentence
  // (the blank lines go first when the terminal is very short).
  const notices: Line[] = m.notices.slice(-MAX_NOTICES).map((n) => [{ text: fit(n, columns), tone: "yellow" as const }]);
  const bar = barLine(m, c, now, outcome ? undefined : etaMs(m, now), columns, destroyMode ?? false, outcome);
  const last: Line | undefined = outcome ? [{ text: fit(outcome.line, columns), tone: outcome.ok ? "green" : "red", bold: true }] : undefined;
  const bare = 1 + notices.length + (last ? 1 : 0);
  const spaced = bare + (last ? 2 : 1) <= budget;
  const footer: Line[] = [...(spaced ? [[]] : []), bar, ...notices, ...(last ? [...(spaced ? [[]] : []), last] : [])];
  let listBudget = budget - footer.length;

  // Which rows fit (see priority), in plan order within each kind; shown in plan order, so rows
  // do not jump about.
  const cost = (r: InstanceRow) => (r.status === "failed" && r.error ? 2 : 1);
  const buckets: InstanceRow[][] = [[], [], [], [], []];
  let total = 0;
  for (const r of rows) {
    buckets[priority(r)]!.push(r);
    total += cost(r);
  }
  if (total > listBudget) listBudget -= 1; // room for "… and N more"
  const chosen = new Set<InstanceRow>();
  let used = 0;
  for (const [p, bucket] of buckets.entries()) {
    if (used >= listBudget) break;
    for (const r of p === 4 ? latest(bucket, listBudget - used) : bucket) {
      if (used + cost(r) > listBudget) continue;
      chosen.add(r);
      used += cost(r);
      if (used >= listBudget) break;
    }
  }
  const shown = rows.filter((r) => chosen.has(r));
  const hiddenIn = (b: InstanceRow[], keep: (r: InstanceRow) => boolean = () => true) => b.reduce((n, r) => n + (keep(r) && !chosen.has(r) ? 1 : 0), 0);
  const hidden = {
    all: rows.length - shown.length, done: hiddenIn(buckets[4]!, (r) => r.status === "done"),
    running: hiddenIn(buckets[1]!) + hiddenIn(buckets[2]!), waiting: hiddenIn(buckets[3]!), failed: hiddenIn(buckets[0]!),
  };

  const lines: Line[] = [];
  const cols = columnWidths(m, rows, shown, columns);
  for (const r of shown) {
    lines.push(rowLine(r, now, cols, columns));
    if (r.status === "failed" && r.error) lines.push([{ text: fit(`    ${r.error}`, columns), tone: "red" }]);
  }
  if (hidden.all > 0 && listBudget >= 0 && lines.length < budget - footer.length) {
    const what = [`${hidden.done} done`, ...(["running", "waiting", "failed"] as const).filter((k) => hidden[k] > 0).map((k) => `${hidden[k]} ${k}`)].join(", ");
    lines.push([{ text: fit(`  … and ${hidden.all} more (${what})`, columns), tone: "dim" }]);
  }
  lines.push(...footer);
  return lines.slice(-budget);
}

/** The `k` rows that ended last, latest first, without sorting them all (a finished 10,000-VM run). */
function latest(rows: InstanceRow[], k: number): InstanceRow[] {
  const top: InstanceRow[] = [];
  const at = (r: InstanceRow) => r.endedAtMs ?? 0;
  for (const r of rows) {
    if (top.length === k && at(r) <= at(top[k - 1]!)) continue;
    let i = Math.min(top.length, k - 1);
    while (i > 0 && at(top[i - 1]!) < at(r)) i--;
    top.splice(i, 0, r);
    if (top.length > k) top.pop();
  }
  return top;
}

interface Widths { kind: number; addr: number; step: number; node: number; vmid: number }

/** The widths that depend only on the plan (kind, address), worked out once per model. */
const planWidths = new WeakMap<ProgressModel, { kind: number; addr: number }>();

/** Column widths from every row (so they hold still as rows come and go), the address cut to fit. */
function columnWidths(m: ProgressModel, all: InstanceRow[], shown: InstanceRow[], columns: number): Widths {
  let fromPlan = planWidths.get(m);
  if (!fromPlan) {
    fromPlan = { kind: 6, addr: 0 };
    for (const r of all) {
      fromPlan.kind = Math.max(fromPlan.kind, r.kind.length);
      fromPlan.addr = Math.max(fromPlan.addr, addrOf(r).length);
    }
    planWidths.set(m, fromPlan);
  }
  const node = Math.max(4, m.widest.node);
  const vmid = Math.max(3, m.widest.vmid);
  let step = 10;
  for (const r of shown) step = Math.max(step, stepLabel(r).length);
  const kind = fromPlan.kind;
  // icon + 5 spaces between 6 columns + the elapsed column
  const fixed = 1 + 1 + kind + 1 + 2 + step + 1 + node + 1 + vmid + 1 + ELAPSED_W;
  const addr = Math.max(8, Math.min(fromPlan.addr, columns - fixed));
  return { kind, addr, step, node, vmid };
}

function rowLine(r: InstanceRow, now: number, w: Widths, columns: number): Line {
  const elapsed = r.startedAtMs === undefined ? "" : formatElapsed((r.endedAtMs ?? now) - r.startedAtMs);
  const tone: Tone | undefined = r.status === "failed" ? "red" : r.status === "pending" ? "dim" : undefined;
  const icon: Segment =
    r.status === "running" ? (r.inFlight.size > 0 ? { text: "*", spinner: true, tone: "cyan" } : { text: "◦", tone: "cyan" })
    : r.status === "done" ? { text: "✔", tone: "green" }
    : r.status === "failed" ? { text: "✖", tone: "red" }
    : r.status === "skipped" ? { text: "↷", tone: "yellow" }
    : { text: "·", tone: "dim" };
  const text = ` ${r.kind.padEnd(w.kind)} ${fit(addrOf(r), w.addr).padEnd(w.addr)}  ${fit(stepLabel(r), w.step).padEnd(w.step)} ${(r.node ?? "").padEnd(w.node)} ${(r.vmid !== undefined ? String(r.vmid) : "").padStart(w.vmid)} ${elapsed.padStart(ELAPSED_W)}`;
  return [icon, { text: fit(text.trimEnd(), columns - 1), tone }];
}

function barLine(m: ProgressModel, c: ReturnType<typeof vmCounts>, now: number, eta: number | undefined, columns: number, destroyMode: boolean, outcome?: { ok: boolean }): Line {
  const finished = c.ready + c.failed + c.skipped;
  const elapsed = now - m.startedAtMs;
  let frac = c.total === 0 ? 1 : finished / c.total;
  if (!outcome && eta !== undefined && elapsed + eta > 0) frac = Math.max(frac, elapsed / (elapsed + eta));
  const parts = [
    `${c.ready}/${c.total} ${destroyMode ? "destroyed" : "ready"}`,
    `${c.inFlight} in flight`,
    `${c.failed} failed`,
    ...(c.skipped ? [`${c.skipped} skipped`] : []),
    formatElapsed(elapsed),
    ...(outcome ? [] : [eta === undefined ? "ETA …" : `ETA ~${formatElapsed(eta + 999)}`]),
  ];
  const label = parts.join(" · ");
  const width = Math.max(0, Math.min(30, columns - label.length - 1));
  const filled = Math.min(width, Math.round(frac * width));
  const line: Line = [];
  if (width > 0) {
    line.push({ text: "█".repeat(filled), tone: c.failed ? "red" : "green" });
    line.push({ text: "░".repeat(width - filled), tone: "dim" });
    line.push({ text: " " });
  }
  line.push({ text: fit(label, columns - (width > 0 ? width + 1 : 0)), tone: c.failed ? "red" : undefined });
  return line;
}
