/**
 * From a parsed shard file (plain values plus a SourceMap) to a DesiredShard: key checks, schema,
 * shard selection, identifier rules, the merge of defaults → template → group, the guide mappings
 * (instance_type, subnet pools), strict Proxmox args, userdata rules and template checks, hashes.
 * Pure: no I/O. Every problem is collected with its place and thrown together as UserErrors.
 */
import type { DesiredGroup, DesiredShard, DriftIgnoreRule, ProxmoxOptions, TemplateData, UserdataSpec, VmSpec } from "./model.js";
import { ShardFile, ShardSkeleton, TemplateFile, GroupFile, ProxmoxArgs, PROXMOX_ARG_NAMES, issueMessage, type DriftIgnoreRuleFile, type OptionsFile, type UserdataFile } from "./schema.js";
import { checkKeys } from "./keys.js";
import { Problems } from "./problems.js";
import type { Path, SourceMap } from "./source-map.js";
import { identifierProblem } from "./identifiers.js";
import { didYouMean, nearest } from "./did-you-mean.js";
import { isPlainObject, mergeLayers, sortKeysDeep } from "./merge.js";
import { parseInstanceType, parseSize, type InstanceType } from "./size.js";
import { GoTemplateError, executeTemplate, fieldProblem, parseTemplate, walkFields, type TemplateNode } from "./go-template.js";
import { NSTANCE_ONLY_FIELDS, TEMPLATE_SHAPE, decodeUserdata, userdataProblems } from "./userdata.js";
import { resolveOptions } from "./options.js";
import { KIND_RE, encodeInstanceId } from "./instance-id.js";
import { hashOf } from "./hash.js";
import { MAX_SHARD_INSTANCES } from "./limits.js";

export interface ResolveOptions {
  /** Which shard of a multi-shard file (`--shard`). */
  shard?: string;
  source: { location: string; digest: string };
}

export interface ResolveResult {
  shard: DesiredShard;
  /** One-line notices, `file:line:col: path: message`. */
  notices: string[];
  /** Number of templates in the file (for the validate summary). */
  templateCount: number;
}

const SUBNET_RE = /^([A-Za-z][A-Za-z0-9_-]{0,15})(?:\.([0-9]+))?$/;
const ARCHES = ["amd64", "arm64"] as const;

/** The shard IDs a file defines (one for the single-shard form). Throws like resolveShard on a broken file. */
export function shardIdsOf(raw: unknown, map: SourceMap): string[] {
  const problems = new Problems(map);
  if (!isPlainObject(raw)) {
    problems.error([], "the shard file must hold a JSON object");
    problems.throwIfAny();
  }
  const file = raw as Record<string, unknown>;
  if (Array.isArray(file.shards)) return file.shards.map((s) => (isPlainObject(s) && typeof s.id === "string" ? s.id : "")).filter(Boolean);
  const shard = file.shard;
  if (isPlainObject(shard) && typeof shard.id === "string") return [shard.id];
  problems.error(["shard", "id"], "shard.id is required");
  problems.throwIfAny();
  return [];
}

export function resolveShard(raw: unknown, map: SourceMap, opts: ResolveOptions): ResolveResult {
  const p = new Problems(map);
  if (!isPlainObject(raw)) {
    p.error([], "the shard file must hold a JSON object");
    p.throwIfAny();
  }
  checkKeys(raw, (path, message, severity) => (severity === "error" ? p.error(path, message, { key: true }) : p.notice(path, message, { key: true })));
  // The skeleton first, then each template and group on its own: a broken entry is reported and
  // left out, so the semantic checks of every other entry still run and all problems come at once.
  const parsed = ShardSkeleton.safeParse(raw, { reportInput: true });
  const schemaError = (issue: { path: PropertyKey[] } & Parameters<typeof issueMessage>[0], prefix: Path = []) =>
    p.error([...prefix, ...(issue.path as Path)], issueMessage(issue), { code: "E_SCHEMA" });
  if (!parsed.success) for (const issue of parsed.error.issues) schemaError(issue);
  const rawFile = raw as Record<string, unknown>;
  const rawTemplates = isPlainObject(rawFile.templates) ? rawFile.templates : {};
  const templates: Record<string, TemplateFile> = {};
  for (const [name, t] of Object.entries(rawTemplates)) {
    const r = TemplateFile.safeParse(t, { reportInput: true });
    if (r.success) templates[name] = r.data;
    else for (const issue of r.error.issues) schemaError(issue, ["templates", name]);
  }
  const groupsIn: Record<string, Record<string, GroupFile>> = {};
  if (isPlainObject(rawFile.groups)) {
    for (const [tenant, byName] of Object.entries(rawFile.groups)) {
      if (!isPlainObject(byName)) continue;
      groupsIn[tenant] = {};
      for (const [name, g] of Object.entries(byName)) {
        const r = GroupFile.safeParse(g, { reportInput: true });
        if (r.success) groupsIn[tenant][name] = r.data;
        else for (const issue of r.error.issues) schemaError(issue, ["groups", tenant, name]);
      }
    }
  }
  if (!parsed.success) p.throwIfAny();
  const file: ShardFile = { ...parsed.data!, templates, groups: groupsIn };
  const brokenTemplates = new Set(Object.keys(rawTemplates).filter((n) => !templates[n]));

  // ---- cluster and shard
  const clusterId = file.cluster.id;
  idCheck(p, ["cluster", "id"], "cluster ID", clusterId);
  const sel = selectShard(p, file, opts.shard);
  const optionProblems: [string, string][] = [];
  const options = resolveOptions(sel.options, optionProblems);
  for (const [key, message] of optionProblems) p.error([...sel.optionsPath, key], message);

  // ---- subnet pools: poolId → { bridge, vlan }
  const pools = new Map<string, { bridge: string; vlan?: number }>();
  const subnetOwner = new Map<string, string>();
  for (const [poolId, subnets] of Object.entries(file.shard?.subnet_pools ?? {})) {
    const path: Path = ["shard", "subnet_pools", poolId];
    idCheck(p, path, "subnet pool", poolId, true);
    if (subnets.length === 0) p.error(path, `subnet pool ID ${JSON.stringify(poolId)} has no associated subnet IDs`);
    subnets.forEach((subnet, i) => {
      const owner = subnetOwner.get(subnet);
      if (owner !== undefined && owner !== poolId) p.error([...path, i], `subnet ID ${JSON.stringify(subnet)} is already in subnet pool ${JSON.stringify(owner)}`);
      subnetOwner.set(subnet, poolId);
      const m = SUBNET_RE.exec(subnet);
      const vlan = m?.[2] !== undefined ? Number(m[2]) : undefined;
      if (!m || (vlan !== undefined && (vlan < 1 || vlan > 4094))) {
        p.error([...path, i], `subnet ID ${JSON.stringify(subnet)} must be a bridge (vmbr0) or bridge.vlan with a VLAN of 1–4094 (vmbr0.100)`);
      } else if (i === 0) pools.set(poolId, { bridge: m[1]!, vlan });
    });
    if (subnets.length > 1) p.notice(path, `pvefleet places every VM of this pool on its first subnet (${subnets[0]}); the others are not used`);
  }
  const poolCheck = (path: Path, pool: string | undefined) => {
    if (pool === undefined || pool === "" || pools.has(pool) || file.shard?.subnet_pools?.[pool]) return;
    p.error(path, `subnet pool ${JSON.stringify(pool)} is not defined in shard.subnet_pools${didYouMean(pool, Object.keys(file.shard?.subnet_pools ?? {}))}`);
  };

  // ---- userdata blocks and their templates (parsed once per block)
  const userdataTemplates = new Map<string, { nodes?: TemplateNode[]; path: Path }>();
  const checkUserdata = (u: UserdataFile | undefined, path: Path) => {
    if (!u) return;
    const issues = userdataProblems(u);
    for (const [key, message] of issues) p.error([...path, key], message);
    if (issues.length || (u.source ?? "inline") === "url") return;
    let text: string;
    try {
      text = decodeUserdata(u.content!, (u.encoding || "plain") as UserdataSpec["encoding"]);
    } catch (err) {
      p.error([...path, "content"], (err as Error).message);
      return;
    }
    const nodes = checkTemplate(p, [...path, "content"], text, u.encoding !== undefined && u.encoding !== "plain", "userdata");
    userdataTemplates.set(path.join("\u0000"), { nodes, path: [...path, "content"] });
  };
  checkUserdata(file.defaults?.userdata, ["defaults", "userdata"]);

  // ---- templates
  const templateTypes = new Map<string, InstanceType | undefined>();
  for (const [name, t] of Object.entries(file.templates)) {
    const path: Path = ["templates", name];
    if (!KIND_RE.test(t.kind)) p.error([...path, "kind"], `kind ${JSON.stringify(t.kind)} must be exactly 3 lowercase letters (it prefixes instance IDs)`);
    if (!(ARCHES as readonly string[]).includes(t.arch)) p.error([...path, "arch"], `arch ${JSON.stringify(t.arch)} must be "amd64" or "arm64"`);
    if (t.size !== undefined) p.notice([...path, "size"], "a template's size is not used; each group's size is its count", { key: true });
    poolCheck([...path, "subnet_pool"], t.subnet_pool);
    templateTypes.set(name, instanceTypeOf(p, [...path, "instance_type"], t.instance_type));
    checkUserdata(t.userdata, [...path, "userdata"]);
  }

  // ---- groups
  const groups: DesiredGroup[] = [];
  for (const [tenant, byName] of Object.entries(file.groups ?? {})) {
    idCheck(p, ["groups", tenant], "tenant ID", tenant, true);
    for (const [name, g] of Object.entries(byName)) {
      const path: Path = ["groups", tenant, name];
      idCheck(p, path, "group ID", name, true);
      const template = file.templates[g.template];
      if (brokenTemplates.has(g.template)) continue; // already reported
      if (!template) {
        p.error([...path, "template"], `template ${JSON.stringify(g.template)} is not defined${didYouMean(g.template, Object.keys(rawTemplates))}`);
        continue;
      }
      poolCheck([...path, "subnet_pool"], g.subnet_pool);
      const groupType = instanceTypeOf(p, [...path, "instance_type"], g.instance_type);
      const group = resolveGroup(p, {
        file, tenant, name, g, template, clusterId, shardId: sel.shardId, provider: sel.provider, pools,
        instanceType: g.instance_type ? groupType : templateTypes.get(g.template),
        userdataTemplates,
      });
      if (group) groups.push(group);
    }
  }
  const total = groups.reduce((sum, g) => sum + g.size, 0);
  if (total > MAX_SHARD_INSTANCES) {
    p.error(["groups"], `the groups ask for ${total} instances; one shard holds at most ${MAX_SHARD_INSTANCES} (split the fleet into shards)`, { key: true });
  }
  p.throwIfAny();
  groups.sort((a, b) => (a.ref.tenant < b.ref.tenant ? -1 : a.ref.tenant > b.ref.tenant ? 1 : a.ref.group < b.ref.group ? -1 : a.ref.group > b.ref.group ? 1 : 0));
  return {
    shard: {
      source: opts.source,
      clusterId,
      shardId: sel.shardId,
      provider: { kind: "proxmox", region: sel.provider.region, zone: sel.provider.zone, options },
      groups,
      ...(file.drift?.ignore?.length ? { drift: { ignore: file.drift.ignore.map(ignoreRule) } } : {}),
    },
    notices: p.notices,
    templateCount: Object.keys(rawTemplates).length,
  };
}

function ignoreRule(r: DriftIgnoreRuleFile): DriftIgnoreRule {
  if (r.name !== undefined) return { name: r.name };
  if (r.vmid !== undefined) return { vmid: r.vmid };
  return { tag: r.tag! };
}

function idCheck(p: Problems, path: Path, what: string, value: string, key = false): void {
  const problem = identifierProblem(what, value);
  if (problem) p.error(path, problem, { key });
}

function instanceTypeOf(p: Problems, path: Path, text: string | undefined): InstanceType | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    return parseInstanceType(text);
  } catch (err) {
    p.error(path, (err as Error).message);
    return undefined;
  }
}

interface Selected {
  shardId: string;
  provider: { region: string; zone: string };
  options: OptionsFile | undefined;
  optionsPath: Path;
}

function selectShard(p: Problems, file: ShardFile, wanted: string | undefined): Selected {
  const shared = file.shard;
  const sharedOptions = shared?.infra?.options;
  if (file.shards) {
    for (const key of ["id"] as const) if (shared?.[key] !== undefined) p.error(["shard", key], "cannot be combined with shards: set it in each shards entry", { key: true });
    for (const key of ["provider", "region", "zone"] as const) {
      if (shared?.infra?.[key] !== undefined) p.error(["shard", "infra", key], "cannot be combined with shards: set it in each shards entry's provider", { key: true });
    }
    const ids = file.shards.map((s) => s.id);
    file.shards.forEach((s, i) => {
      idCheck(p, ["shards", i, "id"], "shard ID", s.id);
      if (ids.indexOf(s.id) !== i) p.error(["shards", i, "id"], `shard ${JSON.stringify(s.id)} is defined twice`);
      if (s.provider.kind !== "proxmox") p.error(["shards", i, "provider", "kind"], `pvefleet drives Proxmox only: kind must be "proxmox", got ${JSON.stringify(s.provider.kind)}`);
      labelCheck(p, ["shards", i, "provider", "region"], "region", s.provider.region);
      labelCheck(p, ["shards", i, "provider", "zone"], "zone", s.provider.zone);
    });
    let index = 0;
    if (wanted !== undefined) {
      index = ids.indexOf(wanted);
      if (index < 0) {
        p.error(["shards"], `no shard ${JSON.stringify(wanted)} in this file (shards: ${ids.join(", ")})${didYouMean(wanted, ids)}`, { key: true });
        p.throwIfAny();
      }
    } else if (ids.length > 1) {
      p.error(["shards"], `the file defines ${ids.length} shards (${ids.join(", ")}); choose one with --shard`, { key: true });
      p.throwIfAny();
    }
    const entry = file.shards[index]!;
    const options = sharedOptions || entry.provider.options ? { ...sharedOptions, ...entry.provider.options } : undefined;
    return {
      shardId: entry.id,
      provider: { region: entry.provider.region, zone: entry.provider.zone },
      options,
      optionsPath: entry.provider.options ? ["shards", index, "provider", "options"] : ["shard", "infra", "options"],
    };
  }
  if (!shared) {
    p.error(["shard"], "shard is required (or a shards list)");
    p.throwIfAny();
  }
  const id = shared!.id;
  if (id === undefined) p.error(["shard", "id"], "shard.id is required");
  else idCheck(p, ["shard", "id"], "shard ID", id);
  const infra = shared!.infra;
  if (!infra) p.error(["shard", "infra"], "shard.infra is required (provider, region, zone)");
  else {
    if (infra.provider === undefined) p.error(["shard", "infra", "provider"], "provider kind is required");
    else if (infra.provider !== "proxmox") p.error(["shard", "infra", "provider"], `pvefleet drives Proxmox only: provider must be "proxmox", got ${JSON.stringify(infra.provider)}`);
    if (infra.region === undefined) p.error(["shard", "infra", "region"], "provider region is required");
    else labelCheck(p, ["shard", "infra", "region"], "region", infra.region);
    if (infra.zone === undefined) p.error(["shard", "infra", "zone"], "provider zone is required");
    else labelCheck(p, ["shard", "infra", "zone"], "zone", infra.zone);
  }
  if (wanted !== undefined && id !== undefined && wanted !== id) {
    p.error(["shard", "id"], `--shard ${wanted}: this file holds shard ${JSON.stringify(id)}`);
  }
  // Without these nothing below can be resolved; other problems are collected with the rest.
  if (id === undefined || infra?.region === undefined || infra.zone === undefined) p.throwIfAny();
  return { shardId: id!, provider: { region: infra!.region!, zone: infra!.zone! }, options: sharedOptions, optionsPath: ["shard", "infra", "options"] };
}

function labelCheck(p: Problems, path: Path, what: string, value: string): void {
  if (value === "") p.error(path, `provider ${what} is required`);
}

/**
 * Parses a template string and checks its fields; returns the nodes or undefined after reporting.
 * `encoded`: the text was decoded from base64, so offsets cannot be mapped into the file.
 */
function checkTemplate(p: Problems, path: Path, text: string, encoded: boolean, what: "userdata" | "args"): TemplateNode[] | undefined {
  if (!text.includes("{{")) return [{ t: "text", text }];
  const at = (offset: number) => (encoded ? undefined : p.map.locateInString(path, offset, text));
  const where = (offset: number) => {
    const lines = text.slice(0, offset).split("\n");
    return encoded ? ` (decoded line ${lines.length}, column ${lines[lines.length - 1]!.length + 1})` : "";
  };
  let nodes: TemplateNode[];
  try {
    nodes = parseTemplate(text, what); // Nstance names its templates "userdata" and "args"
  } catch (err) {
    if (!(err instanceof GoTemplateError)) throw err;
    p.error(path, `template: ${err.message}${where(err.offset)}`, { where: at(err.offset), code: "E_TEMPLATE" });
    return undefined;
  }
  let ok = true;
  walkFields(nodes, (fieldPath, offset) => {
    const problem = fieldProblem(TEMPLATE_SHAPE, fieldPath);
    if (problem) {
      p.error(path, `template: ${problem}${where(offset)}`, { where: at(offset), code: "E_TEMPLATE" });
      ok = false;
      return;
    }
    const dotted = fieldPath.join(".");
    if (what === "args" && (dotted === "Instance.ID" || dotted === "Instance.Hostname")) {
      p.error(path, `template: .${dotted} is per instance, but args are rendered once per group (use it in userdata)${where(offset)}`, { where: at(offset), code: "E_TEMPLATE" });
      ok = false;
      return;
    }
    const only = NSTANCE_ONLY_FIELDS.find((f) => dotted === f || dotted.startsWith(f + "."));
    if (only) p.notice(path, `.${dotted} is filled by an Nstance server; pvefleet has none, so it renders empty`, { where: at(offset) });
  });
  return ok ? nodes : undefined;
}

interface GroupInput {
  file: ShardFile;
  tenant: string;
  name: string;
  g: GroupFile;
  template: TemplateFile;
  clusterId: string;
  shardId: string;
  provider: { region: string; zone: string };
  pools: Map<string, { bridge: string; vlan?: number }>;
  instanceType: InstanceType | undefined;
  userdataTemplates: Map<string, { nodes?: TemplateNode[]; path: Path }>;
}

function hasPath(obj: unknown, path: string[]): boolean {
  let cur = obj;
  for (const k of path) {
    if (!isPlainObject(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return false;
    cur = cur[k];
  }
  return true;
}

function resolveGroup(p: Problems, x: GroupInput): DesiredGroup | undefined {
  const { file, tenant, name, g, template } = x;
  const groupPath: Path = ["groups", tenant, name];
  const templatePath: Path = ["templates", g.template];
  const before = p.errors.length;

  // Where a merged arg came from: the highest layer that sets it.
  const layers: [Path, Record<string, unknown> | undefined][] = [
    [[...groupPath, "args"], g.args],
    [[...templatePath, "args"], template.args],
    [["defaults", "args"], file.defaults?.args],
  ];
  const origin = (argPath: string[]): Path => {
    for (const [path, args] of layers) if (hasPath(args, argPath)) return [...path, ...argPath];
    return [...groupPath];
  };

  const vars: Record<string, string> = { ...file.defaults?.vars, ...template.vars, ...g.vars };
  const instanceType = g.instance_type || template.instance_type || undefined;
  const subnetPool = g.subnet_pool || template.subnet_pool || undefined;
  const data: TemplateData = {
    Instance: { ID: "", Kind: template.kind, Arch: template.arch, Type: instanceType ?? "", Hostname: "" },
    Vars: vars,
    Cluster: { ID: x.clusterId },
    Server: { Shard: x.shardId },
    Provider: { Kind: "proxmox", Region: x.provider.region, Zone: x.provider.zone },
  };

  // Args: deep merge, then render every string once per group. An arg whose template failed is
  // reported once, not again by the type checks below on its unrendered text.
  const failedArgs = new Set<string>();
  const render = (v: unknown, argPath: string[]): unknown => {
    if (typeof v === "string") {
      if (!v.includes("{{")) return v;
      const nodes = checkTemplate(p, origin(argPath), v, false, "args");
      if (!nodes) {
        failedArgs.add(argPath[0]!);
        return v;
      }
      try {
        return executeTemplate(nodes, data);
      } catch (err) {
        if (!(err instanceof GoTemplateError)) throw err;
        p.error(origin(argPath), `template: ${err.message}`, { where: p.map.locateInString(origin(argPath), err.offset, v), code: "E_TEMPLATE" });
        failedArgs.add(argPath[0]!);
        return v;
      }
    }
    if (Array.isArray(v)) return v.map((e, i) => render(e, [...argPath, String(i)]));
    if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, render(e, [...argPath, k])]));
    return v;
  };
  const args = render(mergeLayers(file.defaults?.args, template.args, g.args), []) as Record<string, unknown>;

  for (const key of Object.keys(args)) {
    if (!PROXMOX_ARG_NAMES.includes(key)) {
      p.notice(origin([key]), `unknown Proxmox arg ${JSON.stringify(key)} is not used${didYouMean(key, PROXMOX_ARG_NAMES)}`, { key: true });
    }
  }
  // Nstance treats an empty TemplateName / zero TemplateVMID / empty Pool as unset.
  const typed = { ...args };
  if (typed.TemplateName === "") delete typed.TemplateName;
  if (typed.TemplateVMID === 0) delete typed.TemplateVMID;
  if (typed.Pool === "") delete typed.Pool;
  const checked = ProxmoxArgs.safeParse(typed, { reportInput: true });
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const key = String(issue.path[0] ?? "");
      if (failedArgs.has(key)) continue;
      if (key === "StoragePool" && typed.StoragePool === undefined) {
        const near = nearest("StoragePool", Object.keys(args).filter((k) => !PROXMOX_ARG_NAMES.includes(k)));
        p.error(groupPath, `StoragePool is required in args for proxmox provider${near ? ` (found ${JSON.stringify(near)}: did you mean "StoragePool"?)` : ""}`);
      } else p.error(origin([key]), `args.${key} ${issueMessage(issue)}`, { code: "E_ARGS" });
    }
  }
  if (typed.TemplateName !== undefined && typed.TemplateVMID !== undefined) {
    p.error(groupPath, "TemplateVMID and TemplateName are mutually exclusive");
  } else if (typed.TemplateName === undefined && typed.TemplateVMID === undefined) {
    p.error(groupPath, "either TemplateVMID or TemplateName is required in args for proxmox provider");
  }
  let diskBytes: number | undefined;
  if (typeof typed.DiskSize === "string") {
    try {
      diskBytes = parseSize(typed.DiskSize);
    } catch (err) {
      p.error(origin(["DiskSize"]), `args.DiskSize: ${(err as Error).message}`, { code: "E_ARGS" });
    }
  }
  if (p.errors.length > before || !checked.success) return undefined;
  const a = checked.data;

  // Guide mappings: instance_type fills Cores/Memory/DiskSize, a subnet pool fills Bridge/VLANTag,
  // only where the merged args leave them unset.
  const it = x.instanceType;
  const cores = a.Cores ?? it?.cores;
  const memoryMiB = a.Memory ?? it?.memoryMiB;
  diskBytes ??= it?.diskBytes;
  if (cores === undefined) p.error(groupPath, "Cores is not set: set args.Cores or an instance_type such as \"cpu:2,memory:2048\"");
  if (memoryMiB === undefined) p.error(groupPath, "Memory is not set: set args.Memory (MiB) or an instance_type such as \"cpu:2,memory:2048\"");
  let bridge = a.Bridge;
  let vlan = a.VLANTag;
  if (bridge === undefined && vlan === undefined && subnetPool) {
    const pool = x.pools.get(subnetPool);
    bridge = pool?.bridge;
    vlan = pool?.vlan;
  }
  if (vlan !== undefined && bridge === undefined) p.error(origin(["VLANTag"]), "args.VLANTag needs a Bridge (args.Bridge or a subnet pool)");

  const userdataFile = template.userdata ?? file.defaults?.userdata;
  const userdataPath: Path = template.userdata ? [...templatePath, "userdata"] : ["defaults", "userdata"];
  let userdata: UserdataSpec | undefined;
  if (userdataFile) {
    userdata = {
      source: (userdataFile.source || "inline") as UserdataSpec["source"],
      encoding: (userdataFile.encoding || "plain") as UserdataSpec["encoding"],
      content: userdataFile.content ?? "",
    };
    // A trial render with this group's data catches execution errors (e.g. comparing a string with a number).
    const parsed = x.userdataTemplates.get(userdataPath.join("\u0000"));
    if (parsed?.nodes) {
      try {
        executeTemplate(parsed.nodes, { ...data, Instance: { ...data.Instance, ID: encodeInstanceId(KIND_RE.test(template.kind) ? template.kind : "xxx", new Uint8Array(16)), Hostname: "" } });
      } catch (err) {
        if (!(err instanceof GoTemplateError)) throw err;
        p.error(parsed.path, `template: ${err.message} (for group ${tenant}.${name})`, { where: userdata.encoding === "plain" ? p.map.locateInString(parsed.path, err.offset, userdata.content) : undefined, code: "E_TEMPLATE" });
      }
    }
  }
  if (p.errors.length > before) return undefined;

  const spec: VmSpec = {
    template: a.TemplateName !== undefined ? { name: a.TemplateName } : { vmid: a.TemplateVMID! },
    kind: template.kind,
    arch: template.arch as VmSpec["arch"],
    cores: cores!,
    memoryMiB: memoryMiB!,
    diskBytes,
    storage: a.StoragePool,
    bridge,
    vlan,
    onboot: a.StartOnBoot ?? false,
    pool: a.Pool,
    userdata,
    vars: sortKeysDeep(vars),
    instanceType,
    subnetPool,
    args: sortKeysDeep(args),
  };
  for (const k of Object.keys(spec) as (keyof VmSpec)[]) if (spec[k] === undefined) delete spec[k];
  return { ref: { tenant, group: name }, templateName: g.template, size: g.size ?? 0, spec, ...hashes(spec) };
}

/**
 * replaceHash covers what cannot change on a running VM: template, kind, arch, storage, bridge,
 * vlan, pool, userdata (and vars when there is userdata, since they render into it).
 * updateHash covers what Proxmox changes in place: cores, memoryMiB, diskBytes (growth; the
 * planner replaces on shrink), onboot.
 */
export function hashes(spec: VmSpec): { replaceHash: string; updateHash: string } {
  return {
    replaceHash: hashOf({
      template: spec.template, kind: spec.kind, arch: spec.arch, storage: spec.storage, bridge: spec.bridge ?? null,
      vlan: spec.vlan ?? null, pool: spec.pool ?? null, userdata: spec.userdata ?? null, vars: spec.userdata ? spec.vars : null,
    }),
    updateHash: hashOf({ cores: spec.cores, memoryMiB: spec.memoryMiB, diskBytes: spec.diskBytes ?? null, onboot: spec.onboot }),
  };
}

export type { ProxmoxOptions };
