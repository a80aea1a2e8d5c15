/**
 * The applier: makes the cluster match a Plan. It walks the plan's action graph with a
 * parallelism limit plus per-storage and per-node clone limits, retries what is safe to retry,
 * holds the shard's lease lock, and writes the state document (compare-and-swap, write-ahead)
 * before every create and after every completed step, so a crash anywhere is resumed by the next
 * plan without duplicates or leaks. It never plans and never prints: progress goes out as
 * ApplyEvents.
 *
 * Entry points: apply(), installSignalHandlers(), ApplyEvent (events.ts).
 */
import { UserError } from "../errors.js";
import type { DesiredShard } from "../config/model.js";
import type { Action, InstanceChange, Plan } from "../planner/types.js";
import { CREATE_STEPS, STATE_ONLY_ACTIONS, type ActionOutcome, type ActionTarget, type Provider } from "../providers/types.js";
import type { InstanceRecord, LeaseLock, StateDoc, StateStore } from "../state/types.js";
import { INTERRUPT_MESSAGE, STOPPING_MESSAGE, type ApplyEvent } from "./events.js";
import { checkSavedPlan, checkVmDigests, vmsToRecheck } from "../planner/index.js";
import { DEFAULT_RETRY, backoffMs, errorCode, maxAttempts, retryClass, sleep, type RetryPolicy } from "./retry.js";
import { runGraph } from "./walk.js";
import { StateWriter } from "./state-writer.js";

export type { ApplyEvent, ApplyEventType } from "./events.js";
export { INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE, STOPPING_MESSAGE } from "./events.js";
export { installSignalHandlers, type SignalHandlers } from "./signals.js";
export { runGraph } from "./walk.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";

export interface ApplyDeps {
  ops: Provider;
  store: StateStore;
  desired: DesiredShard;
  /** A lock the caller already holds (apply without a plan file plans inside it); not released here. */
  lock?: LeaseLock;
  /** Passed to store.lock() when apply takes the lock itself. */
  lockTimeoutMs?: number;
  onEvent?: (e: ApplyEvent) => void;
  /** Actions in flight at once (default 10). */
  parallelism?: number;
  /** Clones running at once on one storage (default desired.provider.options.cloneConcurrencyPerStorage). */
  perStorageCloneLimit?: number;
  /** Clones running at once on one node (default: no limit beyond parallelism). */
  perNodeLimit?: number;
  /**
   * Storages shared between nodes (NFS, Ceph…): their clone limit is cluster-wide. Any other storage
   * is node-local and limited per node, as PVE locks it (`pve-storage-<id>` on each node).
   */
  sharedStorages?: string[];
  /** Aborting it stops new actions; in-flight ones finish, state is persisted, the lock released. */
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** How often a running action emits `progress` (default 10 s, like Terraform). */
  progressIntervalMs?: number;
  /**
   * Refuse a plan whose state serial/lineage or VM config digests moved (default true). The CLI may
   * pass false for a plan it just made inside the same lock, to save the digest reads.
   */
  checkFreshness?: boolean;
}

export interface ActionFailure {
  actionId: string;
  instanceId: string;
  type: Action["type"];
  error: { code: string; message: string };
}

export interface ApplyResult {
  /** "applied": every action done; "partial": some failed or were skipped; "interrupted": stopped by a signal. */
  status: "applied" | "partial" | "interrupted";
  done: string[];
  failed: ActionFailure[];
  skipped: { actionId: string; because: string }[];
  notStarted: string[];
  /** State serial after the last write, and how many writes carried how many step records. */
  state: { serial: number; writes: number; mutations: number };
  elapsedMs: number;
}


/**
 * Terraform's stale-plan check (anchors.md §1.3) against the state as it is now, the shard file the
 * plan was made from, then PVE's config digest of every VM the plan modifies: a saved plan is
 * refused before the first change. The shard check comes first: two fresh states (lineage "",
 * serial 0) cannot tell one shard's plan from another's.
 */
export async function checkPlanFreshness(plan: Plan, current: StateDoc | undefined, desired: DesiredShard, ops: Pick<Provider, "details">): Promise<void> {
  if (plan.clusterId !== desired.clusterId || plan.shardId !== desired.shardId) {
    throw new UserError("E_PLAN_MISMATCH", `Saved plan is for shard ${plan.clusterId}/${plan.shardId}, not ${desired.clusterId}/${desired.shardId}; it cannot be applied here`);
  }
  checkSavedPlan(plan, current, desired.source.digest);
  const vms = vmsToRecheck(plan);
  if (vms.length > 0) checkVmDigests(plan, await ops.details(vms));
}

function oneLineError(err: unknown): { code: string; message: string } {
  const message = err instanceof UserError ? err.line() : err instanceof Error ? err.message : String(err);
  return { code: errorCode(err), message: message.split("\n")[0]! };
}

export async function apply(plan: Plan, deps: ApplyDeps): Promise<ApplyResult> {
  const started = Date.now();
  const { ops, store, desired } = deps;
  const options = desired.provider.options;
  const parallelism = Math.max(1, deps.parallelism ?? 10);
  const storageLimit = Math.max(1, deps.perStorageCloneLimit ?? options.cloneConcurrencyPerStorage ?? 2);
  const nodeLimit = deps.perNodeLimit !== undefined ? Math.max(1, deps.perNodeLimit) : Number.POSITIVE_INFINITY;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const progressIntervalMs = deps.progressIntervalMs ?? 10_000;
  const emit = (e: Omit<ApplyEvent, "elapsedMs"> & { elapsedMs?: number }) => {
    try {
      deps.onEvent?.({ elapsedMs: Date.now() - started, ...e });
    } catch {
      // A rendering bug must not break an apply half-way.
    }
  };

  const emptyResult = (status: ApplyResult["status"], serial: number): ApplyResult => ({
    status,
    done: [],
    failed: [],
    skipped: [],
    notStarted: plan.actions.map((a) => a.id),
    state: { serial, writes: 0, mutations: 0 },
    elapsedMs: Date.now() - started,
  });
  if (deps.signal?.aborted) return emptyResult("interrupted", plan.state.serial);

  // The lock comes before the first read that decides anything.
  let lock = deps.lock;
  const ownLock = lock === undefined;
  if (!lock) {
    lock = await store.lock("apply", { timeoutMs: deps.lockTimeoutMs });
    emit({ type: "lock", message: `Acquired the state lock (ID ${lock.info.id})`, level: "info" });
  }
  let interrupted = false;
  let fatal: unknown;
  const onAbort = () => {
    if (interrupted) return;
    interrupted = true;
    emit({ type: "interrupt", message: INTERRUPT_MESSAGE, level: "warn" });
    emit({ type: "interrupt", message: STOPPING_MESSAGE, level: "warn" });
  };
  deps.signal?.addEventListener("abort", onAbort, { once: true });

  let writer: StateWriter | undefined;
  try {
    lock.assertHeld();
    const current = await store.read();
    if (deps.checkFreshness !== false) await checkPlanFreshness(plan, current?.doc, desired, ops);
    if (plan.actions.length === 0) return emptyResult("applied", current?.doc.serial ?? 0);
    // Before any change: a token lacking a privilege the plan needs fails here with the missing
    // list and the role advice, not half-way through (Nstance checks only at server start).
    const clusterActions = plan.actions.filter((a) => !STATE_ONLY_ACTIONS.includes(a.type));
    if (clusterActions.length > 0) await ops.preflight([...new Set(clusterActions.map((a) => a.type))]);

    writer = new StateWriter(
      store,
      current ? { doc: current.doc, etag: current.etag } : { doc: StateWriter.emptyDoc(desired.clusterId, desired.shardId), etag: undefined },
      (serial) => emit({ type: "state-written", serial }),
    );
    const ctx = new ApplyContext(plan, deps, writer, options.shutdownTimeoutSec);

    const result = await runGraph(plan.actions, {
      parallelism,
      keysOf: (a) => (a.type === "clone" ? ctx.cloneKeys(a) : []),
      limitOf: (key) => (key.startsWith("storage:") ? storageLimit : key.startsWith("node:") ? nodeLimit : Number.POSITIVE_INFINITY),
      mayStart: () => !interrupted && fatal === undefined && writer!.failure === undefined,
      // Write-ahead as soon as an action is ready, not when its limit lets it start: a clone queued
      // behind its storage's limit then starts the moment a slot frees, its record already on disk.
      onReady: (a) => ctx.prepare(a),
      onSkipped: (a, because) =>
        emit({ type: "skipped", actionId: a.id, instanceId: a.instanceId, action: a.type, node: a.node, vmid: a.vmid, error: { code: "DEPENDENCY_FAILED", message: `skipped: ${because} failed` } }),
      run: async (action) => {
        const actionStarted = Date.now();
        const base = { actionId: action.id, instanceId: action.instanceId, action: action.type, node: action.node, vmid: action.vmid };
        const timer = setInterval(() => emit({ type: "progress", ...base, elapsedMs: Date.now() - actionStarted }), progressIntervalMs);
        timer.unref();
        let attempt = 1;
        try {
          for (;;) {
            try {
              lock!.assertHeld();
              emit({ type: "start", ...base, attempt, elapsedMs: Date.now() - actionStarted });
              await ctx.run(action);
              emit({ type: "done", ...base, attempt, elapsedMs: Date.now() - actionStarted });
              return;
            } catch (err) {
              const code = errorCode(err);
              if (code === "STATE_CONFLICT" || code === "LOCK_LOST") fatal ??= err;
              const cls = fatal === undefined ? retryClass(err) : undefined;
              if (cls && attempt < maxAttempts(policy, cls) && !interrupted) {
                const delayMs = backoffMs(policy, attempt);
                emit({ type: "retry", ...base, attempt, delayMs, error: oneLineError(err), elapsedMs: Date.now() - actionStarted });
                await sleep(delayMs, deps.signal);
                if (!interrupted) {
                  attempt++;
                  continue;
                }
              }
              emit({ type: "failed", ...base, attempt, error: oneLineError(err), elapsedMs: Date.now() - actionStarted, level: "error" });
              throw err;
            }
          }
        } finally {
          clearInterval(timer);
        }
      },
    });

    await writer.drain();
    fatal ??= writer.failure;
    const byId = new Map(plan.actions.map((a) => [a.id, a]));
    const out: ApplyResult = {
      status: interrupted ? "interrupted" : result.failed.length + result.skipped.length + result.notStarted.length > 0 ? "partial" : "applied",
      done: result.done,
      failed: result.failed.map(({ id, error }) => ({ actionId: id, instanceId: byId.get(id)!.instanceId, type: byId.get(id)!.type, error: oneLineError(error) })),
      skipped: result.skipped.map(({ id, because }) => ({ actionId: id, because })),
      notStarted: result.notStarted,
      state: { serial: writer.current.serial, writes: writer.stats.writes, mutations: writer.stats.mutations },
      elapsedMs: Date.now() - started,
    };
    if (fatal !== undefined) throw fatal;
    emit({
      type: "complete",
      level: out.status === "applied" ? "info" : "warn",
      message:
        out.status === "interrupted"
          ? `Apply interrupted: ${out.done.length} actions done, ${out.notStarted.length} not started; state saved (serial ${out.state.serial}).`
          : `Apply complete! ${out.done.length} actions done, ${out.failed.length} failed, ${out.skipped.length} skipped.`,
    });
    return out;
  } finally {
    deps.signal?.removeEventListener("abort", onAbort);
    if (writer) await writer.drain();
    if (ownLock) await lock.release();
  }
}

/**
 * Keeps the state document in step with the actions, following the planner's journal
 * (src/planner/actions.ts): `journal.recordBefore` is persisted before the action starts
 * (write-ahead), `journal.steps` join `stepsDone` after it succeeds, `journal.record` is merged after
 * it succeeds, and every action after a clone targets the VMID the clone actually got. What each
 * action does to the cluster is the provider's (`Provider.run`); nothing here speaks Proxmox.
 */
class ApplyContext {
  private readonly changes = new Map<string, InstanceChange>();
  /** Where a VM is now when this run's clone put it somewhere other than planned. */
  private readonly placed = new Map<string, { node: string; vmid: number }>();
  /** Instances whose clone was sent in this run: a second attempt may find the first one's VM. */
  private readonly cloneSent = new Set<string>();
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(
    plan: Plan,
    private readonly deps: ApplyDeps,
    private readonly writer: StateWriter,
    private readonly shutdownTimeoutSec: number,
  ) {
    for (const c of plan.changes) this.changes.set(c.instanceId, c);
  }

  /** Limit keys of a clone: its target storage (per node unless shared) and node. */
  cloneKeys(a: Action): string[] {
    if (a.type !== "clone") return [];
    const storage = a.params.storage;
    const shared = (this.deps.sharedStorages ?? []).includes(storage);
    return [`storage:${shared ? storage : `${storage}@${a.node}`}`, `node:${a.node}`];
  }

  /** The VM an action is for, and whose it must be (the provider checks, rule 2). */
  private where(a: Action): ActionTarget {
    const instanceId = a.instanceId;
    const placed = this.placed.get(a.instanceId);
    if (placed) return { ...placed, instanceId };
    const rec = this.writer.current.instances[a.instanceId];
    // A resumed create whose clone ran in an earlier (crashed) run: the record knows the VMID used.
    if (rec?.phase === "creating" && rec.stepsDone.includes("clone")) return { node: rec.node, vmid: rec.vmid, instanceId };
    // A create resumed after a crash clones to the VMID its first attempt recorded, even when the
    // plan chose another: that clone may still be running (locked, not yet named in the listing),
    // and only the provider's check of that VMID finds it — a fresh VMID would make a second VM
    // with the same name. A VMID taken by someone else moves on anyway.
    if (a.type === "clone" && rec?.phase === "creating" && rec.vmid > 0) return { node: rec.node, vmid: rec.vmid, instanceId };
    return { node: a.node, vmid: a.vmid, instanceId };
  }

  /** Starts the action's write-ahead; run() awaits it. */
  prepare(a: Action): void {
    if (a.journal?.recordBefore === undefined || this.prepared.has(a.id)) return;
    const p = this.recordBefore(a);
    p.catch(() => undefined); // awaited (and reported) by run()
    this.prepared.set(a.id, p);
  }

  async run(a: Action): Promise<void> {
    const prepared = this.prepared.get(a.id);
    this.prepared.delete(a.id);
    await (prepared ?? this.recordBefore(a));
    const learnt = a.type === "record-state" || a.type === "forget-state" ? {} : await this.execute(a);
    await this.recordAfter(a, learnt);
  }

  /** Write-ahead: a create is in the state as `creating` before its VM or ISO can exist, a delete as `deleting` before its stop. */
  private async recordBefore(a: Action): Promise<void> {
    const before = a.journal?.recordBefore;
    if (!before) return;
    const existing = this.writer.current.instances[a.instanceId];
    const full = typeof before.instanceId === "string";
    if (existing && Object.entries(before).every(([k, v]) => (full ? k in existing : JSON.stringify(existing[k as keyof InstanceRecord]) === JSON.stringify(v)))) {
      return; // already recorded (the create's other first step, or an earlier run): nothing to write ahead
    }
    await this.writer.update((doc) => {
      const rec = doc.instances[a.instanceId];
      if (full) {
        // A full record (a create). When it is already there (the other first step of this create
        // ran, or an earlier run got this far) what it learnt wins: the VMID the clone used, the steps done.
        const merged = { ...(before as InstanceRecord), ...rec } as InstanceRecord;
        merged.stepsDone = CREATE_STEPS.filter((s) => rec?.stepsDone.includes(s) || before.stepsDone?.includes(s));
        if (!rec) merged.phase = before.phase ?? "creating";
        doc.instances[a.instanceId] = merged;
      } else if (rec) {
        Object.assign(rec, before);
      }
    });
  }

  private async recordAfter(a: Action, learnt: Partial<InstanceRecord>): Promise<void> {
    const steps = a.journal?.steps ?? [];
    const record = a.journal?.record;
    if (a.type === "forget-state") {
      await this.writer.update((doc) => {
        delete doc.instances[a.instanceId];
      });
      return;
    }
    if (steps.length === 0 && !record && Object.keys(learnt).length === 0) return;
    // Not awaited: what a finished step records only saves work on resume (the next plan finds the
    // VM by name either way), so dependents need not wait for the disk. The writer still persists
    // every update in order, `apply` drains it before returning, and a failed write stops the run.
    void this.writer.update((doc) => {
      let rec = doc.instances[a.instanceId];
      if (!rec) {
        // Adoption (or a record lost meanwhile): only a full record can create one.
        if (!record || typeof record.instanceId !== "string") return;
        rec = doc.instances[a.instanceId] = { ...(record as InstanceRecord) };
      }
      Object.assign(rec, learnt);
      if (steps.length > 0) rec.stepsDone = CREATE_STEPS.filter((s) => rec!.stepsDone.includes(s) || steps.includes(s));
      if (record) Object.assign(rec, record);
    }).catch(() => undefined);
  }

  /** Hands the action to the provider; returns what the state should learn from it. */
  private async execute(a: Action): Promise<Partial<InstanceRecord>> {
    const target = this.where(a);
    const resumed = a.type === "clone" && (this.changes.get(a.instanceId)?.resumeFrom !== undefined || this.cloneSent.has(a.instanceId));
    if (a.type === "clone") this.cloneSent.add(a.instanceId);
    const userdata = this.changes.get(a.instanceId)?.after?.userdata;
    let outcome: ActionOutcome;
    try {
      outcome = await this.deps.ops.run(a, {
        target,
        shutdownTimeoutSec: this.shutdownTimeoutSec,
        ...(resumed ? { resumed } : {}),
        ...(userdata ? { userdata } : {}),
      });
    } catch (err) {
      if (a.type === "configure" && errorCode(err) === "CONFLICT") {
        throw new UserError(
          "VM_CHANGED",
          `VM ${target.vmid} (${a.instanceId}) changed since the plan was made (PVE config digest differs); nothing was written to it — run plan again`,
          undefined,
          { cause: err },
        );
      }
      throw err;
    }
    if (a.type === "clone" && outcome.node !== undefined && outcome.vmid !== undefined) {
      this.placed.set(a.instanceId, { node: outcome.node, vmid: outcome.vmid });
      return { node: outcome.node, vmid: outcome.vmid };
    }
    return outcome.isoVolume !== undefined ? { isoVolume: outcome.isoVolume } : {};
  }
}
