/**
 * The desired shard: what the shard file asks for, fully resolved (merged, rendered, typed).
 * This is the contract between src/config (which produces it) and the planner (which consumes it).
 * Plain data only: JSON-serialisable, no class instances.
 */

/** A group is addressed by tenant and group key, printed as `tenant.group`. */
export interface GroupRef {
  tenant: string;
  group: string;
}

/** Userdata after merge and encoding rules; `content` is the raw text (templated per instance at create time). */
export interface UserdataSpec {
  source: "inline" | "url";
  encoding: "plain" | "base64" | "base64+gzip" | "gzip";
  content: string;
}

/**
 * One VM as the shard file wants it. Fields that force a replacement (the VM cannot be changed in place):
 * template, storage, userdata, kind, arch, diskBytes (shrink only; growth is in place), bridge, vlan, pool.
 * Fields changed in place: cores, memoryMiB, onboot, diskBytes (growth).
 */
export interface VmSpec {
  /** `TemplateName` (resolved per node) or `TemplateVMID`. */
  template: { name: string } | { vmid: number };
  kind: string; // 3 lowercase letters, the instance-ID prefix
  arch: "amd64" | "arm64";
  cores: number;
  memoryMiB: number;
  /** Absolute disk size for scsi0; undefined = keep the template's disk. */
  diskBytes?: number;
  storage: string; // StoragePool
  bridge?: string;
  vlan?: number;
  onboot: boolean;
  pool?: string; // Proxmox resource pool
  /** Userdata text before per-instance rendering (still holds {{ .Instance.ID }} etc.); undefined = none. */
  userdata?: UserdataSpec;
  /** Merged vars (flat), available to templates. */
  vars: Record<string, string>;
  instanceType?: string;
  subnetPool?: string;
  /** Merged args exactly as written (after rendering of non-instance templates), for display. */
  args: Record<string, unknown>;
}

export interface DesiredGroup {
  ref: GroupRef;
  templateName: string; // key in `templates`
  size: number;
  spec: VmSpec;
  /** sha256:<hex> over the fields that force replacement. */
  replaceHash: string;
  /** sha256:<hex> over the fields changed in place. */
  updateHash: string;
}

/** Provider options from `shard.infra.options`, with defaults applied. */
export interface ProxmoxOptions {
  insecureTls: boolean;
  cloudInitIsoStorage: string; // default "local"
  vmidRange: { min: number; max: number }; // default 10000–999999999
  scheduler: "nstance" | "pve-static";
  /** `group` (default): a new VM goes to a node holding the fewest of its group's instances (anti-affinity), then the scheduler decides; `none`: the scheduler alone. */
  placementSpread: "group" | "none";
  cloneConcurrencyPerStorage: number; // default 2
  /** Share of a node's memory that committed VM memory may reach before a plan fails (default 0.9). */
  memoryHeadroom: number;
  /**
   * vCPUs a node may be committed per CPU PVE reports for it (`maxcpu`) before a plan that adds
   * vCPUs there warns (default 4: a warning, never a failure).
   */
  cpuOvercommit: number;
  fullClone: boolean; // default true
  shutdownTimeoutSec: number; // default 60
  scaleDownOrder: "newest" | "oldest";
  maxSurge: number; // default 1
}

/** A `drift.ignore` rule: a VM name glob, a VMID, or a tag glob (`*` any run, `?` one character). */
export type DriftIgnoreRule = { name: string } | { vmid: number } | { tag: string };

export interface DesiredShard {
  /** Where the file came from (path or s3:// URL) and a sha256 of its bytes, for saved plans. */
  source: { location: string; digest: string };
  clusterId: string;
  shardId: string;
  provider: { kind: "proxmox"; region: string; zone: string; options: ProxmoxOptions };
  groups: DesiredGroup[]; // sorted by tenant, then group
  /** `drift.ignore` of the file (every shard of it); absent when the file has none. */
  drift?: { ignore: DriftIgnoreRule[] };
}

/** Data Go templates see when rendering userdata for one instance (Nstance's template data). */
export interface TemplateData {
  Instance: { ID: string; Kind: string; Arch: string; Type: string; Hostname: string };
  Vars: Record<string, string>;
  Cluster: { ID: string };
  Server: { Shard: string };
  Provider: { Kind: string; Region: string; Zone: string };
}
