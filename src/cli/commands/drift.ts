/**
 * `pvefleet drift`: compare the cluster with the state and the shard file, take no lock, change
 * nothing. Exit 0 in sync, 2 drift found, 1 error (Terraform's detailed-exitcode convention).
 * Every finding carries a stable fingerprint so a scheduled job can update one issue.
 */
import type { Opts } from "../main.js";
import { err, forEachShard, globals, makeDrift, out, refreshPolicy, withShard, type GlobalOptions } from "../context.js";
import type { RefreshPolicy } from "../../planner/types.js";
import { renderDriftText } from "../render/text.js";
import { renderDriftMarkdown } from "../render/markdown.js";
import { driftToJson, renderDriftJson } from "../render/json.js";
import { INFO_KINDS, type InfoKind } from "../../planner/index.js";
import { UserError } from "../../errors.js";
import type { DriftResult } from "../../engine/index.js";

async function driftShard(g: GlobalOptions, shard: string | undefined, refresh: RefreshPolicy, failOn: InfoKind[]): Promise<DriftResult> {
  return withShard(g, shard, async (ctx) => makeDrift(ctx, (await ctx.store.read())?.doc, { refresh, failOn }));
}

/** `--fail-on unmanaged,suspicious` (repeatable): information kinds that make drift exit 2. */
function failOnKinds(opts: Opts): InfoKind[] {
  const given = (Array.isArray(opts.failOn) ? (opts.failOn as string[]) : typeof opts.failOn === "string" ? [opts.failOn] : [])
    .flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  for (const k of given) {
    if (!(INFO_KINDS as readonly string[]).includes(k)) throw new UserError("E_FLAG", `--fail-on ${k}: use unmanaged or suspicious (other findings always fail)`);
  }
  return [...new Set(given)] as InfoKind[];
}

function print(r: DriftResult, g: GlobalOptions): void {
  if (g.format === "json") out(renderDriftJson(r));
  else if (g.format === "markdown") out(renderDriftMarkdown(r));
  else out(renderDriftText(r, { color: g.color }));
}

export async function run(opts: Opts): Promise<number> {
  const g = globals(opts);
  const refresh = refreshPolicy(opts);
  const failOn = failOnKinds(opts);
  if (!opts.allShards) {
    const r = await driftShard(g, g.shard, refresh, failOn);
    print(r, g);
    return r.inSync ? 0 : 2;
  }
  const reports = (await forEachShard(g, async (id) => {
    const r = await driftShard(g, id, refresh, failOn);
    if (g.format !== "json") print(r, g);
    return r;
  }, (id, line) => err(`Error: shard ${id}: ${line}\n`))).map((r) => ({ shard: r.shard, report: r.value, error: r.error }));
  if (g.format === "json") {
    out(`${JSON.stringify({ format_version: "1.0", shards: reports.map((r) => ({ shard: r.shard, error: r.error, drift: r.report ? driftToJson(r.report) : undefined })) }, null, 2)}\n`);
  } else {
    const drifted = reports.filter((r) => r.report && !r.report.inSync).length;
    const failed = reports.filter((r) => r.error).length;
    out(`\n${reports.length} shard${reports.length === 1 ? "" : "s"}: ${drifted} with drift, ${reports.length - drifted - failed} in sync, ${failed} failed.\n`);
  }
  if (reports.some((r) => r.error)) return 1;
  return reports.some((r) => r.report && !r.report.inSync) ? 2 : 0;
}
