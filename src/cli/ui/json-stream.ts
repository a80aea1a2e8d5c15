/**
 * `apply --json`: one JSON object per line in the shape of Terraform's `-json` UI messages
 * (anchors.md §1.8): `@level`, `@message`, `@module`, `@timestamp`, `type`, and for resource
 * events a `hook` with `resource` and `action`. pvefleet adds `hook.step` (the action in flight).
 */
import type { ApplyEvent } from "../../applier/events.js";
import type { Plan } from "../../planner/types.js";
import { VERSION } from "../../version.js";
import { DISPLAY, displayOf, summarySentence } from "../render/vocabulary.js";
import { verbFor } from "./model.js";
import type { Reporter } from "./plain.js";
import type { ProgressStore } from "./store.js";

export const UI_MODULE = "pvefleet.ui";
export const UI_VERSION = "1.2";

export class JsonReporter implements Reporter {
  private readonly uiAction = new Map<string, string>();
  private readonly lastTick = new Map<string, number>();

  constructor(private readonly store: ProgressStore, private readonly write: (s: string) => void) {
    const plan = store.plan;
    for (const c of plan.changes) {
      const a = DISPLAY[displayOf(c, plan)].uiAction;
      this.uiAction.set(c.instanceId, a);
      if (c.replaces) this.uiAction.set(c.replaces, a);
    }
    this.emit("info", `pvefleet ${VERSION}`, "version", { pvefleet: VERSION, ui: UI_VERSION });
    for (const c of plan.changes) {
      this.emit("info", `${this.addr(c.instanceId)}: Plan to ${DISPLAY[displayOf(c, plan)].uiAction}`, "planned_change", {
        change: { resource: this.resource(c.instanceId), action: DISPLAY[displayOf(c, plan)].uiAction, reason: c.reasons[0] },
      });
    }
    this.emit("info", summarySentence(plan.summary), "change_summary", {
      changes: { add: plan.summary.add, change: plan.summary.change, import: 0, remove: plan.summary.destroy, operation: "plan" },
    });
  }

  private emit(level: "info" | "warn" | "error", message: string, type: string, extra: Record<string, unknown> = {}): void {
    const msg = { "@level": level, "@message": message, "@module": UI_MODULE, "@timestamp": new Date(this.store.nowMs()).toISOString(), type, ...extra };
    this.write(`${JSON.stringify(msg)}\n`);
  }

  private addr(instanceId: string): string {
    const r = this.store.model.byInstance.get(instanceId);
    return r?.group ? `${r.group}/${instanceId}` : instanceId;
  }

  private resource(instanceId: string): Record<string, unknown> {
    const r = this.store.model.byInstance.get(instanceId);
    return { addr: this.addr(instanceId), module: "", resource: `vm.${instanceId}`, implied_provider: "proxmox", resource_type: "vm", resource_name: instanceId, resource_key: null, group: r?.group };
  }

  onEvent(e: ApplyEvent): void {
    const before = e.instanceId ? this.store.model.byInstance.get(e.instanceId) : undefined;
    const firstStart = before?.startedAtMs === undefined;
    const wasDone = before?.status === "done";
    this.store.push(e);
    const now = this.store.nowMs();
    if (!e.instanceId) {
      if (e.type === "interrupt") this.emit("warn", e.message ?? "Interrupt received.", "log");
      else if (e.type === "lock") this.emit("info", e.message ?? "Acquired the state lock.", "log");
      return;
    }
    const row = this.store.model.byInstance.get(e.instanceId)!;
    const action = this.uiAction.get(e.instanceId) ?? "update";
    const addr = this.addr(e.instanceId);
    const elapsed = row.startedAtMs !== undefined ? Math.floor((now - row.startedAtMs) / 1000) : 0;
    const hook = (more: Record<string, unknown> = {}) => ({ hook: { resource: this.resource(e.instanceId!), action, step: e.action, ...more } });
    switch (e.type) {
      case "start":
        if (firstStart) this.emit("info", `${addr}: ${cap(verbFor(row.kind, e.action).ing)}...`, "apply_start", hook());
        else this.emit("info", `${addr}: ${e.action}...`, "apply_progress", hook({ elapsed_seconds: elapsed }));
        break;
      case "progress": {
        const last = this.lastTick.get(e.instanceId) ?? 0;
        if (now - last >= 10_000) {
          this.lastTick.set(e.instanceId, now);
          this.emit("info", `${addr}: Still ${verbFor(row.kind, e.action).ing}... [${elapsed}s elapsed]`, "apply_progress", hook({ elapsed_seconds: elapsed }));
        }
        break;
      }
      case "retry":
        this.emit("warn", `${addr}: ${e.action} will retry: ${e.error?.message ?? "retryable error"}`, "apply_progress", hook({ elapsed_seconds: elapsed, retry_in_ms: e.delayMs }));
        break;
      case "done":
        if (row.status === "done" && !wasDone) {
          this.emit("info", `${addr}: ${verbFor(row.kind, undefined).done} after ${elapsed}s${row.vmid !== undefined ? ` [vmid=${row.vmid}]` : ""}`, "apply_complete",
            hook({ id_key: "vmid", id_value: row.vmid !== undefined ? String(row.vmid) : undefined, elapsed_seconds: elapsed }));
        }
        break;
      case "failed":
        this.emit("error", `${addr}: ${e.action} failed: ${e.error?.message ?? "unknown error"}`, "apply_errored", hook({ elapsed_seconds: elapsed, error: e.error }));
        break;
      case "skipped":
        this.emit("warn", `${addr}: ${e.action} skipped`, "log");
        break;
      default:
        break;
    }
  }

  async finish(ok: boolean, error?: string): Promise<void> {
    this.store.finish(ok, error);
    const o = this.store.outcome!;
    if (!ok && error) this.emit("error", error, "diagnostic", { diagnostic: { severity: "error", summary: error, detail: "" } });
    const { add, change, destroy } = o.counts;
    this.emit(ok ? "info" : "error", o.line, "change_summary", { changes: { add, change, import: 0, remove: destroy, operation: this.store.destroyMode ? "destroy" : "apply" } });
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
