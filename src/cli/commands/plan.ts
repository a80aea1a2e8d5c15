/**
 * `pvefleet plan`: refresh, read the state (no lock: plans run in parallel for PR previews), plan,
 * print in text/markdown/json, optionally save with `--out`. Exit 0; with `--detailed-exitcode`
 * 0 no changes, 1 error, 2 changes. `--all-shards` plans each shard of the file in turn and ends
 * with a summary across shards.
 */
import type { Opts } from "../main.js";
import type { Plan } from "../../planner/types.js";
import { err, forEachShard, globals, groupSizes, makePlan, out, planOptions, planOrigin, savePlanFile, withShard, type GlobalOptions } from "../context.js";
import { assertPreflight } from "../../engine/index.js";
import { renderPlanText } from "../render/text.js";
import { isCI } from "../ui/index.js";
import { renderPlanMarkdown } from "../render/markdown.js";
import { planToJson, renderPlanJson } from "../render/json.js";
import { palette } from "../render/ansi.js";
import { summarySentence } from "../render/vocabulary.js";
import { checkWritable, writeError } from "../files.js";

/** A plan and its groups' sizes in the shard file (for the text plan's "Groups:" table). */
interface Planned {
  plan: Plan;
  sizes: Map<string, number>;
}

async function planShard(g: GlobalOptions, opts: Opts, shard: string | undefined, outFile: string | undefined): Promise<Planned> {
  return withShard(g, shard, async (ctx) => {
    const current = await ctx.store.read();
    // makePlan reads details of every VM the plan touches, so a saved plan carries their config digests.
    const options = planOptions(opts);
    const plan = await makePlan(ctx, current?.doc, options);
    assertPreflight(plan); // every missing privilege/object in one error, exit 1, before anything is shown or saved
    // The options go into the file: apply FILE plans again with them and compares; and where the
    // shard file and the state are, so apply FILE needs nothing else.
    if (outFile) await savePlanFile(outFile, plan, options, planOrigin(g, ctx.desired)).catch((e: unknown) => {
      throw writeError(outFile, e);
    });
    return { plan, sizes: groupSizes(ctx.desired) };
  });
}

function print({ plan, sizes }: Planned, g: GlobalOptions, savedTo: string | undefined): void {
  if (g.format === "json") out(renderPlanJson(plan));
  else if (g.format === "markdown") out(renderPlanMarkdown(plan, { savedTo }));
  else out(renderPlanText(plan, { color: g.color, sensitiveDiff: !isCI(), savedTo, groupSizes: sizes }));
}

export async function run(opts: Opts): Promise<number> {
  const g = globals(opts);
  const detailed = opts.detailedExitcode === true;
  const outFile = opts.out as string | undefined;
  // Before any API call: a plan computed for a file that cannot be written is wasted.
  if (outFile) await checkWritable(outFile, "--out");

  if (!opts.allShards) {
    const planned = await planShard(g, opts, g.shard, outFile);
    print(planned, g, outFile);
    return detailed && planned.plan.changes.length > 0 ? 2 : 0;
  }

  const results = (await forEachShard(g, async (id) => {
    const file = outFile ? outFile.replace(/(\.[^./]+)?$/, (ext) => `.${id}${ext || ".json"}`) : undefined;
    if (g.format === "text") out(palette(g.color).bold(`\n=== shard ${id} ===\n\n`));
    const planned = await planShard(g, opts, id, file);
    if (g.format !== "json") print(planned, g, file);
    return planned.plan;
  }, (id, line) => err(`Error: shard ${id}: ${line}\n`))).map((r) => ({ shard: r.shard, plan: r.value, error: r.error }));
  const ids = results.map((r) => r.shard);

  if (g.format === "json") {
    out(`${JSON.stringify({ format_version: "1.0", shards: results.map((r) => ({ shard: r.shard, error: r.error, plan: r.plan ? planToJson(r.plan) : undefined })) }, null, 2)}\n`);
  } else {
    const p = palette(g.color && g.format === "text");
    const lines = g.format === "markdown"
      ? ["### Plan summary across shards", "", "| shard | result |", "|---|---|", ...results.map((r) => `| ${r.shard} | ${r.error ? `❌ ${r.error.replace(/\|/g, "\\|")}` : r.plan!.changes.length ? summarySentence(r.plan!.summary) : "No changes."} |`)]
      : [p.bold("Plan summary across shards:"), ...results.map((r) => `  ${r.shard.padEnd(Math.max(...ids.map((i) => i.length)))}  ${r.error ? p.red(`error: ${r.error}`) : r.plan!.changes.length ? summarySentence(r.plan!.summary) : "No changes."}`)];
    const changed = results.filter((r) => r.plan && r.plan.changes.length).length;
    const failed = results.filter((r) => r.error).length;
    lines.push("", `${results.length} shard${results.length === 1 ? "" : "s"}, ${changed} with changes, ${results.length - changed - failed} with no changes, ${failed} failed.`, "");
    out(`${lines.join("\n")}\n`);
  }
  if (results.some((r) => r.error)) return 1;
  return detailed && results.some((r) => r.plan && r.plan.changes.length) ? 2 : 0;
}
