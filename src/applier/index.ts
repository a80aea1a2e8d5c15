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
import type { DesiredGroup, DesiredShard } from "../config/model.js";
import type { Action, InstanceChange, Plan } from "../planner/types.js";
import type { ConfigureRequest, ProxmoxOps } from "../providers/proxmox/types.js";
import type { CreateStep, InstanceRecord, LeaseLock, StateDoc, StateStore } from "../state/types.js";
import { INTERRUPT_MESSAGE, STOPPING_MESSAGE, type ApplyEvent } from "./events.js";
import { cloudInitIso, describe, isoFileName, normaliseTags, ownershipTags } from "./glue.js";
import { DEFAULT_RETRY, backoffMs, errorCode, maxAttempts, retryClass, sleep, type RetryPolicy } from "./retry.js";
import { runGraph } from "./scheduler.js";
import { StateWriter } from "./state-writer.js";

export type { ApplyEvent, ApplyEventType } from "./events.js";
export { INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE, STOPPING_MESSAGE } from "./events.js";
export { installSignalHandlers, type SignalHandlers } from "./signals.js";
export { runGraph, checkGraph } from "./scheduler.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";

export interface ApplyDeps {
  ops: ProxmoxOps;
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
  /** Aborting it stops new actions; in-flight ones finish, state is persisted, the lock released. */
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** How often a running action emits `progress` (default 10 s, like Terraform). */
  progressIntervalMs?: number;
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

const CREATE_STEPS: readonly CreateStep[] = ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"];
const DELETE_TYPES = new Set<Action["type"]>(["stop", "delete-iso", "delete-vm"]);

function isCreateStep(type: string): type is CreateStep {
  return (CREATE_STEPS as readonly string[]).includes(type);
}

/** Terraform's stale-plan check (anchors.md §1.3) against the state as it is now. */
export function checkPlanFreshness(plan: Plan, current: StateDoc | undefined, desired: DesiredShard): void {
  if (plan.clusterId !== desired.clusterId || plan.shardId !== desired.shardId) {
    throw new UserError("PLAN_MISMATCH", `Saved plan is for shard ${plan.clusterId}/${plan.shardId}, not ${desired.clusterId}/${desired.shardId}`);
  }
  const lineage = current?.lineage ?? "";
  const serial = current?.serial ?? 0;
  if (plan.state.lineage !== "" && plan.state.lineage !== lineage) {
    throw new UserError("PLAN_LINEAGE", "Saved plan does not match the given state: the plan was created from a different state lineage");
  }
  if (plan.state.serial !== serial) {
    throw new UserError(
      "PLAN_STALE",
      `Saved plan is stale: the state was changed by another operation after the plan was created (serial ${plan.state.serial} → ${serial}); run plan again`,
    );
  }
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
    checkPlanFreshness(plan, current?.doc, desired);
    if (plan.actions.length === 0) return emptyResult("applied", current?.doc.serial ?? 0);

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
            lock!.assertHeld();
            emit({ type: "start", ...base, attempt, elapsedMs: Date.now() - actionStarted });
            try {
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

/** Builds provider requests from actions and keeps the state document in step with them. */
class ApplyContext {
  private readonly changes = new Map<string, InstanceChange>();
  private readonly groups = new Map<string, DesiredGroup>();
  /** Where a VM is now when this run moved it (a clone may land on another VMID). */
  private readonly placed = new Map<string, { node: string; vmid: number }>();
  /** Create-chain and delete-chain actions not finished yet, per instance. */
  private readonly createLeft = new Map<string, number>();
  private readonly deleteLeft = new Map<string, number>();
  private readonly shard: DesiredShard;

  constructor(
    private readonly plan: Plan,
    private readonly deps: ApplyDeps,
    private readonly writer: StateWriter,
    private readonly shutdownTimeoutSec: number,
  ) {
    this.shard = deps.desired;
    for (const c of plan.changes) this.changes.set(c.instanceId, c);
    for (const g of deps.desired.groups) this.groups.set(`${g.ref.tenant}.${g.ref.group}`, g);
    for (const a of plan.actions) {
      const map = isCreateStep(a.type) && this.isCreate(a.instanceId) ? this.createLeft : DELETE_TYPES.has(a.type) && this.hasDeleteVm(a.instanceId) ? this.deleteLeft : undefined;
      if (map) map.set(a.instanceId, (map.get(a.instanceId) ?? 0) + 1);
    }
  }

  private hasDeleteVm(instanceId: string): boolean {
    return this.plan.actions.some((a) => a.instanceId === instanceId && a.type === "delete-vm");
  }

  private isCreate(instanceId: string): boolean {
    if (this.plan.actions.some((a) => a.instanceId === instanceId && a.type === "clone")) return true;
    const kind = this.changes.get(instanceId)?.kind;
    return kind === "create" || (kind === "replace" && !this.hasDeleteVm(instanceId)) || this.writer.current.instances[instanceId]?.phase === "creating";
  }

  /** Limit keys of a clone: its target storage (per node for a node-local storage) and node. */
  cloneKeys(a: Action): string[] {
    const storage = (a.params.storage as string | undefined) ?? this.spec(a)?.storage ?? "?";
    const shared = a.params.storageShared === true;
    return [`storage:${shared ? storage : `${storage}@${a.node}`}`, `node:${a.node}`];
  }

  private group(instanceId: string): DesiredGroup | undefined {
    const c = this.changes.get(instanceId);
    const rec = this.writer.current.instances[instanceId];
    const key = c ? `${c.group.tenant}.${c.group.group}` : rec ? `${rec.tenant}.${rec.group}` : undefined;
    return key ? this.groups.get(key) : undefined;
  }

  private spec(a: Action) {
    return this.changes.get(a.instanceId)?.after ?? this.group(a.instanceId)?.spec;
  }

  private needGroup(a: Action): DesiredGroup {
    const g = this.group(a.instanceId);
    if (!g) throw new UserError("PLAN_INVALID", `action ${a.id}: no group in the shard file for instance ${a.instanceId}`);
    return g;
  }

  private where(a: Action): { node: string; vmid: number } {
    return this.placed.get(a.instanceId) ?? { node: a.node, vmid: a.vmid };
  }

  private record(instanceId: string): InstanceRecord | undefined {
    return this.writer.current.instances[instanceId];
  }

  private stepsOf(a: Action): CreateStep[] {
    const merged = Array.isArray(a.params.steps) ? (a.params.steps as string[]).filter(isCreateStep) : [];
    return isCreateStep(a.type) ? [...new Set<CreateStep>([a.type, ...merged])] : merged;
  }

  async run(a: Action): Promise<void> {
    switch (a.type) {
      case "clone":
        return this.clone(a);
      case "configure":
        return this.isCreate(a.instanceId) ? this.configureNew(a) : this.configureExisting(a);
      case "resize": {
        const bytes = (a.params.bytes as number | undefined) ?? (a.params.diskBytes as number | undefined) ?? this.spec(a)?.diskBytes;
        if (bytes !== undefined) await this.deps.ops.resize({ ...this.where(a), disk: "scsi0", bytes });
        return this.stepDone(a);
      }
      case "upload-iso":
        return this.uploadIso(a);
      case "attach-iso":
        await this.deps.ops.configure({ ...this.where(a), isoVolume: this.isoVolume(a) });
        return this.stepDone(a);
      case "tag":
        return this.isCreate(a.instanceId) ? this.tagNew(a) : this.configureExisting(a);
      case "start":
        await this.deps.ops.start(this.where(a));
        return this.stepDone(a);
      case "stop":
        await this.markDeleting(a);
        await this.deps.ops.stop({ ...this.where(a), timeoutSec: (a.params.timeoutSec as number | undefined) ?? this.shutdownTimeoutSec });
        return this.deleteStepDone(a);
      case "delete-iso":
        await this.markDeleting(a);
        await this.deps.ops.deleteVolume({ node: this.where(a).node, volume: this.isoVolume(a) });
        await this.writer.update((doc) => {
          const rec = doc.instances[a.instanceId];
          if (rec) delete rec.isoVolume;
        });
        return this.deleteStepDone(a);
      case "delete-vm":
        await this.markDeleting(a);
        await this.deps.ops.deleteVm({ ...this.where(a), instanceId: a.instanceId });
        return this.deleteStepDone(a);
      case "record-state":
        return this.recordState(a);
      case "forget-state":
        return this.writer.update((doc) => {
          delete doc.instances[a.instanceId];
        });
    }
  }

  private async clone(a: Action): Promise<void> {
    const group = this.needGroup(a);
    const spec = this.spec(a)!;
    // Write-ahead: the instance ID is in the state before the VM can exist, so a crash at any
    // moment leaves a record the next plan resumes from instead of an unknown VM.
    await this.writer.update((doc) => {
      const now = new Date().toISOString();
      const rec = doc.instances[a.instanceId];
      doc.instances[a.instanceId] = {
        instanceId: a.instanceId,
        tenant: group.ref.tenant,
        group: group.ref.group,
        template: group.templateName,
        kind: spec.kind,
        vmid: a.vmid,
        node: a.node,
        replaceHash: group.replaceHash,
        updateHash: group.updateHash,
        phase: "creating",
        stepsDone: rec?.phase === "creating" ? rec.stepsDone.filter((s) => s !== "clone") : [],
        createdAt: rec?.createdAt ?? now,
        updatedAt: now,
        ...(rec?.isoVolume ? { isoVolume: rec.isoVolume } : {}),
      };
    });
    const got = await this.deps.ops.clone({
      instanceId: a.instanceId,
      node: a.node,
      vmid: a.vmid,
      template: spec.template,
      storage: spec.storage,
      ...(spec.pool ? { pool: spec.pool } : {}),
      full: (a.params.full as boolean | undefined) ?? this.shard.provider.options.fullClone,
    });
    this.placed.set(a.instanceId, got);
    await this.stepDone(a, (rec) => {
      rec.vmid = got.vmid;
      rec.node = got.node;
    });
  }

  private async configureNew(a: Action): Promise<void> {
    const group = this.needGroup(a);
    const spec = this.spec(a)!;
    const steps = this.stepsOf(a);
    const req: ConfigureRequest = {
      ...this.where(a),
      cores: spec.cores,
      memoryMiB: spec.memoryMiB,
      onboot: spec.onboot,
      // A fresh clone carries the template's description; the notes block replaces it (as Nstance does).
      description: describe("", this.shard, group, a.instanceId, this.record(a.instanceId)?.createdAt ?? new Date().toISOString()),
      ...(spec.bridge ? { net: { bridge: spec.bridge, ...(spec.vlan !== undefined ? { vlan: spec.vlan } : {}) } } : {}),
    };
    if (steps.includes("tag")) req.tags = this.newTags(a);
    if (steps.includes("attach-iso")) req.isoVolume = this.isoVolume(a);
    await this.deps.ops.configure(req);
    await this.stepDone(a);
  }

  private async tagNew(a: Action): Promise<void> {
    await this.deps.ops.configure({ ...this.where(a), tags: this.newTags(a) });
    await this.stepDone(a);
  }

  private newTags(a: Action): string[] {
    const extra = Array.isArray(a.params.tags) ? (a.params.tags as string[]) : [];
    return normaliseTags([...ownershipTags(this.shard), ...extra]);
  }

  /**
   * An in-place update of a VM that exists: read its config once, send only what differs (a value
   * re-sent to a running VM can land in PVE's pending section), compose the notes block over the
   * operator's description, keep operator tags, and send the plan's `digest` so PVE refuses the
   * write if the VM changed since the plan.
   */
  private async configureExisting(a: Action): Promise<void> {
    const group = this.needGroup(a);
    const spec = this.spec(a)!;
    const at = this.where(a);
    const [detail] = await this.deps.ops.details([at]);
    if (!detail) throw new UserError("NOT_FOUND", `VM ${at.vmid} (${a.instanceId}) is gone from node ${at.node}; run plan again`);
    const planned = this.plan.vmDigests[String(at.vmid)] ?? (a.params.digest as string | undefined);
    if (planned !== undefined && planned !== detail.digest) {
      throw new UserError(
        "VM_CHANGED",
        `VM ${at.vmid} (${a.instanceId}) changed since the plan was made (config digest ${planned.slice(0, 12)} → ${detail.digest.slice(0, 12)}); run plan again`,
      );
    }
    const req: ConfigureRequest = { ...at, digest: detail.digest };
    const cores = (a.params.cores as number | undefined) ?? spec.cores;
    const memoryMiB = (a.params.memoryMiB as number | undefined) ?? spec.memoryMiB;
    const onboot = (a.params.onboot as boolean | undefined) ?? spec.onboot;
    if (detail.cores !== cores) req.cores = cores;
    if (detail.memoryMiB !== memoryMiB) req.memoryMiB = memoryMiB;
    if (detail.onboot !== onboot) req.onboot = onboot;
    const createdAt = this.record(a.instanceId)?.createdAt ?? new Date().toISOString();
    const description = describe(detail.description, this.shard, group, a.instanceId, createdAt);
    if (description !== detail.description) req.description = description;
    const tags = normaliseTags([...detail.tags, ...this.newTags(a)]);
    if (tags.join(";") !== normaliseTags(detail.tags).join(";")) req.tags = tags;
    if (Object.keys(req).length > 3) {
      try {
        await this.deps.ops.configure(req);
      } catch (err) {
        if (errorCode(err) === "CONFLICT") {
          throw new UserError("VM_CHANGED", `VM ${at.vmid} (${a.instanceId}) changed while pvefleet was writing its config (digest mismatch); run plan again`, undefined, { cause: err });
        }
        throw err;
      }
    }
    await this.writer.update((doc) => {
      const rec = doc.instances[a.instanceId];
      if (rec) rec.updateHash = group.updateHash;
    });
  }

  private isoVolume(a: Action): string {
    return (
      (a.params.volume as string | undefined) ??
      (a.params.isoVolume as string | undefined) ??
      this.record(a.instanceId)?.isoVolume ??
      `${this.shard.provider.options.cloudInitIsoStorage}:iso/${isoFileName(a.instanceId)}`
    );
  }

  private async uploadIso(a: Action): Promise<void> {
    const group = this.needGroup(a);
    const { filename, bytes } = await cloudInitIso(this.shard, group, a.instanceId);
    const storage = (a.params.storage as string | undefined) ?? this.shard.provider.options.cloudInitIsoStorage;
    const { volume } = await this.deps.ops.uploadIso({ node: this.where(a).node, storage, filename, bytes });
    await this.stepDone(a, (rec) => {
      rec.isoVolume = volume;
    });
  }

  /** Records a finished create step (and the steps the planner merged into it); the last one makes the record `ready`. */
  private async stepDone(a: Action, also?: (rec: InstanceRecord) => void): Promise<void> {
    const steps = this.stepsOf(a);
    const left = (this.createLeft.get(a.instanceId) ?? 1) - 1;
    this.createLeft.set(a.instanceId, left);
    await this.writer.update((doc) => {
      const rec = doc.instances[a.instanceId];
      if (!rec) return;
      also?.(rec);
      if (rec.phase === "creating") {
        rec.stepsDone = CREATE_STEPS.filter((s) => rec.stepsDone.includes(s) || steps.includes(s));
        if (left <= 0) rec.phase = "ready";
      }
    });
  }

  private async markDeleting(a: Action): Promise<void> {
    if (!this.deleteLeft.has(a.instanceId)) return;
    if (this.record(a.instanceId)?.phase === "deleting" || !this.record(a.instanceId)) return;
    await this.writer.update((doc) => {
      const rec = doc.instances[a.instanceId];
      if (rec) rec.phase = "deleting";
    });
  }

  /** The record goes only after the VM and its ISO are both gone. */
  private async deleteStepDone(a: Action): Promise<void> {
    const left = this.deleteLeft.get(a.instanceId);
    if (left === undefined) return;
    this.deleteLeft.set(a.instanceId, left - 1);
    if (left - 1 > 0) return;
    await this.writer.update((doc) => {
      delete doc.instances[a.instanceId];
    });
  }

  /** Observations the plan records without changing the cluster: a moved node, a new VMID, an adoption. */
  private async recordState(a: Action): Promise<void> {
    const change = this.changes.get(a.instanceId);
    const group = this.group(a.instanceId);
    const p = a.params;
    await this.writer.update((doc) => {
      const now = new Date().toISOString();
      let rec = doc.instances[a.instanceId];
      if (!rec) {
        if (!group) throw new UserError("PLAN_INVALID", `action ${a.id}: no group in the shard file for instance ${a.instanceId}`);
        rec = doc.instances[a.instanceId] = {
          instanceId: a.instanceId,
          tenant: group.ref.tenant,
          group: group.ref.group,
          template: group.templateName,
          kind: change?.after?.kind ?? group.spec.kind,
          vmid: a.vmid,
          node: a.node,
          replaceHash: group.replaceHash,
          updateHash: group.updateHash,
          phase: "ready",
          stepsDone: [...CREATE_STEPS],
          createdAt: now,
          updatedAt: now,
        };
      }
      rec.node = typeof p.node === "string" ? p.node : a.node;
      rec.vmid = typeof p.vmid === "number" ? p.vmid : a.vmid;
      if (typeof p.isoVolume === "string") rec.isoVolume = p.isoVolume;
      if (p.phase === "ready" || p.phase === "creating" || p.phase === "deleting") rec.phase = p.phase;
    });
  }
}
