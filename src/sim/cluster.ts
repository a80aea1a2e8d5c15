/**
 * The simulated cluster: nodes, storages, volumes and VMs with their configs as PVE stores them
 * (strings, like the config file), plus the derived views every listing needs. Every mutation goes
 * through `touch()`, which bumps the version that invalidates the serialised listings and schedules
 * persistence.
 */
import { Acl } from "./acl.js";
import { createHash } from "node:crypto";
import type { ResolvedTopology, StorageSpec } from "./topology.js";
import { Rng } from "./rng.js";
import { parseDrive, parseNet, printDrive, printNet, parseSizeBytes, driveOpt, formatSize } from "./property-string.js";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface SimNode {
  name: string;
  nodeid: number;
  ip: string;
  cpus: number;
  memBytes: number;
  baseCpu: number;
  baseMemBytes: number;
  online: boolean;
}

export interface SimStorage {
  id: string;
  type: StorageSpec["type"];
  content: string[];
  shared: boolean;
  totalBytes: number;
  nodes?: string[];
  path?: string;
  /** false: the storage's server does not answer (topology `online`). */
  online: boolean;
}

export interface Volume {
  volid: string;
  storage: string;
  /** Node holding a local volume; "" for volumes on shared storage. */
  node: string;
  content: string;
  format: string;
  sizeBytes: number;
  vmid?: number;
  ctime: number;
}

export interface SimVm {
  vmid: number;
  node: string;
  config: Record<string, string>;
  pending: Record<string, string>;
  pendingDelete: string[];
  status: "running" | "stopped";
  paused: boolean;
  startedAtMs?: number;
  pid?: number;
  /** Stats as pvestatd last broadcast them (rule 20); undefined until the first broadcast. */
  published?: PublishedStats;
}

export interface PublishedStats {
  status: "running" | "stopped";
  name: string;
  template: 0 | 1;
  maxcpu: number;
  maxmem: number;
  maxdisk: number;
  startedAtMs?: number;
}

export const DISK_KEY = /^(ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$/;
const FAST_PLUG = new Set(["description", "hookscript", "lock", "name", "onboot", "protection", "shares", "startup", "tags", "vmstatestorage",
  "cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver", "searchdomain", "sshkeys"]);

export function isFastPlug(key: string): boolean {
  return FAST_PLUG.has(key) || /^migrate_/.test(key) || /^ipconfig\d+$/.test(key);
}

/** Hot-pluggable with PVE's default `hotplug: network,disk,usb`. */
export function isHotPlug(key: string): boolean {
  return /^net\d+$/.test(key) || /^(ide|sata|scsi|virtio)\d+$/.test(key) || /^usb\d+$/.test(key);
}

/**
 * All volumes, keyed by `${node or ""}|${volid}`, with an index by storage and node kept on every
 * set and delete, so that a storage's content listing or usage costs its own volumes, not the
 * cluster's (a 10,000-VM cluster has 20,000 volumes).
 */
export class VolumeTable extends Map<string, Volume> {
  private readonly byPlace = new Map<string, Map<string, Volume>>();
  /** Keys of the volumes owned by each VMID (a VM's destroy frees its own, not a scan of all). */
  private readonly byVmid = new Map<number, Set<string>>();

  override set(key: string, v: Volume): this {
    const old = super.get(key);
    if (old) this.unindex(key, old);
    super.set(key, v);
    // Map's constructor calls set before the field initialisers ran (no entries are ever passed).
    if (this.byPlace) {
      const place = placeKey(v.storage, v.node);
      let m = this.byPlace.get(place);
      if (!m) this.byPlace.set(place, (m = new Map()));
      m.set(key, v);
      if (v.vmid !== undefined) {
        let keys = this.byVmid.get(v.vmid);
        if (!keys) this.byVmid.set(v.vmid, (keys = new Set()));
        keys.add(key);
      }
    }
    return this;
  }

  override delete(key: string): boolean {
    const old = super.get(key);
    if (old) this.unindex(key, old);
    return super.delete(key);
  }

  override clear(): void {
    this.byPlace.clear();
    this.byVmid.clear();
    super.clear();
  }

  private unindex(key: string, v: Volume): void {
    this.byPlace.get(placeKey(v.storage, v.node))?.delete(key);
    if (v.vmid !== undefined) this.byVmid.get(v.vmid)?.delete(key);
  }

  /** The keys of the volumes `vmid` owns (a copy: safe to delete while iterating). */
  keysOfVm(vmid: number): string[] {
    return [...(this.byVmid.get(vmid) ?? [])];
  }

  /** The volumes of one storage held by `node` ("" for a shared storage's volumes). */
  on(storage: string, node: string): Iterable<Volume> {
    return this.byPlace.get(placeKey(storage, node))?.values() ?? [];
  }
}

const placeKey = (storage: string, node: string) => `${storage}|${node}`;

const FIRST_VMID = 100;

/**
 * All VMs by VMID, remembering how far up from 100 every VMID is known to be taken, so that
 * `/cluster/nextid` (the lowest free VMID) does not walk 10,000 taken ones per call. A delete
 * lowers that mark; a set never invalidates it.
 */
export class VmTable extends Map<number, SimVm> {
  /** Every VMID in [FIRST_VMID, takenBelow) is taken. */
  private takenBelow = FIRST_VMID;

  override delete(vmid: number): boolean {
    if (vmid < this.takenBelow) this.takenBelow = Math.max(FIRST_VMID, vmid);
    return super.delete(vmid);
  }

  override clear(): void {
    this.takenBelow = FIRST_VMID;
    super.clear();
  }

  /** The lowest free VMID in [lower, upper), or undefined. */
  lowestFree(lower: number, upper: number): number | undefined {
    const from = lower >= FIRST_VMID ? Math.max(lower, this.takenBelow) : lower;
    for (let id = from; id < upper; id++) {
      if (this.has(id)) continue;
      if (lower <= this.takenBelow) this.takenBelow = Math.max(this.takenBelow, id);
      return id;
    }
    return undefined;
  }
}

export class Cluster {
  readonly name: string;
  /** pve-manager version (`/version`, node status `pveversion`). */
  readonly pveVersion: string;
  readonly nodes = new Map<string, SimNode>();
  readonly storages = new Map<string, SimStorage>();
  readonly bridges: string[];
  readonly vms = new VmTable();
  /** Keyed by `${node or ""}|${volid}`. */
  readonly volumes = new VolumeTable();
  /** The token's ACL (acl.ts): privileges per path, as PVE evaluates them. */
  readonly acl: Acl;
  readonly cloneLimitPerStorage: number;
  readonly rng: Rng;
  /**
   * What the listing last showed for destroyed VMs, by VMID, until the next pvestatd cycle: pmxcfs
   * keeps a VM's RRD entry (name, status) up to 5 min after its last update (pmxcfs/status.c:1367),
   * so a VMID reused before the next cycle lists the *previous* VM's name (docs/reference/pve-api.md §7, rule 20).
   */
  readonly staleListing = new Map<number, PublishedStats>();
  version = 0;
  private digests = new Map<number, string>();
  private listeners: Array<() => void> = [];
  private sortedVmids: number[] | undefined;

  constructor(topo: ResolvedTopology, seed: number, allPrivileges: string[]) {
    this.name = topo.clusterName;
    this.pveVersion = topo.pveVersion;
    this.rng = new Rng(seed);
    this.bridges = topo.bridges;
    this.cloneLimitPerStorage = topo.cloneLimitPerStorage;
    this.acl = new Acl(topo.acl, new Set(topo.dropPrivileges.filter((p) => allPrivileges.includes(p))), topo.pools.map((p) => ({ ...p, vms: [...p.vms], storage: [...p.storage] })), topo.roles);
    topo.nodes.forEach((n, i) => this.nodes.set(n.name, {
      name: n.name, nodeid: i + 1, ip: `10.10.0.${i + 11}`, cpus: n.cpus, memBytes: Math.round(n.memoryGiB * GiB),
      baseCpu: n.cpuUsage, baseMemBytes: Math.round(n.memUsedGiB * GiB), online: n.online,
    }));
    for (const s of topo.storages) {
      this.storages.set(s.id, { id: s.id, type: s.type, content: s.content, shared: s.shared, totalBytes: s.sizeGiB * GiB, nodes: s.nodes, path: s.path, online: s.online !== false });
    }
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Marks the model changed: listings are re-serialised and the state file rewritten. */
  touch(vmid?: number): void {
    this.version++;
    if (vmid !== undefined) this.digests.delete(vmid);
    else this.digests.clear();
    for (const fn of this.listeners) fn();
  }

  /**
   * Marks a change of volumes only (an upload, a volume deleted by itself): no VM's config or
   * listing entry changed, so nothing is republished (touch() would republish every VM).
   */
  touchVolumes(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** Call when the set of VMIDs changes. */
  vmidsChanged(): void {
    this.sortedVmids = undefined;
  }

  /** VMIDs in PVE's listing order: lexicographic on the decimal string (rule 20). */
  vmidsInListingOrder(): number[] {
    this.sortedVmids ??= [...this.vms.keys()].map(String).sort().map(Number);
    return this.sortedVmids;
  }

  // ---- storages and volumes ----

  storageOnNode(id: string, node: string): SimStorage | undefined {
    const s = this.storages.get(id);
    if (!s) return undefined;
    if (s.nodes && !s.nodes.includes(node)) return undefined;
    return s;
  }

  isPathBased(s: SimStorage): boolean {
    return s.type === "dir" || s.type === "nfs" || s.type === "cifs";
  }

  supportsLinkedClone(s: SimStorage): boolean {
    return s.type !== "lvm";
  }

  volumeKey(storage: SimStorage, node: string, volid: string): string {
    return `${storage.shared ? "" : node}|${volid}`;
  }

  findVolume(volid: string, node: string): Volume | undefined {
    const storageId = volid.split(":")[0]!;
    const s = this.storages.get(storageId);
    if (!s) return undefined;
    return this.volumes.get(this.volumeKey(s, node, volid));
  }

  addVolume(v: Omit<Volume, "node">, node: string): Volume {
    const s = this.storages.get(v.storage)!;
    const vol: Volume = { ...v, node: s.shared ? "" : node };
    this.volumes.set(this.volumeKey(s, node, v.volid), vol);
    return vol;
  }

  removeVolume(volid: string, node: string): boolean {
    const s = this.storages.get(volid.split(":")[0]!);
    return s ? this.volumes.delete(this.volumeKey(s, node, volid)) : false;
  }

  storageUsedBytes(s: SimStorage, node: string): number {
    let used = 0;
    for (const v of this.volumesOn(s, node)) used += v.sizeBytes;
    return used;
  }

  /** The volumes a storage holds as `node` sees it: all of a shared storage's, else the node's own. */
  *volumesOn(s: SimStorage, node: string): Iterable<Volume> {
    if (!s.shared) {
      yield* this.volumes.on(s.id, node);
      return;
    }
    // A shared storage's volumes carry node "" (a state file may hold others: count them too).
    yield* this.volumes.on(s.id, "");
    for (const n of this.nodes.keys()) yield* this.volumes.on(s.id, n);
  }

  /** A fresh volume name for a VM disk: `vm-<vmid>-disk-<n>` (qcow2 files on path storages). */
  newDiskVolid(s: SimStorage, vmid: number, node: string, prefix = "vm"): string {
    for (let n = 0; ; n++) {
      const name = `${prefix}-${vmid}-disk-${n}`;
      const volid = this.isPathBased(s) ? `${s.id}:${vmid}/${name}.qcow2` : `${s.id}:${name}`;
      const taken = [...this.vms.get(vmid) ? this.diskVolids(this.vms.get(vmid)!) : []].includes(volid) || this.findVolume(volid, node);
      if (!taken) return volid;
    }
  }

  // ---- VMs ----

  /** The config as GET …/config shows it (pending applied unless `current`). */
  effectiveConfig(vm: SimVm, current = false): Record<string, string> {
    if (current) return vm.config;
    const out = { ...vm.config, ...vm.pending };
    for (const k of vm.pendingDelete) delete out[k];
    return out;
  }

  digest(vm: SimVm): string {
    let d = this.digests.get(vm.vmid);
    if (!d) {
      const text = JSON.stringify([vm.config, vm.pending, vm.pendingDelete]);
      d = createHash("sha1").update(text).digest("hex");
      this.digests.set(vm.vmid, d);
    }
    return d;
  }

  diskVolids(vm: SimVm): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(vm.config)) {
      if (!DISK_KEY.test(k) && !/^unused\d+$/.test(k)) continue;
      const d = parseDrive(v);
      if (driveOpt(d, "media") === "cdrom" || d.file === "none" || d.file === "cdrom") continue;
      out.push(d.file);
    }
    return out;
  }

  cpus(config: Record<string, string>): number {
    if (config.vcpus) return Number(config.vcpus);
    return Number(config.sockets ?? 1) * Number(config.cores ?? 1);
  }

  maxmemBytes(config: Record<string, string>): number {
    const m = /(?:^|current=)(\d+)/.exec(config.memory ?? "512");
    return Number(m?.[1] ?? 512) * MiB;
  }

  /** Size of the boot disk (first disk of the boot order, else the first disk). */
  maxdiskBytes(config: Record<string, string>): number {
    const order = /order=([^,]+)/.exec(config.boot ?? "")?.[1]?.split(";") ?? [];
    const disks = Object.keys(config).filter((k) => DISK_KEY.test(k) && !/media=cdrom/.test(config[k]!));
    const key = order.find((d) => disks.includes(d)) ?? disks.sort()[0];
    if (!key) return 0;
    const size = driveOpt(parseDrive(config[key]!), "size");
    return size ? parseSizeBytes(size) : 0;
  }

  vmName(vm: SimVm): string {
    return vm.config.name ?? `VM ${vm.vmid}`;
  }

  /** What a running VM uses: all its memory, a tenth of each vCPU (documented in README). */
  vmUsage(vm: SimVm): { cpu: number; mem: number } {
    if (vm.status !== "running") return { cpu: 0, mem: 0 };
    return { cpu: 0.1, mem: Math.round(this.maxmemBytes(vm.config) * 0.9) };
  }

  nodeUsage(node: SimNode): { cpu: number; mem: number } {
    let cpuCores = node.baseCpu * node.cpus;
    let mem = node.baseMemBytes;
    for (const vm of this.vms.values()) {
      if (vm.node !== node.name || vm.status !== "running") continue;
      const u = this.vmUsage(vm);
      cpuCores += u.cpu * this.cpus(vm.config);
      mem += this.maxmemBytes(vm.config);
    }
    return { cpu: Math.min(1, cpuCores / node.cpus), mem: Math.min(node.memBytes, mem) };
  }

  publish(vm: SimVm): void {
    this.staleListing.delete(vm.vmid);
    vm.published = {
      status: vm.status, name: this.vmName(vm), template: vm.config.template === "1" ? 1 : 0,
      maxcpu: this.cpus(vm.config), maxmem: this.maxmemBytes(vm.config), maxdisk: this.maxdiskBytes(vm.config), startedAtMs: vm.startedAtMs,
    };
  }

  macAddress(): string {
    const h = this.rng.hex(3).toUpperCase();
    return `BC:24:11:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
  }

  /** Re-prints a netN value as PVE stores it, generating a MAC when none was given. */
  canonicalNet(value: string, keepMac = true): string {
    const dev = parseNet(value);
    if (!keepMac || !dev.macaddr) dev.macaddr = this.macAddress();
    else dev.macaddr = dev.macaddr.toUpperCase();
    return printNet(dev);
  }

  newSmbios(): string {
    return `uuid=${this.rng.uuid()}`;
  }

  /** Free VMID check across the whole cluster (qemu and lxc share the space). */
  isVmidFree(vmid: number): boolean {
    return !this.vms.has(vmid);
  }

  nextFreeVmid(lower = 100, upper = 1_000_000): number | undefined {
    return this.vms.lowestFree(lower, upper);
  }

  // ---- building ----

  addTemplate(t: { vmid: number; node: string; name: string; storage: string; diskGiB: number; cores: number; memoryMiB: number; net0?: string; bootDisk?: string; cloudinitDrive?: string }): void {
    const s = this.storages.get(t.storage)!;
    const volid = this.isPathBased(s) ? `${s.id}:${t.vmid}/base-${t.vmid}-disk-0.qcow2` : `${s.id}:base-${t.vmid}-disk-0`;
    this.addVolume({ volid, storage: s.id, content: "images", format: this.isPathBased(s) ? "qcow2" : "raw", sizeBytes: t.diskGiB * GiB, vmid: t.vmid, ctime: nowSeconds() }, t.node);
    const vm: SimVm = {
      vmid: t.vmid, node: t.node, status: "stopped", paused: false, pending: {}, pendingDelete: [],
      config: {
        name: t.name, template: "1", cores: String(t.cores), memory: String(t.memoryMiB), ostype: "l26",
        scsihw: "virtio-scsi-single", [t.bootDisk ?? "scsi0"]: printDrive({ file: volid, opts: [["size", formatSize(t.diskGiB * GiB)]] }),
        net0: this.canonicalNet(t.net0 ?? "virtio,bridge=vmbr0,firewall=1"), boot: `order=${t.bootDisk ?? "scsi0"}`, agent: "1", serial0: "socket", vga: "serial0",
        smbios1: this.newSmbios(), vmgenid: this.rng.uuid(), meta: `creation-qemu=9.2.0,ctime=${nowSeconds()}`,
      },
    };
    if (t.cloudinitDrive) {
      // PVE's own cloud-init drive (qemu-server Cloudinit.pm: `vm-<id>-cloudinit`, a CD-ROM).
      const ci = `${s.id}:vm-${t.vmid}-cloudinit`;
      this.addVolume({ volid: ci, storage: s.id, content: "images", format: "raw", sizeBytes: 4 * 1024 * 1024, vmid: t.vmid, ctime: nowSeconds() }, t.node);
      vm.config[t.cloudinitDrive] = `${ci},media=cdrom`;
    }
    this.vms.set(vm.vmid, vm);
    this.publish(vm);
  }

  /** Pre-populates plain VMs quickly (benchmarks); they are ordinary VMs afterwards. */
  addBulkVms(spec: { count: number; firstVmid: number; namePrefix: string; tags?: string; runningFraction: number }): void {
    const nodes = [...this.nodes.keys()];
    const s = this.storages.get("local-lvm") ?? [...this.storages.values()].find((x) => x.content.includes("images"));
    const start = Date.now();
    for (let i = 0; i < spec.count; i++) {
      const vmid = spec.firstVmid + i;
      if (this.vms.has(vmid)) continue;
      const node = nodes[i % nodes.length]!;
      const config: Record<string, string> = {
        name: `${spec.namePrefix}${vmid}`, cores: String(1 + (i % 4)), memory: String(1024 * (1 + (i % 4))), ostype: "l26",
        scsihw: "virtio-scsi-single", net0: this.canonicalNet("virtio,bridge=vmbr0"), boot: "order=scsi0", smbios1: this.newSmbios(),
      };
      if (s) {
        const volid = this.isPathBased(s) ? `${s.id}:${vmid}/vm-${vmid}-disk-0.qcow2` : `${s.id}:vm-${vmid}-disk-0`;
        config.scsi0 = `${volid},size=8G`;
        this.addVolume({ volid, storage: s.id, content: "images", format: "raw", sizeBytes: 8 * GiB, vmid, ctime: nowSeconds() }, node);
      }
      if (spec.tags) config.tags = spec.tags;
      const running = (i % 100) < spec.runningFraction * 100;
      const vm: SimVm = { vmid, node, config, pending: {}, pendingDelete: [], status: running ? "running" : "stopped", paused: false };
      if (running) {
        vm.startedAtMs = start;
        vm.pid = 100000 + i;
      }
      this.vms.set(vmid, vm);
      this.publish(vm);
    }
    this.vmidsChanged();
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
