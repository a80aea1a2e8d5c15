/**
 * From intents to the action graph. The chains (documented in README.md):
 *
 *   create:  clone ─┐
 *            upload-iso ─┴→ configure (+ attach ISO + tags + notes, one call) → [resize] → start
 *   delete:  stop → delete-vm → delete-iso → forget-state
 *   update:  configure → [resize] → [start | stop → start (restart)] → [record-state]
 *   replace: the create chain of the new instance, then the delete chain of the old one, whose
 *            stop waits for the new one's start.
 *
 * `params` is what the provider is asked to do (typed per action type in src/providers/types.ts);
 * `journal` is the applier's state bookkeeping: `steps` lists the CreateSteps an action completes
 * (appended to `stepsDone`), `recordBefore` is written to the state record before the action starts
 * (write-ahead: a create is recorded as `creating` before its clone or upload, a delete as
 * `deleting` before its stop), `record` is merged into the record after the action succeeds.
 * The VMID of every action after a clone is the planned one; the applier substitutes the VMID the
 * clone actually used (clone may move to the next free one).
 */
import type { DesiredGroup, DesiredShard } from "../config/model.js";
import type { CreateStep, InstanceRecord } from "../state/types.js";
import type { ActionParams, ActionType } from "../providers/types.js";
import type { Action, ActionJournal } from "./types.js";
import { CREATE_STEPS, expectedNotes, isoFilename, isoVolumeOf, type Facts } from "./facts.js";
import type { Intent, RemoveIntent } from "./reconcile.js";
import { appliedSizes } from "./diff.js";

export interface PlacedCreate {
  instanceId: string;
  group: DesiredGroup;
  node: string;
  vmid: number;
  createdAt: string;
  stepsDone: CreateStep[];
}

export class ActionList {
  readonly actions: Action[] = [];

  add<K extends ActionType>(
    instanceId: string, type: K, node: string, vmid: number, dependsOn: (string | undefined)[], params: ActionParams<K>, journal?: ActionJournal,
  ): string {
    const id = `${instanceId}:${type}`;
    const action = { id, instanceId, type, node, vmid, dependsOn: dependsOn.filter((d): d is string => d !== undefined), params } as Action;
    if (journal) action.journal = journal;
    this.actions.push(action);
    return id;
  }
}

/** The create chain; returns the id of its last action. */
export function createChain(list: ActionList, facts: Facts, c: PlacedCreate): string | undefined {
  const { desired, isoStorage } = facts;
  const spec = c.group.spec;
  const popts = desired.provider.options;
  const done = new Set(c.stepsDone);
  const id = c.instanceId;
  const volume = isoVolumeOf(isoStorage, id);
  const record: InstanceRecord = {
    instanceId: id,
    tenant: c.group.ref.tenant,
    group: c.group.ref.group,
    template: c.group.templateName,
    kind: spec.kind,
    vmid: c.vmid,
    node: c.node,
    replaceHash: c.group.replaceHash,
    updateHash: c.group.updateHash,
    isoVolume: volume,
    phase: "creating",
    stepsDone: [...c.stepsDone],
    createdAt: c.createdAt,
    updatedAt: c.createdAt,
  };

  let clone: string | undefined;
  if (!done.has("clone")) {
    clone = list.add(id, "clone", c.node, c.vmid, [], {
      template: spec.template,
      storage: spec.storage,
      ...(spec.pool ? { pool: spec.pool } : {}),
      full: popts.fullClone,
    }, { steps: ["clone"], recordBefore: record });
  }
  let upload: string | undefined;
  if (!done.has("upload-iso")) {
    upload = list.add(id, "upload-iso", c.node, c.vmid, [], {
      storage: isoStorage,
      filename: isoFilename(id),
      volume,
      // The userdata itself is the change's `after.userdata` (not copied here: it can be large).
      templateData: templateData(desired, id, spec),
    }, { steps: ["upload-iso"], recordBefore: record });
  }
  // configure carries the network, sizes, onboot, notes, tags and ide2 in one call: PVE accepts
  // them together, and tags written here make the VM recognisably ours as early as possible.
  const configureSteps: CreateStep[] = ["configure", "attach-iso", "tag"];
  if (spec.diskBytes === undefined) configureSteps.push("resize");
  let last: string | undefined = clone ?? upload;
  if (configureSteps.some((s) => !done.has(s))) {
    last = list.add(id, "configure", c.node, c.vmid, [clone, upload], {
      cores: spec.cores,
      memoryMiB: spec.memoryMiB,
      ...(spec.bridge !== undefined ? { net: { bridge: spec.bridge, ...(spec.vlan !== undefined ? { vlan: spec.vlan } : {}) } } : {}),
      onboot: spec.onboot,
      tags: facts.ownershipTags,
      notes: expectedNotes(record),
      isoVolume: volume,
      fresh: true,
    }, { steps: configureSteps, record: { applied: appliedSizes(spec) } });
  }
  if (spec.diskBytes !== undefined && !done.has("resize")) {
    // No `disk`: the provider grows the VM's boot disk, from its boot order (scsi0, virtio0, sata0…).
    last = list.add(id, "resize", c.node, c.vmid, [last ?? clone ?? upload], { bytes: spec.diskBytes }, { steps: ["resize"] });
  }
  if (!done.has("start")) {
    last = list.add(id, "start", c.node, c.vmid, [last ?? clone ?? upload], {}, { steps: ["start"], record: { phase: "ready", stepsDone: [...CREATE_STEPS] } });
  }
  return last;
}

/** The delete chain; `after` is what the first step waits for (a replacement's start). */
export function deleteChain(list: ActionList, facts: Facts, instanceId: string, r: RemoveIntent, after: string | undefined, digest: string | undefined): void {
  let prev = after;
  // The chain's first action records the delete ahead (`deleting`), so a crash resumes it.
  let first = r.forget;
  const journal = (): ActionJournal | undefined => {
    if (!first) return undefined;
    first = false;
    return { recordBefore: { phase: "deleting" } };
  };
  if (r.vm) {
    prev = list.add(instanceId, "stop", r.node, r.vmid, [prev], { timeoutSec: facts.desired.provider.options.shutdownTimeoutSec }, journal());
    prev = list.add(instanceId, "delete-vm", r.node, r.vmid, [prev], digest ? { digest } : {});
  }
  if (r.deleteIso) {
    // After the VM: a crash in between leaves an unreferenced ISO (the record stays `deleting`
    // and the next plan deletes it), never a VM pointing at a missing ISO.
    prev = list.add(instanceId, "delete-iso", r.node, r.vmid, [prev], { volume: r.isoVolume }, journal());
  }
  if (r.forget) list.add(instanceId, "forget-state", r.node, r.vmid, [prev], {}, journal());
}

/** Update, start and record for an existing VM. */
export function memberChain(list: ActionList, intent: Intent, digest: string | undefined): void {
  const vm = intent.vm!;
  const id = intent.change.instanceId;
  const d = intent.diff;
  let prev: string | undefined;
  if (intent.recordFirst && intent.recordFields) {
    prev = list.add(id, "record-state", vm.node, vm.vmid, [], {}, { record: intent.recordFields });
  }
  if (d && Object.keys(d.configure).length > 0) {
    prev = list.add(id, "configure", vm.node, vm.vmid, [prev], { ...d.configure, ...(digest ? { digest } : {}) });
  }
  if (d?.resizeBytes !== undefined) {
    prev = list.add(id, "resize", vm.node, vm.vmid, [prev], { bytes: d.resizeBytes });
  }
  if (d?.restart) {
    // A restart is stop → start with the existing action types: a cold change (cores, memory)
    // only reaches QEMU when it starts again. After the configure, so the start picks it up.
    prev = list.add(id, "stop", vm.node, vm.vmid, [prev], { reason: "restart" } /* the applier uses the shard's shutdown timeout */);
    prev = list.add(id, "start", vm.node, vm.vmid, [prev], { reason: "restart" });
  } else if (d?.start) {
    prev = list.add(id, "start", vm.node, vm.vmid, [prev], {});
  }
  if (!intent.recordFirst && intent.recordFields) {
    list.add(id, "record-state", vm.node, vm.vmid, [prev], {}, { record: intent.recordFields });
  }
}

function templateData(desired: DesiredShard, instanceId: string, spec: DesiredGroup["spec"]) {
  return {
    Instance: { ID: instanceId, Kind: spec.kind, Arch: spec.arch, Type: spec.instanceType ?? "", Hostname: instanceId },
    Vars: spec.vars,
    Cluster: { ID: desired.clusterId },
    Server: { Shard: desired.shardId },
    Provider: { Kind: desired.provider.kind, Region: desired.provider.region, Zone: desired.provider.zone },
  };
}
