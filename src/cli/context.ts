/**
 * Shared plumbing of the plan/apply/drift/show/destroy commands: global options → a loaded shard,
 * an opened state store and a Proxmox provider; the plan and drift procedures (refresh → details →
 * pure planner); output helpers (colour, formats); the confirmation prompt. This file is the one
 * seam between the CLI and the other areas' entry points, so a signature change there is a
 * one-file change here.
 */
import { createInterface } from "node:readline";
import { writeFile, rename } from "node:fs/promises";
import { UserError } from "../errors.js";
import type { DesiredShard } from "../config/model.js";
import type { Plan, PlanSelectors } from "../planner/types.js";
import type { Provider, VmDetail } from "../providers/types.js";
import type { StateDoc, StateStore } from "../state/types.js";
import type { StorageKind } from "../state/storage-kinds.js";
import { colorWanted } from "./render/ansi.js";
import type { DriftReport } from "./render/text.js";
import type { Opts } from "./main.js";
import type { ApplyEvent } from "../applier/events.js";
import { apply, checkPlanFreshness, installSignalHandlers, type ApplyResult } from "../applier/index.js";
import { drift, plan, vmsNeedingDetails } from "../planner/index.js";
import { checkSameAsFresh, readSavedPlan, replanOptions, serializePlan, type SavedPlan } from "../planner/saved-plan.js";
import type { DetailRequest, PlanOptions as PlannerOptions } from "../planner/types.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../providers/proxmox/index.js";
import { openStateStore } from "../state/index.js";
import { listShardIds, loadShardFile } from "../config/index.js";
import type { LeaseLock } from "../state/types.js";
import { MAX_PLAN_FILE_BYTES, readJsonInput } from "./files.js";

export interface GlobalOptions {
  config?: string;
  shard?: string;
  storage: StorageKind;
  bucket?: string;
  prefix: string;
  stateDir: string;
  format: "text" | "markdown" | "json";
  color: boolean;
}

export function globals(opts: Opts): GlobalOptions {
  return {
    config: opts.config as string | undefined,
    shard: opts.shard as string | undefined,
    storage: ((opts.storage as string | undefined) ?? "file") as StorageKind,
    bucket: opts.bucket as string | undefined,
    prefix: (opts.prefix as string | undefined) ?? "",
    stateDir: (opts.stateDir as string | undefined) ?? "./.pvefleet",
    format: ((opts.format as string | undefined) ?? "text") as GlobalOptions["format"],
    // commander turns --no-color into color:false; NO_COLOR and non-TTY turn it off too.
    color: opts.color !== false && colorWanted(process.stdout),
  };
}

export function out(s: string): void {
  process.stdout.write(s);
}

export function err(s: string): void {
  process.stderr.write(s);
}

/** Everything a command needs for one shard. */
export interface ShardContext {
  desired: DesiredShard;
  store: StateStore;
  ops: Provider;
  /** Closes the provider's keep-alive connections (or the process would not exit). */
  close(): Promise<void>;
}

/** `-c` default: ./shard.jsonc, then ./shard.hcl (the loader decides; we pass what was given). */
export async function loadDesired(g: GlobalOptions, shard = g.shard): Promise<DesiredShard> {
  return loadShardFile(g.config, { shard, readRemote: isRemoteConfig(g.config) ? readRemoteConfig : undefined });
}

const isRemoteConfig = (config: string | undefined): boolean => /^(s3|gs):\/\//.test(config ?? "");

async function readRemoteConfig(url: string): Promise<Uint8Array> {
  const { readRemoteObject } = await import("../state/index.js");
  return readRemoteObject(url);
}

/** The shard IDs a file declares (for `--all-shards`). */
export async function shardIds(g: GlobalOptions): Promise<string[]> {
  return listShardIds(g.config, { readRemote: isRemoteConfig(g.config) ? readRemoteConfig : undefined });
}

export async function openStore(g: GlobalOptions, desired: Pick<DesiredShard, "clusterId" | "shardId">): Promise<StateStore> {
  return openStateStore({ storage: g.storage, stateDir: g.stateDir, bucket: g.bucket, prefix: g.prefix, clusterId: desired.clusterId, shardId: desired.shardId });
}

export async function openShard(g: GlobalOptions, shard = g.shard): Promise<ShardContext> {
  const desired = await loadDesired(g, shard);
  const store = await openStore(g, desired);
  const o = desired.provider.options;
  const provider: ProxmoxProvider = createProxmoxProvider({
    clusterId: desired.clusterId, shardId: desired.shardId, insecureTls: o.insecureTls, vmidRange: o.vmidRange, shutdownTimeoutSec: o.shutdownTimeoutSec,
  });
  return { desired, store, ops: provider, close: () => provider.close() };
}

/** Runs `fn` with an opened shard and always closes it. */
export async function withShard<T>(g: GlobalOptions, shard: string | undefined, fn: (ctx: ShardContext) => Promise<T>): Promise<T> {
  const ctx = await openShard(g, shard);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close().catch(() => undefined);
  }
}

/** The CLI's plan options: the planner's, plus `deep` (`--deep`: read every VM of the shard). */
export type CliPlanOptions = PlanSelectors & { deep?: boolean };

/**
 * refresh → per-VM reads where the planner needs them → the pure planner. The CLI never plans from
 * the listing alone: right after an apply it lags (pvestatd, ~10 s) and would start a started VM
 * again, so the policy is at least `touched` (a steady fleet still costs the two listings only);
 * `--deep` makes it `ours` (one or two calls per VM of the shard, for onboot and notes).
 */
export async function makePlan(ctx: Pick<ShardContext, "ops" | "desired">, doc: StateDoc | undefined, options: CliPlanOptions): Promise<Plan> {
  const live = await ctx.ops.refresh();
  const { deep, ...rest } = options;
  const detailPolicy = deep || rest.detailPolicy === "ours" ? "ours" : "touched";
  const full: PlannerOptions = { ...rest, detailPolicy, hooks: ctx.ops.hooks };
  const details = await readDetails(ctx.ops, vmsNeedingDetails(ctx.desired, doc, live, full));
  return plan(ctx.desired, doc, live, full, details);
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

export async function makeDrift(ctx: ShardContext, doc: StateDoc | undefined): Promise<DriftReport> {
  const live = await ctx.ops.refresh();
  const want = vmsNeedingDetails(ctx.desired, doc, live, { detailPolicy: "ours", hooks: ctx.ops.hooks });
  const details = await readDetails(ctx.ops, want);
  const findings = drift(ctx.desired, doc, live, details, { hooks: ctx.ops.hooks });
  return { clusterId: ctx.desired.clusterId, shardId: ctx.desired.shardId, findings, managed: doc ? Object.keys(doc.instances).length : 0 };
}

/**
 * `apply FILE`, inside the lock: the saved plan against now — its cluster/shard, state lineage and
 * serial, the shard file's digest, each touched VM's config digest — then the plan made again
 * with the options the file recorded. Returns that fresh plan when it is the saved one in
 * everything that matters (checkSameAsFresh), so what runs was produced by the planner now and
 * nothing is executed from the file; refuses otherwise.
 */
export async function replanSavedPlan(ctx: Pick<ShardContext, "ops" | "desired">, saved: SavedPlan, doc: StateDoc | undefined): Promise<Plan> {
  await checkPlanFreshness(saved.plan, doc, ctx.desired, ctx.ops);
  const fresh = await makePlan(ctx, doc, replanOptions(saved.plan, saved.options));
  checkSameAsFresh(saved.plan, fresh);
  return fresh;
}

/** apply() with SIGINT/SIGTERM handled the Terraform way (first: graceful stop; second: exit). */
export async function runApplier(ctx: ShardContext, p: Plan, o: { lock?: LeaseLock; lockTimeoutMs: number; parallelism: number; onEvent: (e: ApplyEvent) => void }): Promise<ApplyResult> {
  const signals = installSignalHandlers({ onInterrupt: (count, message) => { if (count === 2) err(`\n${message}\n`); } });
  try {
    return await apply(p, { ops: ctx.ops, store: ctx.store, desired: ctx.desired, lock: o.lock, lockTimeoutMs: o.lockTimeoutMs, parallelism: o.parallelism, onEvent: o.onEvent, signal: signals.signal });
  } finally {
    signals.dispose();
  }
}

/** Plan options from the command line's selectors. */
export function planOptions(opts: Opts, mode?: Plan["mode"]): CliPlanOptions {
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : []);
  return {
    mode: mode ?? (opts.destroy ? "destroy" : opts.refreshOnly ? "refresh-only" : "normal"),
    targets: list(opts.target),
    replace: list(opts.replace),
    adopt: opts.adopt === true,
    gc: opts.gc === true,
    ignoreCapacity: opts.ignoreCapacity === true,
    allowRestart: opts.allowRestart === true,
    deep: opts.deep === true,
    detailPolicy: opts.deep === true ? "ours" : "touched",
  };
}

/**
 * The operator's key for signed saved plans: `PVEFLEET_PLAN_KEY` (a CI secret given to the plan
 * and apply jobs only). Never written to a plan, a state or a log.
 */
export function planKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = env.PVEFLEET_PLAN_KEY;
  if (key === undefined || key === "") return undefined;
  if (key.length < 16) throw new UserError("E_PLAN_KEY", "PVEFLEET_PLAN_KEY is too short: use at least 16 characters (e.g. openssl rand -hex 32)");
  return key;
}

/** Writes a saved plan atomically (temp file + rename) so a crash never leaves half a plan. */
export async function savePlanFile(file: string, plan: Plan, options: PlanSelectors): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, serializePlan(plan, options, planKey()));
  await rename(tmp, file);
}

/**
 * Reads and verifies a saved plan. `forApply`: with PVEFLEET_PLAN_KEY set the plan must be signed
 * with it, and a signed plan is refused without the key; `show` verifies what it can.
 */
export async function readPlanFile(file: string, forApply = false): Promise<SavedPlan> {
  // A regular file of bounded size and nesting (files.ts): a FIFO or a 5,000-deep plan is one line.
  const text = await readJsonInput(file, { what: "plan file", maxBytes: MAX_PLAN_FILE_BYTES, code: "E_PLAN_FILE" });
  return readSavedPlan(text, file, { key: planKey(), strict: forApply });
}

/** "30s", "5m", "1h", "250ms", or a bare number of seconds. */
export function parseDuration(text: string | undefined, flag = "--lock-timeout"): number {
  if (text === undefined || text === "") return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UserError("E_DURATION", `${flag} "${text}" is not a duration (e.g. 30s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!);
}

export function parsePositiveInt(text: unknown, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError("E_FLAG", `${flag} must be a positive whole number, not "${String(text)}"`);
  return n;
}

/** Whether we may ask a question: a person at a terminal on both ends. */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** Terraform's confirmation: only the exact answer `yes` proceeds. */
export async function confirm(question: string, description: string): Promise<boolean> {
  out(`\n${question}\n  ${description.replace(/\n/g, "\n  ")}\n\n  Enter a value: `);
  const rl = createInterface({ input: process.stdin, terminal: false });
  const answer = await new Promise<string>((resolve) => {
    rl.once("line", resolve);
    rl.once("close", () => resolve(""));
  });
  rl.close();
  out("\n");
  return answer.trim() === "yes";
}
