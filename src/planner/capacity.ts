/**
 * Committed cores and memory per node before and after a plan. Committed = the configured size of
 * every VM on the node, running or not (a stopped VM may be started; templates excluded), which is
 * what the memory headroom protects. A node fails the check only when the plan makes it worse and
 * ends above the headroom, so a plan that relieves an already full node is never blocked. vCPUs
 * are only warned about (`cpu_overcommit`).
 */
import { UserError } from "../errors.js";
import type { LiveShard } from "../providers/types.js";
import type { NodeCapacity } from "./types.js";

export class CapacityLedger {
  private readonly byNode = new Map<string, NodeCapacity>();

  constructor(live: LiveShard) {
    for (const n of live.nodes) {
      this.byNode.set(n.node, { node: n.node, maxcpu: n.maxcpu, maxmemBytes: n.maxmem, before: { cores: 0, memBytes: 0 }, after: { cores: 0, memBytes: 0 } });
    }
    for (const vm of live.vms) {
      if (vm.template) continue;
      const c = this.byNode.get(vm.node);
      if (!c) continue;
      c.before.cores += vm.cores;
      c.before.memBytes += vm.memoryBytes;
      c.after.cores += vm.cores;
      c.after.memBytes += vm.memoryBytes;
    }
  }

  /** Adds (positive) or removes (negative) committed resources on a node after the plan. */
  shift(node: string, cores: number, memBytes: number): void {
    const c = this.byNode.get(node);
    if (!c) return;
    c.after.cores += cores;
    c.after.memBytes += memBytes;
  }

  nodes(): NodeCapacity[] {
    return [...this.byNode.values()];
  }

  /**
   * One warning per node where the plan adds vCPUs and leaves more committed than `ratio` × the
   * CPUs PVE reports (`maxcpu` of /cluster/resources: logical CPUs, threads included). A warning,
   * not a failure: CPU time is shared, unlike memory, so overcommit slows VMs rather than failing
   * them, and how much is fine depends on the load.
   */
  overcommitWarnings(ratio: number): string[] {
    if (!(ratio > 0)) return [];
    return this.nodes()
      .filter((c) => c.maxcpu > 0 && c.after.cores > c.before.cores && c.after.cores > ratio * c.maxcpu)
      .map((c) =>
        `vCPU overcommit on ${c.node}: the plan commits ${c.before.cores} → ${c.after.cores} vCPUs on its ${c.maxcpu} CPUs ` +
        `(${round(c.after.cores / c.maxcpu)} per CPU, above cpu_overcommit ${ratio}); VMs there will wait for CPU time under load`);
  }

  /** Throws E_CAPACITY naming every node that the plan pushes past `headroom` × its memory. */
  check(headroom: number): void {
    const over = this.nodes().filter((c) => c.after.memBytes > c.before.memBytes && c.after.memBytes > headroom * c.maxmemBytes);
    if (over.length === 0) return;
    const pct = Math.round(headroom * 100);
    const list = over.map((c) => `${c.node} ${gib(c.before.memBytes)} → ${gib(c.after.memBytes)} GiB of ${gib(c.maxmemBytes)} GiB`).join("; ");
    throw new UserError("E_CAPACITY", `not enough memory: committed memory would pass ${pct}% (memory_headroom) on ${list} (use --ignore-capacity to plan anyway)`);
  }
}

function round(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}
