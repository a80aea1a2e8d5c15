/**
 * Hand-built facts for planner tests (no network) and a tiny in-memory "apply" that performs a
 * plan's actions on those facts the way the provider would, so a test can re-plan afterwards.
 */
import type { DesiredGroup, DesiredShard, ProxmoxOptions, VmSpec } from "../../src/config/model.js";
import type { LiveNode, LiveShard, LiveVm, Ownership, VmDetail } from "../../src/providers/proxmox/types.js";
import type { InstanceRecord, StateDoc } from "../../src/state/types.js";
import { topoOrder } from "../../src/planner/graph.js";
import type { Plan, PlanOptions, PlanSelectors } from "../../src/planner/types.js";
import { proxmoxPlanningHooks } from "../../src/providers/proxmox/hooks.js";
import { composeDescription, renderNotesBlock } from "../../src/providers/proxmox/codecs/notes-block.js";

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
export const CLUSTER = "lab";
export const SHARD = "dev";
export const OURS = ["dev", "lab", "nstance"];
export const FETCHED_AT = "2026-03-01T12:00:00.000Z";

/** A valid 29-character instance ID that sorts by n. */
export function iid(n: number, kind = "web"): string {
  return kind + String(n).padStart(26, "0");
}

export function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    template: { name: "debian" }, kind: "web", arch: "amd64", cores: 2, memoryMiB: 2048, storage: "local-lvm",
    bridge: "vmbr0", onboot: true, vars: {}, args: {}, ...over,
  };
}

export function group(name: string, size: number, over: Partial<VmSpec> = {}, hashes: { replace?: string; update?: string } = {}): DesiredGroup {
  return {
    ref: { tenant: "acme", group: name }, templateName: "web", size, spec: spec(over),
    replaceHash: hashes.replace ?? "sha256:r1", updateHash: hashes.update ?? "sha256:u1",
  };
}

export function options(over: Partial<ProxmoxOptions> = {}): ProxmoxOptions {
  return {
    insecureTls: false, cloudInitIsoStorage: "local", vmidRange: { min: 10000, max: 999999999 }, scheduler: "nstance", placementSpread: "group",
    cloneConcurrencyPerStorage: 2, memoryHeadroom: 0.9, cpuOvercommit: 4, fullClone: true, shutdownTimeoutSec: 60, scaleDownOrder: "newest",
    maxSurge: 1, ...over,
  };
}

export function desired(groups: DesiredGroup[], over: Partial<ProxmoxOptions> = {}): DesiredShard {
  return {
    source: { location: "shard.jsonc", digest: "sha256:cfg1" }, clusterId: CLUSTER, shardId: SHARD,
    provider: { kind: "proxmox", region: "r", zone: "z", options: options(over) }, groups,
  };
}

export function node(name: string, memGiB = 64, usedGiB = 8): LiveNode {
  return { node: name, online: true, maxcpu: 32, cpu: 0.1, maxmem: memGiB * GIB, mem: usedGiB * GIB };
}

export type Vm = LiveVm & { ownership: Ownership };

export function vm(vmid: number, name: string, over: Partial<Vm> = {}): Vm {
  return {
    vmid, name, node: "pve1", status: "running", template: false, tags: OURS, cores: 2, memoryBytes: 2048 * MIB,
    diskBytes: 10 * GIB, ownership: "ours", ...over,
  };
}

export function live(vms: Vm[], nodes: LiveNode[] = [node("pve1"), node("pve2"), node("pve3")]): LiveShard {
  return { fetchedAt: FETCHED_AT, vms, nodes, apiCalls: 2 };
}

export function record(n: number, over: Partial<InstanceRecord> = {}): InstanceRecord {
  const instanceId = over.instanceId ?? iid(n);
  return {
    instanceId, tenant: "acme", group: "web", template: "web", kind: "web", vmid: 10000 + n, node: "pve1",
    replaceHash: "sha256:r1", updateHash: "sha256:u1", isoVolume: `local:iso/${instanceId}-cidata.iso`, phase: "ready",
    stepsDone: ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"],
    createdAt: `2026-01-01T00:00:${String(n % 60).padStart(2, "0")}.000Z`, updatedAt: "2026-01-01T00:00:00.000Z", ...over,
  };
}

export function state(records: InstanceRecord[], serial = 7): StateDoc {
  return {
    formatVersion: 1, lineage: "11111111-2222-3333-4444-555555555555", serial, writeId: "w", clusterId: CLUSTER, shardId: SHARD,
    instances: Object.fromEntries(records.map((r) => [r.instanceId, r])),
  };
}

/** A record plus its healthy VM, for the common case. */
export function member(n: number, over: { record?: Partial<InstanceRecord>; vm?: Partial<Vm> } = {}): { record: InstanceRecord; vm: Vm } {
  const r = record(n, over.record);
  return { record: r, vm: vm(r.vmid, r.instanceId, { node: r.node, ...over.vm }) };
}

export function notesFor(r: InstanceRecord, operatorText = ""): string {
  const block = renderNotesBlock({ group: `${r.tenant}.${r.group}`, kind: r.kind, template: r.template, created: r.createdAt });
  return composeDescription(operatorText, block);
}

export function detail(v: Vm, r: InstanceRecord | undefined, over: Partial<VmDetail> = {}): VmDetail {
  return {
    vmid: v.vmid, node: v.node, digest: `digest-${v.vmid}`, description: r ? notesFor(r) : "", onboot: true,
    cores: v.cores, memoryMiB: v.memoryBytes / MIB, tags: v.tags, ...over,
  };
}

/** Deterministic instance IDs for new instances: new0000…1, new0000…2, … */
export function idSource(kindPrefixStart = 900): (kind: string) => string {
  let n = kindPrefixStart;
  return (kind) => iid(n++, kind);
}

export function planOptions(over: Partial<PlanOptions> = {}): PlanOptions {
  return { newInstanceId: idSource(), now: () => new Date(FETCHED_AT), hooks: proxmoxPlanningHooks, ...over };
}

/** Options as given, plus the Proxmox hooks the planner requires. */
export function hooked(over: PlanSelectors = {}): PlanOptions {
  return { hooks: proxmoxPlanningHooks, ...over };
}

export interface World {
  state: StateDoc | undefined;
  live: LiveShard;
  details: Map<number, VmDetail>;
  isos: Set<string>;
}

/**
 * Performs a plan's actions on in-memory facts, as the provider and applier would: write-ahead
 * records, clone from a 1-core/1 GiB template, configure, start, stop, delete. Returns a new world.
 */
export function applyPlan(plan: Plan, world: World, d: DesiredShard): World {
  const st: StateDoc = structuredClone(world.state ?? { ...state([]), serial: 0 });
  const vms: Vm[] = structuredClone(world.live.vms);
  const details = new Map(structuredClone([...world.details]));
  const isos = new Set(world.isos);
  const vmOf = (vmid: number) => vms.find((v) => v.vmid === vmid);
  const merge = (instanceId: string, fields: Partial<InstanceRecord> | undefined) => {
    if (!fields) return;
    const existing = st.instances[instanceId];
    st.instances[instanceId] = { ...(existing ?? ({} as InstanceRecord)), ...fields } as InstanceRecord;
  };
  const owned = (tags: string[]) => OURS.every((t) => tags.includes(t));
  for (const a of topoOrder(plan.actions)) {
    const p = a.params as Record<string, any>;
    merge(a.instanceId, a.journal?.recordBefore);
    const rec = st.instances[a.instanceId];
    const vmid = rec && a.type !== "delete-vm" && a.type !== "stop" ? rec.vmid : a.vmid;
    const v = vmOf(vmid);
    switch (a.type) {
      case "clone":
        vms.push(vm(a.vmid, a.instanceId, { node: a.node, status: "stopped", tags: [], cores: 1, memoryBytes: 1024 * MIB, ownership: "suspicious" }));
        details.set(a.vmid, { vmid: a.vmid, node: a.node, digest: "d0", description: "template text", onboot: false, cores: 1, memoryMiB: 1024, tags: [] });
        break;
      case "upload-iso":
        isos.add(p.volume);
        break;
      case "configure": {
        const det = details.get(v!.vmid) ?? { vmid: v!.vmid, node: v!.node, digest: "d0", description: "", onboot: false, cores: v!.cores, memoryMiB: v!.memoryBytes / MIB, tags: v!.tags };
        details.set(v!.vmid, det);
        if (p.cores !== undefined) { v!.cores = p.cores; det.cores = p.cores; }
        if (p.memoryMiB !== undefined) { v!.memoryBytes = p.memoryMiB * MIB; det.memoryMiB = p.memoryMiB; }
        if (p.onboot !== undefined) det.onboot = p.onboot;
        if (p.tags !== undefined) { v!.tags = p.tags; det.tags = p.tags; v!.ownership = owned(p.tags) ? "ours" : "suspicious"; }
        if (p.description !== undefined) det.description = p.description;
        if (p.notes !== undefined) det.description = composeDescription(det.description, renderNotesBlock(p.notes));
        if (p.isoVolume !== undefined) det.ide2 = `${p.isoVolume},media=cdrom`;
        det.digest = `${det.digest}+`;
        break;
      }
      case "resize":
        v!.diskBytes = p.bytes;
        break;
      case "start":
        v!.status = "running";
        break;
      case "stop":
        if (v) v.status = "stopped";
        break;
      case "delete-vm": {
        const i = vms.findIndex((x) => x.vmid === a.vmid && x.name === a.instanceId);
        if (i >= 0) vms.splice(i, 1);
        details.delete(a.vmid);
        break;
      }
      case "delete-iso":
        isos.delete(p.volume);
        break;
      case "forget-state":
        delete st.instances[a.instanceId];
        break;
      default:
        break;
    }
    const steps = a.journal?.steps;
    if (steps && st.instances[a.instanceId]) {
      const r = st.instances[a.instanceId]!;
      r.stepsDone = [...new Set([...r.stepsDone, ...steps])];
    }
    if (a.type !== "forget-state") merge(a.instanceId, a.journal?.record);
  }
  st.serial++;
  void d;
  return { state: st, live: { ...world.live, vms }, details, isos };
}
