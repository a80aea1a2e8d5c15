/**
 * The simulated cluster's shape: nodes, storages, bridges, templates, pre-populated VMs and the
 * token's privileges. Read from `--nodes N` or a JSON topology file (validated here, at the edge).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../errors.js";

export const NodeSpec = z.object({
  name: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/),
  cpus: z.number().int().positive().default(16),
  memoryGiB: z.number().positive().default(64),
  /** Host CPU load without any VM, as a fraction of all cores. */
  cpuUsage: z.number().min(0).max(1).default(0.05),
  /** Host memory in use without any VM. */
  memUsedGiB: z.number().min(0).default(4),
  online: z.boolean().default(true),
});
export type NodeSpec = z.infer<typeof NodeSpec>;

export const StorageSpec = z.object({
  id: z.string().regex(/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i),
  type: z.enum(["dir", "lvmthin", "lvm", "nfs", "cifs", "zfspool", "rbd"]),
  content: z.array(z.enum(["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"])),
  shared: z.boolean().default(false),
  sizeGiB: z.number().positive().default(500),
  /** Nodes the storage is available on; all nodes when omitted. */
  nodes: z.array(z.string()).optional(),
  path: z.string().optional(),
  /**
   * false (default true): the storage's server does not answer (an NFS/CIFS share gone, a disk not mounted): the
   * node's storage list shows it `active: 0`, and its content, upload and delete endpoints fail with
   * `storage '<id>' is not online` (pve-storage src/PVE/Storage.pm activate_storage, storage_info).
   */
  online: z.boolean().optional(),
});
export type StorageSpec = z.infer<typeof StorageSpec>;

export const DEFAULT_TEMPLATE_NET0 = "virtio,bridge=vmbr0,firewall=1";

export const TemplateSpec = z.object({
  vmid: z.number().int().min(100).max(999999999),
  node: z.string(),
  name: z.string().default("debian-13-template"),
  storage: z.string().default("local-lvm"),
  diskGiB: z.number().positive().default(2),
  cores: z.number().int().positive().default(2),
  memoryMiB: z.number().int().positive().default(2048),
  /**
   * The template's NIC as an operator made it. The default carries `firewall=1`, which the web
   * UI's NIC dialog ticks by default (pve-manager `www/manager6/qemu/NetworkEdit.js`:
   * `name: 'firewall', checked: me.insideWizard || me.isCreate`). A MAC is drawn when none is given.
   */
  net0: z.string().regex(/^[a-z0-9_-]+(=[0-9A-Fa-f:]*)?(,[a-z_]+=[^,=\s]+)*$/, "a net0 property string such as virtio,bridge=vmbr0,firewall=1").default(DEFAULT_TEMPLATE_NET0),
  /** The bus of the template's disk, first in its `boot: order=` (operators use virtio0 and sata0 too). */
  bootDisk: z.string().regex(/^(?:ide[0-3]|sata[0-5]|scsi(?:[0-9]|[12][0-9]|30)|virtio(?:[0-9]|1[0-5]))$/, "a disk such as scsi0, virtio0 or sata0").default("scsi0"),
  /**
   * PVE's own cloud-init drive on this slot (`<storage>:vm-<id>-cloudinit,media=cdrom`), as the web
   * UI's "Add → CloudInit Drive" makes it (often ide0: the wizard already put a CD-ROM on ide2).
   */
  cloudinitDrive: z.string().regex(/^(?:ide[0-3]|sata[0-5]|scsi(?:[0-9]|[12][0-9]|30))$/, "a drive slot such as ide0, ide2 or scsi1").optional(),
});
export type TemplateSpec = z.infer<typeof TemplateSpec>;

export const Topology = z.object({
  clusterName: z.string().default("pvefleet-sim"),
  nodes: z.array(NodeSpec).min(1),
  storages: z.array(StorageSpec),
  bridges: z.array(z.string()).default(["vmbr0", "vmbr1"]),
  templates: z.array(TemplateSpec).default([]),
  /** Pre-populated plain VMs (for benchmarks): `count` stopped/running VMs spread over the nodes. */
  vms: z.object({
    count: z.number().int().min(0).max(1_000_000),
    firstVmid: z.number().int().min(100).default(1000),
    namePrefix: z.string().default("vm"),
    tags: z.string().optional(),
    runningFraction: z.number().min(0).max(1).default(0.5),
  }).optional(),
  /**
   * The pve-manager version `/version` reports (default 8.4.1). Below 8.2, `status/stop` refuses
   * `overrule-shutdown` as an unknown parameter: it came with qemu-server 8.1.2 (commit 50b5893b,
   * debian/changelog 19 Apr 2024), first shipped with PVE 8.2.
   */
  pveVersion: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "a version such as 8.1.4").default("8.4.1"),
  /** Privileges removed from the token (to test a client's permission preflight): no role grants them. */
  dropPrivileges: z.array(z.string()).default([]),
  /**
   * The token's ACL (`pveum acl modify <path> --tokens <token> --roles <roles> --propagate 0|1`),
   * evaluated as PVE does (acl.ts). Default: Administrator on `/`, propagated.
   */
  acl: z.array(z.object({
    path: z.string().regex(/^\//, "an ACL path such as /vms"),
    roles: z.array(z.string()).min(1),
    propagate: z.boolean().default(true),
  }).strict()).default([{ path: "/", roles: ["Administrator"], propagate: true }]),
  /** Roles beyond PVE's built-in ones (`pveum role add <name> --privs …`). */
  roles: z.record(z.string(), z.array(z.string())).default({}),
  /** Resource pools (`pvesh create /pools`): their VMs and storages inherit the pool's ACL. */
  pools: z.array(z.object({ id: z.string().min(1), vms: z.array(z.number().int()).default([]), storage: z.array(z.string()).default([]) }).strict()).default([]),
  /**
   * Ignored (kept so older topology files load): the storage lock is exclusive and held only for a
   * volume allocation, as in PVE (locks.ts); `storageAllocMs` sets how long one takes.
   */
  cloneLimitPerStorage: z.number().int().positive().default(2),
  /** How long a volume allocation holds the storage's exclusive lock (default: the latency profile's, 1 s realistic). */
  storageAllocMs: z.number().nonnegative().optional(),
});
export type Topology = z.input<typeof Topology>;
export type ResolvedTopology = z.infer<typeof Topology>;

/** The default cluster: N nodes pve1..pveN with differing usage, local + local-lvm, templates 9000+i. */
/**
 * The default cluster. `operatorTemplates` adds, on the first node, templates as operators make
 * them: `debian-13-virtio` (9200, boot disk virtio0), `debian-13-sata` (9201, sata0) and
 * `debian-13-cloudinit` (9202, PVE's own cloud-init drive on ide0).
 */
export function defaultTopology(nodeCount = 3, opts: { sharedStorage?: boolean; operatorTemplates?: boolean } = {}): ResolvedTopology {
  const nodes = Array.from({ length: nodeCount }, (_, i) => ({
    name: `pve${i + 1}`,
    cpus: 16,
    memoryGiB: 64,
    cpuUsage: [0.06, 0.22, 0.12][i % 3]!,
    memUsedGiB: [6, 24, 12][i % 3]!,
    online: true,
  }));
  const storages: StorageSpec[] = [
    { id: "local", type: "dir", content: ["iso", "vztmpl", "backup", "snippets"], shared: false, sizeGiB: 100, path: "/var/lib/vz" },
    { id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"], shared: false, sizeGiB: 800 },
  ];
  const templates: z.input<typeof TemplateSpec>[] = nodes.map((n, i) => ({
    vmid: 9000 + i, node: n.name, name: "debian-13-template", storage: "local-lvm", diskGiB: 2, cores: 2, memoryMiB: 2048, net0: DEFAULT_TEMPLATE_NET0,
  }));
  if (opts.sharedStorage) {
    storages.push({ id: "shared", type: "nfs", content: ["images", "iso"], shared: true, sizeGiB: 4000, path: "/mnt/pve/shared" });
    templates.push({ vmid: 9100, node: nodes[0]!.name, name: "debian-13-shared", storage: "shared", diskGiB: 2, cores: 2, memoryMiB: 2048, net0: DEFAULT_TEMPLATE_NET0 });
  }
  if (opts.operatorTemplates) {
    const base = { node: nodes[0]!.name, storage: "local-lvm", diskGiB: 2, cores: 2, memoryMiB: 2048, net0: DEFAULT_TEMPLATE_NET0 };
    templates.push(
      { ...base, vmid: 9200, name: "debian-13-virtio", bootDisk: "virtio0" },
      { ...base, vmid: 9201, name: "debian-13-sata", bootDisk: "sata0" },
      { ...base, vmid: 9202, name: "debian-13-cloudinit", bootDisk: "scsi0", cloudinitDrive: "ide0" },
    );
  }
  return Topology.parse({ nodes, storages, templates });
}

/** Reads a topology file; bad files are a UserError naming the first problem. */
export function readTopologyFile(file: string): ResolvedTopology {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError("E_TOPOLOGY", `${file}: cannot read topology: ${(e as Error).message}`);
  }
  return resolveTopology(raw, file);
}

export function resolveTopology(raw: unknown, where = "topology"): ResolvedTopology {
  const parsed = Topology.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError("E_TOPOLOGY", `${where}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const topo = parsed.data;
  const nodeNames = new Set(topo.nodes.map((n) => n.name));
  for (const t of topo.templates) {
    if (!nodeNames.has(t.node)) throw new UserError("E_TOPOLOGY", `${where}: template ${t.vmid}: unknown node '${t.node}'`);
    if (!topo.storages.some((s) => s.id === t.storage)) throw new UserError("E_TOPOLOGY", `${where}: template ${t.vmid}: unknown storage '${t.storage}'`);
    const bridge = /(?:^|,)bridge=([^,]+)/.exec(t.net0)?.[1];
    if (bridge !== undefined && !topo.bridges.includes(bridge)) throw new UserError("E_TOPOLOGY", `${where}: template ${t.vmid}: net0 names unknown bridge '${bridge}'`);
  }
  return topo;
}
