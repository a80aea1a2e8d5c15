/**
 * `pvefleet show [PLANFILE]`: a saved plan in any format; without one, a summary of the state
 * (lineage, serial, instances per group). Reads only.
 */
import type { Opts } from "../main.js";
import type { StateDoc } from "../../state/types.js";
import { globals, loadDesired, openStore, out, readPlanFile } from "../context.js";
import { renderPlanText } from "../render/text.js";
import { renderPlanMarkdown } from "../render/markdown.js";
import { renderPlanJson } from "../render/json.js";
import { palette } from "../render/ansi.js";
import { naturalCompare, plural } from "../render/vocabulary.js";

export async function run(opts: Opts, planfile?: unknown): Promise<number> {
  const g = globals(opts);
  if (typeof planfile === "string") {
    const { plan } = await readPlanFile(planfile);
    if (g.format === "json") out(renderPlanJson(plan));
    else if (g.format === "markdown") out(renderPlanMarkdown(plan, { savedTo: planfile }));
    else out(renderPlanText(plan, { color: g.color, quietNote: true }));
    return 0;
  }
  const desired = await loadDesired(g);
  const store = await openStore(g, desired);
  const current = await store.read();
  out(renderState(current?.doc, `${desired.clusterId}/${desired.shardId}`, store.location, g.format, g.color));
  return 0;
}

export function renderState(doc: StateDoc | undefined, shard: string, location: string, format: string, color: boolean): string {
  const records = doc ? Object.values(doc.instances).sort((a, b) => naturalCompare(`${a.tenant}.${a.group}/${a.instanceId}`, `${b.tenant}.${b.group}/${b.instanceId}`)) : [];
  if (format === "json") {
    return `${JSON.stringify({
      format_version: "1.0", shard, location, exists: doc !== undefined, lineage: doc?.lineage, serial: doc?.serial,
      instances: records.map((r) => ({ instance_id: r.instanceId, group: `${r.tenant}.${r.group}`, vmid: r.vmid, node: r.node, phase: r.phase, created_at: r.createdAt })),
    }, null, 2)}\n`;
  }
  if (!doc) return format === "markdown" ? `**No state yet for \`${shard}\`** (${location}).\n` : `No state yet for shard ${shard} (${location}). Run "pvefleet apply" to create it.\n`;
  const groups = new Map<string, number>();
  for (const r of records) groups.set(`${r.tenant}.${r.group}`, (groups.get(`${r.tenant}.${r.group}`) ?? 0) + 1);
  if (format === "markdown") {
    return [`## pvefleet state for \`${shard}\``, "", `Lineage \`${doc.lineage}\`, serial ${doc.serial}, ${plural(records.length, "instance")}.`, "",
      "| group | instance | node | vmid | phase |", "|---|---|---|--:|---|",
      ...records.map((r) => `| ${r.tenant}.${r.group} | \`${r.instanceId}\` | ${r.node} | ${r.vmid} | ${r.phase} |`), ""].join("\n");
  }
  const p = palette(color);
  const lines = [p.bold(`Shard ${shard}`), `  state:    ${location}`, `  lineage:  ${doc.lineage}`, `  serial:   ${doc.serial}`,
    `  instances: ${records.length}${groups.size ? ` (${[...groups].map(([g, n]) => `${g}: ${n}`).join(", ")})` : ""}`, ""];
  for (const r of records) {
    const phase = r.phase === "ready" ? "" : p.yellow(` [${r.phase}${r.stepsDone.length ? ` after ${r.stepsDone.at(-1)}` : ""}]`);
    lines.push(`  ${`${r.tenant}.${r.group}`.padEnd(20)} ${r.instanceId}  ${r.node.padEnd(8)} ${String(r.vmid).padStart(6)}${phase}`);
  }
  lines.push("");
  return lines.join("\n");
}
