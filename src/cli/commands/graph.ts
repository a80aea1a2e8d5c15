/**
 * `pvefleet graph [PLANFILE]`: the action graph of a plan as DOT, like `terraform graph` — made
 * now (the same flags as plan) or read from a saved plan (no cluster access). One box per action
 * (type, node, VMID) inside one cluster per instance, labelled with its address and its change;
 * an edge runs from an action to the ones that wait for it, in the order apply runs them. Edges
 * between two instances are a replacement's ordering and are drawn bold and labelled "create
 * before destroy" or "destroy before create". Render with `pvefleet graph | dot -Tsvg > plan.svg`.
 */
import type { Opts } from "../main.js";
import type { Plan } from "../../planner/types.js";
import { globals, makePlan, out, planOptions, readPlanFile, withShard } from "../context.js";
import { addressOf, DISPLAY, displayOf, sentenceOf, summarySentence } from "../render/vocabulary.js";

/** A DOT quoted string. */
function id(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export function renderPlanDot(plan: Plan): string {
  const lines = [
    "digraph pvefleet {",
    `  label = ${id(`pvefleet plan for ${plan.clusterId}/${plan.shardId} (${plan.mode}): ${summarySentence(plan.summary)}`)};`,
    "  labelloc = \"t\";",
    "  rankdir = \"LR\";",
    "  compound = true;",
    "  node [shape = \"rect\", fontname = \"sans-serif\"];",
    "  edge [fontname = \"sans-serif\", fontsize = 10];",
  ];
  // Each instance's actions, and the change (and replacement order) that owns them.
  const byInstance = new Map<string, Plan["actions"]>();
  for (const a of plan.actions) byInstance.set(a.instanceId, [...(byInstance.get(a.instanceId) ?? []), a]);
  const owner = new Map<string, { label: string; order?: "create-first" | "delete-first" }>();
  for (const c of plan.changes) {
    const d = displayOf(c, plan);
    owner.set(c.instanceId, { label: `${DISPLAY[d].symbol.trim()} ${addressOf(c)} ${sentenceOf(d, c)}`, order: c.replaceOrder });
    if (c.kind === "replace" && c.replaces !== undefined) {
      owner.set(c.replaces, { label: `+ ${addressOf({ group: c.group, instanceId: c.replaces })} will be created (replaces ${c.instanceId})`, order: c.replaceOrder });
    }
  }
  let n = 0;
  for (const [instanceId, actions] of byInstance) {
    lines.push(`  subgraph ${id(`cluster_${n++}`)} {`, `    label = ${id(owner.get(instanceId)?.label ?? instanceId)};`);
    for (const a of actions) lines.push(`    ${id(a.id)} [label = ${id(`${a.type}\n${a.node} ${a.vmid}`)}];`);
    lines.push("  }");
  }
  const instanceOf = new Map(plan.actions.map((a) => [a.id, a.instanceId]));
  for (const a of plan.actions) {
    for (const dep of a.dependsOn) {
      const from = instanceOf.get(dep);
      if (from === a.instanceId) {
        lines.push(`  ${id(dep)} -> ${id(a.id)};`);
        continue;
      }
      const order = owner.get(a.instanceId)?.order ?? (from !== undefined ? owner.get(from)?.order : undefined);
      const label = order === "create-first" ? "create before destroy" : order === "delete-first" ? "destroy before create" : "waits for";
      lines.push(`  ${id(dep)} -> ${id(a.id)} [style = "bold", color = "firebrick", label = ${id(label)}];`);
    }
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

export async function run(opts: Opts, planfile?: unknown): Promise<number> {
  const g = globals(opts);
  const plan = typeof planfile === "string"
    ? (await readPlanFile(planfile)).plan
    : await withShard(g, g.shard, async (ctx) => makePlan(ctx, (await ctx.store.read())?.doc, planOptions(opts)));
  out(renderPlanDot(plan));
  return 0;
}
