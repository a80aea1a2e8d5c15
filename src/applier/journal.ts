/**
 * The applier's journal: keeps the state document in step with the actions and hands each action
 * to the provider. Write-ahead before an action (`journal.recordBefore`), what it learnt after
 * (`journal.steps`, `journal.record`, the clone's placement, the upload's volume), and the VMID
 * substitution after a clone that moved. Nothing here speaks Proxmox.
 */
import { UserError } from "../errors.js";
import type { Action, InstanceChange, Plan } from "../planner/types.js";
import { CREATE_STEPS, type ActionOutcome, type ActionTarget, type Provider } from "../providers/types.js";
import type { InstanceRecord } from "../state/types.js";
import { errorCode } from "./retry.js";
import type { StateWriter } from "./state-writer.js";

/**
 * Keeps the state document in step with the actions, following the planner's journal
 * (src/planner/actions.ts): `journal.recordBefore` is persisted before the action starts
 * (write-ahead), `journal.steps` join `stepsDone` after it succeeds, `journal.record` is merged after
 * it succeeds, and every action after a clone targets the VMID the clone actually got. What each
 * action does to the cluster is the provider's (`Provider.run`); nothing here speaks Proxmox.
 */
export class Journal {
  private readonly changes = new Map<string, InstanceChange>();
  /** Where a VM is now when this run's clone put it somewhere other than planned. */
  private readonly placed = new Map<string, { node: string; vmid: number }>();
  /** Instances whose clone was sent in this run: a second attempt may find the first one's VM. */
  private readonly cloneSent = new Set<string>();
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(
    plan: Plan,
    private readonly deps: { ops: Provider; sharedStorages?: string[] },
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
    // Written at once (not batched): the action starts only when this record is durable.
    await this.writer.update(a.instanceId, (rec) => {
      if (full) {
        // A full record (a create). When it is already there (the other first step of this create
        // ran, or an earlier run got this far) what it learnt wins: the VMID the clone used, the steps done.
        const merged = { ...(before as InstanceRecord), ...rec } as InstanceRecord;
        merged.stepsDone = CREATE_STEPS.filter((s) => rec?.stepsDone.includes(s) || before.stepsDone?.includes(s));
        if (!rec) merged.phase = before.phase ?? "creating";
        return merged;
      }
      return rec && Object.assign(rec, before);
    });
  }

  private async recordAfter(a: Action, learnt: Partial<InstanceRecord>): Promise<void> {
    const steps = a.journal?.steps ?? [];
    const record = a.journal?.record;
    if (a.type === "forget-state") {
      await this.writer.update(a.instanceId, () => undefined);
      return;
    }
    if (steps.length === 0 && !record && Object.keys(learnt).length === 0) return;
    // Not awaited, and batched: what a finished step records only saves work on resume (the next
    // plan finds the VM by name either way), so dependents need not wait for the disk and one write
    // may carry many of these. The writer still persists every update in order (a write-ahead
    // update carries the batched ones before it), `apply` drains it before returning, and a failed
    // write stops the run.
    void this.writer.update(a.instanceId, (rec) => {
      if (!rec) {
        // Adoption (or a record lost meanwhile): only a full record can create one.
        if (!record || typeof record.instanceId !== "string") return undefined;
        rec = { ...(record as InstanceRecord) };
      }
      Object.assign(rec, learnt);
      if (steps.length > 0) rec.stepsDone = CREATE_STEPS.filter((s) => rec!.stepsDone.includes(s) || steps.includes(s));
      if (record) Object.assign(rec, record);
      return rec;
    }, { batched: true }).catch(() => undefined);
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
