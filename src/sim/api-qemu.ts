/**
 * The qemu endpoints: list, create, config (GET / POST async / PUT sync), pending, status,
 * power operations, clone, template, resize and destroy — with PVE 8.4's checks, in PVE's order,
 * synchronous where PVE checks before forking a worker and inside the task where it checks in the
 * worker (pve-api.md §7 rules 4, 6–17, 19).
 */
import { DISK_KEY, isFastPlug, isHotPlug, nowSeconds, type Cluster, type SimVm } from "./cluster.js";
import { fail, paramFail, PveError, type ApiRequest, type Handler, type SimContext } from "./context.js";
import { driveOpt, formatSize, parseDrive, parseSizeBytes, printDrive, setDriveOpt } from "./property-string.js";
import { TaskError } from "./tasks.js";
import { splitList, type Errors, type Params } from "./validate.js";
import { requireNode } from "./api-cluster.js";
import { checkBridgeAccess, checkDrivePerms, checkModifyConfigPerm, drivePermValues, inWorker, isCloudinitDrive } from "./vm-perms.js";

const GiB = 1024 ** 3;
/** Parameters of config updates that are not VM options. */
const CONTROL_PARAMS = new Set(["node", "vmid", "digest", "delete", "revert", "skiplock", "background_delay", "force", "cdrom"]);

/** Loads a VM that must live on `{node}` (rule 6). */
export function loadVm(cluster: Cluster, node: string, vmid: number): SimVm {
  requireNode(cluster, node);
  const vm = cluster.vms.get(vmid);
  if (!vm || vm.node !== node) throw fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
  return vm;
}

function vmOf(sim: SimContext, p: Params): SimVm {
  return loadVm(sim.cluster, p.node!, Number(p.vmid));
}

function checkLockSync(vm: SimVm, skiplock: boolean): void {
  if (vm.config.lock && !skiplock) throw fail(`VM is locked (${vm.config.lock})`);
}

function checkLockInTask(vm: SimVm, skiplock: boolean): void {
  if (vm.config.lock && !skiplock) throw new TaskError(`VM is locked (${vm.config.lock})`);
}

/** skiplock is for root@pam only; a token (root@pam!x) is not root@pam. */
function skiplockOf(req: ApiRequest): boolean {
  if (req.params.skiplock !== "1") return false;
  if (req.user !== "root@pam") throw paramFail({ skiplock: "Only root may use this option." });
  return true;
}

/** get_unique_tags with datacenter defaults: lower-case, case-insensitive sort, dedupe, `;` (rule 12). */
export function normaliseTags(value: string): string {
  const tags = splitList(value).map((t) => t.toLowerCase());
  return [...new Set(tags)].sort().join(";");
}

/** Checks a drive value that references an existing volume (rule 19); throws 400 for the key. */
function checkDriveReference(c: Cluster, node: string, key: string, value: string, errors: Errors): void {
  const d = parseDrive(value);
  if (d.file === "none" || d.file === "cdrom" || d.file.startsWith("/")) return;
  const newDisk = /^([^:]+):(\d+(?:\.\d+)?)$/.exec(d.file);
  const isCdrom = driveOpt(d, "media") === "cdrom" || key === "ide2" && /:iso\//.test(d.file);
  if (newDisk && !isCdrom) {
    const s = c.storageOnNode(newDisk[1]!, node);
    if (!s) throw fail(`storage '${newDisk[1]}' does not exist`);
    if (!s.content.includes("images")) errors[key] = `storage '${s.id}' does not support vm images`;
    return;
  }
  const storageId = d.file.split(":")[0]!;
  if (!c.storageOnNode(storageId, node)) throw fail(`storage '${storageId}' does not exist`);
  if (isCdrom || driveOpt(d, "media") === "cdrom") {
    if (/:(?:vm-\d+-)?cloudinit(?:\.\w+)?$/.test(d.file)) return; // nothing to check (Qemu.pm:168-173)
    const contentFromName = /:iso\//.test(d.file) ? "iso" : /:(\d+\/)?(vm|base)-\d+-disk/.test(d.file) ? "images" : "other";
    // check_volume_access before the worker: an ISO needs read access to its storage
    // (pve-storage Storage.pm check_volume_access: Datastore.AllocateSpace or Datastore.Audit).
    if (contentFromName === "iso") c.acl.checkAny(`/storage/${storageId}`, ["Datastore.AllocateSpace", "Datastore.Audit"]);
    if (contentFromName !== "iso" && contentFromName !== "images") {
      errors[key] = "content type needs to be 'images' or 'iso'";
      return;
    }
    // Whether the volume exists is only asked in the worker (allocateDrive).
  }
}

/** Allocates `<storage>:<GiB>` drives as new volumes; returns the stored drive string. */
function allocateDrive(c: Cluster, vm: SimVm, value: string): string {
  const d = parseDrive(value);
  const m = /^([^:]+):(\d+(?:\.\d+)?)$/.exec(d.file);
  if (driveOpt(d, "media") === "cdrom" && /^[^:/]+:/.test(d.file) && !/:(?:vm-\d+-)?cloudinit(?:\.\w+)?$/.test(d.file)) {
    // An existing volume on a CD-ROM: create_disks asks its size, in the worker, and stores it
    // (qemu-server Qemu.pm:697-700: `die "volume $volid does not exist\n" if !$size; $disk->{size} = $size`).
    const vol = c.findVolume(d.file, vm.node);
    if (!vol) throw new TaskError(`volume ${d.file} does not exist`);
    setDriveOpt(d, "size", formatSize(vol.sizeBytes));
    return printDrive(d);
  }
  if (!m || driveOpt(d, "media") === "cdrom") return value;
  const s = c.storageOnNode(m[1]!, vm.node)!;
  const sizeBytes = Math.round(Number(m[2]) * GiB);
  const volid = c.newDiskVolid(s, vm.vmid, vm.node);
  c.addVolume({ volid, storage: s.id, content: "images", format: c.isPathBased(s) ? "qcow2" : "raw", sizeBytes, vmid: vm.vmid, ctime: nowSeconds() }, vm.node);
  d.file = volid;
  setDriveOpt(d, "size", formatSize(sizeBytes));
  return printDrive(d);
}

/** The value PVE writes for one option: netN re-printed with a MAC, description right-trimmed. */
function storedValue(c: Cluster, key: string, value: string): string {
  if (/^net\d+$/.test(key)) return c.canonicalNet(value);
  if (key === "description") return value.replace(/\s+$/, "");
  return value;
}

/** Default boot order of a new VM: disks, then cdroms, then NICs (get_default_bootdevices). */
function defaultBoot(config: Record<string, string>): string | undefined {
  const keys = Object.keys(config).sort();
  const disks = keys.filter((k) => DISK_KEY.test(k) && !/^(efidisk|tpmstate)/.test(k) && !/media=cdrom/.test(config[k]!));
  const cdroms = keys.filter((k) => DISK_KEY.test(k) && /media=cdrom/.test(config[k]!));
  const nets = keys.filter((k) => /^net\d+$/.test(k));
  const order = [...disks.slice(0, 1), ...cdroms, ...nets.slice(0, 1)];
  return order.length ? `order=${order.join(";")}` : undefined;
}

function checkBootOrder(value: string, exists: (dev: string) => boolean): void {
  const order = /(?:^|,)order=([^,]+)/.exec(value)?.[1];
  for (const dev of order?.split(";") ?? []) {
    if (!exists(dev)) throw paramFail({ boot: `invalid bootorder: device '${dev}' does not exist'` });
  }
}

// ---- config ----

const getConfig: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const cfg = sim.cluster.effectiveConfig(vm, req.params.current === "1");
  return { ...typedConfig(sim, cfg), digest: sim.cluster.digest(vm) };
};

/** Config values as JSON: numbers for the schema's integer/number/boolean options. */
function typedConfig(sim: SimContext, cfg: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(cfg).sort()) {
    const t = sim.vmConfigOptions[key]?.type;
    const v = cfg[key]!;
    out[key] = (t === "integer" || t === "number" || t === "boolean") && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : key === "cipassword" ? "**********" : v;
  }
  return out;
}

const getPending: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const keys = new Set([...Object.keys(vm.config), ...Object.keys(vm.pending), ...vm.pendingDelete]);
  const typed = typedConfig(sim, vm.config);
  const typedPending = typedConfig(sim, vm.pending);
  return [...keys].sort().map((key) => {
    const item: Record<string, unknown> = { key };
    if (key in vm.config) item.value = typed[key];
    if (key in vm.pending) item.pending = typedPending[key];
    if (vm.pendingDelete.includes(key)) item.delete = 1;
    return item;
  });
};

interface ConfigChange {
  set: Record<string, string>;
  del: string[];
}

/** The synchronous part of PUT/POST …/config: everything PVE refuses before writing. */
function prepareConfigChange(sim: SimContext, req: ApiRequest, vm: SimVm): ConfigChange {
  const c = sim.cluster;
  const p = req.params;
  const skiplock = skiplockOf(req);
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (CONTROL_PARAMS.has(k)) continue;
    set[k] = v;
  }
  if (p.cdrom !== undefined) set.ide2 = p.cdrom.includes("media=") ? p.cdrom : `${p.cdrom},media=cdrom`;
  const del: string[] = [];
  for (let opt of splitList(p.delete ?? "")) {
    if (opt === "cdrom") opt = "ide2";
    if (set[opt] !== undefined) throw paramFail({ delete: `you can't use '-${opt}' and -delete ${opt}' at the same time` });
    if (!sim.vmConfigOptions[opt] || CONTROL_PARAMS.has(opt)) throw paramFail({ delete: `unknown option '${opt}'` });
    del.push(opt);
  }
  const revert = splitList(p.revert ?? "");
  if (Object.keys(set).length === 0 && del.length === 0 && revert.length === 0) throw fail("no options specified");
  // Per-option privileges before the worker (qemu-server Qemu.pm:2104-2113): deleted keys, set
  // keys, then SDN.Use on every bridge a NIC is set to.
  checkModifyConfigPerm(c.acl, vm.vmid, del);
  checkModifyConfigPerm(c.acl, vm.vmid, Object.keys(set));
  checkBridgeAccess(c.acl, set);
  checkLockSync(vm, skiplock);
  if (p.digest !== undefined && p.digest !== c.digest(vm)) throw fail("checksum mismatch (file change by other user?)");
  const errors: Errors = {};
  for (const [k, v] of Object.entries(set)) if (DISK_KEY.test(k)) checkDriveReference(c, vm.node, k, v, errors);
  if (Object.keys(errors).length) throw paramFail(errors);
  if (set.tags !== undefined) set.tags = normaliseTags(set.tags);
  if (set.boot !== undefined) {
    const eff = c.effectiveConfig(vm);
    checkBootOrder(set.boot, (dev) => (dev in set || dev in eff) && !del.includes(dev));
  }
  for (const r of revert) {
    delete vm.pending[r];
    vm.pendingDelete = vm.pendingDelete.filter((k) => k !== r);
  }
  return { set, del };
}

/** Writes a prepared change: immediately when stopped; pending for cold options when running (rule 14). */
function applyConfigChange(sim: SimContext, vm: SimVm, change: ConfigChange): void {
  const c = sim.cluster;
  // Drive privileges are checked as the worker reaches each drive (Qemu.pm:2174-2189, 2253, 2308, 2314).
  for (const value of drivePermValues(c.effectiveConfig(vm), change.set, change.del)) checkDrivePerms(c.acl, vm.vmid, value);
  const running = vm.status === "running";
  for (const [k, raw] of Object.entries(change.set)) {
    let v = storedValue(c, k, raw);
    if (DISK_KEY.test(k)) v = allocateDrive(c, vm, v);
    if (!running || isFastPlug(k) || (DISK_KEY.test(k) ? liveDriveChange(vm.config[k], v, k) : isHotPlug(k))) {
      vm.config[k] = v;
      delete vm.pending[k];
    } else {
      vm.pending[k] = v;
    }
  }
  for (const k of change.del) {
    if (!running || isFastPlug(k)) deleteOption(c, vm, k);
    else if (!vm.pendingDelete.includes(k)) vm.pendingDelete.push(k);
    delete vm.pending[k];
  }
  c.touch(vm.vmid);
}

/**
 * Whether a drive set on a running VM takes effect at once (qemu-server stable-bookworm
 * QemuServer.pm vmconfig_update_disk): a new medium in an existing CD-ROM drive is changed live
 * (5690-5700); a new IDE or SATA device is never hotplugged, it waits in [PENDING] for the next
 * start (5806 `die "skip\n" if !$hotplug || $opt =~ m/(ide|sata)(\d+)/`); scsi/virtio disks hotplug.
 */
function liveDriveChange(old: string | undefined, value: string, key: string): boolean {
  const cdrom = (v: string) => /(?:^|,)media=cdrom(?:,|$)/.test(v);
  if (old !== undefined && cdrom(old) && cdrom(value)) return true;
  if (/^(ide|sata)\d+$/.test(key)) return false;
  return isHotPlug(key);
}

/** Deleting a disk keeps its volume as unusedN; deleting unusedN frees the volume. */
function deleteOption(c: Cluster, vm: SimVm, key: string): void {
  const value = vm.config[key];
  delete vm.config[key];
  if (value === undefined) return;
  if (/^unused\d+$/.test(key)) {
    c.removeVolume(value, vm.node);
  } else if (DISK_KEY.test(key) && isCloudinitDrive(value)) {
    // A deleted cloud-init drive is freed, not kept as unusedN (QemuServer.pm:1956-1959, vmconfig_register_unused_drive).
    c.removeVolume(parseDrive(value).file, vm.node);
  } else if (DISK_KEY.test(key)) {
    const d = parseDrive(value);
    if (driveOpt(d, "media") !== "cdrom" && d.file !== "none" && c.findVolume(d.file, vm.node)) {
      let n = 0;
      while (vm.config[`unused${n}`] !== undefined) n++;
      vm.config[`unused${n}`] = d.file;
    }
  }
  if (vm.config.boot) {
    const order = /order=([^,]+)/.exec(vm.config.boot)?.[1];
    if (order?.split(";").includes(key)) {
      const rest = order.split(";").filter((d) => d !== key);
      vm.config.boot = rest.length ? `order=${rest.join(";")}` : "";
    }
  }
}

/**
 * A config write runs under the VM's config lock, with PVE's 10 s timeout (qemu-server
 * Qemu.pm:2528 `lock_config($vmid, $updatefn)`; pve-guest-common AbstractConfig.pm:327-331): it
 * waits for a start, stop, shutdown (which holds the lock while it waits, QemuServer.pm:6774-6788)
 * or resize of the same VM, and fails with `can't lock file … - got timeout` after that.
 */
async function underVmLock<T>(sim: SimContext, vm: SimVm, fn: () => T): Promise<T> {
  const release = await sim.locks.vm(vm.vmid, sim.timings.storageLockTimeoutMs);
  try {
    return fn();
  } finally {
    release();
  }
}

const putConfig: Handler = async (sim, req) => {
  const vm = vmOf(sim, req.params);
  const change = prepareConfigChange(sim, req, vm);
  try {
    await underVmLock(sim, vm, () => applyConfigChange(sim, vm, change));
  } catch (e) {
    if (e instanceof TaskError) throw fail(e.message); // synchronous: the lock timeout is a 500
    throw e;
  }
  return null;
};

const postConfig: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const change = prepareConfigChange(sim, req, vm);
  return sim.spawn(req, {
    node: vm.node, type: "qmconfig", id: String(vm.vmid),
    body: async (t) => {
      await t.sleep(sim.timings.configMs);
      if (!sim.cluster.vms.has(vm.vmid)) throw new TaskError(`Configuration file 'nodes/${vm.node}/qemu-server/${vm.vmid}.conf' does not exist`);
      await underVmLock(sim, vm, () => inWorker(() => applyConfigChange(sim, vm, change)));
    },
  });
};

// ---- listing and status ----

function vmStatusFields(c: Cluster, vm: SimVm): Record<string, unknown> {
  const running = vm.status === "running";
  const maxmem = c.maxmemBytes(vm.config);
  const out: Record<string, unknown> = {
    vmid: vm.vmid, name: c.vmName(vm), status: vm.status, cpus: c.cpus(vm.config), maxmem, maxdisk: c.maxdiskBytes(vm.config),
    cpu: running ? 0.02 : 0, mem: running ? Math.round(maxmem * 0.9) : 0, disk: 0, diskread: 0, diskwrite: 0, netin: 0, netout: 0,
    uptime: running && vm.startedAtMs ? Math.floor((Date.now() - vm.startedAtMs) / 1000) : 0,
  };
  if (running) out.pid = vm.pid;
  if (vm.config.template === "1") out.template = 1;
  if (vm.config.lock) out.lock = vm.config.lock;
  if (vm.config.tags) out.tags = vm.config.tags;
  return out;
}

const listVms: Handler = (sim, req) => {
  requireNode(sim.cluster, req.params.node!);
  const out: Array<Record<string, unknown>> = [];
  for (const vm of sim.cluster.vms.values()) {
    if (vm.node !== req.params.node) continue;
    const item = vmStatusFields(sim.cluster, vm);
    if (req.params.full === "1") item.qmpstatus = qmpStatus(vm);
    out.push(item);
  }
  return out.sort((a, b) => (a.vmid as number) - (b.vmid as number));
};

function qmpStatus(vm: SimVm): string {
  return vm.status === "running" ? (vm.paused ? "paused" : "running") : "stopped";
}

const statusCurrent: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const c = sim.cluster;
  const out = { ...vmStatusFields(c, vm), qmpstatus: qmpStatus(vm), ha: { managed: 0 } } as Record<string, unknown>;
  if (vm.config.agent && /^(1|enabled=1)/.test(vm.config.agent)) out.agent = 1;
  if (vm.status === "running") {
    const maxmem = out.maxmem as number;
    Object.assign(out, {
      shares: 1000, spice: 0, balloon: maxmem, balloon_min: maxmem, freemem: Math.round(maxmem * 0.4),
      ballooninfo: { actual: maxmem, max_mem: maxmem, free_mem: Math.round(maxmem * 0.4), total_mem: maxmem, major_page_faults: 0,
        minor_page_faults: 0, mem_swapped_in: 0, mem_swapped_out: 0, last_update: nowSeconds() },
      blockstat: {}, nics: { [`tap${vm.vmid}i0`]: { netin: 0, netout: 0 } },
      "proxmox-support": { "backup-max-workers": true, "pbs-dirty-bitmap": true, "pbs-dirty-bitmap-migration": true,
        "pbs-dirty-bitmap-savevm": true, "pbs-library-version": "1.5.2 (UNKNOWN)", "pbs-masterkey": true, "query-bitmap-info": true },
      "running-machine": "pc-i440fx-9.2+pve1", "running-qemu": "9.2.0",
    });
  }
  return out;
};

// ---- power ----

const start: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const skiplock = skiplockOf(req);
  return sim.spawn(req, {
    node: vm.node, type: "qmstart", id: String(vm.vmid),
    body: async (t) => {
      const release = await sim.locks.vm(vm.vmid, sim.timings.storageLockTimeoutMs);
      try {
        if (vm.config.template === "1") throw new TaskError("you can't start a vm if it's a template");
        checkLockInTask(vm, skiplock);
        if (vm.status === "running") throw new TaskError(`VM ${vm.vmid} already running`);
        await t.sleep(sim.timings.startMs);
        // Pending changes become the config when QEMU starts with it.
        Object.assign(vm.config, vm.pending);
        for (const k of vm.pendingDelete) deleteOption(sim.cluster, vm, k);
        vm.pending = {};
        vm.pendingDelete = [];
        vm.status = "running";
        vm.paused = false;
        vm.startedAtMs = Date.now();
        vm.pid = 200000 + Math.floor(Math.random() * 700000);
        sim.cluster.touch(vm.vmid);
      } finally {
        release();
      }
    },
  });
};

function powerOff(sim: SimContext, vm: SimVm): void {
  vm.status = "stopped";
  vm.paused = false;
  vm.startedAtMs = undefined;
  vm.pid = undefined;
  sim.cluster.touch(vm.vmid);
}

/** True when the simulated pve-manager is at least `major.minor`. */
function atLeast(sim: SimContext, major: number, minor: number): boolean {
  const [a = 0, b = 0] = sim.cluster.pveVersion.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

const stop: Handler = (sim, req) => {
  // `overrule-shutdown` exists from qemu-server 8.1.2 on (commit 50b5893b "fix #4474", first in
  // PVE 8.2); before, the stop schema has no such property and additionalProperties => 0 refuses it
  // (pve-common JSONSchema.pm validate: "property is not defined in schema …").
  if (req.params["overrule-shutdown"] !== undefined && !atLeast(sim, 8, 2)) {
    throw paramFail({ "overrule-shutdown": "property is not defined in schema and the schema does not allow additional properties" });
  }
  const vm = vmOf(sim, req.params);
  const skiplock = skiplockOf(req);
  return sim.spawn(req, {
    node: vm.node, type: "qmstop", id: String(vm.vmid),
    body: async (t) => {
      const release = await sim.locks.vm(vm.vmid, sim.timings.storageLockTimeoutMs);
      try {
        // A stopped VM is done before its lock is looked at (QemuServer.pm:6670-6677 _do_vm_stop:
        // `return if !$pid;` comes before check_lock), so a locked, stopped VM stops OK.
        if (vm.status !== "running") return; // stopping a stopped VM is a no-op (rule 15)
        checkLockInTask(vm, skiplock);
        await t.sleep(sim.timings.stopMs);
        powerOff(sim, vm);
      } finally {
        release();
      }
    },
  });
};

const shutdown: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const skiplock = skiplockOf(req);
  const forceStop = req.params.forceStop === "1";
  if (vm.status === "running" && vm.paused && !forceStop) throw fail("VM is paused - cannot shutdown");
  // Default 60 s (qemu-server QemuServer.pm:6698 `$timeout = 60 if !defined($timeout)`); the
  // profile's shutdownTimeoutMs is the wait for 180 s.
  const timeoutS = req.params.timeout !== undefined ? Number(req.params.timeout) : 60;
  return sim.spawn(req, {
    node: vm.node, type: "qmshutdown", id: String(vm.vmid),
    body: async (t) => {
      const release = await sim.locks.vm(vm.vmid, sim.timings.storageLockTimeoutMs);
      try {
        if (vm.status !== "running") return; // before the lock check, as _do_vm_stop (QemuServer.pm:6670-6677)
        checkLockInTask(vm, skiplock);
        if (vm.config.acpi === "0") {
          // The guest ignores the ACPI button: PVE waits for `timeout`, then gives up or kills it.
          await t.sleep(sim.timings.shutdownTimeoutMs * (timeoutS / 180));
          if (!forceStop) throw new TaskError("VM quit/powerdown failed - got timeout");
        } else {
          await t.sleep(sim.timings.shutdownMs);
        }
        powerOff(sim, vm);
      } finally {
        release();
      }
    },
  });
};

const suspend: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const skiplock = skiplockOf(req);
  return sim.spawn(req, {
    node: vm.node, type: "qmsuspend", id: String(vm.vmid),
    body: async () => {
      checkLockInTask(vm, skiplock);
      if (vm.status !== "running") throw new TaskError(`VM ${vm.vmid} not running`);
      vm.paused = true;
      sim.cluster.touch(vm.vmid);
    },
  });
};

const resume: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const skiplock = skiplockOf(req);
  if (vm.status !== "running") throw fail(`VM ${vm.vmid} not running`);
  return sim.spawn(req, {
    node: vm.node, type: "qmresume", id: String(vm.vmid),
    body: async () => {
      checkLockInTask(vm, skiplock);
      vm.paused = false;
      sim.cluster.touch(vm.vmid);
    },
  });
};

// ---- create, clone, template, destroy, resize ----

function checkVmidUnused(c: Cluster, vmid: number): void {
  const holder = c.vms.get(vmid);
  if (holder) throw fail(`unable to create VM ${vmid} - VM ${vmid} already exists on node '${holder.node}'`);
}

const create: Handler = (sim, req) => {
  const c = sim.cluster;
  const p = req.params;
  const node = p.node!;
  requireNode(c, node);
  const vmid = Number(p.vmid);
  checkVmidUnused(c, vmid);
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (["node", "vmid", "start", "archive", "storage", "force", "unique", "pool", "bwlimit", "live-restore", "cdrom"].includes(k)) continue;
    set[k] = v;
  }
  if (p.cdrom !== undefined) set.ide2 = p.cdrom.includes("media=") ? p.cdrom : `${p.cdrom},media=cdrom`;
  const errors: Errors = {};
  for (const [k, v] of Object.entries(set)) if (DISK_KEY.test(k)) checkDriveReference(c, node, k, v, errors);
  if (Object.keys(errors).length) throw paramFail(errors);
  if (set.boot !== undefined) checkBootOrder(set.boot, (dev) => dev in set);
  // PVE 8 writes tags as given on create (rule 12); only update normalises.
  const vm: SimVm = { vmid, node, config: { lock: "create" }, pending: {}, pendingDelete: [], status: "stopped", paused: false };
  c.vms.set(vmid, vm);
  c.vmidsChanged();
  c.touch(vmid);
  const startAfter = p.start === "1";
  return sim.spawn(req, {
    node, type: "qmcreate", id: String(vmid),
    onFail: () => destroyVm(c, vm),
    body: async (t) => {
      await t.sleep(sim.timings.createMs);
      const config: Record<string, string> = {};
      for (const [k, v] of Object.entries(set)) {
        config[k] = storedValue(c, k, v);
        if (DISK_KEY.test(k)) config[k] = allocateDrive(c, vm, config[k]!);
      }
      config.boot ??= defaultBoot(config) ?? "";
      if (!config.boot) delete config.boot;
      config.smbios1 ??= c.newSmbios();
      config.vmgenid ??= c.rng.uuid();
      config.meta = `creation-qemu=9.2.0,ctime=${nowSeconds()}`;
      vm.config = config;
      if (startAfter) {
        vm.status = "running";
        vm.startedAtMs = Date.now();
        vm.pid = 200000 + (vmid % 700000);
      }
      c.touch(vmid);
    },
  });
};

function destroyVm(c: Cluster, vm: SimVm): void {
  for (const key of c.volumes.keysOfVm(vm.vmid)) {
    const v = c.volumes.get(key)!;
    if (v.node === "" || v.node === vm.node) c.volumes.delete(key);
  }
  c.vms.delete(vm.vmid);
  if (vm.published) c.staleListing.set(vm.vmid, vm.published);
  c.acl.removeVm(vm.vmid);
  c.vmidsChanged();
  c.touch(vm.vmid);
}

const clone: Handler = (sim, req) => {
  const c = sim.cluster;
  const p = req.params;
  const src = vmOf(sim, p);
  const newid = Number(p.newid);
  const target = p.target ?? src.node;
  if (p.target !== undefined && !c.nodes.has(target)) throw fail(`no such cluster node '${target}'`);
  const holder = c.vms.get(newid);
  // The early check (before the fork) only looks for the config file on the local node, which is
  // the source's: qemu-server stable-bookworm src/PVE/API2/Qemu.pm:4379-4381
  // (`config_file($newid)` → cfs_config_path falls back to the local node, QemuConfig.pm:64-69).
  if (holder && holder.node === src.node) throw fail(`unable to create VM ${newid}: config file already exists`);
  checkLockSync(src, false);
  const isTemplate = src.config.template === "1";
  const full = p.full !== undefined ? p.full === "1" : !isTemplate;
  if (!full && p.storage !== undefined) throw fail("parameter 'storage' not allowed for linked clones");
  if (!full && p.format !== undefined) throw fail("parameter 'format' not allowed for linked clones");
  const drives = Object.entries(src.config).filter(([k, v]) => DISK_KEY.test(k) && !/media=cdrom/.test(v) && !parseDrive(v).file.startsWith("none"));
  if (target !== src.node) {
    // CD-ROMs count too ($check_storage_access_clone, Qemu.pm:289-297: `$sharedvm = 0 if !$scfg->{shared}`
    // for an ISO or cloud-init drive as for a disk).
    const volumes = Object.entries(src.config).filter(([k, v]) => DISK_KEY.test(k) && /:/.test(parseDrive(v).file));
    for (const [, v] of volumes) {
      const s = c.storages.get(parseDrive(v).file.split(":")[0]!);
      if (!s?.shared) throw fail(`can't clone VM to node '${target}' (VM uses local storage)`);
    }
  }
  if (p.storage !== undefined) {
    const s = c.storageOnNode(p.storage, target);
    if (!s) throw fail(`storage '${p.storage}' does not exist`);
    if (!s.content.includes("images")) throw fail(`storage '${p.storage}' does not support vm images`);
  }
  // Before the fork: the pool must exist (Qemu.pm:4329, check_pool_exist → raise_perm_exc),
  // Datastore.AllocateSpace on the storage each disk lands on ($check_storage_access_clone,
  // Qemu.pm:273-314: `$sid = $storage if $storage`), SDN.Use on the source's bridges (4374).
  if (p.pool !== undefined && !c.acl.pools.some((pl) => pl.id === p.pool)) throw new PveError(403, `Permission check failed (pool '${p.pool}' does not exist)`);
  for (const [, v] of drives) c.acl.check(`/storage/${p.storage ?? parseDrive(v).file.split(":")[0]}`, ["Datastore.AllocateSpace"]);
  checkBridgeAccess(c.acl, src.config);
  if (!full) {
    for (const [k, v] of drives) {
      const volid = parseDrive(v).file;
      const s = c.storages.get(volid.split(":")[0]!);
      const isBase = /(^|[:/])base-\d+-disk-\d+/.test(volid.split(":")[1] ?? "") && !/\/vm-/.test(volid);
      if (!s || !c.supportsLinkedClone(s) || !isBase) throw fail(`Linked clone feature is not supported for '${volid}' (${k})`);
    }
  }
  if (holder) {
    // A VMID held on another node passes the early check; the worker's temporary config write then
    // fails on pmxcfs with EEXIST (Qemu.pm:4487-4489 `file_set_contents($conffile, "# qmclone
    // temporary file…")`; pve-cluster src/pmxcfs/memdb.c:1098-1102 vmlist_different_vm_exists),
    // worded by pve-common src/PVE/Tools.pm:333-334 file_set_contents.
    return sim.spawn(req, {
      node: src.node, type: "qmclone", id: String(src.vmid),
      body: async (t) => {
        await t.sleep(sim.timings.taskBaseMs);
        throw new TaskError(`close (rename) atomic file '/etc/pve/nodes/${src.node}/qemu-server/${newid}.conf' failed: File exists`);
      },
    });
  }
  // The target exists at once with `lock: clone` (create_and_lock_config), visible everywhere
  // (rule 10) — on the *source* node: the temporary config is written locally (Qemu.pm:4379,4489)
  // and moved to the target node only when the copy is done (Qemu.pm:4579-4581, rename).
  const dst: SimVm = { vmid: newid, node: src.node, config: { lock: "clone" }, pending: {}, pendingDelete: [], status: "stopped", paused: false };
  c.vms.set(newid, dst);
  c.vmidsChanged();
  c.touch(newid);
  const totalBytes = drives.reduce((sum, [, v]) => sum + parseSizeBytes(driveOpt(parseDrive(v), "size") ?? "0"), 0);
  return sim.spawn(req, {
    node: src.node, type: "qmclone", id: String(src.vmid),
    onFail: () => destroyVm(c, dst),
    body: async (t) => {
      const releases: Array<() => void> = [];
      try {
        // Each new volume is allocated (full: vdisk_alloc; linked: vdisk_clone) under the storage's
        // exclusive lock, one at a time; the copy itself runs without it (pve-storage Storage.pm:986-992,
        // 1066-1077). A lock timeout fails the clone with qemu-server's prefix (`clone failed: `).
        const storages = new Set(drives.map(([, v]) => (full ? (p.storage ?? parseDrive(v).file.split(":")[0]!) : parseDrive(v).file.split(":")[0]!)));
        for (const sid of storages) {
          const s = c.storages.get(sid)!;
          let release: () => void;
          try {
            release = await sim.locks.storage(s.shared ? sid : `${target}/${sid}`, sid, sim.timings.storageLockTimeoutMs);
          } catch (e) {
            if (e instanceof TaskError) throw new TaskError(`clone failed: ${e.message}`);
            throw e;
          }
          releases.push(release);
          try {
            await t.sleep(sim.locks.allocMs ?? sim.timings.storageAllocMs);
          } finally {
            releases.pop();
            release();
          }
        }
        await t.sleep(sim.timings.taskBaseMs + (full ? (sim.timings.cloneMsPerGiB * totalBytes) / GiB : 0));
        const config: Record<string, string> = {};
        for (const [k, v] of Object.entries(src.config)) {
          if (/^unused\d+$/.test(k) || k === "template" || k === "lock" || k === "vmgenid" || k === "smbios1" || k === "meta") continue;
          config[k] = v;
        }
        for (const [k, v] of drives) {
          const d = parseDrive(v);
          const srcStorage = d.file.split(":")[0]!;
          const sizeBytes = parseSizeBytes(driveOpt(d, "size") ?? "0");
          const s = c.storages.get(full ? (p.storage ?? srcStorage) : srcStorage)!;
          let volid = c.newDiskVolid(s, newid, target);
          if (!full) {
            const base = d.file.slice(d.file.indexOf(":") + 1);
            volid = `${s.id}:${base}/${volid.slice(volid.indexOf(":") + 1)}`;
          }
          c.addVolume({ volid, storage: s.id, content: "images", format: c.isPathBased(s) ? "qcow2" : "raw", sizeBytes, vmid: newid, ctime: nowSeconds() }, target);
          d.file = volid;
          config[k] = printDrive(d);
        }
        for (const k of Object.keys(config)) if (/^net\d+$/.test(k)) config[k] = c.canonicalNet(config[k]!, false);
        // A cloud-init drive is not copied: the clone gets its own `vm-<newid>-cloudinit`
        // (qemu-server stable-bookworm src/PVE/QemuServer.pm:8985-8986, clone_disk: `$name = "vm-$newvmid-cloudinit"`).
        for (const k of Object.keys(config)) {
          if (!DISK_KEY.test(k) || !isCloudinitDrive(config[k]!)) continue;
          const d = parseDrive(config[k]!);
          const sid = full ? (p.storage ?? d.file.split(":")[0]!) : d.file.split(":")[0]!;
          const volid = `${sid}:vm-${newid}-cloudinit`;
          c.addVolume({ volid, storage: sid, content: "images", format: "raw", sizeBytes: 4 * 1024 * 1024, vmid: newid, ctime: nowSeconds() }, target);
          d.file = volid;
          config[k] = printDrive(d);
        }
        config.name = p.name ?? `Copy-of-VM-${src.config.name ?? src.vmid}`;
        if (p.description !== undefined) config.description = p.description.replace(/\s+$/, "");
        config.smbios1 = c.newSmbios();
        config.vmgenid = c.rng.uuid();
        config.meta = `creation-qemu=9.2.0,ctime=${nowSeconds()}`;
        dst.config = config;
        dst.node = target;
        if (p.pool !== undefined) c.acl.addToPool(p.pool, newid); // Qemu.pm:4584 add_vm_to_pool
        c.touch(newid);
      } finally {
        for (const r of releases) r();
      }
    },
  });
};

const template: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const c = sim.cluster;
  checkLockSync(vm, false);
  if (vm.config.template === "1") throw fail("you can't convert a template to a template");
  if (vm.status === "running") throw fail("you can't convert a VM to template if VM is running");
  vm.config.template = "1";
  c.touch(vm.vmid);
  return sim.spawn(req, {
    node: vm.node, type: "qmtemplate", id: String(vm.vmid),
    body: async (t) => {
      await t.sleep(sim.timings.templateMs);
      for (const [k, v] of Object.entries(vm.config)) {
        if (!DISK_KEY.test(k) || /media=cdrom/.test(v)) continue;
        const d = parseDrive(v);
        const vol = c.findVolume(d.file, vm.node);
        if (!vol || !/vm-\d+-disk-\d+/.test(d.file) || d.file.includes("/base-")) continue;
        const newVolid = d.file.replace(/vm-(\d+)-disk-(\d+)/, "base-$1-disk-$2");
        c.removeVolume(d.file, vm.node);
        c.addVolume({ ...vol, volid: newVolid }, vm.node);
        d.file = newVolid;
        vm.config[k] = printDrive(d);
      }
      c.touch(vm.vmid);
    },
  });
};

const destroy: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const c = sim.cluster;
  const skiplock = skiplockOf(req);
  if (vm.config.protection === "1") throw fail(`can't remove VM ${vm.vmid} - protection mode enabled`);
  if (vm.status === "running") throw fail(`VM ${vm.vmid} is running - destroy failed`);
  return sim.spawn(req, {
    node: vm.node, type: "qmdestroy", id: String(vm.vmid),
    body: async (t) => {
      checkLockInTask(vm, skiplock);
      if (vm.config.template === "1") {
        for (const volid of c.diskVolids(vm)) {
          const base = volid.slice(volid.indexOf(":") + 1);
          const inUse = [...c.volumes.values()].some((v) => v.volid.startsWith(`${volid.split(":")[0]}:${base}/`));
          if (inUse) throw new TaskError(`base volume '${volid}' is still in use by linked cloned`);
        }
      }
      // destroy_vm resolves each owned drive with PVE::Storage::path outside any eval (qemu-server
      // src/PVE/QemuServer.pm destroy_vm, $remove_owned_drive): a drive on a storage that is no
      // longer defined fails the whole destroy with storage_config's "storage '<id>' does not exist".
      for (const volid of c.diskVolids(vm)) {
        const storage = volid.split(":")[0]!;
        if (!c.storages.has(storage)) throw new TaskError(`storage '${storage}' does not exist`);
      }
      await t.sleep(sim.timings.destroyMs);
      if (c.vms.get(vm.vmid) === vm) destroyVm(c, vm);
    },
  });
};

const resize: Handler = (sim, req) => {
  const vm = vmOf(sim, req.params);
  const c = sim.cluster;
  const skiplock = skiplockOf(req);
  const disk = req.params.disk!;
  const sizeText = req.params.size!;
  // Every check of resize runs in the worker (pve-api.md §1 table).
  return sim.spawn(req, {
    node: vm.node, type: "resize", id: String(vm.vmid),
    body: async (t) => {
      checkLockInTask(vm, skiplock);
      const value = vm.config[disk];
      if (value === undefined) throw new TaskError(`disk '${disk}' does not exist`);
      const d = parseDrive(value);
      if (driveOpt(d, "media") === "cdrom") throw new TaskError("you can't resize a cdrom");
      // Qemu.pm:5781-5783: Datastore.AllocateSpace on the disk's storage, inside the worker.
      inWorker(() => c.acl.check(`/storage/${d.file.split(":")[0]}`, ["Datastore.AllocateSpace"]));
      const vol = c.findVolume(d.file, vm.node);
      const current = vol?.sizeBytes ?? parseSizeBytes(driveOpt(d, "size") ?? "0");
      const amount = parseSizeBytes(sizeText);
      const wanted = sizeText.startsWith("+") ? current + amount : amount;
      if (wanted < current) throw new TaskError("shrinking disks is not supported");
      await t.sleep(sim.timings.resizeMs);
      if (wanted === current) return;
      if (vol) vol.sizeBytes = wanted;
      setDriveOpt(d, "size", formatSize(wanted));
      vm.config[disk] = printDrive(d);
      c.touch(vm.vmid);
    },
  });
};

export function qemuHandlers(): Record<string, Handler> {
  return {
    "GET /nodes/{node}/qemu": listVms,
    "POST /nodes/{node}/qemu": create,
    "GET /nodes/{node}/qemu/{vmid}/config": getConfig,
    "POST /nodes/{node}/qemu/{vmid}/config": postConfig,
    "PUT /nodes/{node}/qemu/{vmid}/config": putConfig,
    "GET /nodes/{node}/qemu/{vmid}/pending": getPending,
    "GET /nodes/{node}/qemu/{vmid}/status/current": statusCurrent,
    "POST /nodes/{node}/qemu/{vmid}/status/start": start,
    "POST /nodes/{node}/qemu/{vmid}/status/stop": stop,
    "POST /nodes/{node}/qemu/{vmid}/status/shutdown": shutdown,
    "POST /nodes/{node}/qemu/{vmid}/status/suspend": suspend,
    "POST /nodes/{node}/qemu/{vmid}/status/resume": resume,
    "POST /nodes/{node}/qemu/{vmid}/clone": clone,
    "POST /nodes/{node}/qemu/{vmid}/template": template,
    "PUT /nodes/{node}/qemu/{vmid}/resize": resize,
    "DELETE /nodes/{node}/qemu/{vmid}": destroy,
  };
}

export { PveError };
