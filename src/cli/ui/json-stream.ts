/**
 * `apply --json`: one JSON object per line in the shape of Terraform's `-json` UI messages
 * (`internal/command/views/json`): `@level`, `@message`, `@module`, `@timestamp`, `type`.
 *
 * Before the run: `version`, a `resource_drift` per drift finding about the shard's own VMs, a `planned_change`
 * per change (with `reason`, the plan's typed change reason), the plan's `change_summary`, and a
 * `diagnostic` (severity `warning`) per plan warning. During it: `apply_start` / `apply_progress`
 * (a step began, a retry, and "Still creating... [Ns elapsed]" every 10 s of a long step) /
 * `apply_complete` / `apply_errored` plus a `diagnostic` (severity `error`, with `address`) per
 * failed VM. At the end, the apply's `change_summary`. pvefleet adds `hook.step` (the action the
 * message is about) and `hook.steps` (every action in flight). Schema: src/cli/README.md.
 */
import type { ApplyEvent } from "../../applier/events.js";
import type { ChangeReason, DriftFinding, Plan } from "../../planner/types.js";
import { VERSION } from "../../version.js";
import { DISPLAY, displayOf, summarySentence } from "../render/vocabulary.js";
import { capital, dueTicks, vmCounts, type InstanceRow } from "./model.js";
import { addressOfRow, TICK_MS, type Reporter } from "./plain.js";
import type { ProgressStore } from "./store.js";

export const UI_MODULE = "pvefleet.ui";
export const UI_VERSION = "1.2";

/**
 * Terraform's `resource_drift` action for the drift findings about this shard's VMs. VMs it does
 * not own (`unmanaged`, `suspicious`) are not resources of the shard and get no event (the plan's
 * warnings count them).
 */
const DRIFT_ACTION: Partial<Record<DriftFinding["kind"], string>> = {
  attribute: "update", stopped: "update", missing: "delete", orphan: "noop",
};

export interface JsonDiagnostic {
  severity: "error" | "warning";
  summary: string;
  detail: string;
  address?: string;
}

export class JsonReporter implements Reporter {
  private readonly uiAction = new Map<string, string>();
  private readonly nextTick = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: ProgressStore, private readonly write: (s: string) => void, options: { tickMs?: number; checkEveryMs?: number } = {}) {
    const plan = store.plan;
    for (const c of plan.changes) {
      const a = DISPLAY[displayOf(c, plan)].uiAction;
      this.uiAction.set(c.instanceId, a);
      if (c.replaces) this.uiAction.set(c.replaces, a);
    }
    this.emit("info", `pvefleet ${VERSION}`, "version", { pvefleet: VERSION, ui: UI_VERSION });
    for (const f of plan.drift) this.drift(f);
    for (const c of plan.changes) {
      const action = DISPLAY[displayOf(c, plan)].uiAction;
      const reason: ChangeReason = c.reason;
      this.emit("info", `${this.addr(c.instanceId)}: Plan to ${action}`, "planned_change", {
        change: { resource: this.resource(c.instanceId), action, reason },
      });
    }
    this.emit("info", summarySentence(plan.summary), "change_summary", {
      changes: { add: plan.summary.add, change: plan.summary.change, import: 0, remove: plan.summary.destroy, operation: "plan" },
    });
    for (const w of plan.warnings) this.diagnostic(this.warning(w));
    const tick = options.tickMs ?? TICK_MS;
    if (tick > 0) {
      this.timer = setInterval(() => this.tick(tick), options.checkEveryMs ?? 1000);
      this.timer.unref();
    }
  }

  private emit(level: "info" | "warn" | "error", message: string, type: string, extra: Record<string, unknown> = {}): void {
    const msg = { "@level": level, "@message": message, "@module": UI_MODULE, "@timestamp": new Date(this.store.nowMs()).toISOString(), type, ...extra };
    this.write(`${JSON.stringify(msg)}\n`);
  }

  private diagnostic(d: JsonDiagnostic): void {
    this.emit(d.severity === "error" ? "error" : "warn", `${d.severity === "error" ? "Error" : "Warning"}: ${d.summary}`, "diagnostic", { diagnostic: d });
  }

  /** A plan warning that starts with an instance ID (`ID: …` or `tenant.group/ID: …`) is about that VM. */
  private warning(text: string): JsonDiagnostic {
    const m = /^(?:[\w.-]+\/)?([\w-]+): (.+)$/s.exec(text);
    if (m && this.store.model.byInstance.has(m[1]!)) return { severity: "warning", summary: m[2]!, detail: "", address: this.addr(m[1]!) };
    return { severity: "warning", summary: text, detail: "" };
  }

  private drift(f: DriftFinding): void {
    const name = f.instanceId ?? (f.vmid !== undefined ? `vmid-${f.vmid}` : f.fingerprint);
    const addr = f.instanceId ? this.addr(f.instanceId) : name;
    const action = DRIFT_ACTION[f.kind];
    if (!action) return;
    this.emit("info", `${addr}: Drift detected (${f.kind === "attribute" ? `${f.attribute ?? "attribute"} changed` : f.kind})`, "resource_drift", {
      change: {
        resource: { ...this.resource(name), addr },
        action,
        drift: { kind: f.kind, fingerprint: f.fingerprint, attribute: f.attribute, expected: f.expected, actual: f.actual, node: f.node, vmid: f.vmid, message: f.message },
      },
    });
  }

  private addr(instanceId: string): string {
    return addressOfRow(this.store.model.byInstance.get(instanceId), instanceId);
  }

  private resource(instanceId: string): Record<string, unknown> {
    const r = this.store.model.byInstance.get(instanceId);
    return { addr: this.addr(instanceId), module: "", resource: `vm.${instanceId}`, implied_provider: "proxmox", resource_type: "vm", resource_name: instanceId, resource_key: null, group: r?.group || undefined };
  }

  private hook(row: InstanceRow, step: string | undefined, more: Record<string, unknown> = {}): Record<string, unknown> {
    const steps = [...row.inFlight.values()].sort((a, b) => a.startedAtMs - b.startedAtMs).map((f) => f.action);
    return { hook: { resource: this.resource(row.instanceId), action: this.uiAction.get(row.instanceId) ?? "update", step, steps, ...more } };
  }

  private elapsedS(row: InstanceRow): number {
    return row.startedAtMs !== undefined ? Math.floor((this.store.nowMs() - row.startedAtMs) / 1000) : 0;
  }

  /** "Still creating... [Ns elapsed]" for each step in flight past a 10 s mark (see dueTicks). */
  tick(everyMs: number = TICK_MS): void {
    for (const t of dueTicks(this.store.model, this.store.nowMs(), everyMs, this.nextTick)) {
      const s = Math.floor(t.elapsedMs / 1000);
      this.emit("info", `${this.addr(t.row.instanceId)}: Still ${t.row.verb.ing}... [${s}s elapsed]`, "apply_progress",
        this.hook(t.row, t.step, { elapsed_seconds: s, step_elapsed_seconds: Math.floor(t.stepMs / 1000) }));
    }
  }

  onEvent(e: ApplyEvent): void {
    const before = e.instanceId ? this.store.model.byInstance.get(e.instanceId) : undefined;
    const wasStatus = before?.status;
    this.store.push(e);
    if (!e.instanceId) {
      if (e.type === "interrupt") this.emit("warn", e.message ?? "Interrupt received.", "log");
      else if (e.type === "lock") this.emit("info", e.message ?? "Acquired the state lock.", "log");
      return;
    }
    const row = this.store.model.byInstance.get(e.instanceId);
    if (!row) return;
    const addr = this.addr(e.instanceId);
    const elapsed = this.elapsedS(row);
    switch (e.type) {
      case "start":
        if (wasStatus === "pending") this.emit("info", `${addr}: ${capital(row.verb.ing)}...`, "apply_start", this.hook(row, e.action));
        else this.emit("info", `${addr}: ${e.action}...`, "apply_progress", this.hook(row, e.action, { elapsed_seconds: elapsed }));
        break;
      case "progress": break; // tick() says "Still …" every 10 s of a long step
      case "retry":
        this.emit("warn", `${addr}: ${e.action} will retry: ${e.error?.message ?? "retryable error"}`, "apply_progress", this.hook(row, e.action, { elapsed_seconds: elapsed, retry_in_ms: e.delayMs }));
        break;
      case "done":
        if (row.status === "done" && wasStatus !== "done") {
          this.emit("info", `${addr}: ${row.verb.done} after ${elapsed}s${row.vmid !== undefined ? ` [vmid=${row.vmid}]` : ""}`, "apply_complete",
            this.hook(row, e.action, { id_key: "vmid", id_value: row.vmid !== undefined ? String(row.vmid) : undefined, elapsed_seconds: elapsed }));
        }
        break;
      case "failed":
        this.emit("error", `${addr}: ${e.action} failed: ${e.error?.message ?? "unknown error"}`, "apply_errored", this.hook(row, e.action, { elapsed_seconds: elapsed, error: e.error }));
        if (wasStatus !== "failed") {
          this.diagnostic({ severity: "error", summary: `${e.action} failed`, detail: e.error ? `${e.error.code}: ${e.error.message}` : "unknown error", address: addr });
        }
        break;
      case "skipped":
        this.emit("warn", `${addr}: ${e.action} skipped`, "log");
        break;
      default:
        break;
    }
  }

  async finish(ok: boolean, error?: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.store.finish(ok, error);
    const o = this.store.outcome!;
    if (!ok && error) {
      const c = vmCounts(this.store.model);
      this.diagnostic({ severity: "error", summary: error, detail: `${c.ready} of ${c.total} VMs ready, ${c.failed} failed, ${c.skipped} skipped, ${c.pending + c.inFlight} not finished.` });
    }
    const { add, change, destroy } = o.counts;
    this.emit(ok ? "info" : "error", o.line, "change_summary", { changes: { add, change, import: 0, remove: destroy, operation: this.store.destroyMode ? "destroy" : "apply" } });
  }
}
