/**
 * The apply progress view model: a pure reducer over the applier's events, shared by the ink UI,
 * the plain-line reporter and the JSON stream so all three tell the same story.
 */
import type { ApplyEvent } from "../../applier/events.js";
import type { Plan } from "../../planner/types.js";
import { groupName } from "../render/vocabulary.js";

export type RowStatus = "pending" | "running" | "done" | "failed" | "skipped";

export interface InstanceRow {
  instanceId: string;
  group: string;
  kind: string; // the change kind of the plan
  status: RowStatus;
  step?: string; // the action running now (or the last one)
  node?: string;
  vmid?: number;
  startedAtMs?: number;
  endedAtMs?: number;
  actionsTotal: number;
  actionsDone: number;
  error?: string;
  retries: number;
}

export interface ProgressModel {
  rows: InstanceRow[];
  byInstance: Map<string, InstanceRow>;
  actionsTotal: number;
  actionsDone: number;
  actionsFailed: number;
  startedAtMs: number;
  finished: boolean;
  message?: string;
  notices: string[];
}

export function createModel(plan: Plan, nowMs: number): ProgressModel {
  const rows: InstanceRow[] = [];
  const byInstance = new Map<string, InstanceRow>();
  const add = (instanceId: string, group: string, kind: string) => {
    if (byInstance.has(instanceId)) return;
    const row: InstanceRow = { instanceId, group, kind, status: "pending", actionsTotal: 0, actionsDone: 0, retries: 0 };
    rows.push(row);
    byInstance.set(instanceId, row);
  };
  for (const c of plan.changes) {
    add(c.instanceId, groupName(c), c.kind);
    if (c.replaces) add(c.replaces, groupName(c), c.kind);
  }
  for (const a of plan.actions) {
    if (!byInstance.has(a.instanceId)) add(a.instanceId, "", "update");
    byInstance.get(a.instanceId)!.actionsTotal++;
  }
  return { rows, byInstance, actionsTotal: plan.actions.length, actionsDone: 0, actionsFailed: 0, startedAtMs: nowMs, finished: false, notices: [] };
}

/** Applies one event to the model (mutates and returns it; callers re-render). */
export function reduce(m: ProgressModel, e: ApplyEvent, nowMs: number): ProgressModel {
  const row = e.instanceId ? m.byInstance.get(e.instanceId) : undefined;
  switch (e.type) {
    case "start":
      if (row) {
        row.status = "running";
        row.step = e.action;
        row.node = e.node ?? row.node;
        row.vmid = e.vmid ?? row.vmid;
        row.startedAtMs ??= nowMs;
      }
      break;
    case "retry":
      if (row) row.retries++;
      break;
    case "done":
      m.actionsDone++;
      if (row) {
        row.actionsDone++;
        row.step = e.action;
        if (row.actionsDone >= row.actionsTotal && row.status !== "failed") {
          row.status = "done";
          row.endedAtMs = nowMs;
        }
      }
      break;
    case "failed":
      m.actionsFailed++;
      if (row) {
        row.status = "failed";
        row.step = e.action;
        row.error = e.error ? `${e.error.code}: ${e.error.message}` : "failed";
        row.endedAtMs = nowMs;
      }
      break;
    case "skipped":
      if (row && row.status !== "failed") {
        row.status = "skipped";
        row.endedAtMs = nowMs;
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

/** Terraform's progress verbs: "Still creating...", "Still destroying...", "Still modifying...". */
export function verbFor(kind: string, step: string | undefined): { ing: string; done: string } {
  if (step === "stop" || step === "delete-vm" || step === "delete-iso" || kind === "delete") return { ing: "destroying", done: "Destruction complete" };
  if (kind === "create" || kind === "replace" || step === "clone") return { ing: "creating", done: "Creation complete" };
  return { ing: "modifying", done: "Modifications complete" };
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
