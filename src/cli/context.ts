/**
 * Shared plumbing of the commands: global flags → the engine's ShardLocation (src/engine does the
 * opening, planning, drift and applying), plan selectors from flags, plan-file I/O, output helpers
 * (colour, formats), signals and the confirmation prompt. The CLI parses and prints; the procedures
 * are the engine's.
 */
import { createInterface } from "node:readline";
import { writeFile, rename } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { UserError } from "../errors.js";
import { REFRESH_POLICIES, type Plan, type PlanSelectors, type RefreshPolicy } from "../planner/types.js";
import type { StorageKind } from "../state/storage-kinds.js";
import { colorWanted } from "./render/ansi.js";
import type { Opts } from "./main.js";
import type { ApplyEvent } from "../applier/events.js";
import { installSignalHandlers, type ApplyResult } from "../applier/index.js";
import { readSavedPlan, serializePlan, type SavedPlan, type SavedPlanOptions } from "../planner/saved-plan.js";
import type { DesiredShard } from "../config/model.js";
import { readBoundedFile } from "../config/read-file.js";
import { MAX_SHARD_FILE_BYTES } from "../config/limits.js";
import type { LeaseLock } from "../state/types.js";
import { applyPlan, detailPolicyOf, type EnginePlanOptions, type ShardLocation, type ShardSession } from "../engine/index.js";
import { MAX_PLAN_FILE_BYTES, readJsonInput } from "./files.js";
import { given, outputFormat } from "./flags.js";

/** The global flags: where the shard lives (the engine's ShardLocation), and how to print. */
export interface GlobalOptions extends ShardLocation {
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
    format: outputFormat(opts),
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

/** Everything a command needs for one shard (the engine's session). */
export type ShardContext = ShardSession;

/** The CLI's plan options: the planner's selectors, plus the refresh policy. */
export type CliPlanOptions = EnginePlanOptions;

/** Each group's size in the shard file, for the text plan's "Groups:" table. */
export function groupSizes(desired: Pick<DesiredShard, "groups">): Map<string, number> {
  return new Map(desired.groups.map((g) => [`${g.ref.tenant}.${g.ref.group}`, g.size]));
}

export { forEachShard, loadDesired, makeDrift, makePlan, openShard, openStore, readDetails, replanSavedPlan, shardIds, withShard } from "../engine/index.js";

/** apply() with SIGINT/SIGTERM handled the Terraform way (first: graceful stop; second: exit). */
export async function runApplier(ctx: ShardContext, p: Plan, o: { lock?: LeaseLock; lockTimeoutMs: number; parallelism: number; onEvent: (e: ApplyEvent) => void }): Promise<ApplyResult> {
  const signals = installSignalHandlers({ onInterrupt: (count, message) => { if (count === 2) err(`\n${message}\n`); } });
  try {
    return await applyPlan(ctx, p, { ...o, signal: signals.signal });
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
    // Recorded in a saved plan, so `apply FILE` reads the cluster the way the plan did.
    detailPolicy: detailPolicyOf(refreshPolicy(opts)),
  };
}

/** `--refresh full|listing` (default full); `--deep` is the older spelling of `full`. */
export function refreshPolicy(opts: Opts): RefreshPolicy {
  const given = opts.refresh as string | undefined;
  if (given !== undefined && !(REFRESH_POLICIES as readonly string[]).includes(given)) {
    throw new UserError("E_FLAG", `--refresh ${given}: use full (every VM's config, the default) or listing (the two listings only)`);
  }
  if (opts.deep === true && given === "listing") throw new UserError("E_FLAG", "--deep and --refresh listing contradict each other: --deep is --refresh full");
  return (given as RefreshPolicy | undefined) ?? "full";
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

/** Where a saved plan was made from: enough for `apply FILE` to need nothing else (sealed in the file). */
export type PlanOrigin = NonNullable<SavedPlanOptions["origin"]>;

const isRemote = (location: string) => /^(s3|gs):\/\//.test(location);

/** The shard file (absolute, or its URL), the shard and the state location a plan is made with. */
export function planOrigin(g: ShardLocation, desired: Pick<DesiredShard, "source" | "shardId">): PlanOrigin {
  const loc = desired.source.location;
  const origin: PlanOrigin = { config: isRemote(loc) ? loc : path.resolve(loc), shard: desired.shardId, storage: g.storage };
  if (g.storage === "file") origin.stateDir = path.resolve(g.stateDir);
  else {
    if (g.bucket !== undefined) origin.bucket = g.bucket;
    origin.prefix = g.prefix;
  }
  return origin;
}

/** Writes a saved plan atomically (temp file + rename) so a crash never leaves half a plan. */
export async function savePlanFile(file: string, plan: Plan, options: PlanSelectors, origin?: PlanOrigin): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, serializePlan(plan, { ...options, origin }, planKey()));
  await rename(tmp, file);
}

/**
 * `apply FILE` as `terraform apply tfplan`: the shard file, the shard and the state location come
 * from the plan (each unless given on the command line or in the environment), so it runs from any
 * directory with only the credentials. Before any network work, a local shard file that is gone or
 * whose bytes no longer hash to the plan's digest is refused with one line; the checks inside the
 * lock (state, VM digests, the plan made again) still run.
 */
export async function savedPlanLocation(opts: Opts, g: GlobalOptions, saved: SavedPlan, file: string): Promise<GlobalOptions> {
  const origin = saved.options.origin;
  const at: GlobalOptions = { ...g };
  if (origin) {
    if (!given(opts, "config")) at.config = origin.config;
    if (!given(opts, "shard")) at.shard = origin.shard;
    if (!given(opts, "storage")) at.storage = origin.storage;
    if (!given(opts, "stateDir") && origin.stateDir !== undefined) at.stateDir = origin.stateDir;
    if (!given(opts, "bucket") && origin.bucket !== undefined) at.bucket = origin.bucket;
    if (!given(opts, "prefix") && origin.prefix !== undefined) at.prefix = origin.prefix;
  }
  if (at.config && !isRemote(at.config)) {
    const bytes = await readBoundedFile(at.config, { maxBytes: MAX_SHARD_FILE_BYTES, code: "E_PLAN_STALE", label: `cannot read the shard file ${at.config}` }).catch((e: unknown) => {
      if ((e as { cause?: { code?: string } })?.cause?.code === "ENOENT") {
        throw new UserError("E_PLAN_STALE", `Saved plan ${file} was made from the shard file ${at.config}, which is not there any more (moved or deleted): put it back, or pass -c FILE`);
      }
      throw e;
    });
    if (`sha256:${createHash("sha256").update(bytes).digest("hex")}` !== saved.plan.configDigest) {
      throw new UserError("E_PLAN_STALE", "Saved plan is stale: the shard file changed after the plan was created; run plan again.");
    }
  }
  return at;
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
