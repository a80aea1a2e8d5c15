/**
 * Apply progress off a TTY (pipes, CI logs): one time-stamped line per step, and Terraform's
 * "Still creating... [10s elapsed]" every 10 s for a step that is still running.
 */
import type { ApplyEvent } from "../../applier/events.js";
import { palette, type Palette } from "../render/ansi.js";
import { formatElapsed, verbFor } from "./model.js";
import type { ProgressStore } from "./store.js";

export const TICK_MS = 10_000;

export interface Reporter {
  onEvent(e: ApplyEvent): void;
  /** Prints the end of the run; resolves when the output is flushed (the ink UI unmounts). */
  finish(ok: boolean, error?: string): Promise<void>;
}

export class PlainReporter implements Reporter {
  private readonly p: Palette;
  private readonly lastLineAt = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: ProgressStore, private readonly write: (s: string) => void, options: { color?: boolean; tickMs?: number; checkEveryMs?: number } = {}) {
    this.p = palette(options.color ?? false);
    const tick = options.tickMs ?? TICK_MS;
    if (tick > 0) {
      this.timer = setInterval(() => this.tick(tick), options.checkEveryMs ?? 1000);
      this.timer.unref();
    }
  }

  private stamp(): string {
    return new Date(this.store.nowMs()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  private line(s: string): void {
    this.write(`${this.p.dim(this.stamp())} ${s}\n`);
  }

  /** Prints "Still …" for running instances whose last line is older than `tickMs`. */
  tick(tickMs: number = TICK_MS): void {
    const now = this.store.nowMs();
    for (const r of this.store.model.rows) {
      if (r.status !== "running" || r.startedAtMs === undefined) continue;
      const last = this.lastLineAt.get(r.instanceId) ?? r.startedAtMs;
      if (now - last < tickMs) continue;
      this.lastLineAt.set(r.instanceId, now);
      const elapsed = Math.floor((now - r.startedAtMs) / 10_000) * 10_000;
      this.line(`${this.addr(r.instanceId)}: Still ${verbFor(r.kind, r.step).ing}... [${formatElapsed(elapsed)} elapsed]${r.step ? ` (${r.step})` : ""}`);
    }
  }

  private addr(instanceId: string): string {
    const r = this.store.model.byInstance.get(instanceId);
    return r?.group ? `${r.group}/${instanceId}` : instanceId;
  }

  onEvent(e: ApplyEvent): void {
    const wasDone = e.instanceId ? this.store.model.byInstance.get(e.instanceId)?.status === "done" : false;
    const firstStart = e.type === "start" && e.instanceId ? this.store.model.byInstance.get(e.instanceId)?.startedAtMs === undefined : false;
    this.store.push(e);
    const now = this.store.nowMs();
    if (e.instanceId) this.lastLineAt.set(e.instanceId, now);
    const row = e.instanceId ? this.store.model.byInstance.get(e.instanceId) : undefined;
    const who = e.instanceId ? this.addr(e.instanceId) : "";
    const where = [e.node, e.vmid !== undefined ? `vmid ${e.vmid}` : ""].filter(Boolean).join(", ");
    switch (e.type) {
      case "lock": this.line(e.message ?? "Acquired the state lock."); break;
      case "start":
        if (firstStart && row) this.line(`${who}: ${capital(verbFor(row.kind, e.action).ing)}...`);
        this.line(`${who}: ${e.action} started${where ? ` (${where})` : ""}${e.attempt && e.attempt > 1 ? ` [attempt ${e.attempt}]` : ""}`);
        break;
      case "progress": break; // our own ticker prints the "Still …" lines at a steady 10 s
      case "retry":
        this.line(this.p.yellow(`${who}: ${e.action} will retry in ${formatElapsed(e.delayMs ?? 0)}: ${e.error?.message ?? "retryable error"}`));
        break;
      case "done":
        this.line(`${who}: ${e.action} done [${formatElapsed(e.elapsedMs)}]`);
        if (row && row.status === "done" && !wasDone && row.startedAtMs !== undefined) {
          this.line(this.p.green(`${who}: ${verbFor(row.kind, undefined).done} after ${formatElapsed(now - row.startedAtMs)}${row.vmid !== undefined ? ` [vmid=${row.vmid}]` : ""}`));
        }
        break;
      case "failed":
        this.line(this.p.red(`${who}: ${e.action} failed: ${e.error ? `${e.error.code}: ${e.error.message}` : "unknown error"}`));
        break;
      case "skipped": this.line(this.p.dim(`${who}: ${e.action} skipped${e.error ? ` (${e.error.message})` : ""}`)); break;
      case "state-written": break;
      case "interrupt": this.line(this.p.yellow(e.message ?? "Interrupt received.")); break;
      case "complete": break;
    }
  }

  async finish(ok: boolean, error?: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.store.finish(ok, error);
    const o = this.store.outcome!;
    this.write("\n");
    this.write(ok ? `${this.p.green(this.p.bold(o.line))}\n` : `${this.p.red(this.p.bold(o.line))}\n`);
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
