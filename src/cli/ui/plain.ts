/**
 * Apply progress off a TTY (pipes, CI logs), at Terraform's density: a VM takes two or three
 * time-stamped lines —
 *
 *   acme.web/web01: Creating... (pve1, vmid 10001)
 *   acme.web/web01: Still creating... [10s elapsed] (clone+iso)
 *   acme.web/web01: Creation complete after 14s [vmid=10001]
 *
 * — with a "Still …" line every 10 s of the VM's run (Terraform's periodic UI timer), naming the
 * steps in flight at that moment. Steps themselves are not logged; retries, failures and skips are.
 */
import type { ApplyEvent } from "../../applier/events.js";
import { palette, type Palette } from "../render/ansi.js";
import { capital, dueTicks, formatElapsed, stepLabel, type InstanceRow } from "./model.js";
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
  /** Per VM: the next multiple of `tickMs` of its run at which to print "Still …". */
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

  /**
   * Prints "Still creating... [Ns elapsed] (step)" for each VM in flight whose run passed its next
   * 10 s mark, N being that mark (10s, 20s, …) as Terraform prints it; a mark missed while the
   * process was busy is printed once, at the latest mark passed.
   */
  tick(): void {
    const every = this.tickMs > 0 ? this.tickMs : TICK_MS;
    for (const { row, markMs } of dueTicks(this.store.model, this.store.nowMs(), every, this.nextTick)) {
      this.line(`${addressOfRow(row, row.instanceId)}: Still ${row.verb.ing}... [${formatElapsed(markMs)} elapsed] (${stepLabel(row)})`);
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
      case "progress": break; // the ticker prints "Still …" on the VM's own 10 s marks
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
