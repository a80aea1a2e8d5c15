/**
 * Which keys a shard file may hold where. Known keys are the schema's; keys only a long-running
 * Nstance server uses are accepted and ignored; keys that would change behaviour but cannot work
 * on Proxmox get a one-line notice; anything else is an error with a "did you mean".
 */
import { DriftFile, DriftIgnoreRuleShape, GroupFile, InfraFile, OptionsFile, ShardBlockFile, ShardEntryFile, ShardFile, TemplateFile, UserdataFile } from "./schema.js";
import { didYouMean } from "./did-you-mean.js";
import { isPlainObject } from "./merge.js";
import type { Path } from "./source-map.js";

interface Rules {
  known: string[];
  ignored?: string[];
  notices?: Record<string, string>;
}

const SPOT = "Proxmox has no spot instances; ignored";
const RULES: Record<string, Rules> = {
  top: {
    known: Object.keys(ShardFile.shape),
    ignored: ["$schema", "images", "certificates", "server", "tunnels"],
    notices: {
      load_balancers: "load balancers cannot work on Proxmox (it has no load balancer API); ignored",
      nat: "NAT is not implemented for Proxmox; ignored",
    },
  },
  cluster: { known: ["id"], ignored: ["storage", "secrets", "leader_election"] },
  shard: {
    known: Object.keys(ShardBlockFile.shape),
    ignored: [
      "bind", "advertise", "request_timeout", "health_check_interval", "default_drain_timeout", "image_refresh_interval",
      "shutdown_timeout", "garbage_collection", "leader_election", "error_exit_jitter", "dynamic_subnet_pools",
    ],
    notices: {
      leader_network: "leader_network (a floating leader IP) cannot work on Proxmox; ignored",
      expiry: "instance expiry is not implemented by pvefleet; ignored (use --replace to renew instances)",
      create_rate_limit: "create_rate_limit is not used; options.clone_concurrency_per_storage bounds concurrent clones",
    },
  },
  infra: { known: Object.keys(InfraFile.shape) },
  options: { known: Object.keys(OptionsFile.shape) },
  shardEntry: { known: Object.keys(ShardEntryFile.shape) },
  provider: { known: ["kind", "region", "zone", "options"] },
  defaults: { known: ["args", "vars", "userdata"] },
  drift: { known: Object.keys(DriftFile.shape) },
  driftIgnore: { known: Object.keys(DriftIgnoreRuleShape) },
  userdata: { known: Object.keys(UserdataFile.shape) },
  template: {
    known: Object.keys(TemplateFile.shape),
    ignored: ["files"],
    notices: { spot: SPOT, spot_options: SPOT },
  },
  group: {
    known: Object.keys(GroupFile.shape),
    notices: {
      load_balancers: "load balancers cannot work on Proxmox (it has no load balancer API); ignored",
      drain_timeout: "pvefleet does not drain instances (there is no agent); ignored",
      spot: SPOT,
      spot_options: SPOT,
    },
  },
};

export type KeyReport = (path: Path, message: string, severity: "error" | "notice") => void;

function check(value: unknown, rulesName: string, path: Path, report: KeyReport): void {
  if (!isPlainObject(value)) return;
  const rules = RULES[rulesName]!;
  for (const key of Object.keys(value)) {
    if (rules.known.includes(key) || rules.ignored?.includes(key)) continue;
    const notice = rules.notices?.[key];
    const v = value[key];
    const empty = v === null || v === false || v === "" || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0);
    if (notice && empty) continue; // an empty setting changes nothing, so there is nothing to warn about
    if (notice) report([...path, key], notice, "notice");
    else report([...path, key], `unknown key ${JSON.stringify(key)}${didYouMean(key, [...rules.known, ...(rules.ignored ?? [])])}`, "error");
  }
}

/** Reports unknown and noticed keys everywhere in a raw shard file. */
export function checkKeys(file: unknown, report: KeyReport): void {
  if (!isPlainObject(file)) return;
  check(file, "top", [], report);
  check(file.cluster, "cluster", ["cluster"], report);
  const shard = file.shard;
  check(shard, "shard", ["shard"], report);
  if (isPlainObject(shard)) {
    check(shard.infra, "infra", ["shard", "infra"], report);
    if (isPlainObject(shard.infra)) check(shard.infra.options, "options", ["shard", "infra", "options"], report);
  }
  if (Array.isArray(file.shards)) {
    file.shards.forEach((entry, i) => {
      check(entry, "shardEntry", ["shards", i], report);
      if (isPlainObject(entry)) {
        check(entry.provider, "provider", ["shards", i, "provider"], report);
        if (isPlainObject(entry.provider)) check(entry.provider.options, "options", ["shards", i, "provider", "options"], report);
      }
    });
  }
  check(file.drift, "drift", ["drift"], report);
  if (isPlainObject(file.drift) && Array.isArray(file.drift.ignore)) {
    file.drift.ignore.forEach((rule, i) => check(rule, "driftIgnore", ["drift", "ignore", i], report));
  }
  check(file.defaults, "defaults", ["defaults"], report);
  if (isPlainObject(file.defaults)) check(file.defaults.userdata, "userdata", ["defaults", "userdata"], report);
  if (isPlainObject(file.templates)) {
    for (const [name, t] of Object.entries(file.templates)) {
      check(t, "template", ["templates", name], report);
      if (isPlainObject(t)) check(t.userdata, "userdata", ["templates", name, "userdata"], report);
    }
  }
  if (isPlainObject(file.groups)) {
    for (const [tenant, groups] of Object.entries(file.groups)) {
      if (!isPlainObject(groups)) continue;
      for (const [name, g] of Object.entries(groups)) check(g, "group", ["groups", tenant, name], report);
    }
  }
}
