/**
 * `pvefleet place --cores N --memory MiB [--count K] [--scheduler nstance|pve-static]
 * [--nodes-file FILE] [--format text|json]`: ranks the nodes for the next K VMs with TOPSIS, each
 * placement booked before the next (the planner's ledger), and shows the scores. Nodes come from a
 * saved `/cluster/resources?type=node` answer (bare array or PVE's `{"data": [...]}` envelope) or,
 * without one, from the live cluster through the provider's client (one GET). Changes nothing.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { outputFormat } from "../flags.js";
import { plural } from "../render/vocabulary.js";
import type { LiveNode } from "../../providers/proxmox/types.js";
import { createPlacementLedger, type Placement, type SchedulerName } from "../../providers/proxmox/placement/ledger.js";

const NodeItem = z.looseObject({
  node: z.string().min(1),
  type: z.string().optional(),
  status: z.string().optional(),
  maxcpu: z.number().nonnegative().optional(),
  cpu: z.number().nonnegative().optional(),
  maxmem: z.number().nonnegative().optional(),
  mem: z.number().nonnegative().optional(),
});
const NodeListing = z.union([z.array(z.unknown()), z.looseObject({ data: z.array(z.unknown()) })]);

export async function run(opts: Opts): Promise<number> {
  const cores = positiveInteger(opts.cores, "--cores", 0);
  const memoryMiB = positiveInteger(opts.memory, "--memory", 1);
  const count = positiveInteger(opts.count ?? "1", "--count", 1);
  if (count > 10_000) throw new UserError("E_USAGE", `--count ${count} is more than 10000 VMs`);
  const scheduler = (opts.scheduler ?? "nstance") as SchedulerName;
  const format = outputFormat<"text" | "json">(opts);

  const nodes = typeof opts.nodesFile === "string" ? readNodesFile(opts.nodesFile) : await readLiveNodes(opts.insecureTls === true);
  const ledger = createPlacementLedger(nodes, scheduler);
  const vm = { cores, memoryBytes: memoryMiB * 1024 * 1024 };
  const placements: Placement[] = [];
  for (let i = 0; i < count; i++) {
    const result = ledger.place(vm);
    if ("error" in result) {
      const which = count > 1 ? `VM ${i + 1} of ${count}: ` : "";
      throw new UserError("E_PLACEMENT", `${which}${result.error}`);
    }
    placements.push(result);
  }

  if (format === "json") {
    const body = { format_version: "1.0", placements: placements.map((p) => ({ node: p.node, scores: p.scores })) };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    process.stdout.write(renderText(placements, { cores, memoryMiB, scheduler }));
  }
  return 0;
}

function renderText(placements: Placement[], vm: { cores: number; memoryMiB: number; scheduler: string }): string {
  const lines: string[] = [];
  placements.forEach((p, i) => {
    if (i > 0) lines.push("");
    lines.push(`VM ${i + 1} of ${placements.length} (${plural(vm.cores, "core")}, ${vm.memoryMiB} MiB, scheduler ${vm.scheduler}) → ${p.node}`);
    const width = Math.max(4, ...p.ranking.map((n) => n.length));
    lines.push(`  ${"RANK".padEnd(4)}  ${"NODE".padEnd(width)}  SCORE`);
    p.ranking.forEach((name, rank) => {
      lines.push(`  ${String(rank + 1).padEnd(4)}  ${name.padEnd(width)}  ${p.scores[name].toFixed(6)}`);
    });
  });
  return `${lines.join("\n")}\n`;
}

function positiveInteger(value: unknown, flag: string, min: number): number {
  const text = String(value ?? "");
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new UserError("E_USAGE", `${flag} must be a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return n;
}

function readNodesFile(file: string): LiveNode[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError("E_NODES_FILE", `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError("E_NODES_FILE", `${file}: not JSON: ${(e as Error).message}`);
  }
  return toLiveNodes(json, file);
}

/** Accepts what `GET /cluster/resources?type=node` answers; entries of another `type` are skipped. */
function toLiveNodes(json: unknown, source: string): LiveNode[] {
  const listing = NodeListing.safeParse(json);
  if (!listing.success) throw new UserError("E_NODES_FILE", `${source}: expected a JSON array of nodes or {"data": [...]}`);
  const items = Array.isArray(listing.data) ? listing.data : listing.data.data;
  const nodes: LiveNode[] = [];
  items.forEach((raw, i) => {
    const item = NodeItem.safeParse(raw);
    if (!item.success) {
      const issue = item.error.issues[0];
      const field = issue.path.length > 0 ? `.${issue.path.join(".")}` : "";
      throw new UserError("E_NODES_FILE", `${source}: entry ${i}${field}: ${issue.message}`);
    }
    const n = item.data;
    if (n.type !== undefined && n.type !== "node") return;
    nodes.push({ node: n.node, online: n.status === "online", maxcpu: n.maxcpu ?? 0, cpu: n.cpu ?? 0, maxmem: n.maxmem ?? 0, mem: n.mem ?? 0 });
  });
  return nodes;
}

/** One `GET /cluster/resources?type=node` through the provider's client (token, TLS and CA from the environment). */
async function readLiveNodes(insecureTls: boolean): Promise<LiveNode[]> {
  const { ProxmoxClient } = await import("../../providers/proxmox/api/client.js");
  const client = new ProxmoxClient({ insecureTls });
  try {
    const items = await client.get<unknown>("/cluster/resources", { type: "node" });
    return toLiveNodes(items, "/cluster/resources?type=node");
  } finally {
    await client.close();
  }
}
