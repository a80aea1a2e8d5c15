/**
 * Cluster-wide and node-level read endpoints: /version, /cluster/status, /cluster/resources,
 * /cluster/nextid, /nodes, /nodes/{node}/status, /nodes/{node}/tasks/{upid}/status and
 * /access/permissions. `/cluster/resources?type=vm` is served from a serialised cache that is
 * rebuilt when the model changes (or once a second, for uptimes) — refresh of 10,000 VMs is hot.
 */
import { gzipSync } from "node:zlib";
import type { Cluster, SimNode, SimVm } from "./cluster.js";
import { fail, paramFail, PveError, type Handler, type SimContext } from "./context.js";
import { sortedPrivs } from "./acl.js";

/**
 * Already serialised `data`. The full response body (and its gzip form, which pveproxy sends to
 * clients that accept it) is encoded once and reused for every request until the model changes.
 */
export class RawJson {
  private body?: Buffer;
  private gzipped?: Buffer;
  constructor(readonly json: string) {}
  envelope(): Buffer {
    this.body ??= Buffer.from(`{"data":${this.json}}`);
    return this.body;
  }
  gzip(): Buffer {
    this.gzipped ??= gzipSync(this.envelope(), { level: 6 });
    return this.gzipped;
  }
}

export const PVE_VERSION = { version: "8.4.1", release: "8.4", repoid: "2a5fa54a8503f96d" };

export const ALL_PRIVILEGES = [
  "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit", "Group.Allocate",
  "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify", "Pool.Allocate", "Pool.Audit", "Realm.Allocate",
  "Realm.AllocateUser", "SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.AccessNetwork", "Sys.Audit", "Sys.Console",
  "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", "User.Modify", "VM.Allocate", "VM.Audit", "VM.Backup",
  "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType",
  "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.Migrate", "VM.Monitor",
  "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback",
];

const BOOT_MS = Date.now() - 3 * 24 * 3600 * 1000;

function uptimeSeconds(startedAtMs: number | undefined): number {
  return startedAtMs === undefined ? 0 : Math.max(0, Math.floor((Date.now() - startedAtMs) / 1000));
}

/** The node has to exist (pveproxy resolves it before anything else). */
export function requireNode(cluster: Cluster, node: string): SimNode {
  const n = cluster.nodes.get(node);
  if (!n) throw fail(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
  return n;
}

function vmResource(cluster: Cluster, vm: SimVm): Record<string, unknown> {
  const lock = vm.config.lock;
  const tags = vm.config.tags;
  // Not yet published: a reused VMID still shows what the listing last knew under it (stale RRD).
  const p = vm.published ?? cluster.staleListing.get(vm.vmid);
  const out: Record<string, unknown> = { id: `qemu/${vm.vmid}`, vmid: vm.vmid, node: vm.node, type: "qemu" };
  if (!p) {
    out.status = "unknown";
  } else {
    const running = p.status === "running";
    const usage = running ? { cpu: 0.1 * ((vm.vmid % 7) + 1) / 7, mem: Math.round(p.maxmem * 0.9) } : { cpu: 0, mem: 0 };
    Object.assign(out, {
      status: p.status, name: p.name, template: p.template, maxcpu: p.maxcpu, cpu: usage.cpu, maxmem: p.maxmem, mem: usage.mem,
      maxdisk: p.maxdisk, disk: 0, netin: running ? 1024 * (vm.vmid % 97) : 0, netout: running ? 512 * (vm.vmid % 89) : 0,
      diskread: running ? 4096 * (vm.vmid % 83) : 0, diskwrite: running ? 2048 * (vm.vmid % 79) : 0,
      uptime: running ? uptimeSeconds(p.startedAtMs) : 0,
    });
  }
  if (lock) out.lock = lock;
  if (tags) out.tags = tags;
  return out;
}

function nodeResource(cluster: Cluster, n: SimNode): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: `node/${n.name}`, node: n.name, type: "node", status: n.online ? "online" : "offline", level: "",
    maxcpu: n.cpus, maxmem: n.memBytes, maxdisk: 100 * 1024 ** 3,
  };
  if (n.online) {
    const u = cluster.nodeUsage(n);
    Object.assign(out, { uptime: uptimeSeconds(BOOT_MS), cpu: u.cpu, mem: u.mem, disk: 9 * 1024 ** 3, "cgroup-mode": 2 });
  }
  return out;
}

function storageResources(cluster: Cluster): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const n of cluster.nodes.values()) {
    for (const s of cluster.storages.values()) {
      if (s.nodes && !s.nodes.includes(n.name)) continue;
      out.push({
        id: `storage/${n.name}/${s.id}`, storage: s.id, node: n.name, type: "storage", plugintype: s.type,
        status: n.online ? "available" : "unknown", shared: s.shared ? 1 : 0, content: s.content.join(","),
        disk: cluster.storageUsedBytes(s, n.name), maxdisk: s.totalBytes,
      });
    }
  }
  return out;
}

interface ListingCache {
  key: string;
  body: RawJson;
}
const vmListingCaches = new WeakMap<Cluster, ListingCache>();

/**
 * `/cluster/resources?type=vm`, serialised once per model version; uptimes advance with each
 * 10 s pvestatd cycle, as on a real cluster.
 */
function vmListing(cluster: Cluster): RawJson {
  const key = `${cluster.version}:${Math.floor(Date.now() / 10_000)}`;
  const cached = vmListingCaches.get(cluster);
  if (cached?.key === key) return cached.body;
  const parts: string[] = [];
  for (const vmid of cluster.vmidsInListingOrder()) parts.push(JSON.stringify(vmResource(cluster, cluster.vms.get(vmid)!)));
  const body = new RawJson(`[${parts.join(",")}]`);
  vmListingCaches.set(cluster, { key, body });
  return body;
}

const resources: Handler = (sim, req) => {
  const type = req.params.type;
  const c = sim.cluster;
  if (type === "vm") return vmListing(c);
  if (type === "node") return [...c.nodes.values()].map((n) => nodeResource(c, n));
  if (type === "storage") return storageResources(c);
  if (type === "sdn") return [];
  return new RawJson(
    JSON.stringify([...c.nodes.values()].map((n) => nodeResource(c, n)).concat(storageResources(c)))
      .replace(/^\[/, `[${vmListing(c).json.slice(1, -1)}${c.vms.size > 0 ? "," : ""}`),
  );
};

const clusterStatus: Handler = (sim) => {
  const nodes = [...sim.cluster.nodes.values()];
  return [
    { type: "cluster", id: "cluster", name: sim.cluster.name, nodes: nodes.length, quorate: 1, version: nodes.length + 1 },
    ...nodes.map((n, i) => ({ type: "node", id: `node/${n.name}`, name: n.name, nodeid: n.nodeid, local: i === 0 ? 1 : 0, online: n.online ? 1 : 0, ip: n.ip, level: "" })),
  ];
};

const nextid: Handler = (sim, req) => {
  if (req.params.vmid !== undefined) {
    const vmid = Number(req.params.vmid);
    if (!sim.cluster.isVmidFree(vmid)) throw paramFail({ vmid: `VM ${vmid} already exists` });
    return String(vmid);
  }
  const id = sim.cluster.nextFreeVmid();
  if (id === undefined) throw fail("unable to get any free VMID in range [100, 1000000]");
  // PVE returns the id as a JSON string although the schema says integer (rule 5).
  return String(id);
};

const nodesList: Handler = (sim) =>
  [...sim.cluster.nodes.values()].map((n) => {
    const out: Record<string, unknown> = { node: n.name, status: n.online ? "online" : "offline", id: `node/${n.name}`, type: "node", level: "",
      maxcpu: n.cpus, maxmem: n.memBytes, maxdisk: 100 * 1024 ** 3,
      ssl_fingerprint: "8F:1C:4E:2A:9B:7D:3E:60:55:12:AB:CD:EF:01:23:45:67:89:9A:BC:DE:F0:11:22:33:44:55:66:77:88:99:AA" };
    if (n.online) {
      const u = sim.cluster.nodeUsage(n);
      Object.assign(out, { cpu: u.cpu, mem: u.mem, disk: 9 * 1024 ** 3, uptime: uptimeSeconds(BOOT_MS) });
    }
    return out;
  });

const nodeStatus: Handler = (sim, req) => {
  const n = requireNode(sim.cluster, req.params.node!);
  const u = sim.cluster.nodeUsage(n);
  return {
    cpu: u.cpu, idle: 0, wait: 0.0012, uptime: uptimeSeconds(BOOT_MS),
    loadavg: [(u.cpu * n.cpus).toFixed(2), (u.cpu * n.cpus * 0.9).toFixed(2), (u.cpu * n.cpus * 0.8).toFixed(2)],
    kversion: "Linux 6.8.12-11-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-11 (2025-05-22T09:39Z)",
    pveversion: `pve-manager/${sim.cluster.pveVersion}/${PVE_VERSION.repoid}`,
    "current-kernel": { sysname: "Linux", release: "6.8.12-11-pve", version: "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-11 (2025-05-22T09:39Z)", machine: "x86_64" },
    "boot-info": { mode: "efi", secureboot: 0 },
    cpuinfo: { model: "AMD EPYC 7302P 16-Core Processor", sockets: 1, cores: n.cpus, cpus: n.cpus, mhz: "3000.000", hvm: "1", user_hz: 100,
      flags: "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm svm" },
    memory: { total: n.memBytes, used: u.mem, free: n.memBytes - u.mem },
    swap: { total: 8 * 1024 ** 3, used: 0, free: 8 * 1024 ** 3 },
    rootfs: { total: 100 * 1024 ** 3, used: 9 * 1024 ** 3, free: 91 * 1024 ** 3, avail: 86 * 1024 ** 3 },
    ksm: { shared: 0 },
  };
};

const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

const taskStatus: Handler = (sim, req) => {
  const upid = req.params.upid!;
  if (!UPID_RE.test(upid)) throw paramFail({ upid: "unable to parse worker upid" });
  const t = sim.tasks.get(upid);
  if (!t || t.node !== req.params.node) throw paramFail({ upid: "no such task" });
  const out: Record<string, unknown> = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user };
  if (t.tokenid) out.tokenid = t.tokenid;
  out.status = t.status;
  if (t.status === "stopped") out.exitstatus = t.exitstatus;
  return out;
};

/** GET /nodes/{node}/tasks: newest first; `status` holds the exit status of finished tasks. */
const taskList: Handler = (sim, req) => {
  const p = req.params;
  requireNode(sim.cluster, p.node!);
  const source = p.source ?? "archive";
  const start = Number(p.start ?? 0);
  const limit = Number(p.limit ?? 50);
  const out: Array<Record<string, unknown>> = [];
  for (const t of sim.tasks.list(p.node!)) {
    if (source === "archive" && t.status === "running") continue;
    if (source === "active" && t.status !== "running") continue;
    if (p.vmid !== undefined && t.id !== p.vmid) continue;
    if (p.typefilter !== undefined && t.type !== p.typefilter) continue;
    if (p.errors === "1" && (t.status === "running" || t.exitstatus === "OK")) continue;
    const item: Record<string, unknown> = { upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user };
    if (t.tokenid) item.tokenid = t.tokenid;
    if (t.status === "stopped") Object.assign(item, { endtime: t.endtime, status: t.exitstatus });
    out.push(item);
  }
  return out.slice(start, start + limit);
};

/**
 * GET /access/permissions: `{path: privs}` for one path, else the whole effective tree
 * (pve-access-control stable-bookworm src/PVE/API2/AccessControl.pm:603-613; acl.ts).
 */
const permissions: Handler = (sim, req) => {
  const path = req.params.path;
  if (path !== undefined) {
    const privs = sim.cluster.acl.privilegesAt(path);
    return Object.keys(privs).length > 0 ? { [path]: sortedPrivs(privs) } : {};
  }
  return sim.cluster.acl.effective();
};

/**
 * GET /pools: only the pools the token may audit (pve-manager stable-8 PVE/API2/Pool.pm
 * `index`: `next if !$rpcenv->check_any($authuser, "/pool/$poolid", ['Pool.Audit', 'Pool.Allocate'], 1)`).
 */
const pools: Handler = (sim, req) => {
  const acl = sim.cluster.acl;
  const visible = acl.pools.filter((p) => acl.has(`/pool/${p.id}`, "Pool.Audit") || acl.has(`/pool/${p.id}`, "Pool.Allocate"));
  if (req.params.poolid !== undefined) {
    const pool = visible.find((p) => p.id === req.params.poolid);
    if (!pool) throw new PveError(500, `pool '${req.params.poolid}' does not exist`);
    return [{ poolid: pool.id, members: [
      ...pool.vms.map((v) => ({ id: `qemu/${v}`, vmid: v, type: "qemu", node: sim.cluster.vms.get(v)?.node ?? "" })),
      ...pool.storage.map((st) => ({ id: `storage/${st}`, storage: st, type: "storage" })),
    ] }];
  }
  return visible.map((p) => ({ poolid: p.id }));
};

/** GET /nodes/{node}/network: the node's interfaces; the topology's bridges are Linux bridges on every node. */
const network: Handler = (sim, req) => {
  requireNode(sim.cluster, req.params.node!);
  const type = req.params.type;
  if (type !== undefined && type !== "bridge" && type !== "any_bridge") return [];
  return sim.cluster.bridges.map((iface, i) => ({
    iface, type: "bridge", active: 1, autostart: 1, families: ["inet"], method: i === 0 ? "static" : "manual", method6: "manual",
    bridge_ports: i === 0 ? "eno1" : "none", bridge_stp: "off", bridge_fd: "0", priority: i + 3,
  }));
};

export function clusterHandlers(): Record<string, Handler> {
  return {
    "GET /version": (sim) => ({ ...PVE_VERSION, version: sim.cluster.pveVersion, release: sim.cluster.pveVersion.split(".").slice(0, 2).join(".") }),
    "GET /cluster/status": clusterStatus,
    "GET /cluster/resources": resources,
    "GET /cluster/nextid": nextid,
    "GET /nodes": nodesList,
    "GET /nodes/{node}/status": nodeStatus,
    "GET /nodes/{node}/tasks/{upid}/status": taskStatus,
    "GET /nodes/{node}/tasks": taskList,
    "GET /access/permissions": permissions,
    "GET /pools": pools,
    "GET /nodes/{node}/network": network,
  };
}

export type { SimContext };
