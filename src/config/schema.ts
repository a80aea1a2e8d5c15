/**
 * The shard file as written, in zod (the schema is the type). Objects are loose here: unknown keys
 * are reported by `keys.ts` with a "did you mean", and the typed meaning is given by `resolve.ts`.
 */
import * as z from "zod";
import { MAX_GROUP_SIZE } from "./limits.js";

const int = () => z.number().int();

export const UserdataFile = z.looseObject({
  source: z.string().optional(),
  encoding: z.string().optional(),
  content: z.string().optional(),
});
export type UserdataFile = z.infer<typeof UserdataFile>;

export const ArgsFile = z.record(z.string(), z.unknown());
export const VarsFile = z.record(z.string(), z.string());

export const TemplateFile = z.looseObject({
  kind: z.string(),
  arch: z.string(),
  args: ArgsFile.optional(),
  userdata: UserdataFile.optional(),
  size: int().min(0).optional(),
  instance_type: z.string().optional(),
  subnet_pool: z.string().optional(),
  vars: VarsFile.optional(),
});
export type TemplateFile = z.infer<typeof TemplateFile>;

export const GroupFile = z.looseObject({
  template: z.string(),
  size: int().min(0).max(MAX_GROUP_SIZE).optional(),
  instance_type: z.string().optional(),
  subnet_pool: z.string().optional(),
  vars: VarsFile.optional(),
  args: ArgsFile.optional(),
});
export type GroupFile = z.infer<typeof GroupFile>;

/** `shard.infra.options` for Proxmox; every key optional, defaults in `options.ts`. */
export const OptionsFile = z.looseObject({
  insecure_tls: z.boolean().optional(),
  cloud_init_iso_storage: z.string().min(1).optional(),
  vmid_range: z.looseObject({ min: int().min(100).max(999999999), max: int().min(100).max(999999999) }).optional(),
  scheduler: z.enum(["nstance", "pve-static"]).optional(),
  placement_spread: z.enum(["group", "none"]).optional(),
  clone_concurrency_per_storage: int().min(1).max(64).optional(),
  memory_headroom: z.number().gt(0).max(4).optional(),
  cpu_overcommit: z.number().gt(0).max(64).optional(),
  full_clone: z.boolean().optional(),
  shutdown_timeout: z.string().optional(),
  scale_down_order: z.enum(["newest", "oldest"]).optional(),
  max_surge: int().min(0).max(1000).optional(),
});
export type OptionsFile = z.infer<typeof OptionsFile>;

export const InfraFile = z.looseObject({
  provider: z.string(),
  region: z.string(),
  zone: z.string(),
  options: OptionsFile.optional(),
});

export const ShardBlockFile = z.looseObject({
  id: z.string().optional(),
  infra: z.looseObject({
    provider: z.string().optional(),
    region: z.string().optional(),
    zone: z.string().optional(),
    options: OptionsFile.optional(),
  }).optional(),
  subnet_pools: z.record(z.string(), z.array(z.string())).optional(),
});

export const ShardEntryFile = z.looseObject({
  id: z.string(),
  provider: z.looseObject({ kind: z.string(), region: z.string(), zone: z.string(), options: OptionsFile.optional() }),
});

/**
 * One `drift.ignore` rule: exactly one of a VM name glob (`*`, `?`), a VMID, or a tag glob. A VM
 * matching any rule has its drift findings left out (never what plan or apply do).
 */
export const DriftIgnoreRuleShape = {
  name: z.string().min(1).optional(),
  vmid: int().min(1).max(999999999).optional(),
  tag: z.string().min(1).optional(),
};
// Loose: an unknown key is reported by keys.ts with a "did you mean".
export const DriftIgnoreRuleFile = z.looseObject(DriftIgnoreRuleShape).refine((r) => [r.name, r.vmid, r.tag].filter((v) => v !== undefined).length === 1, { message: "set exactly one of name, vmid or tag" });
export type DriftIgnoreRuleFile = z.infer<typeof DriftIgnoreRuleFile>;

export const DriftFile = z.looseObject({
  ignore: z.array(DriftIgnoreRuleFile).max(1000).optional(),
});

export const ShardFile = z.looseObject({
  cluster: z.looseObject({ id: z.string() }),
  shard: ShardBlockFile.optional(),
  shards: z.array(ShardEntryFile).min(1).optional(),
  defaults: z.looseObject({ args: ArgsFile.optional(), vars: VarsFile.optional(), userdata: UserdataFile.optional() }).optional(),
  templates: z.record(z.string(), TemplateFile),
  groups: z.record(z.string(), z.record(z.string(), GroupFile)).optional(),
  drift: DriftFile.optional(),
});
export type ShardFile = z.infer<typeof ShardFile>;

/** The file without the per-entry schemas of templates and groups (those are checked one by one). */
export const ShardSkeleton = ShardFile.extend({
  templates: z.record(z.string(), z.unknown()),
  groups: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

/** Proxmox args with strict types (Nstance's args; wrong types are errors, not silently ignored). */
export const ProxmoxArgs = z.looseObject({
  StoragePool: z.string().min(1),
  TemplateName: z.string().optional(),
  TemplateVMID: int().min(100).max(999999999).optional(),
  Bridge: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/, "must be a bridge name such as vmbr0").optional(),
  VLANTag: int().min(1).max(4094).optional(),
  Cores: int().min(1).max(1024).optional(),
  Memory: int().min(16).describe("MiB").optional(),
  DiskSize: z.string().optional(),
  StartOnBoot: z.boolean().optional(),
  // PVE's `pve-poolid` (pve-access-control, PVE/AccessControl.pm verify_poolname, PVE 8): up to
  // three `/`-separated levels of [A-Za-z0-9._-]+.
  Pool: z.string().regex(/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+){0,2}$/, "must be a Proxmox pool ID: letters, digits, '.', '_', '-', up to three levels separated by '/'").optional(),
});
export type ProxmoxArgs = z.infer<typeof ProxmoxArgs>;
export const PROXMOX_ARG_NAMES = Object.keys(ProxmoxArgs.shape);

/** A zod issue as one clause: "expected number, got string "2"". */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const got = (v: unknown) => {
    if (v === undefined) return "nothing";
    const type = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
    const shown = type === "string" || type === "number" || type === "boolean" ? ` ${JSON.stringify(v)}` : "";
    return `${type === "object" ? "an object" : type === "array" ? "an array" : type}${shown}`;
  };
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      return input === undefined ? `is required (${issue.expected})` : `must be ${issue.expected === "object" ? "an object" : issue.expected === "array" ? "an array" : `a ${issue.expected}`}, got ${got(input)}`;
    case "too_small":
      return issue.origin === "array" ? `needs at least ${String(issue.minimum)} entries` : issue.origin === "string" ? `must not be empty` : `must be ${issue.inclusive ? "at least" : "more than"} ${String(issue.minimum)}, got ${got(input)}`;
    case "too_big":
      return `must be at most ${String(issue.maximum)}, got ${got(input)}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${got(input)}`;
    case "invalid_format":
      return `${issue.message}, got ${got(input)}`;
    default:
      return issue.message;
  }
}
