/**
 * Ordering and checking the action graph without recursion. graphlib's topsort/findCycles are
 * recursive DFS and overflow the stack a few thousand levels deep, and building a
 * graphlib Graph of 50,000 actions alone costs about a second; a Map adjacency and Kahn's algorithm
 * handle any depth in linear time.
 */
import { UserError } from "../errors.js";
/** Anything with an id and the ids it waits for: plan actions, the applier's walk items. */
export interface GraphItem {
  id: string;
  dependsOn: string[];
}

/**
 * Actions in an order where every action comes after everything it depends on; ties keep the
 * input order, so the result is deterministic. Throws UserError E_PLAN_GRAPH on a cycle, a duplicate
 * id or a dependency on an unknown action.
 */
export function topoOrder<T extends GraphItem>(actions: T[]): T[] {
  const index = new Map<string, number>();
  actions.forEach((a, i) => {
    if (index.has(a.id)) throw new UserError("E_PLAN_GRAPH", `action graph: duplicate action ${a.id}`);
    index.set(a.id, i);
  });
  const pending = new Int32Array(actions.length);
  const dependents: number[][] = actions.map(() => []);
  actions.forEach((a, i) => {
    for (const dep of a.dependsOn) {
      const j = index.get(dep);
      if (j === undefined) throw new UserError("E_PLAN_GRAPH", `action graph: ${a.id} depends on unknown action ${dep}`);
      pending[i]!++;
      dependents[j]!.push(i);
    }
  });

  // Kahn with a queue in input order; a FIFO keeps the sort stable enough to read and test.
  const queue: number[] = [];
  for (let i = 0; i < actions.length; i++) if (pending[i] === 0) queue.push(i);
  const out: T[] = [];
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head]!;
    out.push(actions[i]!);
    for (const j of dependents[i]!) if (--pending[j]! === 0) queue.push(j);
  }
  if (out.length !== actions.length) {
    const cycle = findCycle(actions, index, pending);
    throw new UserError("E_PLAN_GRAPH", `action graph has a cycle: ${cycle.join(" → ")}`);
  }
  return out;
}

/** Throws UserError E_PLAN_GRAPH when the graph is not a DAG over known, unique action ids. */
export function validateGraph(actions: GraphItem[]): void {
  topoOrder(actions);
}

/**
 * Every action Kahn could not emit waits on at least one other such action, so walking "first
 * unfinished dependency" links from any of them must come back to a node already on the walk.
 */
function findCycle(actions: GraphItem[], index: Map<string, number>, pending: Int32Array): string[] {
  const start = pending.findIndex((p) => p > 0);
  const seenAt = new Map<number, number>();
  const walk: number[] = [];
  let i = start;
  while (!seenAt.has(i)) {
    seenAt.set(i, walk.length);
    walk.push(i);
    const next = actions[i]!.dependsOn.map((d) => index.get(d)!).find((j) => pending[j]! > 0);
    if (next === undefined) break; // cannot happen for a node left over by Kahn
    i = next;
  }
  const cycle = walk.slice(seenAt.get(i)!).map((j) => actions[j]!.id);
  // The walk follows dependencies backwards; print it in execution order, closing the loop.
  cycle.reverse();
  return [...cycle, cycle[0]!];
}
