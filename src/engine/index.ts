/**
 * The engine's procedures, above the areas and below any front end (the analogue of OpenTofu's
 * `backend/local`): open a shard (its file, its state store, its provider), refresh → the per-VM
 * reads the planner asks for → the pure planner, drift, the saved-plan re-plan, and the lock →
 * apply walk. `src/cli` parses flags and prints; the library API and its tests call these
 * directly. Nothing here prints or parses a command line.
 */
import type { DesiredShard } from "../config/model.js";
import { listShardIds, loadShardFile } from "../config/index.js";
import { isUserError, UserError } from "../errors.js";
import { apply, checkPlanFreshness, type ApplyEvent, type ApplyResult } from "../applier/index.js";
import { driftReport, isDrift, plan, vmsNeedingDetails, type InfoKind } from "../planner/index.js";
import { checkSameAsFresh, replanOptions, type SavedPlan } from "../planner/saved-plan.js";
import type { DetailPolicy, DetailRequest, DriftFinding, Plan, PlanOptions, PlanSelectors, RefreshPolicy, RefreshReport } from "../planner/types.js";
import { createProxmoxProvider } from "../providers/proxmox/index.js";
import { STATE_ONLY_ACTIONS, type Provider, type VmDetail } from "../providers/types.js";
import { openStateStore } from "../state/index.js";
import type { StorageKind } from "../state/storage-kinds.js";
import type { LeaseLock, StateDoc, StateStore } from "../state/types.js";

/** Where a shard file and its state live (a front end's global options). */
export interface ShardLocation {
  /** Shard file: a path, `s3://bucket/key` or `gs://bucket/key`; undefined = ./shard.jsonc, ./shard.hcl. */
  config?: string;
  /** One shard of a multi-shard file. */
  shard?: string;
  storage: StorageKind;
  bucket?: string;
  prefix: string;
  stateDir: string;
}

/** Everything one shard's procedures need. */
export interface ShardSession {
  desired: DesiredShard;
  store: StateStore;
  ops: Provider;
  /** Closes the provider's keep-alive connections (or the process would not exit). */
  close(): Promise<void>;
}

const isRemoteConfig = (config: string | undefined): boolean => /^(s3|gs):\/\//.test(config ?? "");

async function readRemoteConfig(url: string): Promise<Uint8Array> {
  const { readRemoteObject } = await import("../state/index.js");
  return readRemoteObject(url);
}

export async function loadDesired(at: ShardLocation, shard = at.shard): Promise<DesiredShard> {
  return loadShardFile(at.config, { shard, readRemote: isRemoteConfig(at.config) ? readRemoteConfig : undefined });
}

/** The shard IDs a file declares (for `--all-shards`). */
export async function shardIds(at: ShardLocation): Promise<string[]> {
  return listShardIds(at.config, { readRemote: isRemoteConfig(at.config) ? readRemoteConfig : undefined });
}

export async function openStore(at: ShardLocation, desired: Pick<DesiredShard, "clusterId" | "shardId">): Promise<StateStore> {
  return openStateStore({ storage: at.storage, stateDir: at.stateDir, bucket: at.bucket, prefix: at.prefix, clusterId: desired.clusterId, shardId: desired.shardId });
}

/** Opens the provider the shard file names (`shard.infra.provider`; Proxmox is the one there is). */
export function openProvider(desired: DesiredShard): Provider {
  const o = desired.provider.options;
  switch (desired.provider.kind) {
    case "proxmox":
      return createProxmoxProvider({
        clusterId: desired.clusterId, shardId: desired.shardId, insecureTls: o.insecureTls, vmidRange: o.vmidRange, shutdownTimeoutSec: o.shutdownTimeoutSec,
      });
  }
}

export async function openShard(at: ShardLocation, shard = at.shard): Promise<ShardSession> {
  const desired = await loadDesired(at, shard);
  const store = await openStore(at, desired);
  const provider = openProvider(desired);
  return { desired, store, ops: provider, close: () => provider.close() };
}

/** Runs `fn` with an opened shard and always closes it. */
export async function withShard<T>(at: ShardLocation, shard: string | undefined, fn: (s: ShardSession) => Promise<T>): Promise<T> {
  const session = await openShard(at, shard);
  try {
    return await fn(session);
  } finally {
    await session.close().catch(() => undefined);
  }
}

/**
 * `--all-shards`: `fn` for every shard the file declares, in order. A shard that fails with a
 * UserError is reported in its result and the others still run; a bug stops everything.
 */
export async function forEachShard<T>(
  at: ShardLocation,
  fn: (shardId: string) => Promise<T>,
  onError?: (shardId: string, line: string) => void,
): Promise<{ shard: string; value?: T; error?: string }[]> {
  const results: { shard: string; value?: T; error?: string }[] = [];
  for (const id of await shardIds(at)) {
    try {
      results.push({ shard: id, value: await fn(id) });
    } catch (e) {
      if (!isUserError(e)) throw e;
      results.push({ shard: id, error: e.line() });
      onError?.(id, e.line());
    }
  }
  return results;
}

/**
 * Plan selectors plus the refresh policy (`refresh`, default `full`; `deep` is the older spelling of
 * `full`). An explicit `detailPolicy` (a saved plan's) wins.
 */
export type EnginePlanOptions = PlanSelectors & { deep?: boolean; refresh?: RefreshPolicy };

/**
 * The planner's detail policy for a refresh policy (ARCHITECTURE.md rule 9: one for every command,
 * so whatever drift reports, plan shows and apply repairs). `listing` is still `touched`, never
 * `none`: right after an apply the listing lags (pvestatd, ~10 s) and would start a started VM again.
 */
export function detailPolicyOf(refresh: RefreshPolicy | undefined): DetailPolicy {
  return refresh === "listing" ? "touched" : "ours";
}

function refreshPolicyOf(policy: DetailPolicy): RefreshPolicy {
  return policy === "ours" ? "full" : "listing";
}

/** The listings, then the per-VM reads the planner asks for under `policy`; what it cost. */
async function refreshShard(s: Pick<ShardSession, "ops" | "desired">, doc: StateDoc | undefined, options: PlanOptions) {
  const live = await s.ops.refresh();
  const want = vmsNeedingDetails(s.desired, doc, live, options);
  const details = await readDetails(s.ops, want);
  const refresh: RefreshReport = {
    policy: refreshPolicyOf(options.detailPolicy ?? "none"),
    listings: live.storages ? 3 : 2,
    configReads: want.length,
    statusReads: want.filter((w) => w.status).length,
  };
  return { live, details, refresh };
}

/**
 * refresh → per-VM reads under the refresh policy → the pure planner → the provider's preflight of
 * the plan's actions (templates, storages, bridges, pools, privileges on PVE's paths); the plan
 * says what was read and what the preflight found missing (`preflightError` turns that into the
 * one grouped error a front end shows instead of the plan).
 */
export async function makePlan(s: Pick<ShardSession, "ops" | "desired">, doc: StateDoc | undefined, options: EnginePlanOptions = {}): Promise<Plan> {
  const { deep, refresh, ...rest } = options;
  const detailPolicy = rest.detailPolicy ?? (deep ? "ours" : detailPolicyOf(refresh));
  const full: PlanOptions = { ...rest, detailPolicy, hooks: s.ops.hooks };
  const read = await refreshShard(s, doc, full);
  const p: Plan = { ...plan(s.desired, doc, read.live, full, read.details), refresh: read.refresh };
  const clusterActions = p.actions.filter((a) => !STATE_ONLY_ACTIONS.includes(a.type));
  if (clusterActions.length > 0) p.preflight = await s.ops.checkPlan(clusterActions, { live: read.live, details: read.details ?? [] });
  return p;
}

/**
 * The plan's preflight as one error listing every missing thing with its fix (exit 1, nothing
 * created), or undefined when nothing is missing. Plan and apply throw it before showing a plan.
 */
export function preflightError(p: Pick<Plan, "preflight">): UserError | undefined {
  const problems = p.preflight?.problems ?? [];
  if (problems.length === 0) return undefined;
  const lines = problems.map((x) => `  - ${x.message}\n    fix: ${x.fix}`);
  return new UserError("E_PREFLIGHT", `preflight: the plan needs ${problems.length} thing${problems.length === 1 ? "" : "s"} the cluster or the API token lacks; nothing was created:\n${lines.join("\n")}`);
}

/** The reads the planner asked for: config for all, status/current too where it said `status`. */
export async function readDetails(ops: Pick<Provider, "details">, want: DetailRequest[]): Promise<VmDetail[] | undefined> {
  if (want.length === 0) return undefined;
  const withStatus = want.filter((w) => w.status).map(({ node, vmid }) => ({ node, vmid }));
  const configOnly = want.filter((w) => !w.status).map(({ node, vmid }) => ({ node, vmid }));
  const [a, b] = await Promise.all([
    withStatus.length ? ops.details(withStatus, { status: true }) : Promise.resolve([]),
    configOnly.length ? ops.details(configOnly) : Promise.resolve([]),
  ]);
  return [...a, ...b];
}

/** A drift check's result: the findings, how many VMs the shard manages, and what was read. */
export interface DriftResult {
  clusterId: string;
  shardId: string;
  findings: DriftFinding[];
  managed?: number;
  refresh?: RefreshReport;
  /** Information kinds counted as drift (`failOn` as given). */
  failOn?: InfoKind[];
  /** Findings the shard file's `drift.ignore` rules left out. */
  ignored?: number;
  /** No finding is drift under `failOn` (isDrift). */
  inSync: boolean;
}

/**
 * Drift under the same refresh policy as plan and apply (default `full`). Unmanaged and suspicious
 * VMs are information unless `failOn` names their kind.
 */
export async function makeDrift(
  s: Pick<ShardSession, "ops" | "desired">,
  doc: StateDoc | undefined,
  options: { refresh?: RefreshPolicy; failOn?: InfoKind[] } = {},
): Promise<DriftResult> {
  const read = await refreshShard(s, doc, { detailPolicy: detailPolicyOf(options.refresh), hooks: s.ops.hooks });
  const { findings, ignored } = driftReport(s.desired, doc, read.live, read.details, { hooks: s.ops.hooks });
  const failOn = [...(options.failOn ?? [])];
  return {
    clusterId: s.desired.clusterId, shardId: s.desired.shardId, findings, managed: doc ? Object.keys(doc.instances).length : 0, refresh: read.refresh,
    failOn, ignored, inSync: !findings.some((f) => isDrift(f, failOn)),
  };
}

/**
 * `apply FILE`, inside the lock: the saved plan against now — its cluster/shard, state lineage and
 * serial, the shard file's digest, each touched VM's config digest — then the plan made again
 * with the options the file recorded. Returns that fresh plan when it is the saved one in
 * everything that matters (checkSameAsFresh), so what runs was produced by the planner now and
 * nothing is executed from the file; refuses otherwise.
 */
export async function replanSavedPlan(s: Pick<ShardSession, "ops" | "desired">, saved: SavedPlan, doc: StateDoc | undefined): Promise<Plan> {
  await checkPlanFreshness(saved.plan, doc, s.desired, s.ops);
  const fresh = await makePlan(s, doc, replanOptions(saved.plan, saved.options));
  checkSameAsFresh(saved.plan, fresh);
  return fresh;
}

/** Applies a plan to the shard (taking the lock unless one is given). */
export async function applyPlan(
  s: ShardSession,
  p: Plan,
  o: { lock?: LeaseLock; lockTimeoutMs?: number; parallelism?: number; onEvent?: (e: ApplyEvent) => void; signal?: AbortSignal },
): Promise<ApplyResult> {
  return apply(p, { ops: s.ops, store: s.store, desired: s.desired, ...o });
}

/** Throws the plan's preflight error, if any (plan and apply call it before showing the plan). */
export function assertPreflight(p: Pick<Plan, "preflight">): void {
  const e = preflightError(p);
  if (e) throw e;
}
