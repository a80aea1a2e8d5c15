/**
 * Choosing a node for a new VM. Two schedulers over one `/cluster/resources?type=node` listing:
 *
 * - `nstance` (default): the integration guide's criteria, free memory (weight 0.6) and free CPU
 *   (weight 0.4), as fractions of each node's capacity (Nstance's percentages, scaled;
 *   its documented TOPSIS weights). Nstance's code actually uses 1/1 and ignores the VM's size; we use the
 *   documented weights and refuse nodes that cannot hold the VM's memory.
 * - `pve-static`: Proxmox HA's static CRS (reference/pve-api.md §4.2–4.4). Each candidate is an
 *   alternative "the VM runs there"; criteria are the cluster's RMS and max CPU and memory loads
 *   after that hypothetical placement (each + 1), all minimised, weights 1, 2, 5, 10.
 *
 * Usage comes from the listing: CPU cores in use = `cpu × maxcpu`, memory = `mem`. (PVE 8's HA
 * scheduler counts the configured size of HA guests instead; we have no such facts without per-VM
 * calls, so the live usage stands in.) Candidates in both: online nodes with maxcpu > 0 and
 * maxmem > 0 whose free memory holds the VM. Ties go to the node name, ascending.
 *
 * Several VMs placed in one plan go through a ledger: each placement adds the VM's cores and
 * memory to its node before the next choice, so ten new VMs spread instead of piling up.
 */
import type { LiveNode } from "../types.js";
import { rankByTopsis, rankFlat } from "./topsis.js";

export type SchedulerName = "nstance" | "pve-static";
export const SCHEDULERS: readonly SchedulerName[] = ["nstance", "pve-static"];

export interface VmSize {
  cores: number;
  memoryBytes: number;
}

export interface Placement {
  node: string;
  /** TOPSIS closeness per candidate node (higher is better). Nodes that were not candidates are absent. */
  scores: Record<string, number>;
  /** Candidate nodes, best first (the order `scores` is meant to be read in). */
  ranking: string[];
}

export interface PlacementError {
  error: string;
}

export interface PlacementLedger {
  /** Chooses a node for the VM and books its cores and memory there. */
  place(vm: VmSize, spread?: Record<string, number>): Placement | PlacementError;
  /** Usage per node including everything placed so far (cores, bytes). */
  usage(): { node: string; usedCores: number; usedMemoryBytes: number; maxcpu: number; maxmem: number }[];
}

interface NodeUsage {
  node: string;
  maxcpu: number;
  maxmem: number;
  usedCores: number;
  usedMemoryBytes: number;
}

/** Guide weights: free CPU 40 %, free memory 60 % (column order: CPU, memory). */
const NSTANCE_WEIGHTS = [0.4, 0.6];
/** pve-static: RMS CPU, max CPU, RMS memory, max memory; negative = minimise. */
const PVE_STATIC_WEIGHTS = [-1, -2, -5, -10];

export function createPlacementLedger(nodes: LiveNode[], scheduler: SchedulerName = "nstance"): PlacementLedger {
  if (!SCHEDULERS.includes(scheduler)) throw new Error(`unknown scheduler ${JSON.stringify(scheduler)}`);
  const eligible: NodeUsage[] = nodes
    .filter((n) => n.online && n.maxcpu > 0 && n.maxmem > 0)
    .map((n) => ({
      node: n.node,
      maxcpu: n.maxcpu,
      maxmem: n.maxmem,
      usedCores: (Number.isFinite(n.cpu) ? n.cpu : 0) * n.maxcpu,
      usedMemoryBytes: Number.isFinite(n.mem) ? n.mem : 0,
    }))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  return {
    place(vm, spread) {
      if (!(Number.isFinite(vm.cores) && vm.cores >= 0 && Number.isFinite(vm.memoryBytes) && vm.memoryBytes >= 0)) {
        return { error: `a VM needs cores ≥ 0 and memory ≥ 0 (got ${vm.cores} cores, ${vm.memoryBytes} bytes)` };
      }
      if (nodes.length === 0) return { error: "no nodes available in cluster" };
      if (eligible.length === 0) return { error: "no online nodes available" };
      // One pass: the nodes whose free memory holds the VM and, with a spread, hold the fewest of
      // the group's instances (soft anti-affinity), then TOPSIS among them.
      let candidates: NodeUsage[] = [];
      let fewest = Infinity;
      for (const n of eligible) {
        if (n.maxmem - n.usedMemoryBytes < vm.memoryBytes) continue;
        const members = spread ? (spread[n.node] ?? 0) : 0;
        if (members < fewest) {
          fewest = members;
          candidates = [];
        }
        if (members === fewest) candidates.push(n);
      }
      if (candidates.length === 0) {
        return { error: `no online node has ${formatMiB(vm.memoryBytes)} MiB of memory free` };
      }
      const { order, scores } = scheduler === "nstance"
        ? rankFlat(nstanceMatrix(candidates), candidates.length, NSTANCE_WEIGHTS)
        : rankByTopsis(pveStaticMatrix(eligible, candidates, vm), PVE_STATIC_WEIGHTS);
      const chosen = candidates[order[0]];
      chosen.usedCores += vmCores(vm, chosen);
      chosen.usedMemoryBytes += vm.memoryBytes;
      // One candidate is the ideal and the anti-ideal at once (TOPSIS says 0); it is simply the choice.
      const ranking: string[] = [];
      const byNode: Record<string, number> = {};
      for (const i of order) {
        ranking.push(candidates[i].node);
        byNode[candidates[i].node] = candidates.length === 1 ? 1 : scores[i];
      }
      return { node: chosen.node, ranking, scores: byNode };
    },
    usage() {
      return eligible.map((n) => ({ ...n }));
    },
  };
}

/** Rows: candidate nodes; columns: free CPU fraction, free memory fraction (both maximised), row-major. */
function nstanceMatrix(candidates: NodeUsage[]): Float64Array {
  // Free CPU can go below zero once the ledger books more cores than a node has (PVE lets CPU be
  // overcommitted); the value still orders nodes correctly, so it is not clamped.
  const values = new Float64Array(candidates.length * 2);
  candidates.forEach((n, i) => {
    values[2 * i] = 1 - n.usedCores / n.maxcpu;
    values[2 * i + 1] = 1 - n.usedMemoryBytes / n.maxmem;
  });
  return values;
}

/** Rows: candidate nodes; columns: 1 + RMS CPU load, 1 + max CPU load, 1 + RMS mem load, 1 + max mem load. */
function pveStaticMatrix(all: NodeUsage[], candidates: NodeUsage[], vm: VmSize): number[][] {
  return candidates.map((target) => {
    const cpuLoads: number[] = [];
    const memLoads: number[] = [];
    for (const n of all) {
      const extraCores = n === target ? vmCores(vm, n) : 0;
      const extraMem = n === target ? vm.memoryBytes : 0;
      cpuLoads.push((n.usedCores + extraCores) / n.maxcpu);
      memLoads.push((n.usedMemoryBytes + extraMem) / n.maxmem);
    }
    return [1 + rms(cpuLoads), 1 + Math.max(...cpuLoads), 1 + rms(memLoads), 1 + Math.max(...memLoads)];
  });
}

/** PVE treats a guest with no CPU limit (0) as able to use every core of its node. */
function vmCores(vm: VmSize, node: NodeUsage): number {
  return vm.cores === 0 ? node.maxcpu : vm.cores;
}

function rms(values: number[]): number {
  return Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? String(mib) : mib.toFixed(1);
}
