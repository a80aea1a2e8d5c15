/**
 * Refresh: the whole cluster as a `LiveShard` from two calls, however many VMs there are
 * (ARCHITECTURE rule 9): `/cluster/resources?type=vm` and `?type=node`, plus `?type=storage` only
 * when asked. Per-VM reads happen only in `readDetails`, for VMs the planner names.
 *
 * Status: the listing carries `status` (running/stopped/unknown) but no `qmpstatus`, so a paused
 * VM is listed as running (Nstance has the same blind spot). The refresh therefore reports
 * running → running, stopped → stopped, anything else → unknown; only a deep check
 * (`readDetails(…, { status: true })`, one `status/current` per VM) reads `qmpstatus` and reports
 * paused/suspended → suspended, as the guide's mapping asks.
 */
import { apiPath, type ProxmoxClient } from "./api/client.js";
import { isProxmoxError } from "./api/errors.js";
import type { LiveNode, LiveShard, LiveStorage, LiveVm, Ownership, VmDetail, VmStatus } from "./types.js";
import { normaliseTags } from "./codecs/tags.js";
import { bootDiskOf } from "./codecs/drives.js";
import { ownershipOf, publishedName } from "./ownership.js";

export { INSTANCE_ID_RE, ownershipOf, publishedName } from "./ownership.js";

/** The guide's mapping; `qmpstatus` only exists in status/current. */
export function mapStatus(status: string | undefined, qmpstatus?: string): VmStatus {
  if (qmpstatus === "paused" || qmpstatus === "suspended") return "suspended";
  if (status === "running") return "running";
  if (status === "stopped") return "stopped";
  return "unknown";
}

interface ResourceItem {
  id?: string;
  type: string;
  vmid?: number | string;
  node?: string;
  name?: string;
  status?: string;
  template?: number | boolean;
  tags?: string;
  maxcpu?: number;
  maxmem?: number;
  maxdisk?: number;
  cpu?: number;
  mem?: number;
  disk?: number;
  lock?: string;
  pool?: string;
  storage?: string;
  plugintype?: string;
  shared?: number | boolean;
  content?: string;
}

const num = (v: unknown, fallback = 0): number => {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : fallback;
};

export function toLiveVm(item: ResourceItem): LiveVm {
  const vmid = num(item.vmid);
  const vm: LiveVm = {
    vmid,
    name: publishedName(item.name, vmid),
    node: item.node ?? "",
    status: mapStatus(item.status),
    template: item.template === 1 || item.template === true,
    tags: normaliseTags(item.tags ?? ""),
    cores: num(item.maxcpu),
    memoryBytes: num(item.maxmem),
    diskBytes: num(item.maxdisk),
  };
  if (item.lock) vm.lock = item.lock;
  if (item.pool) vm.pool = item.pool;
  return vm;
}

export function toLiveNode(item: ResourceItem): LiveNode {
  return {
    node: item.node ?? "",
    online: item.status === "online",
    maxcpu: num(item.maxcpu),
    cpu: num(item.cpu),
    maxmem: num(item.maxmem),
    mem: num(item.mem),
  };
}

export function toLiveStorage(item: ResourceItem): LiveStorage {
  return {
    node: item.node ?? "",
    storage: item.storage ?? "",
    plugintype: item.plugintype ?? "",
    shared: item.shared === 1 || item.shared === true,
    content: (item.content ?? "").split(",").filter((c) => c !== ""),
    available: item.status === "available",
    diskBytes: num(item.disk),
    maxdiskBytes: num(item.maxdisk),
  };
}

export async function refreshShard(
  client: ProxmoxClient,
  scope: { clusterId: string; shardId: string },
  options: { storages?: boolean } = {},
): Promise<LiveShard> {
  const [vmItems, nodeItems, storageItems] = await Promise.all([
    client.get<ResourceItem[]>("/cluster/resources", { type: "vm" }),
    client.get<ResourceItem[]>("/cluster/resources", { type: "node" }),
    options.storages ? client.get<ResourceItem[]>("/cluster/resources", { type: "storage" }) : Promise.resolve(undefined),
  ]);
  const vms = (vmItems ?? [])
    .filter((i) => i.type === "qemu")
    .map((i) => {
      const vm = toLiveVm(i);
      return { ...vm, ownership: ownershipOf(vm, scope.clusterId, scope.shardId) };
    })
    .sort((a, b) => a.vmid - b.vmid);
  const usedVmids = (vmItems ?? []).map((i) => num(i.vmid)).filter((v) => v > 0);
  const shard: LiveShard = {
    fetchedAt: new Date().toISOString(),
    vms,
    nodes: (nodeItems ?? []).filter((i) => i.type === "node").map(toLiveNode).sort((a, b) => a.node.localeCompare(b.node, "en", { numeric: true })), // natural: pve2 before pve10
    apiCalls: options.storages ? 3 : 2,
    usedVmids,
  };
  if (storageItems) shard.storages = storageItems.filter((i) => i.type === "storage").map(toLiveStorage);
  return shard;
}

type ConfigValue = string | number | undefined;

/** PVE 8 `memory` is `[current=]<integer>` (MiB); older configs hold a bare integer. */
function parseMemoryMiB(v: ConfigValue): number {
  if (v === undefined) return 512;
  const m = /(?:^|current=)(\d+)/.exec(String(v));
  return m ? Number(m[1]) : 512;
}

export function toVmDetail(target: { node: string; vmid: number }, config: Record<string, ConfigValue>): VmDetail {
  const str = (k: string) => (config[k] === undefined ? undefined : String(config[k]));
  const detail: VmDetail = {
    vmid: target.vmid,
    node: target.node,
    digest: str("digest") ?? "",
    description: str("description") ?? "",
    onboot: num(config.onboot) === 1,
    cores: num(config.cores, 1),
    memoryMiB: parseMemoryMiB(config.memory),
    tags: normaliseTags(str("tags") ?? ""),
  };
  for (const k of ["net0", "ide2", "boot", "scsi0", "lock", "name"] as const) {
    const v = str(k);
    if (v !== undefined) detail[k] = v;
  }
  // The boot disk from the boot order (virtio0, sata0 templates), not an assumed scsi0.
  const strings: Record<string, string | undefined> = {};
  for (const k of Object.keys(config)) strings[k] = str(k);
  const disk = bootDiskOf(strings);
  if (disk !== undefined) {
    detail.diskKey = disk;
    detail.disk = strings[disk]!;
  }
  return detail;
}

/** Deep check: one config read per VM (and one status/current when `status` is asked), in parallel. */
export async function readDetails(
  client: ProxmoxClient,
  vms: { node: string; vmid: number }[],
  options: { status?: boolean } = {},
): Promise<VmDetail[]> {
  const read = await Promise.all(
    vms.map(async (vm): Promise<VmDetail | undefined> => {
      const [config, current] = await Promise.all([
        client.get<Record<string, ConfigValue>>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/config`),
        options.status
          ? client.get<{ status?: string; qmpstatus?: string; cpus?: number; maxmem?: number }>(apiPath`/nodes/${vm.node}/qemu/${vm.vmid}/status/current`)
          : Promise.resolve(undefined),
      ]);
      const detail = toVmDetail(vm, config ?? {});
      if (current) {
        detail.status = mapStatus(current.status, current.qmpstatus);
        // status/current reports the running QEMU's sizes; config already shows pending values.
        // `cpus` is sockets × cores; `cores` is what pvefleet configures (sockets is left alone).
        if (current.status === "running" && current.cpus !== undefined && current.maxmem !== undefined) {
          const sockets = Math.max(1, num((config ?? {}).sockets, 1));
          detail.running = { cores: Math.round(num(current.cpus) / sockets), memoryMiB: Math.round(num(current.maxmem) / (1024 * 1024)) };
        }
      }
      return detail;
    }).map((p) =>
      // A VM that vanished between the listing and this read (deleted, or a killed run's clone
      // task failing) has no details: the planner falls back to the listing, the next plan sees it gone.
      p.catch((e: unknown) => {
        if (isProxmoxError(e, "NOT_FOUND")) return undefined;
        throw e;
      }),
    ),
  );
  return read.filter((d): d is VmDetail => d !== undefined);
}
