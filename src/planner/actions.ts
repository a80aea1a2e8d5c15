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
 * `params.steps` lists the CreateSteps an action completes (the applier appends them to
 * `stepsDone`); `params.recordBefore` is written to the state record before the action starts
 * (write-ahead: a create is recorded as `creating` before its clone or upload, a delete as
 * `deleting` before its stop); `params.record` is merged into the record after the action succeeds.
 * The VMID of every action after a clone is the planned one; the applier substitutes the VMID the
 * clone actually used (clone may move to the next free one).
 */
import type { DesiredGroup, DesiredShard } from "../config/model.js";
import type { CreateStep, InstanceRecord } from "../state/types.js";
import type { Action, ActionType } from "./types.js";
import { CREATE_STEPS, expectedNotes, isoFilename, isoVolumeOf, type Facts } from "./facts.js";
import type { Intent, RemoveIntent } from "./reconcile.js";

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

  add(instanceId: string, type: ActionType, node: string, vmid: number, dependsOn: (string | undefined)[], params: Record<string, unknown>): string {
    const id = `${instanceId}:${type}`;
    this.actions.push({ id, instanceId, type, node, vmid, dependsOn: dependsOn.filter((d): d is string => d !== undefined), params });
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
      steps: ["clone"],
      recordBefore: record,
      template: spec.template,
      storage: spec.storage,
      pool: spec.pool,
      full: popts.fullClone,
    });
  }
  let upload: string | undefined;
  if (!done.has("upload-iso")) {
    upload = list.add(id, "upload-iso", c.node, c.vmid, [], {
      steps: ["upload-iso"],
      recordBefore: record,
      storage: isoStorage,
      filename: isoFilename(id),
      volume,
      // The userdata itself is the change's `after.userdata` (not copied here: it can be large).
      templateData: templateData(desired, id, spec),
    });
  }
  // configure carries the network, sizes, onboot, notes, tags and ide2 in one call: PVE accepts
  // them together, and tags written here make the VM recognisably ours as early as possible.
  const configureSteps: CreateStep[] = ["configure", "attach-iso", "tag"];
  if (spec.diskBytes === undefined) configureSteps.push("resize");
  let last: string | undefined = clone ?? upload;
  if (configureSteps.some((s) => !done.has(s))) {
    last = list.add(id, "configure", c.node, c.vmid, [clone, upload], {
      steps: configureSteps,
      cores: spec.cores,
      memoryMiB: spec.memoryMiB,
      net: spec.bridge !== undefined ? { bridge: spec.bridge, ...(spec.vlan !== undefined ? { vlan: spec.vlan } : {}) } : undefined,
      onboot: spec.onboot,
      tags: facts.ownershipTags,
      notes: expectedNotes(record),
      isoVolume: volume,
    });
  }
  if (spec.diskBytes !== undefined && !done.has("resize")) {
    last = list.add(id, "resize", c.node, c.vmid, [last ?? clone ?? upload], { steps: ["resize"], disk: "scsi0", bytes: spec.diskBytes });
  }
  if (!done.has("start")) {
    last = list.add(id, "start", c.node, c.vmid, [last ?? clone ?? upload], { steps: ["start"], record: { phase: "ready", stepsDone: [...CREATE_STEPS] } });
  }
  return last;
}

/** The delete chain; `after` is what the first step waits for (a replacement's start). */
export function deleteChain(list: ActionList, facts: Facts, instanceId: string, r: RemoveIntent, after: string | undefined, digest: string | undefined): void {
  const recordBefore = r.forget ? { phase: "deleting" } : undefined;
  let prev = after;
  let first = true;
  const withRecordBefore = (p: Record<string, unknown>) => {
    if (first && recordBefore) p.recordBefore = recordBefore;
    first = false;
    return p;
  };
  if (r.vm) {
    prev = list.add(instanceId, "stop", r.node, r.vmid, [prev], withRecordBefore({ timeoutSec: facts.desired.provider.options.shutdownTimeoutSec }));
    prev = list.add(instanceId, "delete-vm", r.node, r.vmid, [prev], { instanceId, ...(digest ? { digest } : {}) });
  }
  if (r.deleteIso) {
    // After the VM: a crash in between leaves an unreferenced ISO (the record stays `deleting`
    // and the next plan deletes it), never a VM pointing at a missing ISO.
    prev = list.add(instanceId, "delete-iso", r.node, r.vmid, [prev], withRecordBefore({ volume: r.isoVolume }));
  }
  if (r.forget) list.add(instanceId, "forget-state", r.node, r.vmid, [prev], withRecordBefore({}));
}

/** Update, start and record for an existing VM. */
export function memberChain(list: ActionList, intent: Intent, digest: string | undefined): void {
  const vm = intent.vm!;
  const id = intent.change.instanceId;
  const d = intent.diff;
  let prev: string | undefined;
  if (intent.recordFirst && intent.recordFields) {
    prev = list.add(id, "record-state", vm.node, vm.vmid, [], { record: intent.recordFields });
  }
  if (d && Object.keys(d.configure).length > 0) {
    prev = list.add(id, "configure", vm.node, vm.vmid, [prev], { ...d.configure, ...(digest ? { digest } : {}) });
  }
  if (d?.resizeBytes !== undefined) {
    prev = list.add(id, "resize", vm.node, vm.vmid, [prev], { disk: "scsi0", bytes: d.resizeBytes });
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
    list.add(id, "record-state", vm.node, vm.vmid, [prev], { record: intent.recordFields });
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
