/**
 * The operations the applier calls. Each is idempotent: after a crash at any point, calling it
 * again converges without doing anything twice. How each one gets there is said where it matters;
 * the README has the table (retry safety, calls per operation).
 */
import { apiPath, backoffMs, sleep, type ProxmoxClient } from "./api/client.js";
import { ProxmoxError, isProxmoxError } from "./api/errors.js";
import { TaskWaiter } from "./api/tasks.js";
import { VmidAllocator, DEFAULT_VMID_RANGE, isVmidFree, findFreeVmid, type VmidRange } from "./placement/vmid.js";
import { INSTANCE_ID_RE, publishedName, readDetails, refreshShard } from "./refresh.js";
import { checkPermissions } from "./permissions.js";
import { proxmoxPlanningHooks } from "./hooks.js";
import { OWNERSHIP_TAGS, formatTags, hasOwnershipTags, normaliseTags } from "./codecs/tags.js";
import { MAX_DESCRIPTION_CHARS } from "./codecs/notes-block.js";
import { formatNet0, retargetNet0 } from "./codecs/net0.js";
import { EMPTY_CDROM, bootDiskOf, bootOrderWithIso, bootOrderWithoutIso, cloudinitDrives, formatIde2Iso, parseDrive } from "./codecs/drives.js";
import { PATH_BASED_STORAGE } from "./preflight.js";
import type { CloneRequest, ConfigureRequest, LiveShard, ProxmoxOps, VmDetail, VmTarget } from "./types.js";


export interface OperationsOptions {
  clusterId: string;
  shardId: string;
  vmidRange?: VmidRange;
  /** Graceful-shutdown timeout used when deleteVm finds the VM running (default 60 s). */
  shutdownTimeoutSec?: number;
  /** Told when a delete was skipped because the VMID now holds another VM, and similar non-errors. */
  onNotice?: (message: string) => void;
}

interface ResourceVm {
  type: string;
  vmid: number | string;
  node: string;
  name?: string;
  lock?: string;
  status?: string;
  template?: number;
}

/** `GET /version`: the pve-manager version (`8.4.1`) and release (`8.4`). */
export interface PveVersion {
  version: string;
  release?: string;
}

/**
 * The oldest pve-manager whose stop endpoint takes `overrule-shutdown`: the parameter came with
 * qemu-server 8.1.2 (commit 50b5893b "fix #4474", debian/changelog 19 Apr 2024), first shipped
 * with PVE 8.2. `/version` reports pve-manager only, so the PVE release is the test.
 */
const OVERRULE_SHUTDOWN_SINCE: [number, number] = [8, 2];

export function pveAtLeast(v: PveVersion, [major, minor]: [number, number]): boolean {
  const [a = 0, b = 0] = v.version.split(/[.-]/).map((n) => Number.parseInt(n, 10) || 0);
  return a > major || (a === major && b >= minor);
}

interface NodeStorage {
  storage: string;
  type: string;
  content?: string;
  enabled?: number;
  active?: number;
  shared?: number;
}

export class ProxmoxOperations implements ProxmoxOps {
  readonly hooks = proxmoxPlanningHooks;
  private readonly tasks: TaskWaiter;
  private readonly range: VmidRange;
  /** `<node>:<template name>` → VMID, per run (templates do not come and go during an apply). */
  private readonly templateCache = new Map<string, Promise<{ vmid: number; diskBytes?: number }>>();
  private readonly storageCache = new Map<string, Promise<NodeStorage | undefined>>();
  /** VMs seen by the last refresh of this run: name → placement (finds clones that already happened). */
  private lastSnapshot?: LiveShard;
  private allocator?: VmidAllocator;
  /** `GET /version`, read once per provider on first need (it does not change during a run). */
  private versionRead?: Promise<PveVersion>;
  /** Disk size of VMs this run cloned (the template's maxdisk), so resize needs no config read. */
  private readonly clonedDiskBytes = new Map<number, number>();

  constructor(
    private readonly client: ProxmoxClient,
    tasks: TaskWaiter,
    private readonly options: OperationsOptions,
  ) {
    this.tasks = tasks;
    this.range = options.vmidRange ?? DEFAULT_VMID_RANGE;
  }

  async refresh(options: { storages?: boolean } = {}): Promise<LiveShard> {
    const shard = await refreshShard(this.client, this.options, options);
    this.lastSnapshot = shard;
    this.allocator = new VmidAllocator(shard.usedVmids ?? shard.vms.map((v) => v.vmid), this.range);
    return shard;
  }

  /** VMIDs for new VMs, from the refresh snapshot: parallel creates in one run never collide. */
  nextVmid(): number {
    if (!this.allocator) throw new ProxmoxError("VALIDATION", "nextVmid() needs a refresh() first");
    return this.allocator.next();
  }

  details(vms: { node: string; vmid: number }[], options: { status?: boolean } = {}): Promise<VmDetail[]> {
    return readDetails(this.client, vms, options);
  }

  checkPermissions(needed: string[]): Promise<void> {
    return checkPermissions(this.client, needed);
  }

  /** The server's version, read once (a failed read is tried again on the next need). */
  serverVersion(): Promise<PveVersion> {
    if (!this.versionRead) {
      const read = this.client.get<PveVersion>("/version").then((v) => ({ version: String(v?.version ?? ""), release: v?.release }));
      // Only a failed read can be replaced (the next need finds none), so this one is still current.
      read.catch(() => {
        this.versionRead = undefined;
      });
      this.versionRead = read;
    }
    return this.versionRead;
  }

  // ---- clone ------------------------------------------------------------------------------

  /**
   * Clone is not idempotent in PVE, so it is made so here: before cloning, the instance name is
   * looked up (the run's refresh snapshot, then the holder of a taken VMID); a VM already named
   * after the instance is the clone of an earlier attempt and is adopted, never cloned again.
   * A VMID taken meanwhile (nextid pre-check, or the clone itself refused) moves to the next
   * free VMID after checking the holder is not this instance. An ambiguous failure (connection
   * lost after sending, lock timeout in the task) is retried only after the same check.
   */
  async clone(req: CloneRequest): Promise<{ vmid: number; node: string }> {
    if (!INSTANCE_ID_RE.test(req.instanceId)) throw new ProxmoxError("VALIDATION", `"${req.instanceId}" is not an instance ID`);
    const known = this.lastSnapshot?.vms.find((v) => v.name === req.instanceId);
    if (known) return this.adopt(known.node, known.vmid);
    if (req.resumed) {
      // The interrupted run's clone may be minutes old or still running, listed as `VM <vmid>`.
      const earlier = await this.findNamed(await this.listVms(), req.instanceId);
      if (earlier) return this.adopt(earlier.node, earlier.vmid);
    }

    const source = await this.resolveTemplate(req);
    let vmid = req.vmid;
    for (let round = 1; ; round++) {
      let listing: ResourceVm[];
      if (await isVmidFree(this.client, vmid)) {
        try {
          await this.cloneOnce(req, source, vmid);
          this.allocator?.reserve(vmid);
          if (source.diskBytes) this.clonedDiskBytes.set(vmid, source.diskBytes);
          return { vmid, node: req.node };
        } catch (e) {
          if (!isProxmoxError(e)) throw e;
          const ambiguous = e.code === "NETWORK" || e.code === "LOCK_TIMEOUT" || e.code === "SERVER" || e.code === "TASK_TIMEOUT";
          if (e.code !== "VMID_TAKEN" && !ambiguous) throw e;
          if (round >= this.client.retry.attempts) throw e;
          listing = await this.listVms();
          const mine = await this.findNamed(listing, req.instanceId);
          if (mine) return this.adopt(mine.node, mine.vmid);
          if (ambiguous) {
            // Nothing happened (no VM with our name): safe to clone again, after a pause.
            const delayMs = backoffMs(this.client.retry, round);
            this.client.countRetry();
            this.options.onNotice?.(`clone of ${req.instanceId} to VMID ${vmid} failed (${e.message}); no VM has that name, cloning again in ${delayMs} ms`);
            await sleep(delayMs);
            continue;
          }
          const holder = await this.settledHolder(listing, vmid, req.instanceId);
          if (holder) return holder;
        }
      } else {
        listing = await this.listVms();
        const mine = await this.findNamed(listing, req.instanceId);
        if (mine) return this.adopt(mine.node, mine.vmid);
        const holder = await this.settledHolder(listing, vmid, req.instanceId);
        if (holder) return holder;
        if (round > this.client.retry.attempts) throw new ProxmoxError("VMID_TAKEN", `VMID ${vmid} is taken and no free VMID stayed free for ${req.instanceId}`);
      }
      // The VMID belongs to something else: move on, above everything the fresh listing shows.
      const allocator = new VmidAllocator([...listing.map((v) => Number(v.vmid)), vmid], this.range);
      vmid = await findFreeVmid(this.client, allocator);
      this.allocator?.reserve(vmid);
    }
  }

  private async cloneOnce(req: CloneRequest, source: { node: string; vmid: number }, newid: number): Promise<void> {
    const upid = await this.client.post<string>(
      apiPath`/nodes/${source.node}/qemu/${source.vmid}/clone`,
      {
        newid,
        name: req.instanceId,
        full: req.full,
        // Linked clones refuse `storage` (pve-api.md rule 10): they stay on the template's storage.
        storage: req.full ? req.storage : undefined,
        // PVE ignores a target equal to the source node; sending it only when it differs keeps the
        // request valid for storages that are not shared.
        target: source.node !== req.node ? req.node : undefined,
        pool: req.pool || undefined,
      },
      "unsafe",
    );
    await this.tasks.settle(upid);
  }

  /**
   * The holder of a taken VMID may be ours, from an attempt we lost track of: a clone still running
   * (lock `clone`, name not yet listed), or one done but listed under the name of the VM that held
   * the VMID before it (a VMID reused within a pvestatd cycle, pve-api.md rule 20 — its listed name,
   * lock-free, says nothing). So a VM holder is always read: wait for its lock to clear, then its name.
   */
  private async settledHolder(listing: ResourceVm[], vmid: number, instanceId: string): Promise<{ vmid: number; node: string } | undefined> {
    const holder = listing.find((v) => Number(v.vmid) === vmid);
    if (!holder || holder.type !== "qemu") return undefined;
    try {
      const settled = await this.waitUnlocked(holder.node, vmid);
      return settled.name === instanceId ? { vmid, node: settled.node } : undefined;
    } catch (e) {
      if (isProxmoxError(e, "NOT_FOUND")) return undefined; // the clone failed and was removed
      throw e;
    }
  }

  /**
   * Polls status/current until no clone/create lock is left; returns the VM's name and the node it
   * settled on. A cross-node clone keeps the new config on the *source* node while it copies and
   * renames it to the target node at the end (qemu-server PVE/API2/Qemu.pm clone_vm: the temporary
   * config at `config_file($newid)`, then `rename($conffile, $newconffile)`), so a VM that vanishes
   * from the node being polled is looked up again in the listing before it is called gone.
   */
  private async waitUnlocked(node: string, vmid: number): Promise<{ name?: string; node: string }> {
    const timing = this.tasks.timingFor("qmclone");
    const deadline = Date.now() + timing.timeoutMs;
    for (let delay = Math.min(timing.intervalMs, 50); ; delay = Math.min(timing.intervalMs, delay * 2)) {
      let st: { lock?: string; name?: string };
      try {
        st = await this.client.get<{ lock?: string; name?: string }>(apiPath`/nodes/${node}/qemu/${vmid}/status/current`);
      } catch (e) {
        if (!isProxmoxError(e, "NOT_FOUND")) throw e;
        const moved = (await this.listVms()).find((v) => v.type === "qemu" && Number(v.vmid) === vmid);
        if (!moved || moved.node === node || Date.now() > deadline) throw e;
        node = moved.node;
        continue;
      }
      if (st.lock !== "clone" && st.lock !== "create") return { name: st.name, node };
      if (Date.now() > deadline) throw new ProxmoxError("VM_LOCKED", `VM ${vmid} is still locked (${st.lock}) after the clone wait`, { lock: st.lock });
      await sleep(delay);
    }
  }

  /** A VM already named after the instance: wait until PVE's clone lock is gone, then it is ours (on the node it settled on). */
  private async adopt(node: string, vmid: number): Promise<{ vmid: number; node: string }> {
    const settled = await this.waitUnlocked(node, vmid);
    this.allocator?.reserve(vmid);
    return { vmid, node: settled.node };
  }

  /**
   * The VM named `instanceId`, if any: by the listing's name, else by reading every non-template
   * VM the listing shows without a published name (a fresh clone is listed as `VM <vmid>` for up to
   * a pvestatd cycle; status/current has the config's name at once). Those are few: only VMs
   * created or renamed in the last ~10 s.
   */
  private async findNamed(listing: ResourceVm[], instanceId: string): Promise<{ node: string; vmid: number } | undefined> {
    const named = listing.find((v) => v.type === "qemu" && v.name === instanceId);
    if (named) return { node: named.node, vmid: Number(named.vmid) };
    const unnamed = listing.filter((v) => v.type === "qemu" && !v.template && publishedName(v.name, Number(v.vmid)) === "");
    const settled = await Promise.all(
      // A clone still running has no name yet (its config is only `lock: clone`): wait for it.
      unnamed.map((v) =>
        this.waitUnlocked(v.node, Number(v.vmid)).catch((e: unknown) => {
          if (isProxmoxError(e, "NOT_FOUND")) return undefined; // gone meanwhile (a failed clone)
          throw e;
        }),
      ),
    );
    const i = settled.findIndex((s) => s?.name === instanceId);
    return i < 0 ? undefined : { node: settled[i]!.node, vmid: Number(unnamed[i]!.vmid) };
  }

  /**
   * The ownership guard (ARCHITECTURE.md rule 2), run right before every change to an existing VM:
   * the VM is re-read by VMID and the change goes ahead only if it carries all three ownership tags
   * and the instance's name — or, for a create's own clone (`fresh`), the name alone: its tags are
   * written by the very configure that asks. Anything else is NOT_OURS, and nothing is sent. The
   * config read is returned (its digest makes the change conditional on nothing having changed
   * since); undefined when the VM is not there.
   */
  private async guard(target: VmTarget, change: string): Promise<Record<string, string> | undefined> {
    let config: Record<string, string>;
    try {
      config = (await this.client.get<Record<string, string>>(apiPath`/nodes/${target.node}/qemu/${target.vmid}/config`)) ?? {};
    } catch (e) {
      if (isProxmoxError(e, "NOT_FOUND")) return undefined;
      throw e;
    }
    const name = config.name ?? "";
    const tags = normaliseTags(config.tags ?? "");
    const tagged = hasOwnershipTags(tags, this.options.clusterId, this.options.shardId);
    // A template is never ours, whatever its name and tags (its flag: 1, or "1" from some versions).
    const template = Number(config.template) === 1;
    if (name === target.instanceId && (tagged || target.fresh === true) && !template) return config;
    if (config.lock === "clone" || config.lock === "create") {
      // A clone still running holds only `lock: clone` (qemu-server writes a temporary config
      // first): whose it is shows when the lock clears. Nothing is sent meanwhile.
      throw new ProxmoxError("VM_LOCKED", `VM ${target.vmid} is locked (${config.lock})`, { lock: config.lock });
    }
    const why =
      name !== target.instanceId
        ? `it is named "${name}"`
        : template
          ? "it is a template"
          : `its tags [${tags.join(", ")}] lack ${OWNERSHIP_TAGS(this.options.clusterId, this.options.shardId).map((t) => t.toLowerCase()).filter((t) => !tags.includes(t)).join(", ")}`;
    throw new ProxmoxError(
      "NOT_OURS",
      `refusing to ${change} VM ${target.vmid} on ${target.node}: it is not instance ${target.instanceId} of shard ${this.options.clusterId}/${this.options.shardId} (${why}); nothing was sent — run plan again`,
    );
  }

  private async listVms(): Promise<ResourceVm[]> {
    return (await this.client.get<ResourceVm[]>("/cluster/resources", { type: "vm" })) ?? [];
  }

  private async resolveTemplate(req: CloneRequest): Promise<{ node: string; vmid: number; diskBytes?: number }> {
    if ("name" in req.template) {
      const name = req.template.name;
      const key = `${req.node}:${name}`;
      let pending = this.templateCache.get(key);
      if (!pending) {
        pending = this.findTemplateByName(req.node, name);
        this.templateCache.set(key, pending);
        pending.catch(() => this.templateCache.delete(key));
      }
      return { node: req.node, ...(await pending) };
    }
    const vmid = req.template.vmid;
    const seen = this.lastSnapshot?.vms.find((v) => v.vmid === vmid);
    let node = req.template.node ?? seen?.node;
    if (!node) node = (await this.listVms()).find((v) => Number(v.vmid) === vmid)?.node;
    if (!node) throw new ProxmoxError("NOT_FOUND", `TemplateVMID ${vmid} does not exist in the cluster`);
    if (node !== req.node) {
      // Cloning to another node needs the target storage on both nodes (pve-api.md rule 10).
      const storage = await this.storageInfo(node, req.storage);
      if (!storage?.shared) {
        throw new ProxmoxError(
          "VALIDATION",
          `TemplateVMID ${vmid} lives on node "${node}" and storage "${req.storage}" is not shared, so it cannot be cloned to node "${req.node}"; use TemplateName with a template on every node, or shared storage`,
        );
      }
    }
    return { node, vmid, diskBytes: seen?.diskBytes };
  }

  private async findTemplateByName(node: string, name: string): Promise<{ vmid: number; diskBytes?: number }> {
    const list = (await this.client.get<{ vmid: number | string; name?: string; template?: number | string; maxdisk?: number }[]>(apiPath`/nodes/${node}/qemu`)) ?? [];
    // The flag is 1 on a template (as a number or a string) and absent on any other VM.
    const matches = list.filter((v) => v.name === name && Number(v.template) === 1);
    // Nstance's messages (its CreateInstance's template lookup).
    if (matches.length === 0) throw new ProxmoxError("NOT_FOUND", `no template named "${name}" found on node "${node}"`);
    if (matches.length > 1) throw new ProxmoxError("VALIDATION", `multiple templates named "${name}" found on node "${node}" (found ${matches.length})`);
    return { vmid: Number(matches[0]!.vmid), diskBytes: matches[0]!.maxdisk };
  }

  // ---- configure / resize ------------------------------------------------------------------

  /**
   * One `POST …/config` with every field given. Absolute values make it idempotent, so without a
   * digest an ambiguous failure is sent again; with a digest a repeat after a success would be
   * refused as CONFLICT, so it is sent once and the caller re-reads.
   */
  async configure(req: ConfigureRequest): Promise<void> {
    const config = await this.guard(req, "configure");
    if (!config) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} does not exist on node "${req.node}"`);
    const params: Record<string, string | number | undefined> = {};
    if (req.cores !== undefined) params.cores = req.cores;
    if (req.memoryMiB !== undefined) params.memory = req.memoryMiB;
    if (req.onboot !== undefined) params.onboot = req.onboot ? 1 : 0;
    if (req.description !== undefined) {
      // PVE refuses longer descriptions (pve-api.md §2.2); say so before any change.
      if (req.description.length > MAX_DESCRIPTION_CHARS) {
        throw new ProxmoxError("VALIDATION", `VM ${req.vmid}: description is ${req.description.length} characters; Proxmox allows ${MAX_DESCRIPTION_CHARS}`);
      }
      params.description = req.description;
    }
    if (req.tags !== undefined) params.tags = formatTags(req.tags);
    try {
      if (req.net !== undefined) {
        // The VM's NIC as the guard just read it (a fresh clone's is the template's): only bridge
        // and tag change, so firewall/mtu/queues/rate/model and the MAC stay (codecs/net0.ts).
        const current = config.net0 ?? req.currentNet0;
        if (current === undefined) params.net0 = formatNet0({ bridge: req.net.bridge, vlan: req.net.vlan });
        else {
          const wanted = retargetNet0(current, req.net);
          // Unchanged network: leave net0 alone so the MAC (and the guest's DHCP lease) stays.
          if (wanted !== current) params.net0 = wanted;
        }
      }
      if (req.isoVolume !== undefined) {
        // PVE's own cloud-init drive (a template made with "Add → CloudInit Drive") would be a second
        // `cidata` seed next to ours: the clone's is deleted in the same write (on ide2 ours replaces it).
        const seeds = req.isoVolume === null ? [] : cloudinitDrives(config).filter((k) => k !== "ide2");
        if (seeds.length > 0) params.delete = seeds.join(",");
        // The boot disk (from the VM's boot order: scsi0, virtio0, sata0…) stays first so the VM
        // boots its disk; the ISO is only the cloud-init seed.
        const disk = bootDiskOf(config);
        if (disk === undefined) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} on ${req.node} has no boot disk (no disk in its boot order); its template needs one`);
        const boot = withoutDevices(config.boot ?? req.currentBoot, seeds);
        params.ide2 = req.isoVolume === null ? EMPTY_CDROM : formatIde2Iso(req.isoVolume);
        params.boot = req.isoVolume === null ? bootOrderWithoutIso(boot, disk) : bootOrderWithIso(boot, disk);
      }
    } catch (e) {
      if (e instanceof ProxmoxError) throw e;
      throw new ProxmoxError("VALIDATION", `VM ${req.vmid}: ${(e as Error).message}`);
    }
    if (Object.keys(params).length === 0) return; // PVE answers "no options specified"
    // The plan's digest when it has one; else the guard's: PVE refuses the write (CONFLICT) if the
    // VM changed since it was found to be ours, so no check-then-act window is left open.
    params.digest = req.digest ?? config.digest;
    const answer = await this.client.post<string | null>(
      apiPath`/nodes/${req.node}/qemu/${req.vmid}/config`,
      params,
      params.digest ? "unsafe" : "idempotent",
    );
    await this.tasks.settle(answer);
  }

  /**
   * Grow only, to an absolute size read right before (the guard's read): a repeat after success
   * finds the size equal and does nothing. A shrink is refused here, before PVE's task would fail.
   */
  async resize(req: VmTarget & { disk?: string; bytes: number; currentBytes?: number }): Promise<void> {
    // The guard's config read also gives the disk's current size, so resize costs no extra call.
    const config = await this.guard(req, "resize");
    if (!config) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} does not exist on node "${req.node}"`);
    // Without a named disk: the boot disk, from the VM's boot order (a virtio0 or sata0 template's too).
    const disk = req.disk ?? bootDiskOf(config);
    if (disk === undefined) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} on ${req.node} has no boot disk to resize`);
    const drive = config[disk];
    if (drive === undefined) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} has no disk ${disk}`);
    const current = parseDrive(drive).sizeBytes ?? req.currentBytes ?? this.clonedDiskBytes.get(req.vmid);
    if (current !== undefined && req.bytes < current) {
      throw new ProxmoxError("VALIDATION", `VM ${req.vmid}: ${disk} is ${current} bytes; shrinking to ${req.bytes} bytes is not supported`);
    }
    if (current !== undefined && req.bytes === current) return;
    const answer = await this.client.put<string | null>(
      apiPath`/nodes/${req.node}/qemu/${req.vmid}/resize`,
      { disk, size: String(req.bytes), digest: config.digest },
      // With a digest a repeat after a lost success is refused as CONFLICT: send once; the
      // applier's retry re-reads, finds the size reached and does nothing.
      "unsafe",
    );
    await this.tasks.settle(answer);
  }

  // ---- cloud-init ISO ------------------------------------------------------------------------

  /**
   * Checks the storage (path-based, `iso` allowed, enabled on that node; cached per run), then
   * lists its ISOs: a volume of that name and size is the same upload done before — the name
   * comes from the instance ID and the image is deterministic, and PVE only creates the volume
   * once the whole body arrived and its checksum matched — so it is kept. Otherwise the upload
   * overwrites it (PVE overwrites silently, pve-api.md rule 18), which is also why sending it
   * again after an ambiguous failure is safe.
   */
  async uploadIso(req: { node: string; storage: string; filename: string; bytes: Uint8Array }): Promise<{ volume: string }> {
    if (!/^[a-zA-Z0-9_.-]+\.iso$/i.test(req.filename)) {
      throw new ProxmoxError("VALIDATION", `ISO file name "${req.filename}" must use [a-zA-Z0-9_.-] and end in .iso`);
    }
    const storage = await this.storageInfo(req.node, req.storage);
    if (!storage) throw new ProxmoxError("NOT_FOUND", `storage "${req.storage}" does not exist on node "${req.node}"`);
    if (!PATH_BASED_STORAGE.has(storage.type)) {
      throw new ProxmoxError("VALIDATION", `storage "${req.storage}" (type ${storage.type}) cannot hold ISO files; set cloud_init_iso_storage to a path-based storage (dir, nfs, cifs, cephfs)`);
    }
    if (!(storage.content ?? "").split(",").includes("iso")) {
      throw new ProxmoxError("VALIDATION", `storage "${req.storage}" does not allow iso content on node "${req.node}"`);
    }
    if (storage.enabled === 0 || storage.active === 0) {
      throw new ProxmoxError("VALIDATION", `storage "${req.storage}" is not enabled and active on node "${req.node}"`);
    }
    const volume = `${req.storage}:iso/${req.filename}`;
    const existing = await this.client.get<{ volid: string; size?: number }[]>(apiPath`/nodes/${req.node}/storage/${req.storage}/content`, { content: "iso" });
    if ((existing ?? []).some((v) => v.volid === volume && Number(v.size) === req.bytes.length)) return { volume };
    const upid = await this.client.upload<string>(apiPath`/nodes/${req.node}/storage/${req.storage}/upload`, {
      content: "iso",
      filename: req.filename,
      bytes: req.bytes,
    });
    await this.tasks.settle(upid);
    return { volume };
  }

  private storageInfo(node: string, storage: string): Promise<NodeStorage | undefined> {
    const key = `${node}:${storage}`;
    let pending = this.storageCache.get(key);
    if (!pending) {
      pending = this.client
        .get<NodeStorage[]>(apiPath`/nodes/${node}/storage`, { storage })
        .then(
          (list) => (list ?? []).find((s) => s.storage === storage),
          // An unknown storage ID is PVE's 400 `storage: No such storage.` (pve-storage Status.pm:194).
          (e: unknown) => {
            if (isProxmoxError(e, "VALIDATION") && e.errors?.storage !== undefined) return undefined;
            throw e;
          },
        );
      this.storageCache.set(key, pending);
      pending.catch(() => this.storageCache.delete(key));
    }
    return pending;
  }

  // ---- power ---------------------------------------------------------------------------------

  /** A second start fails the task with `VM <id> already running`: that is success. */
  async start(req: VmTarget): Promise<void> {
    if (!(await this.guard(req, "start"))) throw new ProxmoxError("NOT_FOUND", `VM ${req.vmid} does not exist on node "${req.node}"`);
    try {
      const upid = await this.client.post<string>(apiPath`/nodes/${req.node}/qemu/${req.vmid}/status/start`, {}, "idempotent");
      await this.tasks.settle(upid);
    } catch (e) {
      if (isProxmoxError(e) && /already running/.test(e.exitstatus ?? e.message)) return;
      throw e;
    }
  }

  /**
   * Graceful shutdown with a timeout, then a hard stop when the guest did not power off (or is
   * paused, which refuses a shutdown). Both are no-ops on a stopped VM, so repeats are safe.
   */
  async stop(req: VmTarget & { timeoutSec: number }): Promise<void> {
    // No VM there (its clone task failed after a killed run, or it was deleted meanwhile): it is
    // not running, which is all a stop promises. deleteVm finds a migrated VM by its listing.
    if (!(await this.guard(req, "stop"))) return;
    await this.stopOurs(req);
  }

  private async stopOurs(req: { node: string; vmid: number; timeoutSec: number }): Promise<void> {
    let shutdownStillRunning: boolean;
    // Before PVE 8.2 a stop cannot overrule a running shutdown (no `overrule-shutdown`; sending it
    // is a 400), so the shutdown itself is told to hard-stop the guest when it times out.
    const canOverrule = pveAtLeast(await this.serverVersion(), OVERRULE_SHUTDOWN_SINCE);
    try {
      const upid = await this.client.post<string>(
        apiPath`/nodes/${req.node}/qemu/${req.vmid}/status/shutdown`,
        canOverrule ? { timeout: req.timeoutSec } : { timeout: req.timeoutSec, forceStop: 1 },
        "idempotent",
      );
      // The task itself gives up after timeoutSec; allow it some slack to report.
      await this.tasks.settle(upid, { timeoutMs: req.timeoutSec * 1000 + 30_000 });
      return;
    } catch (e) {
      if (!isProxmoxError(e)) throw e;
      if (e.code === "NOT_FOUND") return; // deleted between the guard and the shutdown
      const text = e.exitstatus ?? e.message;
      shutdownStillRunning = e.code === "TASK_TIMEOUT";
      const hardStopHelps = shutdownStillRunning || /got timeout|VM is paused|cannot shutdown|powerdown failed/.test(text);
      if (!hardStopHelps) throw e;
    }
    // A shutdown task we gave up on still holds the VM lock: `overrule-shutdown` aborts it (PVE ≥
    // 8.2). Older servers wait for that lock; a lock timeout is retried, and the forceStop shutdown
    // ends by itself.
    const upid = await this.client.post<string>(
      apiPath`/nodes/${req.node}/qemu/${req.vmid}/status/stop`,
      shutdownStillRunning && canOverrule ? { "overrule-shutdown": 1 } : {},
      "idempotent",
    );
    await this.tasks.settle(upid);
  }

  // ---- delete --------------------------------------------------------------------------------

  /** A volume that is already gone is success; an unclear failure is checked against the listing. */
  async deleteVolume(req: { node: string; volume: string; instanceId: string; vmid?: number }): Promise<void> {
    const storage = req.volume.split(":")[0] ?? "";
    const user = await this.volumeUser(req.volume, req.instanceId, req.vmid);
    if (user) {
      this.options.onNotice?.(`kept ${req.volume}: VM ${user.vmid} on ${user.node} ("${user.name}") still uses it (${user.drive})`);
      return;
    }
    try {
      const upid = await this.client.del<string | null>(apiPath`/nodes/${req.node}/storage/${storage}/content/${req.volume}`);
      await this.tasks.settle(upid);
    } catch (e) {
      if (!isProxmoxError(e)) throw e;
      if (e.code === "NOT_FOUND") return;
      if (e.code === "PERMISSION" || e.code === "AUTH" || e.code === "VALIDATION") throw e;
      const list = await this.client.get<{ volid: string }[]>(apiPath`/nodes/${req.node}/storage/${storage}/content`);
      if (!(list ?? []).some((v) => v.volid === req.volume)) return;
      throw e;
    }
  }

  /**
   * A VM that references `volume` in any drive, looked for where one can be: the VMs named after
   * the instance (the ISO's name is the instance ID: a duplicate or an adopted twin), the VM at the
   * VMID the instance was recorded at (renamed, it keeps its `ide2`) and VMs whose listing name is
   * not yet published. One listing plus a config read per candidate.
   */
  private async volumeUser(volume: string, instanceId: string, vmid: number | undefined): Promise<{ vmid: number; node: string; name: string; drive: string } | undefined> {
    const listing = await this.listVms();
    const candidates = listing.filter(
      (v) => v.type === "qemu" && !v.template && (v.name === instanceId || Number(v.vmid) === vmid || publishedName(v.name, Number(v.vmid)) === ""),
    );
    for (const v of candidates) {
      let config: Record<string, string>;
      try {
        config = (await this.client.get<Record<string, string>>(apiPath`/nodes/${v.node}/qemu/${Number(v.vmid)}/config`)) ?? {};
      } catch (e) {
        if (isProxmoxError(e, "NOT_FOUND")) continue;
        throw e;
      }
      for (const [key, value] of Object.entries(config)) {
        if (!/^(ide|sata|scsi|virtio)\d+$/.test(key)) continue;
        if (value.split(",")[0]!.replace(/^file=/, "") === volume) return { vmid: Number(v.vmid), node: v.node, name: config.name ?? "", drive: key };
      }
    }
    return undefined;
  }

  /**
   * Deletes the VM at vmid only if it is still this instance (the guard: three tags and the name).
   * Missing → success. A VMID now held by another VM, or the instance's VM with a tag removed or
   * renamed, is refused with NOT_OURS. A running VM is stopped first (PVE refuses to destroy it).
   * `purge=1` removes it from backup jobs/HA/replication; `destroy-unreferenced-disks=1` also frees
   * disks left unreferenced, so nothing leaks.
   */
  async deleteVm(req: VmTarget): Promise<void> {
    const where = (await this.listVms()).find((v) => v.type === "qemu" && Number(v.vmid) === req.vmid);
    if (!where) return;
    const target = { ...req, node: where.node };
    if (!(await this.guard(target, "delete"))) return;
    let current: { name?: string; status?: string; lock?: string };
    try {
      current = await this.client.get(apiPath`/nodes/${where.node}/qemu/${req.vmid}/status/current`);
    } catch (e) {
      if (isProxmoxError(e, "NOT_FOUND")) return;
      throw e;
    }
    if (current.status === "running") await this.stopOurs({ node: where.node, vmid: req.vmid, timeoutSec: this.options.shutdownTimeoutSec ?? 60 });
    try {
      const upid = await this.client.del<string>(apiPath`/nodes/${where.node}/qemu/${req.vmid}`, { purge: 1, "destroy-unreferenced-disks": 1 });
      await this.tasks.settle(upid);
    } catch (e) {
      // "Gone" only when a read by VMID says so: a NOT_FOUND can name something else that is missing
      // (a destroy of a VM whose disk is on a removed storage ends "storage 'x' does not exist"),
      // and an unexplained failure may or may not have acted. The listing lags; the config does not.
      if (isProxmoxError(e) && (e.code === "NOT_FOUND" || e.code === "NETWORK" || e.code === "SERVER" || e.code === "TASK_TIMEOUT")) {
        if (!(await this.stillInstance(where.node, req.vmid, req.instanceId))) return;
      }
      throw e;
    }
  }

  /** Whether the VM at `vmid` on `node` is still this instance, read by VMID. */
  private async stillInstance(node: string, vmid: number, instanceId: string): Promise<boolean> {
    try {
      const config = (await this.client.get<Record<string, string>>(apiPath`/nodes/${node}/qemu/${vmid}/config`)) ?? {};
      return config.name === instanceId;
    } catch (e) {
      if (isProxmoxError(e, "NOT_FOUND")) return false;
      throw e;
    }
  }
}

/** A `boot` value without some devices (drives deleted in the same write must not stay in the order). */
function withoutDevices(boot: string | undefined, devices: readonly string[]): string | undefined {
  if (!boot) return boot;
  return boot.replace(/(^|,)order=([^,]*)/, (_m, lead: string, order: string) => `${lead}order=${order.split(";").filter((d) => !devices.includes(d)).join(";")}`);
}
