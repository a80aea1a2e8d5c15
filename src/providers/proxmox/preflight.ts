/**
 * The plan-time preflight: before a plan is shown, everything its actions need from the cluster —
 * templates on the chosen nodes, storages with the right content, bridges, pools — and every
 * privilege PVE will check for them, on the paths PVE checks them (README "Preflight").
 *
 * Privileges per action, from the PVE 8 source (qemu-server 8.4.10 src/PVE/API2/Qemu.pm,
 * pve-guest-common 58ad183 src/PVE/GuestHelpers.pm, pve-storage stable-8):
 *   clone      VM.Clone on /vms/<template>; VM.Allocate on /vms/<new> or /pool/<pool> (schema);
 *              Datastore.AllocateSpace on /storage/<target or the template disk's> (Qemu.pm:273-314);
 *              SDN.Use on the template's bridges (Qemu.pm:4374 → GuestHelpers.pm:393-417)
 *   configure  per option (Qemu.pm:949-996): cores → VM.Config.CPU, memory → .Memory, net0 →
 *              .Network + SDN.Use on /sdn/zones/localnetwork/<bridge>[/<tag>], onboot/description/
 *              tags → .Options, boot → .Disk; per drive in the worker (Qemu.pm:2174-2189): the ISO on
 *              ide2 and the drive it replaces → .CDROM, a cloud-init drive → .Cloudinit + .CDROM
 *   resize     VM.Config.Disk on /vms/<id> (schema), Datastore.AllocateSpace on the disk's storage (Qemu.pm:5783)
 *   upload-iso Datastore.AllocateTemplate on /storage/<id> (schema)
 *   delete-iso Datastore.Allocate on /storage/<id> (pve-storage API2/Storage/Content.pm:492)
 *   start/stop VM.PowerMgmt; delete-vm VM.Allocate; every VM change: VM.Audit (the guard's config read)
 *
 * Evaluation: one `GET /access/permissions` (the effective tree: every default path, ACL path and
 * pool member, pve-access-control RPCEnvironment.pm:241-289) plus one exact `?path=` read per
 * storage, bridge, pool and template path, and one for a VMID path the tree does not list — every
 * unlisted `/vms/<id>` inherits the same privileges (it has no ACL of its own and is in no pool), so
 * one read stands for all. A privilege is held when it is present, whatever its propagate flag
 * (RPCEnvironment.pm:291-305). A refusal is confirmed path by path with an exact read.
 */
import type { LiveShard, PreflightAction, PreflightProblem, PreflightReport, VmDetail } from "../types.js";
import { apiPath, type ProxmoxClient } from "./api/client.js";
import { isProxmoxError } from "./api/errors.js";
import { bootDiskOf, cloudinitDrives, driveKeys, parseDrive } from "./codecs/drives.js";
import { parseNet0 } from "./codecs/net0.js";

/** Storage types whose volumes are files (uploads allowed; pve-api.md §6 "path-based"). */
export const PATH_BASED_STORAGE = new Set(["dir", "nfs", "cifs", "cephfs", "glusterfs", "btrfs"]);

type Tree = Record<string, Record<string, number | boolean>>;

interface NodeStorage { storage: string; type: string; content?: string; enabled?: number; active?: number; shared?: number }

/** One privilege requirement: all of `privs` on `path` (or any one of them), with alternatives. */
interface Need {
  path: string;
  privs: string[];
  any?: boolean;
  /** Another path that satisfies the need instead (a pool for VM.Allocate of a new VM). */
  orPath?: string;
  /** For the message: which action needs it. */
  why: string;
}

/** A template the plan clones; `config` is undefined when the token may not read it (reported as VM.Audit). */
interface TemplateFacts { vmid: number; node: string; config?: Record<string, string> }

/** How many refused paths are confirmed with an exact read before the rest are taken as refused too. */
const CONFIRM_LIMIT = 50;

export class Preflight {
  private requests = 0;
  private readonly problems: PreflightProblem[] = [];
  /** Every privilege need once, keyed by path, privileges, any-of and alternative path (the first action that needs it names it). */
  private readonly needs = new Map<string, Need>();
  private readonly templates = new Map<string, Promise<TemplateFacts>>();
  /** What cloning a template needs beyond the VM's own path, per template, full/linked and target storage. */
  private readonly cloneNeeds = new Map<string, { path: string; privs: string[] }[]>();
  private readonly nodeStorages = new Map<string, Promise<NodeStorage[] | undefined>>();
  private readonly nodeBridges = new Map<string, Promise<Set<string> | undefined>>();
  private pools?: Promise<Set<string> | undefined>;
  /** What {@link fetchObjects} read, for the synchronous per-action checks. */
  private readonly templateNow = new Map<string, TemplateFacts | undefined>();
  private readonly storagesNow = new Map<string, NodeStorage[] | undefined>();
  private readonly bridgesNow = new Map<string, Set<string> | undefined>();
  private poolsNow?: Set<string>;
  /** The cluster's templates, and the plan's details by VMID (a fleet-sized plan looks them up per action). */
  private readonly templateVms: LiveShard["vms"];
  private readonly detailOf: Map<number, VmDetail>;

  constructor(
    private readonly client: ProxmoxClient,
    live: LiveShard,
    details: readonly VmDetail[],
  ) {
    this.templateVms = live.vms.filter((v) => v.template);
    this.detailOf = new Map(details.map((d) => [d.vmid, d]));
  }

  async run(actions: readonly PreflightAction[]): Promise<PreflightReport> {
    const newVmids = new Set(actions.filter((a) => a.type === "clone").map((a) => a.vmid));
    const poolOfNew = new Map<number, string>();
    for (const a of actions) if (a.type === "clone" && a.params.pool) poolOfNew.set(a.vmid, a.params.pool);
    const cloneOf = new Map<string, PreflightAction & { type: "clone" }>();
    for (const a of actions) if (a.type === "clone") cloneOf.set(a.instanceId, a);
    await this.fetchObjects(actions);
    for (const a of actions) this.action(a, cloneOf.get(a.instanceId));
    await this.privileges(newVmids, poolOfNew);
    return { problems: dedupe(this.problems), requests: this.requests };
  }

  private problem(message: string, fix: string): void {
    this.problems.push({ message, fix });
  }

  private need(path: string, privs: string[], why: string, extra: Partial<Need> = {}): void {
    const key = `${path}\0${privs.join(",")}\0${extra.any ? 1 : 0}\0${extra.orPath ?? ""}`;
    if (!this.needs.has(key)) this.needs.set(key, { path, privs, why, ...extra });
  }

  private async get<T>(path: string, query?: Record<string, string>): Promise<T | undefined> {
    this.requests++;
    return (await this.client.get<T>(path, query)) ?? undefined;
  }

  /**
   * Every cluster object the actions name, each read once and all at once (the client bounds the
   * concurrency): templates per node, storages per node, bridges per node, pools. The actions are
   * then checked synchronously — a 10,000-VM plan has 50,000 actions and a handful of objects.
   */
  private async fetchObjects(actions: readonly PreflightAction[]): Promise<void> {
    const reads: Promise<unknown>[] = [];
    const once = new Set<string>();
    const read = (key: string, fetch: () => Promise<unknown>) => {
      if (once.has(key)) return;
      once.add(key);
      reads.push(fetch());
    };
    for (const a of actions) {
      if (a.type === "clone") {
        const key = templateKey(a);
        read(`t:${key}`, async () => this.templateNow.set(key, await this.template(a)));
        if (a.params.pool) read("pools", async () => (this.poolsNow = await this.poolList()));
      }
      if (a.type === "clone" || a.type === "upload-iso") read(`s:${a.node}`, async () => this.storagesNow.set(a.node, await this.storagesOf(a.node)));
      if (a.type === "configure" && a.params.net) read(`b:${a.node}`, async () => this.bridgesNow.set(a.node, await this.bridgesOf(a.node)));
    }
    await Promise.all(reads);
  }

  // ---- per action ------------------------------------------------------------------------------

  private action(a: PreflightAction, clone: (PreflightAction & { type: "clone" }) | undefined): void {
    const vm = `/vms/${a.vmid}`;
    const why = `${a.type} of ${a.instanceId}`;
    switch (a.type) {
      case "clone": {
        const t = this.templateNow.get(templateKey(a));
        this.need(vm, ["VM.Allocate"], why, a.params.pool ? { orPath: `/pool/${a.params.pool}` } : {});
        if (a.params.pool && !this.poolsNow?.has(a.params.pool)) {
          this.problem(`pool "${a.params.pool}" does not exist (or the token lacks Pool.Audit on /pool/${a.params.pool})`, `pvesh create /pools --poolid ${a.params.pool}, or remove "pool" from the group`);
        }
        this.storage(a.node, a.params.storage, "images", why);
        if (!t) return;
        this.need(`/vms/${t.vmid}`, ["VM.Clone", "VM.Audit"], why);
        if (!t.config) return;
        for (const n of this.templateCloneNeeds(t, t.config, a.params.full, a.params.storage)) this.need(n.path, n.privs, why);
        return;
      }
      case "configure": {
        const p = a.params;
        this.need(vm, ["VM.Audit"], why);
        if (p.cores !== undefined) this.need(vm, ["VM.Config.CPU"], why);
        if (p.memoryMiB !== undefined) this.need(vm, ["VM.Config.Memory"], why);
        if (p.onboot !== undefined || p.description !== undefined || p.notes !== undefined || p.tags !== undefined) this.need(vm, ["VM.Config.Options"], why);
        // What the VM has now: a fresh clone has the template's config, an existing VM its details.
        const t = clone ? this.templateNow.get(templateKey(clone)) : undefined;
        const current: Record<string, string | undefined> = t ? (t.config ?? {}) : detailConfig(this.detailOf.get(a.vmid));
        if (p.net) {
          this.bridge(a.node, p.net.bridge, why);
          const now = current.net0 ? parseNet0(current.net0) : undefined;
          if (!now || now.bridge !== p.net.bridge || now.vlan !== p.net.vlan) {
            this.need(vm, ["VM.Config.Network"], why);
            this.need(sdnPath(p.net.bridge, p.net.vlan), ["SDN.Use"], why);
          }
        }
        if (p.isoVolume !== undefined) {
          // ide2 (new value and the drive it replaces) and the boot order.
          this.need(vm, ["VM.Config.CDROM", "VM.Config.Disk"], why);
          // Attaching an ISO reads its storage (pve-storage check_volume_access: AllocateSpace or Audit).
          const isoStorage = typeof p.isoVolume === "string" ? /^([^:]+):/.exec(p.isoVolume)?.[1] : undefined;
          if (isoStorage) this.need(`/storage/${isoStorage}`, ["Datastore.Audit", "Datastore.AllocateSpace"], `${why} (attaches the ISO)`, { any: true });
          if (current.ide2 && cloudinitDrives({ ide2: current.ide2 }).length > 0) this.need(vm, ["VM.Config.Cloudinit"], `${why} (replaces the cloud-init drive on ide2)`);
        }
        // PVE's own cloud-init drive elsewhere is deleted with the write (README "Templates with a cloud-init drive").
        if (typeof p.isoVolume === "string" && t?.config && cloudinitDrives(t.config).some((k) => k !== "ide2")) {
          this.need(vm, ["VM.Config.Cloudinit", "VM.Config.CDROM"], `${why} (removes the template's cloud-init drive)`);
        }
        return;
      }
      case "resize": {
        this.need(vm, ["VM.Audit", "VM.Config.Disk"], why);
        let storage: string | undefined;
        if (clone) {
          const t = this.templateNow.get(templateKey(clone));
          const disk = t?.config ? bootDiskOf(t.config) : undefined;
          storage = clone.params.full ? clone.params.storage : disk ? parseDrive(t!.config![disk]!).storage : undefined;
        } else {
          const d = this.detailOf.get(a.vmid);
          const value = d?.disk ?? d?.scsi0;
          storage = value ? parseDrive(value).storage : undefined;
        }
        if (storage) this.need(`/storage/${storage}`, ["Datastore.AllocateSpace"], why);
        return;
      }
      case "upload-iso": {
        this.storage(a.node, a.params.storage, "iso", why);
        this.need(`/storage/${a.params.storage}`, ["Datastore.AllocateTemplate"], why);
        this.need(`/storage/${a.params.storage}`, ["Datastore.Audit", "Datastore.AllocateSpace"], `${why} (lists the storage's ISOs)`, { any: true });
        return;
      }
      case "delete-iso": {
        const storage = /^([^:]+):/.exec(a.params.volume)?.[1];
        if (storage) this.need(`/storage/${storage}`, ["Datastore.Allocate"], why);
        return;
      }
      case "start":
      case "stop":
        this.need(vm, ["VM.Audit", "VM.PowerMgmt"], why);
        return;
      case "delete-vm":
        this.need(vm, ["VM.Audit", "VM.Allocate", "VM.PowerMgmt"], why);
        return;
      case "record-state":
      case "forget-state":
        return;
    }
  }

  // ---- cluster objects -----------------------------------------------------------------------

  /**
   * What cloning template `t` needs besides the new VM's path: AllocateSpace on every disk's storage
   * (the target's for a full clone), SDN.Use on its bridges; and a problem when it has no boot disk.
   */
  private templateCloneNeeds(t: TemplateFacts, config: Record<string, string>, full: boolean, storage: string): { path: string; privs: string[] }[] {
    const key = `${t.node}/${t.vmid}\0${full}\0${storage}`;
    let needs = this.cloneNeeds.get(key);
    if (needs) return needs;
    needs = [];
    for (const k of driveKeys(config)) {
      const d = parseDrive(config[k]!);
      if (d.media === "cdrom" || !d.storage) continue;
      needs.push({ path: `/storage/${full ? storage : d.storage}`, privs: ["Datastore.AllocateSpace"] });
    }
    for (const k of Object.keys(config).filter((x) => /^net\d+$/.test(x)).sort()) {
      const net = parseNet0(config[k]!);
      if (net.bridge) needs.push({ path: sdnPath(net.bridge, net.vlan), privs: ["SDN.Use"] });
    }
    if (!bootDiskOf(config)) {
      this.problem(`template ${t.vmid} on ${t.node} has no boot disk (no disk in its boot order, no scsi/virtio/sata/ide disk)`, `give the template a disk and a boot order (qm set ${t.vmid} --boot order=<disk>)`);
    }
    this.cloneNeeds.set(key, needs);
    return needs;
  }

  /**
   * The template a clone names, on the node it clones from (TemplateName: the chosen node); read
   * once per template reference and target node by {@link fetchObjects} (10,000 clones name a handful).
   */
  private async template(a: PreflightAction & { type: "clone" }): Promise<TemplateFacts | undefined> {
    const ref = a.params.template;
    const templates = this.templateVms;
    let found: { vmid: number; node: string } | undefined;
    if ("name" in ref) {
      const on = templates.filter((v) => v.name === ref.name && v.node === a.node);
      if (on.length === 0) {
        this.problem(`template "${ref.name}" not found on node ${a.node} (${a.instanceId} is placed there)`,
          `make the template on ${a.node} (or use template.vmid with shared storage); a token without VM.Audit on /vms/<template> does not see it`);
        return undefined;
      }
      if (on.length > 1) {
        this.problem(`template name "${ref.name}" is used by ${on.length} templates on node ${a.node} (${on.map((v) => v.vmid).join(", ")})`, "rename all but one, or use template.vmid");
        return undefined;
      }
      found = { vmid: on[0]!.vmid, node: a.node };
    } else {
      const t = templates.find((v) => v.vmid === ref.vmid);
      if (!t) {
        this.problem(`template VMID ${ref.vmid} does not exist in the cluster (or is not a template)`, "check template.vmid, or VM.Audit on /vms/<template>");
        return undefined;
      }
      found = { vmid: t.vmid, node: ref.node ?? t.node };
    }
    const key = `${found.node}/${found.vmid}`;
    let pending = this.templates.get(key);
    if (!pending) {
      pending = this.get<Record<string, unknown>>(apiPath`/nodes/${found.node}/qemu/${found.vmid}/config`).then(
        (cfg) => ({ vmid: found.vmid, node: found.node, config: stringConfig(cfg ?? {}) }),
        (e: unknown) => {
          if (isProxmoxError(e, "PERMISSION")) return { vmid: found.vmid, node: found.node }; // reported as a missing VM.Audit
          throw e;
        },
      );
      this.templates.set(key, pending);
    }
    const facts = await pending;
    const config = facts.config;
    if (config && found.node !== a.node) {
      // A TemplateVMID cloned to another node: every disk must be on shared storage (Qemu.pm:289-297).
      const storages = await this.storagesOf(found.node);
      const shared = (id: string) => storages?.some((x) => x.storage === id && Number(x.shared) === 1) ?? false;
      // CD-ROMs count too: an ISO or cloud-init drive on local storage pins the template to its node.
      const local = driveKeys(config).map((k) => parseDrive(config[k]!)).filter((d) => d.storage && !shared(d.storage));
      if (local.length > 0) {
        this.problem(`template ${found.vmid} lives on ${found.node} and its drive ${local[0]!.volume} is on local storage, so it cannot be cloned to ${a.node}`,
          "use TemplateName with a template on every node, or a template on shared storage");
      }
    }
    return facts;
  }

  /** The node's storages (one request per node). */
  private storagesOf(node: string): Promise<NodeStorage[] | undefined> {
    let pending = this.nodeStorages.get(node);
    if (!pending) {
      pending = this.get<NodeStorage[]>(apiPath`/nodes/${node}/storage`);
      this.nodeStorages.set(node, pending);
    }
    return pending;
  }

  /** The storage on the node, enabled, with the content type; `iso` also needs a path-based type. */
  private storage(node: string, id: string, content: "images" | "iso", why: string): void {
    const list = this.storagesNow.get(node);
    const s = list?.find((x) => x.storage === id);
    if (!s) {
      this.problem(`storage "${id}" does not exist on node ${node} (${why})`, `add it for ${node} in Datacenter → Storage (pvesm set ${id} --nodes …), or choose another storage`);
      return;
    }
    if (s.enabled === 0 || s.active === 0) this.problem(`storage "${id}" is not enabled and active on node ${node} (${why})`, `make it available on ${node} (pvesm set ${id} --disable 0; its --nodes, if set, must include ${node}), and check it is mounted there`);
    const contents = (s.content ?? "").split(",");
    if (!contents.includes(content)) {
      this.problem(`storage "${id}" on node ${node} does not allow ${content} content (${why})`, `pvesm set ${id} --content ${[...contents.filter((c) => c), content].join(",")}`);
    }
    if (content === "iso" && !PATH_BASED_STORAGE.has(s.type)) {
      this.problem(`storage "${id}" (type ${s.type}) cannot hold ISO files (${why})`, "set cloud_init_iso_storage to a path-based storage (dir, nfs, cifs, cephfs)");
    }
  }

  /** The node's bridges: Linux and OVS bridges, and its SDN VNets (`any_bridge`); one request per node. */
  private bridgesOf(node: string): Promise<Set<string> | undefined> {
    let pending = this.nodeBridges.get(node);
    if (!pending) {
      pending = this.get<{ iface: string }[]>(apiPath`/nodes/${node}/network`, { type: "any_bridge" }).then((l) => new Set((l ?? []).map((i) => i.iface)));
      this.nodeBridges.set(node, pending);
    }
    return pending;
  }

  private bridge(node: string, bridge: string, why: string): void {
    const bridges = this.bridgesNow.get(node);
    if (bridges && !bridges.has(bridge)) {
      this.problem(`bridge "${bridge}" does not exist on node ${node} (${why})`, `create ${bridge} on ${node} (System → Network), or change the group's bridge`);
    }
  }

  /** The cluster's pools (one request). */
  private poolList(): Promise<Set<string> | undefined> {
    this.pools ??= this.get<{ poolid: string }[]>("/pools").then((l) => new Set((l ?? []).map((p) => p.poolid)));
    return this.pools;
  }

  // ---- privileges ----------------------------------------------------------------------------

  private async privileges(newVmids: ReadonlySet<number>, poolOfNew: ReadonlyMap<number, string>): Promise<void> {
    if (this.needs.size === 0) return;
    const needs = [...this.needs.values()];
    const tree = (await this.get<Tree>("/access/permissions")) ?? {};
    const exact = new Map<string, Promise<Record<string, number | boolean>>>();
    const read = (path: string) => {
      let p = exact.get(path);
      if (!p) {
        p = this.get<Tree>("/access/permissions", { path }).then((t) => t?.[path] ?? {});
        exact.set(path, p);
      }
      return p;
    };
    const isVmPath = (path: string) => path.startsWith("/vms/") && /^\/vms\/\d+$/.test(path);
    // One unlisted VMID path stands for every unlisted one; a new VM cloned into a pool also gets
    // the pool's roles, without propagation (RPCEnvironment.pm:39-81).
    const unlisted = needs.find((n) => isVmPath(n.path) && !(n.path in tree))?.path;
    const poolOf = (path: string) => (isVmPath(path) && !(path in tree) && newVmids.has(Number(path.slice(5))) ? poolOfNew.get(Number(path.slice(5))) : undefined);
    // Every exact read the evaluation needs, at once (the client bounds the concurrency).
    const wanted = new Set<string>();
    for (const n of needs) {
      if (n.orPath) wanted.add(n.orPath);
      if (n.path in tree) continue;
      if (!isVmPath(n.path)) wanted.add(n.path);
      const pool = poolOf(n.path);
      if (pool) wanted.add(`/pool/${pool}`);
    }
    if (unlisted) wanted.add(unlisted);
    const answers = new Map<string, Record<string, number | boolean>>();
    await Promise.all([...wanted].map(async (path) => answers.set(path, await read(path))));
    const withPool = new Map<string, Record<string, number | boolean>>();
    const privsOf = (path: string): Record<string, number | boolean> => {
      if (path in tree) return tree[path]!;
      if (!isVmPath(path)) return answers.get(path)!;
      const base = answers.get(unlisted!)!;
      const pool = poolOf(path);
      if (!pool) return base;
      let merged = withPool.get(pool);
      if (!merged) withPool.set(pool, (merged = { ...answers.get(`/pool/${pool}`)!, ...base }));
      return merged;
    };
    const held = (privs: Record<string, number | boolean>, p: string) => privs[p] !== undefined;
    // Per path: every privilege it lacks, and the actions that need them.
    const missing = new Map<string, { path: string; privs: Set<string>; whys: Set<string> }>();
    let confirmed = 0;
    for (const n of needs) {
      const have = privsOf(n.path);
      const alt = n.orPath ? answers.get(n.orPath) : undefined;
      let lack = n.any ? (n.privs.some((p) => held(have, p)) ? [] : [n.privs.join("|")]) : n.privs.filter((p) => !held(have, p) && !(alt && held(alt, p)));
      if (lack.length > 0 && !(n.path in tree) && confirmed < CONFIRM_LIMIT && !exact.has(n.path)) {
        // Taken from another path's answer: confirm on the path itself before refusing.
        confirmed++;
        const own = await read(n.path);
        lack = lack.filter((p) => !p.split("|").some((q) => held(own, q)));
      }
      if (lack.length === 0) continue;
      const m = missing.get(n.path) ?? { path: n.path, privs: new Set<string>(), whys: new Set<string>() };
      for (const p of lack) m.privs.add(p);
      m.whys.add(n.why);
      missing.set(n.path, m);
    }
    this.reportMissing([...missing.values()]);
  }

  private reportMissing(missing: { path: string; privs: Set<string>; whys: Set<string> }[]): void {
    const token = this.client.tokenId;
    // Grouped by privilege and path family: 200 VMs lacking VM.Config.CDROM are one line.
    const groups = new Map<string, { privs: string; paths: string[]; whys: string[] }>();
    for (const m of missing) {
      const privs = [...m.privs].sort((a, b) => privilegeRank(a) - privilegeRank(b) || a.localeCompare(b)).join(", ");
      const family = familyOf(m.path);
      const g = groups.get(`${privs}\0${family}`) ?? { privs, paths: [], whys: [] };
      g.paths.push(m.path);
      g.whys.push(...m.whys);
      groups.set(`${privs}\0${family}`, g);
    }
    for (const g of groups.values()) {
      const paths = g.paths.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      const shown = paths.slice(0, 3).join(", ") + (paths.length > 3 ? ` and ${paths.length - 3} more` : "");
      const whys = [...new Set(g.whys)];
      const why = whys.slice(0, 2).join(", ") + (whys.length > 2 ? `, …` : "");
      this.problem(`API token ${token} lacks ${g.privs} on ${shown} (needed by ${why})`, fixFor(paths, g.privs, token));
    }
  }
}

/** A clone's template reference and target node: the key its template is looked up under. */
function templateKey(a: PreflightAction & { type: "clone" }): string {
  const ref = a.params.template;
  return `${"name" in ref ? `name:${ref.name}` : `vmid:${ref.vmid}@${ref.node ?? ""}`}>${a.node}`;
}

/** `/sdn/zones/localnetwork/<bridge>[/<tag>]`: where PVE checks SDN.Use for a NIC (GuestHelpers.pm:406-416). */
function sdnPath(bridge: string, vlan?: number): string {
  return vlan ? `/sdn/zones/localnetwork/${bridge}/${vlan}` : `/sdn/zones/localnetwork/${bridge}`;
}

/** The order privileges are listed in (the guide's table), unknown ones last. */
const PRIVILEGE_ORDER = ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.PowerMgmt", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Disk",
  "VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Config.Options", "Datastore.Audit", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "SDN.Use"];
function privilegeRank(p: string): number {
  const i = PRIVILEGE_ORDER.indexOf(p);
  return i < 0 ? PRIVILEGE_ORDER.length : i;
}

function familyOf(path: string): string {
  if (/^\/vms\/\d+$/.test(path)) return "/vms";
  return path;
}

/** The `pveum` command that grants what is missing, with the built-in role that carries it. */
function fixFor(paths: string[], privs: string, token: string): string {
  const first = paths[0]!;
  const [aclPath, role] = first.startsWith("/vms/")
    ? ["/vms", "PVEVMAdmin"]
    : first.startsWith("/storage/")
      ? [first, "PVEDatastoreAdmin"]
      : first.startsWith("/sdn/")
        ? [first.replace(/\/\d+$/, ""), "PVESDNUser"]
        : first.startsWith("/pool/")
          ? [first, "PVEVMAdmin"]
          : [first, "PVEAuditor"];
  const grant = `pveum acl modify ${aclPath} --tokens '${token}' --roles ${role}`;
  const role2 = privs.includes("Cloudinit") || privs.includes("CDROM") ? " (PVEVMAdmin carries VM.Config.CDROM and VM.Config.Cloudinit)" : "";
  return `${grant}${role2}; a privilege-separated token also needs it on its user (pveum acl modify ${aclPath} --users '${token.split("!")[0]}' --roles ${role})`;
}

function dedupe(problems: PreflightProblem[]): PreflightProblem[] {
  const byMessage = new Map<string, PreflightProblem>();
  for (const p of problems) if (!byMessage.has(p.message)) byMessage.set(p.message, p);
  return [...byMessage.values()];
}

function stringConfig(cfg: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

function detailConfig(d: VmDetail | undefined): Record<string, string | undefined> {
  return d ? { net0: d.net0, ide2: d.ide2, boot: d.boot } : {};
}
