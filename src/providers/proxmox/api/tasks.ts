/**
 * Waiting for PVE tasks. Async endpoints answer with a UPID; we poll
 * `/nodes/{node}/tasks/{upid}/status` (node = the UPID's 2nd field, pve-api.md §2.7) until
 * `status` is `stopped`, then read `exitstatus`: `OK` succeeds, `WARNINGS: n` succeeds and is
 * reported through `onWarning`, anything else is a failure (Nstance ignores this).
 * When to poll is task-schedule.ts's: once near the type's measured median duration, then growing
 * gaps up to the type's interval.
 */
import { apiPath, sleep, type ProxmoxClient } from "./client.js";
import { ProxmoxError, classifyTaskFailure } from "./errors.js";
import { TaskSchedule } from "./task-schedule.js";

export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

// UPID:<node>:<pid 8 hex>:<pstart 8-9 hex>:<starttime 8 hex>:<type>:<id>:<user>: (pve-common upid_decode)
const UPID_RE = /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

export function parseUpid(upid: string): Upid {
  const m = UPID_RE.exec(upid);
  if (!m) throw new ProxmoxError("SERVER", `Proxmox answered with an unparsable UPID "${upid}"`);
  return {
    upid,
    node: m[1]!,
    pid: parseInt(m[2]!, 16),
    pstart: parseInt(m[3]!, 16),
    starttime: parseInt(m[4]!, 16),
    type: m[5]!,
    id: m[6]!,
    user: m[7]!,
  };
}

export function isUpid(value: unknown): value is string {
  return typeof value === "string" && value.startsWith("UPID:");
}

export interface TaskTiming {
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Per task type: clones copy whole disks (minutes); config/resize/start are seconds; uploads
 * depend on the link. Far above Nstance's 2 s/5 s caps, which failed creates on slow nodes.
 */
export const DEFAULT_TASK_TIMING: Record<string, TaskTiming> = {
  qmclone: { intervalMs: 2000, timeoutMs: 15 * 60_000 },
  qmconfig: { intervalMs: 500, timeoutMs: 2 * 60_000 },
  resize: { intervalMs: 1000, timeoutMs: 5 * 60_000 },
  imgcopy: { intervalMs: 500, timeoutMs: 5 * 60_000 },
  imgdel: { intervalMs: 500, timeoutMs: 60_000 },
  qmstart: { intervalMs: 1000, timeoutMs: 2 * 60_000 },
  qmstop: { intervalMs: 1000, timeoutMs: 2 * 60_000 },
  qmshutdown: { intervalMs: 1000, timeoutMs: 10 * 60_000 },
  qmdestroy: { intervalMs: 1000, timeoutMs: 5 * 60_000 },
  default: { intervalMs: 1000, timeoutMs: 5 * 60_000 },
};

export interface TaskWaitOptions {
  /** Overrides the interval of every task type (tests use a few ms). */
  pollIntervalMs?: number;
  timing?: Partial<Record<string, Partial<TaskTiming>>>;
  onWarning?: (info: { upid: string; type: string; exitstatus: string }) => void;
}

interface TaskStatus {
  status: string;
  exitstatus?: string;
  type?: string;
}

export class TaskWaiter {
  /** Expected durations per task type, learnt from this waiter's own waits (task-schedule.ts). */
  readonly schedule = new TaskSchedule();

  constructor(
    private readonly client: ProxmoxClient,
    private readonly options: TaskWaitOptions = {},
  ) {}

  timingFor(type: string, overrideTimeoutMs?: number): TaskTiming {
    const base = DEFAULT_TASK_TIMING[type] ?? DEFAULT_TASK_TIMING.default!;
    const custom = this.options.timing?.[type] ?? {};
    return {
      intervalMs: this.options.pollIntervalMs ?? custom.intervalMs ?? base.intervalMs,
      timeoutMs: overrideTimeoutMs ?? custom.timeoutMs ?? base.timeoutMs,
    };
  }

  /** Resolves with the exitstatus (`OK` or `WARNINGS: n`); throws a classified ProxmoxError otherwise. */
  async wait(upid: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    const parsed = parseUpid(upid);
    const { intervalMs, timeoutMs } = this.timingFor(parsed.type, opts.timeoutMs);
    const began = performance.now();
    const deadline = Date.now() + timeoutMs;
    // The first poll near the type's expected end (at once while none is known), then growing gaps.
    const first = Math.min(this.schedule.firstDelayMs(parsed.type), timeoutMs);
    if (first > 0) await sleep(first);
    let gap = 0;
    let lastRunningMs: number | undefined;
    for (;;) {
      this.client.markTaskPoll();
      const sentMs = performance.now() - began;
      const st = await this.client.get<TaskStatus>(apiPath`/nodes/${parsed.node}/tasks/${upid}/status`);
      if (st.status !== "running") {
        const exit = st.exitstatus ?? "unexpected status";
        const ok = exit === "OK" || /^WARNINGS: \d+$/.test(exit);
        if (ok) this.schedule.record(parsed.type, { lastRunningMs, stoppedSentMs: sentMs, stoppedMs: performance.now() - began });
        if (exit === "OK") return exit;
        if (ok) {
          this.options.onWarning?.({ upid, type: parsed.type, exitstatus: exit });
          return exit;
        }
        // A task's exitstatus is server text like any other: masked before it leaves the provider.
        throw this.client.redactError(classifyTaskFailure(exit, upid, parsed.type));
      }
      lastRunningMs = sentMs;
      if (Date.now() >= deadline) {
        throw new ProxmoxError("TASK_TIMEOUT", `Proxmox task ${parsed.type} still running after ${Math.round(timeoutMs / 1000)} s (${upid})`, { upid });
      }
      gap = this.schedule.nextGapMs(parsed.type, gap, intervalMs);
      await sleep(Math.min(gap, Math.max(1, deadline - Date.now())));
    }
  }

  /** Waits when the answer is a UPID; a `null` answer (finished within background_delay) is done. */
  async settle(answer: unknown, opts: { timeoutMs?: number } = {}): Promise<void> {
    if (isUpid(answer)) await this.wait(answer, opts);
  }
}
