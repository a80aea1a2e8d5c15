/**
 * `pvefleet apply [PLANFILE]`: without a plan file, take the lock, plan inside it, show the plan,
 * ask (only `yes` proceeds) unless `--auto-approve`, then apply with a progress UI. With a plan
 * file: verify its seal (hash, and the MAC with PVEFLEET_PLAN_KEY), take the lock, run the stale
 * checks (shard, lineage, serial, shard file, VM digests), plan again with the file's options and
 * apply that fresh plan only when it matches the saved one (README: "Saved plans and tampering").
 * Exit 0 when everything applied, 1 otherwise. `destroy` is this flow with a destroy-mode plan.
 * A saved plan records its shard file (absolute), shard and state location, so `apply FILE`
 * needs nothing else, from any directory (context.ts savedPlanLocation).
 */
import type { Opts } from "../main.js";
import type { Plan } from "../../planner/types.js";
import type { LeaseLock } from "../../state/types.js";
import { UserError } from "../../errors.js";
import { assertPreflight } from "../../engine/index.js";
import {
  canPrompt, confirm, err, globals, groupSizes, makePlan, openShard, out, parseDuration, parsePositiveInt, planOptions,
  readPlanFile, replanSavedPlan, runApplier, savedPlanLocation, type ShardContext,
} from "../context.js";
import type { SavedPlan } from "../../planner/saved-plan.js";
import { renderPlanText } from "../render/text.js";
import { palette } from "../render/ansi.js";
import { createReporter, isCI } from "../ui/index.js";
import { noChangesSentence } from "../render/vocabulary.js";

export async function run(opts: Opts, planfile?: unknown): Promise<number> {
  return applyFlow(opts, typeof planfile === "string" ? planfile : undefined, undefined);
}

export async function applyFlow(opts: Opts, planfile: string | undefined, forcedMode: Plan["mode"] | undefined): Promise<number> {
  const g = globals(opts);
  const json = g.format === "json";
  const auto = opts.autoApprove === true;
  const parallelism = parsePositiveInt(opts.parallelism ?? "10", "--parallelism");
  const lockTimeoutMs = parseDuration(opts.lockTimeout as string | undefined);
  const destroyMode = forcedMode === "destroy";
  const verb = destroyMode ? "destroy" : "apply";

  // A saved plan is made again with the options it recorded; flags that would change it are a mistake.
  if (planfile) {
    const given = PLAN_SELECTORS.filter(([key]) => opts[key] !== undefined && opts[key] !== false && !(Array.isArray(opts[key]) && (opts[key] as unknown[]).length === 0));
    if (given.length > 0) {
      throw new UserError("E_FLAG", `${given.map(([, flag]) => flag).join(", ")} cannot be used with a saved plan: the plan file records the options it was made with`);
    }
  }
  // Decide before any network work: a run that cannot ask must say so, not hang on stdin.
  if (!planfile && !auto) {
    if (json) throw new UserError("E_APPROVE", `${verb} --json needs --auto-approve (or a saved plan file): there is no one to ask`);
    if (!canPrompt()) {
      throw new UserError("E_APPROVE", `${verb} needs confirmation but there is no terminal to ask on: pass --auto-approve, or save a plan with "pvefleet plan --out FILE" and run "pvefleet apply FILE"`);
    }
  }

  // The file's seal is verified first; it names the shard file and the state to open.
  const saved = planfile ? await readPlanFile(planfile, true) : undefined;
  const ctx = await openShard(saved ? await savedPlanLocation(opts, g, saved, planfile!) : g);
  try {
    return await applyWith(ctx, opts, saved, forcedMode, { json, auto, parallelism, lockTimeoutMs, destroyMode, verb });
  } finally {
    await ctx.close().catch(() => undefined);
  }
}

/** The plan selectors (commander keys and flags) that a saved plan already fixed. */
const PLAN_SELECTORS: readonly (readonly [string, string])[] = [
  ["target", "--target"], ["replace", "--replace"], ["refreshOnly", "--refresh-only"], ["destroy", "--destroy"], ["gc", "--gc"],
  ["adopt", "--adopt"], ["ignoreCapacity", "--ignore-capacity"], ["deep", "--deep"], ["refresh", "--refresh"], ["allowRestart", "--allow-restart"],
];

interface ApplySettings { json: boolean; auto: boolean; parallelism: number; lockTimeoutMs: number; destroyMode: boolean; verb: string }

async function applyWith(ctx: ShardContext, opts: Opts, saved: SavedPlan | undefined, forcedMode: Plan["mode"] | undefined, s: ApplySettings): Promise<number> {
  const g = globals(opts);
  const { json, auto, parallelism, lockTimeoutMs, destroyMode, verb } = s;
  let plan: Plan;
  let lock: LeaseLock | undefined;
  const p = palette(g.color && !json);
  try {
    const sizes = groupSizes(ctx.desired);
    if (saved) {
      lock = await ctx.store.lock(verb, { timeoutMs: lockTimeoutMs, onWait: (holder) => { if (!json) err(`Waiting for the state lock held by ${holder.who} (${holder.operation}, ID ${holder.id})…\n`); } });
      const current = await ctx.store.read();
      // What runs is the plan made now, inside the lock; the file only decides whether it runs.
      plan = await replanSavedPlan(ctx, saved, current?.doc);
      assertPreflight(plan); // every missing privilege/object in one error, before anything is shown
      if (!json) out(renderPlanText(plan, { color: g.color, sensitiveDiff: !isCI(), quietNote: true, groupSizes: sizes }));
    } else {
      lock = await ctx.store.lock(verb, { timeoutMs: lockTimeoutMs, onWait: (holder) => { if (!json) err(`Waiting for the state lock held by ${holder.who} (${holder.operation}, ID ${holder.id})…\n`); } });
      const current = await ctx.store.read();
      plan = await makePlan(ctx, current?.doc, planOptions(opts, forcedMode));
      assertPreflight(plan);
      if (!json) out(renderPlanText(plan, { color: g.color, sensitiveDiff: !isCI(), quietNote: true, groupSizes: sizes }));
      if (plan.changes.length > 0 && !auto) {
        const ok = destroyMode
          ? await confirm("Do you really want to destroy all VMs of this shard?", "pvefleet will destroy every VM this shard owns.\nThere is no undo. Only 'yes' will be accepted to confirm.")
          : plan.mode === "refresh-only"
            ? await confirm("Would you like to update the state to reflect these detected changes?", "pvefleet will write these changes to the state without changing any VM.\nOnly 'yes' will be accepted to approve.")
            : await confirm("Do you want to perform these actions?", "pvefleet will perform the actions described above.\nOnly 'yes' will be accepted to approve.");
        if (!ok) {
          err(`\nError: ${destroyMode ? "Destroy" : "Apply"} cancelled.\n`);
          return 1;
        }
      }
    }

    if (plan.changes.length === 0 && plan.actions.length === 0) {
      if (json) out(`${JSON.stringify({ "@level": "info", "@message": noChangesSentence(plan.mode), "@module": "pvefleet.ui", "@timestamp": new Date().toISOString(), type: "change_summary", changes: { add: 0, change: 0, import: 0, remove: 0, operation: verb } })}\n`);
      else out(`\n${p.green(p.bold(destroyMode ? "Destroy complete! Resources: 0 destroyed." : "Apply complete! Resources: 0 added, 0 changed, 0 destroyed."))}\n`);
      return 0;
    }

    if (!json) out("\n");
    const reporter = await createReporter(plan, { json, color: g.color, destroyMode });
    let result: Awaited<ReturnType<typeof runApplier>>;
    try {
      result = await runApplier(ctx, plan, { lock, lockTimeoutMs, parallelism, onEvent: (e) => reporter.onEvent(e) });
    } catch (e) {
      // Close the progress screen first, so the one-line error lands below it and the process can exit.
      await reporter.finish(false, e instanceof Error ? e.message : String(e));
      throw e;
    }
    const ok = result.status === "applied";
    const why = ok ? undefined
      : result.status === "interrupted" ? "the run was interrupted; what finished is recorded in the state, run plan to see the rest"
      : `${result.failed.length} action${result.failed.length === 1 ? "" : "s"} failed${result.skipped.length ? `, ${result.skipped.length} skipped` : ""}`;
    await reporter.finish(ok, why);
    if (!ok && !json) {
      for (const f of result.failed) err(`Error: ${f.instanceId}: ${f.type}: ${f.error.code}: ${f.error.message}\n`);
      err(`Error: ${why}.\n`);
    }
    return ok ? 0 : 1;
  } finally {
    if (lock) await lock.release().catch(() => undefined);
  }
}

