/**
 * Walks a dependency graph of actions with a global parallelism limit plus keyed limits
 * (per storage, per node). Limits are not edges: a ready action whose key is full waits in its
 * own queue while ready actions with other keys run, so a storage busy with clones never holds
 * back a start on another node (no head-of-line blocking).
 *
 * Iterative throughout (no recursion): graphs tens of thousands of actions deep must not overflow
 * the stack (graphlib's algorithms recurse; docs/ARCHITECTURE.md says why it is not used).
 */
import { validateGraph } from "../planner/graph.js";

export interface SchedulerItem {
  id: string;
  dependsOn: string[];
}

export interface SchedulerOptions<T extends SchedulerItem> {
  parallelism: number;
  /** Limit keys an item takes while it runs, e.g. ["storage:local-lvm@pve1", "node:pve1"]. */
  keysOf: (item: T) => string[];
  /** Capacity of one key. */
  limitOf: (key: string) => number;
  /** Runs one item; a rejection marks it failed and skips everything that depends on it. */
  run: (item: T) => Promise<void>;
  /** Asked before each start; false stops new starts (interrupt, fatal error). In-flight items finish. */
  mayStart: () => boolean;
  onSkipped?: (item: T, because: string) => void;
  /** Called once when an item becomes ready (all dependencies done), before it may wait for a limit. */
  onReady?: (item: T) => void;
}

export interface SchedulerResult {
  done: string[];
  failed: { id: string; error: unknown }[];
  /** Not run because a dependency failed (or was itself skipped); `because` is the failed root. */
  skipped: { id: string; because: string }[];
  /** Never started because the run was stopped. */
  notStarted: string[];
}


export async function runGraph<T extends SchedulerItem>(items: T[], options: SchedulerOptions<T>): Promise<SchedulerResult> {
  validateGraph(items); // the planner's check: one topological sort in the codebase
  const byId = new Map(items.map((i) => [i.id, i]));
  const waitingOn = new Map(items.map((i) => [i.id, i.dependsOn.length]));
  // Every item has an entry (validateGraph checked that each dependency names an item).
  const dependents = new Map(items.map((i) => [i.id, [] as string[]]));
  for (const item of items) for (const dep of item.dependsOn) dependents.get(dep)!.push(item.id);

  // Ready items are queued by their key signature; each queue is FIFO. Scanning queues (few)
  // instead of items (many) keeps every pump cheap even with thousands of clones waiting.
  const queues = new Map<string, { keys: string[]; items: T[]; head: number }>();
  const inUse = new Map<string, number>();
  let inFlight = 0;
  let stopped = false;
  const result: SchedulerResult = { done: [], failed: [], skipped: [], notStarted: [] };
  const settled = new Set<string>();

  const enqueue = (item: T) => {
    const keys = [...new Set(options.keysOf(item))].sort();
    // The same set of keys in any order is one queue; distinct sets never share one (JSON keeps
    // ["a,b"] apart from ["a", "b"], whatever the keys contain).
    const signature = JSON.stringify(keys);
    let q = queues.get(signature);
    if (!q) queues.set(signature, (q = { keys, items: [], head: 0 }));
    q.items.push(item);
    options.onReady?.(item);
  };
  for (const item of items) if (item.dependsOn.length === 0) enqueue(item);

  const skipDependents = (rootId: string) => {
    const stack = [...dependents.get(rootId)!];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (settled.has(id)) continue;
      settled.add(id);
      result.skipped.push({ id, because: rootId });
      options.onSkipped?.(byId.get(id)!, rootId);
      stack.push(...dependents.get(id)!);
    }
  };

  return new Promise<SchedulerResult>((resolve) => {
    const pump = () => {
      // A stop is final: nothing starts after mayStart said no once.
      if (!stopped) {
        let progressed = true;
        // Round-robin over the queues so one busy key never starves the others.
        while (progressed) {
          progressed = false;
          for (const [signature, q] of queues) {
            if (inFlight >= options.parallelism) break;
            if (q.head >= q.items.length) {
              queues.delete(signature);
              continue;
            }
            if (!q.keys.every((k) => (inUse.get(k) ?? 0) < options.limitOf(k))) continue;
            if (!options.mayStart()) {
              stopped = true;
              break;
            }
            start(q.items[q.head++]!, q.keys);
            progressed = true;
          }
          if (stopped) break;
        }
      }
      // Nothing in flight after a pump that tried every queue: nothing more can start. Done, or
      // stopped; whatever never ran is reported not started.
      if (inFlight > 0) return;
      for (const item of items) if (!settled.has(item.id)) result.notStarted.push(item.id);
      resolve(result);
    };

    const start = (item: T, keys: string[]) => {
      inFlight++;
      for (const k of keys) inUse.set(k, (inUse.get(k) ?? 0) + 1);
      let promise: Promise<void>;
      try {
        promise = options.run(item);
      } catch (err) {
        promise = Promise.reject(err);
      }
      promise.then(
        () => {
          settled.add(item.id);
          result.done.push(item.id);
          for (const next of dependents.get(item.id)!) {
            const left = waitingOn.get(next)! - 1;
            waitingOn.set(next, left);
            if (left === 0 && !settled.has(next)) enqueue(byId.get(next)!);
          }
        },
        (error: unknown) => {
          settled.add(item.id);
          result.failed.push({ id: item.id, error });
          skipDependents(item.id);
        },
      ).finally(() => {
        inFlight--;
        for (const k of keys) inUse.set(k, inUse.get(k)! - 1);
        pump();
      });
    };

    pump();
  });
}
