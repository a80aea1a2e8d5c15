/**
 * The apply progress view model: a pure reducer over the applier's events, shared by the ink UI,
 * the plain-line reporter and the JSON stream so all three tell the same story.
 *
 * Counting is per VM (a row), not per step: operators read "7/20 ready · 13 in flight". A row
 * remembers every action in flight (a create runs `clone` and `upload-iso` at once), so the step
 * shown is what is actually running, and the durations of finished steps give the ETA.
 */
import type { ApplyEvent } from "../../applier/events.js";
import type { Plan } from "../../planner/types.js";
import { groupName } from "../render/vocabulary.js";

export type RowStatus = "pending" | "running" | "done" | "failed" | "skipped";

export interface InFlight {
  action: string;
  startedAtMs: number;
  attempt: number;
}

/** What a VM's run is called: "Creating..." / "Creation complete" / "created" (Terraform's words). */
export interface Verb {
  ing: string;
  done: string;
  past: string;
}

export interface InstanceRow {
  instanceId: string;
  group: string;
  kind: string; // the change kind of the plan
  status: RowStatus;
  /** Actions running now, by action ID, in start order. */
  inFlight: Map<string, InFlight>;
  /** Actions not finished yet (pending or in flight), by action ID → action type. */
  remaining: Map<string, string>;
  /** The last action that started, finished or failed. */
  step?: string;
  /** The action that failed (a later `done` of a parallel step does not overwrite it). */
  failedStep?: string;
  node?: string;
  vmid?: number;
  startedAtMs?: number;
  endedAtMs?: number;
  actionsTotal: number;
  actionsDone: number;
  error?: string;
  retries: number;
  verb: Verb;
}

export interface ProgressModel {
  rows: InstanceRow[];
  byInstance: Map<string, InstanceRow>;
  actionsTotal: number;
  actionsDone: number;
  actionsFailed: number;
  /** Wall time of the last STEP_SAMPLES finished actions of each type (the ETA's medians). */
  stepMs: Map<string, number[]>;
  /** The medians of `stepMs`, computed when first needed after a change. */
  medians?: { byType: Map<string, number> };
  /** VMs started and not finished now, and the most seen at once (the parallelism the ETA divides by). */
  running: number;
  peakInFlight: number;
  /** Widest node name and VMID seen so far (the screen's column widths). */
  widest: { node: number; vmid: number };
  startedAtMs: number;
  finished: boolean;
  message?: string;
  notices: string[];
}

/** Samples kept per step type: the ETA follows how fast steps run now, at a bounded cost. */
export const STEP_SAMPLES = 200;

const CREATING: Verb = { ing: "creating", done: "Creation complete", past: "created" };
const DESTROYING: Verb = { ing: "destroying", done: "Destruction complete", past: "destroyed" };
const MODIFYING: Verb = { ing: "modifying", done: "Modifications complete", past: "updated" };

/** A VM's verb from the actions it runs: a clone creates it, a delete-vm destroys it, anything else modifies it. */
function verbOf(kind: string, actions: Set<string>): Verb {
  if (actions.has("clone")) return CREATING;
  if (actions.has("delete-vm") || kind === "delete") return DESTROYING;
  if (kind === "create") return CREATING;
  if (actions.size > 0 && [...actions].every((a) => a === "record-state")) return { ...MODIFYING, past: "recorded" };
  if (actions.size > 0 && [...actions].every((a) => a === "forget-state")) return { ...MODIFYING, past: "forgotten" };
  return MODIFYING;
}

export function createModel(plan: Plan, nowMs: number): ProgressModel {
  const rows: InstanceRow[] = [];
  const byInstance = new Map<string, InstanceRow>();
  const add = (instanceId: string, group: string, kind: string) => {
    if (byInstance.has(instanceId)) return;
    const row: InstanceRow = {
      instanceId, group, kind, status: "pending", inFlight: new Map(), remaining: new Map(),
      actionsTotal: 0, actionsDone: 0, retries: 0, verb: MODIFYING,
    };
    rows.push(row);
    byInstance.set(instanceId, row);
  };
  for (const c of plan.changes) {
    add(c.instanceId, groupName(c), c.kind);
    if (c.replaces) add(c.replaces, groupName(c), c.kind);
  }
  const types = new Map<string, Set<string>>();
  for (const a of plan.actions) {
    if (!byInstance.has(a.instanceId)) add(a.instanceId, "", "update");
    const row = byInstance.get(a.instanceId)!;
    row.actionsTotal++;
    row.remaining.set(a.id, a.type);
    if (!types.has(a.instanceId)) types.set(a.instanceId, new Set());
    types.get(a.instanceId)!.add(a.type);
  }
  for (const row of rows) row.verb = verbOf(row.kind, types.get(row.instanceId) ?? new Set());
  return {
    rows, byInstance, actionsTotal: plan.actions.length, actionsDone: 0, actionsFailed: 0, stepMs: new Map(),
    running: 0, peakInFlight: 0, widest: { node: 0, vmid: 0 }, startedAtMs: nowMs, finished: false, notices: [],
  };
}

/** Moves a row to `status`, keeping the count of VMs in flight. */
function setStatus(m: ProgressModel, row: InstanceRow, status: RowStatus): void {
  if (row.status === status) return;
  if (row.status === "running") m.running--;
  if (status === "running") m.peakInFlight = Math.max(m.peakInFlight, ++m.running);
  row.status = status;
}

/** Where a VM is: its node and VMID as the last event said (and the widest seen, for the columns). */
function place(m: ProgressModel, row: InstanceRow, e: ApplyEvent): void {
  row.node = e.node ?? row.node;
  row.vmid = e.vmid ?? row.vmid;
  if (row.node) m.widest.node = Math.max(m.widest.node, row.node.length);
  if (row.vmid !== undefined) m.widest.vmid = Math.max(m.widest.vmid, String(row.vmid).length);
}

/** An action ended: it leaves the row's in-flight and remaining sets; a running row with none left is done. */
function settle(m: ProgressModel, row: InstanceRow, e: ApplyEvent): void {
  const key = e.actionId ?? e.action;
  if (key) {
    row.inFlight.delete(key);
    row.remaining.delete(key);
  }
  if (row.status === "running" && row.inFlight.size === 0 && row.remaining.size === 0) setStatus(m, row, "done");
}

/** Applies one event to the model (mutates and returns it; callers re-render). */
export function reduce(m: ProgressModel, e: ApplyEvent, nowMs: number): ProgressModel {
  const row = e.instanceId ? m.byInstance.get(e.instanceId) : undefined;
  switch (e.type) {
    case "start":
      if (row && e.action) {
        if (row.status === "pending") setStatus(m, row, "running");
        row.step = e.action;
        place(m, row, e);
        row.startedAtMs ??= nowMs;
        const key = e.actionId ?? e.action;
        const was = row.inFlight.get(key);
        row.inFlight.set(key, { action: e.action, startedAtMs: was?.startedAtMs ?? nowMs, attempt: e.attempt ?? 1 });
      }
      break;
    case "retry":
      if (row) row.retries++;
      break;
    case "done":
      m.actionsDone++;
      if (e.action) {
        const samples = m.stepMs.get(e.action) ?? [];
        samples.push(Math.max(0, e.elapsedMs));
        if (samples.length > STEP_SAMPLES) samples.shift();
        m.stepMs.set(e.action, samples);
        m.medians = undefined;
      }
      if (row) {
        row.actionsDone++;
        if (row.status === "pending") setStatus(m, row, "running");
        row.startedAtMs ??= nowMs;
        row.step = e.action ?? row.step;
        place(m, row, e);
        settle(m, row, e);
        if (row.status === "done") row.endedAtMs = nowMs;
      }
      break;
    case "failed":
      m.actionsFailed++;
      if (row) {
        setStatus(m, row, "failed");
        row.step = e.action ?? row.step;
        row.failedStep ??= e.action;
        row.error ??= e.error ? `${e.error.code}: ${e.error.message}` : "failed";
        row.endedAtMs ??= nowMs;
        settle(m, row, e);
      }
      break;
    case "skipped":
      if (row) {
        if (row.status !== "failed" && row.status !== "done") {
          setStatus(m, row, "skipped");
          row.endedAtMs = nowMs;
        }
        if (e.actionId) row.remaining.delete(e.actionId);
      }
      break;
    case "interrupt":
      if (e.message) m.notices.push(e.message);
      break;
    case "complete":
      m.finished = true;
      m.message = e.message;
      break;
    default:
      break;
  }
  return m;
}

/** Short names for a step shown next to another one: `clone+iso`. */
const SHORT: Record<string, string> = {
  "upload-iso": "iso", "delete-iso": "del-iso", "delete-vm": "delete", "record-state": "record", "forget-state": "forget",
};

/**
 * What a row is doing, in one word or two: the steps in flight, longest-running first
 * (`clone+iso` while both run, then `clone`), `try 2` after a retry, `queued` between steps
 * while the next one waits for a free slot (--parallelism); the failed step;
 * the VM's past participle when done ("created", "destroyed", "updated").
 */
export function stepLabel(row: InstanceRow): string {
  switch (row.status) {
    case "pending": return "waiting";
    case "done": return row.verb.past;
    case "skipped": return "skipped";
    case "failed": return `${row.failedStep ?? row.step ?? "?"} failed`;
    case "running": {
      const flights = [...row.inFlight.values()].sort((a, b) => a.startedAtMs - b.startedAtMs);
      if (flights.length === 0) return "queued"; // started, its next step waits for a free slot
      const retry = Math.max(...flights.map((f) => f.attempt));
      const names = flights.length === 1 ? [flights[0]!.action] : flights.map((f) => SHORT[f.action] ?? f.action);
      return `${names.join("+")}${retry > 1 ? ` (try ${retry})` : ""}`;
    }
  }
}

/** VMs the run touches (rows with at least one action), by status. */
export interface VmCounts {
  total: number;
  ready: number;
  inFlight: number;
  failed: number;
  skipped: number;
  pending: number;
}

export function vmCounts(m: ProgressModel): VmCounts {
  const c: VmCounts = { total: 0, ready: 0, inFlight: 0, failed: 0, skipped: 0, pending: 0 };
  for (const r of m.rows) {
    if (r.actionsTotal === 0) continue;
    c.total++;
    if (r.status === "done") c.ready++;
    else if (r.status === "running") c.inFlight++;
    else if (r.status === "failed") c.failed++;
    else if (r.status === "skipped") c.skipped++;
    else c.pending++;
  }
  return c;
}

/** A "Still creating..." due: the VM, the long step(s) that passed a mark, how long they ran and the VM ran. */
export interface Tick {
  row: InstanceRow;
  /** The step(s) that passed a mark, longest-running first: `clone`, or `clone+iso`. */
  step: string;
  /** The mark passed: how long that step has run, a multiple of the period (10 s, 20 s, …). */
  stepMs: number;
  /** How long the VM has been in the run (Terraform's "[Ns elapsed]"). */
  elapsedMs: number;
}

/**
 * Terraform's periodic "Still creating... [Ns elapsed]", for each long step: the VMs with a step
 * in flight that passed its next `everyMs` mark (10 s, 20 s, … of that step) since the last call.
 * A VM whose steps are all short gets no tick; a mark missed while the process was busy is
 * reported once, at the latest mark passed. `next` is the caller's memory of each step's next mark.
 */
export function dueTicks(m: ProgressModel, nowMs: number, everyMs: number, next: Map<string, number>): Tick[] {
  const due: Tick[] = [];
  for (const r of m.rows) {
    if (r.status !== "running" || r.startedAtMs === undefined || r.inFlight.size === 0) continue;
    const passed: { action: string; markMs: number; startedAtMs: number }[] = [];
    for (const [key, f] of r.inFlight) {
      const ran = nowMs - f.startedAtMs;
      if (ran < (next.get(key) ?? everyMs)) continue;
      const markMs = Math.floor(ran / everyMs) * everyMs;
      next.set(key, markMs + everyMs);
      passed.push({ action: f.action, markMs, startedAtMs: f.startedAtMs });
    }
    if (passed.length === 0) continue;
    passed.sort((a, b) => a.startedAtMs - b.startedAtMs);
    const step = passed.length === 1 ? passed[0]!.action : passed.map((p) => SHORT[p.action] ?? p.action).join("+");
    due.push({ row: r, step, stepMs: Math.max(...passed.map((p) => p.markMs)), elapsedMs: nowMs - r.startedAtMs });
  }
  return due;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Time left, from the median wall time of each step type (its last STEP_SAMPLES runs): per VM, what its
 * remaining steps take (a step in flight counts what is left of its median; steps in flight
 * together count once, the longest); for the run, the larger of the slowest VM and the whole
 * remaining work spread over the most VMs seen in flight at once. Undefined until every step type
 * still to run has finished once (a guess from another step's times would be wrong by a factor
 * of ten: an ISO upload takes 1 s, a full clone 10), and once nothing is left.
 */
export function etaMs(m: ProgressModel, nowMs: number): number | undefined {
  if (!m.medians) {
    const byType = new Map<string, number>();
    for (const [type, xs] of m.stepMs) if (xs.length > 0) byType.set(type, median(xs));
    if (byType.size === 0) return undefined;
    m.medians = { byType };
  }
  const { byType } = m.medians;
  let unknown = false;
  const guess = (type: string) => {
    const g = byType.get(type);
    if (g === undefined) unknown = true;
    return g ?? 0;
  };
  let work = 0;
  let slowest = 0;
  let vmsLeft = 0;
  for (const r of m.rows) {
    if (r.status !== "pending" && r.status !== "running") continue;
    let left = 0;
    let flying = 0;
    for (const f of r.inFlight.values()) flying = Math.max(flying, guess(f.action) - (nowMs - f.startedAtMs));
    for (const [id, type] of r.remaining) if (!r.inFlight.has(id)) left += guess(type);
    if (unknown) return undefined;
    left += flying;
    if (left <= 0) continue;
    vmsLeft++;
    work += left;
    slowest = Math.max(slowest, left);
  }
  if (vmsLeft === 0) return undefined;
  const lanes = Math.max(1, Math.min(m.peakInFlight, vmsLeft));
  return Math.max(slowest, work / lanes);
}

/**
 * Resources actually changed, counted like the plan summary but only for instances whose every
 * action finished (a replacement counts when both its new and old VM are through).
 */
export function appliedCounts(plan: Plan, m: ProgressModel): { add: number; change: number; destroy: number } {
  const through = (id: string | undefined) => {
    if (!id) return true;
    const r = m.byInstance.get(id);
    return !r || r.actionsTotal === 0 || (r.actionsDone >= r.actionsTotal && r.status !== "failed");
  };
  const c = { add: 0, change: 0, destroy: 0 };
  for (const ch of plan.changes) {
    if (!through(ch.instanceId) || !through(ch.replaces)) continue;
    if (ch.kind === "create") c.add++;
    else if (ch.kind === "update" || ch.kind === "start") c.change++;
    else if (ch.kind === "delete") c.destroy++;
    else if (ch.kind === "replace") { c.add++; c.destroy++; }
  }
  return c;
}

export function completeSentence(c: { add: number; change: number; destroy: number }, destroyMode = false): string {
  return destroyMode
    ? `Destroy complete! Resources: ${c.destroy} destroyed.`
    : `Apply complete! Resources: ${c.add} added, ${c.change} changed, ${c.destroy} destroyed.`;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
