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
import type { Action, Plan } from "../planner/types.js";
import { STATE_ONLY_ACTIONS, type Provider } from "../providers/types.js";
import type { LeaseLock, StateDoc, StateStore } from "../state/types.js";
import { INTERRUPT_MESSAGE, STOPPING_MESSAGE, type ApplyEvent } from "./events.js";
import { checkSavedPlan, checkVmDigests, vmsToRecheck, withReplaceSpecs } from "../planner/index.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { runGraph } from "./walk.js";
import { Journal } from "./journal.js";
import { oneLineError, runAttempts, type StopFlags } from "./attempt.js";
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
 * Terraform's stale-plan check ("Saved plan is stale") against the state as it is now, the shard file the
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

    // The groups' replace-forcing attributes ride along with the first record written, so a later
    // plan can name what forces a replacement (src/planner/replace-causes.ts).
    writer = new StateWriter(
      store,
      current ? { doc: withReplaceSpecs(current.doc, desired), etag: current.etag } : { doc: withReplaceSpecs(StateWriter.emptyDoc(desired.clusterId, desired.shardId), desired), etag: undefined },
      (serial) => emit({ type: "state-written", serial }),
    );
    const journal = new Journal(plan, deps, writer, options.shutdownTimeoutSec);
    const stop: StopFlags = {
      get interrupted() { return interrupted; },
      get fatal() { return fatal; },
      fail(err: unknown) { fatal ??= err; },
    };

    const result = await runGraph(plan.actions, {
      parallelism,
      keysOf: (a) => journal.cloneKeys(a),
      limitOf: (key) => (key.startsWith("storage:") ? storageLimit : key.startsWith("node:") ? nodeLimit : Number.POSITIVE_INFINITY),
      mayStart: () => !interrupted && fatal === undefined && writer!.failure === undefined,
      // Write-ahead as soon as an action is ready, not when its limit lets it start: a clone queued
      // behind its storage's limit then starts the moment a slot frees, its record already on disk.
      onReady: (a) => journal.prepare(a),
      onSkipped: (a, because) =>
        emit({ type: "skipped", actionId: a.id, instanceId: a.instanceId, action: a.type, node: a.node, vmid: a.vmid, error: { code: "DEPENDENCY_FAILED", message: `skipped: ${because} failed` } }),
      run: (action) => runAttempts(action, { journal, lock: lock!, policy, progressIntervalMs, signal: deps.signal, emit, stop }),
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

