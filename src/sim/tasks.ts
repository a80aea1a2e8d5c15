/**
 * Worker tasks with UPIDs (pve-api.md §2.7): a task really runs for its duration, is `running`
 * until its body finishes and then `stopped` with `exitstatus` "OK" or the bare error text.
 * Checks that PVE makes inside the worker are made inside the body, so they fail the task and
 * not the HTTP call (rule 8).
 */
import { Rng } from "./rng.js";

export interface TaskRecord {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  tokenid?: string;
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
}

/** A failure inside a task: its message becomes the exitstatus. */
export class TaskError extends Error {}

export interface TaskContext {
  /** Waits, unless the simulator is stopping (then tasks are fast-forwarded to their end). */
  sleep(ms: number): Promise<void>;
  upid: string;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
const MAX_KEPT = 50_000;

export class TaskManager {
  private readonly tasks = new Map<string, TaskRecord>();
  /** The kept tasks of each node, oldest first (a node's task list costs its own tasks). */
  private readonly byNode = new Map<string, TaskRecord[]>();
  private readonly running = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private nextPid: number;
  private readonly pstart: number;
  private stopping = false;

  constructor(rng: Rng) {
    this.nextPid = 100000 + rng.int(500000);
    this.pstart = 10000000 + rng.int(90000000);
  }

  get(upid: string): TaskRecord | undefined {
    return this.tasks.get(upid);
  }

  /** Tasks of a node, newest first. */
  list(node: string): TaskRecord[] {
    return [...(this.byNode.get(node) ?? [])].reverse();
  }

  /**
   * Starts a worker. `user` is `user@realm!token` for token requests: the UPID carries it whole,
   * the status splits it into `user` and `tokenid`.
   */
  spawn(node: string, type: string, id: string, user: string, body: (ctx: TaskContext) => Promise<void>, onEnd?: (ok: boolean) => void): string {
    const pid = this.nextPid++;
    const starttime = Math.floor(Date.now() / 1000);
    const upid = `UPID:${node}:${hex8(pid)}:${hex8(this.pstart)}:${hex8(starttime)}:${type}:${id}:${user}:`;
    const [plainUser, tokenid] = user.split("!");
    const rec: TaskRecord = { upid, node, pid, pstart: this.pstart, starttime, type, id, user: plainUser!, status: "running" };
    if (tokenid) rec.tokenid = tokenid;
    this.tasks.set(upid, rec);
    let mine = this.byNode.get(node);
    if (!mine) this.byNode.set(node, (mine = []));
    mine.push(rec);
    this.evictOld();
    const ctx: TaskContext = { upid, sleep: (ms) => this.sleep(ms) };
    const done = (async () => {
      // Yield first: a worker is forked, the HTTP answer (the UPID) goes out before it works.
      await this.sleep(0);
      try {
        await body(ctx);
        rec.exitstatus = "OK";
      } catch (e) {
        rec.exitstatus = e instanceof TaskError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
      }
      rec.status = "stopped";
      rec.endtime = Math.floor(Date.now() / 1000);
      onEnd?.(rec.exitstatus === "OK");
    })();
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return upid;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Finishes every running task at once (on stop, so the saved state has no stale locks). */
  async drain(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    while (this.running.size > 0) {
      await Promise.all([...this.running]);
      for (const wake of [...this.wakers]) wake();
    }
  }

  /** Resolves once the task has stopped (at once for an unknown or finished one). */
  async settled(upid: string): Promise<void> {
    const rec = this.tasks.get(upid);
    if (!rec) return;
    while (rec.status === "running") {
      const current = [...this.running];
      if (current.length === 0) return;
      await Promise.race(current);
    }
  }

  runningCount(): number {
    return this.running.size;
  }

  private evictOld(): void {
    if (this.tasks.size <= MAX_KEPT) return;
    for (const [upid, t] of this.tasks) {
      if (t.status === "stopped") this.tasks.delete(upid);
      if (this.tasks.size <= MAX_KEPT * 0.9) break;
    }
    for (const [node, list] of this.byNode) this.byNode.set(node, list.filter((t) => this.tasks.has(t.upid)));
  }
}
