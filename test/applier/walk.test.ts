import { describe, expect, it } from "vitest";
import { runGraph, type SchedulerItem } from "../../src/applier/walk.js";
import { validateGraph as checkGraph } from "../../src/planner/graph.js";

interface Item extends SchedulerItem {
  key?: string;
  ms: number;
  fail?: boolean;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tracker() {
  let now = 0;
  let max = 0;
  const perKey = new Map<string, number>();
  const maxPerKey = new Map<string, number>();
  const order: string[] = [];
  return {
    order,
    get max() {
      return max;
    },
    maxPerKey,
    async run(item: Item) {
      now++;
      max = Math.max(max, now);
      if (item.key) {
        perKey.set(item.key, (perKey.get(item.key) ?? 0) + 1);
        maxPerKey.set(item.key, Math.max(maxPerKey.get(item.key) ?? 0, perKey.get(item.key)!));
      }
      order.push(`start ${item.id}`);
      await wait(item.ms);
      order.push(`end ${item.id}`);
      now--;
      if (item.key) perKey.set(item.key, perKey.get(item.key)! - 1);
      if (item.fail) throw new Error(`${item.id} failed`);
    },
  };
}

describe("runGraph", () => {
  it("never runs more than `parallelism` items at once", async () => {
    const items: Item[] = Array.from({ length: 20 }, (_, i) => ({ id: `a${i}`, dependsOn: [], ms: 5 }));
    const t = tracker();
    const r = await runGraph(items, { parallelism: 3, keysOf: () => [], limitOf: () => Infinity, run: (i) => t.run(i), mayStart: () => true });
    expect(r.done).toHaveLength(20);
    expect(t.max).toBe(3);
  });

  it("starts an item only after everything it depends on finished", async () => {
    const items: Item[] = [
      { id: "c", dependsOn: ["a", "b"], ms: 1 },
      { id: "a", dependsOn: [], ms: 10 },
      { id: "b", dependsOn: ["a"], ms: 1 },
    ];
    const t = tracker();
    await runGraph(items, { parallelism: 5, keysOf: () => [], limitOf: () => Infinity, run: (i) => t.run(i), mayStart: () => true });
    expect(t.order).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  it("holds a keyed limit without blocking ready items of other keys", async () => {
    const items: Item[] = [
      ...Array.from({ length: 6 }, (_, i) => ({ id: `clone${i}`, dependsOn: [], ms: 20, key: "storage:s1" })),
      ...Array.from({ length: 4 }, (_, i) => ({ id: `start${i}`, dependsOn: [], ms: 1 })),
    ];
    const t = tracker();
    const r = await runGraph(items, {
      parallelism: 10,
      keysOf: (i) => (i.key ? [i.key] : []),
      limitOf: () => 2,
      run: (i) => t.run(i),
      mayStart: () => true,
    });
    expect(r.done).toHaveLength(10);
    expect(t.maxPerKey.get("storage:s1")).toBe(2);
    // the unkeyed items all finished before the second wave of clones started
    const lastStartEnd = Math.max(...[0, 1, 2, 3].map((i) => t.order.indexOf(`end start${i}`)));
    expect(lastStartEnd).toBeLessThan(t.order.indexOf("start clone2"));
  });

  it("skips the dependents of a failed item and keeps running unrelated ones", async () => {
    const items: Item[] = [
      { id: "a", dependsOn: [], ms: 1, fail: true },
      { id: "a2", dependsOn: ["a"], ms: 1 },
      { id: "a3", dependsOn: ["a2"], ms: 1 },
      { id: "b", dependsOn: [], ms: 5 },
      { id: "b2", dependsOn: ["b"], ms: 1 },
    ];
    const t = tracker();
    const r = await runGraph(items, { parallelism: 2, keysOf: () => [], limitOf: () => Infinity, run: (i) => t.run(i), mayStart: () => true });
    expect(r.failed.map((f) => f.id)).toEqual(["a"]);
    expect(r.skipped.map((s) => s.id).sort()).toEqual(["a2", "a3"]);
    expect(r.done.sort()).toEqual(["b", "b2"]);
  });

  it("starts nothing new once mayStart turns false and lets in-flight items finish", async () => {
    let allow = true;
    const items: Item[] = Array.from({ length: 10 }, (_, i) => ({ id: `a${i}`, dependsOn: [], ms: 10 }));
    const t = tracker();
    const r = await runGraph(items, {
      parallelism: 2,
      keysOf: () => [],
      limitOf: () => Infinity,
      run: async (i) => {
        await t.run(i);
        allow = false;
      },
      mayStart: () => allow,
    });
    expect(r.done).toHaveLength(2);
    expect(r.notStarted).toHaveLength(8);
  });

  it("walks a chain 20,000 actions deep without overflowing the stack", async () => {
    const items: Item[] = Array.from({ length: 20_000 }, (_, i) => ({ id: `a${i}`, dependsOn: i ? [`a${i - 1}`] : [], ms: 0 }));
    const r = await runGraph(items, { parallelism: 4, keysOf: () => [], limitOf: () => Infinity, run: async () => {}, mayStart: () => true });
    expect(r.done).toHaveLength(20_000);
  });

  it("refuses a cycle and a dependency on an unknown action", () => {
    expect(() => checkGraph([{ id: "a", dependsOn: ["b"] }, { id: "b", dependsOn: ["a"] }])).toThrow(/cycle/);
    expect(() => checkGraph([{ id: "a", dependsOn: ["x"] }])).toThrow(/unknown action x/);
  });
});

describe("runGraph: what it reports", () => {
  const base = { parallelism: 4, keysOf: () => [] as string[], limitOf: () => Infinity, mayStart: () => true };

  it("names the failed root for every transitive dependent, once each, and tells onSkipped", async () => {
    const items: Item[] = [
      { id: "root", dependsOn: [], ms: 1, fail: true },
      { id: "x", dependsOn: ["root"], ms: 1 },
      { id: "y", dependsOn: ["x", "root"], ms: 1 },
      { id: "z", dependsOn: ["y"], ms: 1 },
    ];
    const told: string[] = [];
    const t = tracker();
    const r = await runGraph(items, { ...base, run: (i) => t.run(i), onSkipped: (i, because) => told.push(`${i.id}<${because}`) });
    expect(r.skipped.sort((a, b) => a.id.localeCompare(b.id))).toEqual([{ id: "x", because: "root" }, { id: "y", because: "root" }, { id: "z", because: "root" }]);
    expect(told.sort()).toEqual(["x<root", "y<root", "z<root"]);
    expect(r.failed).toHaveLength(1);
    expect((r.failed[0]!.error as Error).message).toBe("root failed");
    expect(r.notStarted).toEqual([]);
    expect(t.order).toEqual(["start root", "end root"]);
  });

  it("an item whose run throws synchronously fails like a rejection; its dependents are skipped", async () => {
    const items: Item[] = [{ id: "a", dependsOn: [], ms: 0 }, { id: "b", dependsOn: ["a"], ms: 0 }, { id: "c", dependsOn: [], ms: 0 }];
    const r = await runGraph(items, {
      ...base,
      run: (i) => {
        if (i.id === "a") throw new Error("sync boom");
        return Promise.resolve();
      },
    });
    expect(r.failed.map((f) => [f.id, (f.error as Error).message])).toEqual([["a", "sync boom"]]);
    expect(r.skipped).toEqual([{ id: "b", because: "a" }]);
    expect(r.done).toEqual(["c"]);
  });

  it("onReady is told once per item, when its last dependency is done and before it runs", async () => {
    const items: Item[] = [{ id: "a", dependsOn: [], ms: 1 }, { id: "b", dependsOn: [], ms: 5 }, { id: "c", dependsOn: ["a", "b"], ms: 1 }];
    const t = tracker();
    const ready: string[] = [];
    await runGraph(items, { ...base, run: (i) => t.run(i), onReady: (i) => ready.push(i.id) });
    expect(ready).toEqual(["a", "b", "c"]);
    expect(t.order.indexOf("end b")).toBeLessThan(t.order.indexOf("start c"));
  });

  it("an item taking the same key twice counts once against the limit; one with two keys needs both free", async () => {
    const items: Item[] = [
      { id: "dup", dependsOn: [], ms: 10 },
      { id: "s1", dependsOn: [], ms: 10 },
      { id: "both", dependsOn: [], ms: 1 },
    ];
    const t = tracker();
    const keys: Record<string, string[]> = { dup: ["k", "k"], s1: ["n"], both: ["k", "n"] };
    const r = await runGraph(items, { ...base, keysOf: (i) => keys[i.id]!, limitOf: () => 1, run: (i) => t.run(i) });
    expect(r.done.sort()).toEqual(["both", "dup", "s1"]);
    // dup (k) and s1 (n) run together; both (k + n) waits until both are free.
    expect(t.order.slice(0, 2).sort()).toEqual(["start dup", "start s1"]);
    expect(t.order.indexOf("start both")).toBeGreaterThan(Math.max(t.order.indexOf("end dup"), t.order.indexOf("end s1")));
  });

  it("a limit frees its slot when an item fails, so the queue behind it still runs", async () => {
    const items: Item[] = [
      { id: "f", dependsOn: [], ms: 1, fail: true, key: "k" },
      { id: "g", dependsOn: [], ms: 1, key: "k" },
      { id: "h", dependsOn: [], ms: 1, key: "k" },
    ];
    const t = tracker();
    const r = await runGraph(items, { ...base, keysOf: (i) => (i.key ? [i.key] : []), limitOf: () => 1, run: (i) => t.run(i) });
    expect(r.done.sort()).toEqual(["g", "h"]);
    expect(r.failed.map((f) => f.id)).toEqual(["f"]);
    expect(r.skipped).toEqual([]); // a failed leaf skips nothing
    expect(t.maxPerKey.get("k")).toBe(1);
  });

  it("stopped before the first start: nothing runs and every item is reported not started", async () => {
    const items: Item[] = [{ id: "a", dependsOn: [], ms: 1 }, { id: "b", dependsOn: ["a"], ms: 1 }];
    const r = await runGraph(items, { ...base, run: async () => {}, mayStart: () => false });
    expect(r).toEqual({ done: [], failed: [], skipped: [], notStarted: ["a", "b"] });
  });

  it("an empty graph resolves at once with nothing", async () => {
    expect(await runGraph([], { ...base, run: async () => {} })).toEqual({ done: [], failed: [], skipped: [], notStarted: [] });
  });

  it("stops mid-queue when mayStart turns false between two starts of one pump", async () => {
    let asked = 0;
    const items: Item[] = Array.from({ length: 5 }, (_, i) => ({ id: `a${i}`, dependsOn: [], ms: 1 }));
    const t = tracker();
    const r = await runGraph(items, { ...base, parallelism: 5, run: (i) => t.run(i), mayStart: () => ++asked <= 2 });
    // asked once per start: two items start before the answer turns false.
    expect(r.done.sort()).toEqual(["a0", "a1"]);
    expect(r.notStarted).toEqual(["a2", "a3", "a4"]);
  });

  it("a stop is final: after mayStart said no once, nothing starts, even when it would say yes again", async () => {
    let asked = 0;
    // Three queues (one key each), so one pump would start all three.
    const items: Item[] = ["x", "y", "z"].map((key, i) => ({ id: `a${i}`, dependsOn: [], ms: 5, key }));
    const t = tracker();
    const r = await runGraph(items, { ...base, parallelism: 3, keysOf: (i) => [i.key!], run: (i) => t.run(i), mayStart: () => ++asked !== 2 });
    expect(r.done).toEqual(["a0"]);
    expect(r.notStarted).toEqual(["a1", "a2"]);
    expect(asked).toBe(2);
  });

  it("items needing the same keys in any order share one FIFO queue: they start in the order they became ready", async () => {
    const keys: Record<string, string[]> = { a: ["x", "y"], b: ["y", "x"], c: ["x", "y", "x"] };
    const items: Item[] = ["a", "b", "c"].map((id) => ({ id, dependsOn: [], ms: 1 }));
    const t = tracker();
    await runGraph(items, { ...base, parallelism: 1, keysOf: (i) => keys[i.id]!, run: (i) => t.run(i) });
    expect(t.order.filter((e) => e.startsWith("start"))).toEqual(["start a", "start b", "start c"]);
  });

  it("items needing different keys never share a queue, whatever the keys contain: one needing a and b waits for a", async () => {
    // Joined with a newline, ["a\nb"] and ["a", "b"] would be one queue running under the first one's key.
    const keys: Record<string, string[]> = { ab: ["a\nb"], both: ["a", "b"], a: ["a"] };
    const running = new Set<string>();
    let together = false;
    const items: Item[] = [
      { id: "ab", dependsOn: [], ms: 5 },
      { id: "both", dependsOn: [], ms: 5 },
      { id: "a", dependsOn: [], ms: 30 },
    ];
    await runGraph(items, {
      ...base,
      parallelism: 3,
      keysOf: (i) => keys[i.id]!,
      limitOf: () => 1,
      run: async (i) => {
        running.add(i.id);
        if (running.has("both") && running.has("a")) together = true;
        await wait(i.ms);
        running.delete(i.id);
      },
    });
    expect(together).toBe(false);
  });

  it("an item whose key has no capacity is reported not started instead of waiting forever", async () => {
    const items: Item[] = [{ id: "free", dependsOn: [], ms: 1 }, { id: "stuck", dependsOn: [], ms: 1, key: "none" }];
    const r = await runGraph(items, { ...base, keysOf: (i) => (i.key ? [i.key] : []), limitOf: (k) => (k === "none" ? 0 : 1), run: async () => {} });
    expect(r).toEqual({ done: ["free"], failed: [], skipped: [], notStarted: ["stuck"] });
  });
});
