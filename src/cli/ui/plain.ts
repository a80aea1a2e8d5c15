/**
 * Apply progress off a TTY (pipes, CI logs), at Terraform's density: a VM takes two or three
 * time-stamped lines —
 *
 *   acme.web/web01: Creating... (pve1, vmid 10001)
 *   acme.web/web01: Still creating... [12s elapsed] (clone: 10s)
 *   acme.web/web01: Creation complete after 17s [vmid=10001]
 *
 * — with a "Still …" line every 10 s of each long step (Terraform's periodic UI timer is 10 s),
 * naming that step and how long it has run; the bracket is the VM's time, as in Terraform. Short
 * steps and time queued for a --parallelism slot print nothing. Retries, failures and skips do.
 */
import type { ApplyEvent } from "../../applier/events.js";
import { palette, type Palette } from "../render/ansi.js";
import { capital, dueTicks, formatElapsed, type InstanceRow } from "./model.js";
import type { ProgressStore } from "./store.js";

export const TICK_MS = 10_000;

export interface Reporter {
  onEvent(e: ApplyEvent): void;
  /** Prints the end of the run; resolves when the output is flushed (the ink UI unmounts). */
  finish(ok: boolean, error?: string): Promise<void>;
}

export function addressOfRow(r: InstanceRow | undefined, instanceId: string): string {
  return r?.group ? `${r.group}/${instanceId}` : instanceId;
}

export class PlainReporter implements Reporter {
  private readonly p: Palette;
  /** Per step in flight: the next multiple of `tickMs` of its run at which to print "Still …". */
  private readonly nextTick = new Map<string, number>();
  private readonly tickMs: number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: ProgressStore, private readonly write: (s: string) => void, options: { color?: boolean; tickMs?: number; checkEveryMs?: number } = {}) {
    this.p = palette(options.color ?? false);
    this.tickMs = options.tickMs ?? TICK_MS;
    if (this.tickMs > 0) {
      this.timer = setInterval(() => this.tick(), options.checkEveryMs ?? 1000);
      this.timer.unref();
    }
  }

  private stamp(): string {
    return new Date(this.store.nowMs()).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  private line(s: string): void {
    this.write(`${this.p.dim(this.stamp())} ${s}\n`);
  }

  /** Prints "x: Still creating... [23s elapsed] (clone: 10s)" for each step in flight past a 10 s mark (see dueTicks). */
  tick(): void {
    const every = this.tickMs > 0 ? this.tickMs : TICK_MS;
    for (const t of dueTicks(this.store.model, this.store.nowMs(), every, this.nextTick)) {
      this.line(`${addressOfRow(t.row, t.row.instanceId)}: Still ${t.row.verb.ing}... [${formatElapsed(t.elapsedMs)} elapsed] (${t.step}: ${formatElapsed(t.stepMs)})`);
    }
  }

  onEvent(e: ApplyEvent): void {
    const before = e.instanceId ? this.store.model.byInstance.get(e.instanceId) : undefined;
    const wasStatus = before?.status;
    this.store.push(e);
    const now = this.store.nowMs();
    const row = e.instanceId ? this.store.model.byInstance.get(e.instanceId) : undefined;
    const who = e.instanceId ? addressOfRow(row, e.instanceId) : "";
    switch (e.type) {
      case "lock": this.line(e.message ?? "Acquired the state lock."); break;
      case "start":
        if (row && wasStatus === "pending") {
          const where = [row.node, row.vmid !== undefined ? `vmid ${row.vmid}` : ""].filter(Boolean).join(", ");
          this.line(`${who}: ${capital(row.verb.ing)}...${where ? ` (${where})` : ""}`);
        }
        break;
      case "progress": break; // tick() prints "Still …" every 10 s of a long step
      case "retry":
        this.line(this.p.yellow(`${who}: ${e.action} will retry in ${formatElapsed(e.delayMs ?? 0)}: ${e.error?.message ?? "retryable error"}`));
        break;
      case "done":
        if (row && row.status === "done" && wasStatus !== "done" && row.startedAtMs !== undefined) {
          this.line(this.p.green(`${who}: ${row.verb.done} after ${formatElapsed(now - row.startedAtMs)}${row.vmid !== undefined ? ` [vmid=${row.vmid}]` : ""}`));
        }
        break;
      case "failed":
        this.line(this.p.red(`${who}: ${e.action} failed: ${e.error ? `${e.error.code}: ${e.error.message}` : "unknown error"}`));
        break;
      case "skipped":
        // One line per VM, not per step: the first step skipped says why.
        if (row && wasStatus !== "skipped" && wasStatus !== "failed" && row.status === "skipped") {
          this.line(this.p.dim(`${who}: skipped${e.error ? ` (${e.error.message})` : ""}`));
        }
        break;
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
