/**
 * Stopping an apply: an interrupt (the first SIGINT/SIGTERM) starts nothing new, lets in-flight
 * actions finish, persists state and releases the lock; a lost state race stops everything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply, installSignalHandlers, INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE } from "../../src/applier/index.js";
import type { ApplyEvent } from "../../src/applier/events.js";
import { clusterView, makePlan, planAndApply, planNow, startEnv, type Env } from "./harness.js";

describe("interrupts and lost races", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 5 });
  });
  afterAll(async () => env?.close());

  it("on interrupt finishes in-flight actions, starts no new ones, saves state and releases its lock", async () => {
    env.writeShard({ webSize: 6, dbSize: 0 });
    const desired = await env.desired();
    const store = await env.store();
    const ops = env.provider();
    const plan = await makePlan(ops, desired, undefined);
    const controller = new AbortController();
    const events: ApplyEvent[] = [];
    const result = await apply(plan, {
      ops, store, desired, signal: controller.signal, parallelism: 4,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "done" && e.action === "clone") controller.abort();
      },
    });
    expect(result.status).toBe("interrupted");
    expect(result.notStarted.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === "interrupt").map((e) => e.message)).toContain(INTERRUPT_MESSAGE);
    // every action that started also ended (done or failed): nothing was abandoned mid-call
    const started = new Set(events.filter((e) => e.type === "start").map((e) => e.actionId));
    const ended = new Set(events.filter((e) => e.type === "done" || e.type === "failed").map((e) => e.actionId));
    expect([...started].filter((id) => !ended.has(id))).toEqual([]);
    // no action started after the interrupt
    const at = events.findIndex((e) => e.type === "interrupt");
    expect(events.slice(at).some((e) => e.type === "start")).toBe(false);
    // the lock apply took is released: another run can take it at once
    const lock = await store.lock("check", { timeoutMs: 0 });
    await lock.release();
    // the state holds what finished: the cloned VMs are recorded, so the next run resumes them
    const doc = (await store.read())!.doc;
    const view = await clusterView(env);
    // The abort came after a clone finished, so at least that VM exists and must be recorded.
    const cloned = events.filter((e) => e.type === "done" && e.action === "clone").map((e) => e.instanceId);
    expect(cloned.length).toBeGreaterThan(0);
    expect(view.vms.length).toBeGreaterThanOrEqual(cloned.length);
    for (const id of cloned) expect(view.vms.map((v) => v.name)).toContain(id);
    for (const v of view.vms) expect(doc.instances[v.name]).toBeDefined();

    for (let i = 0; i < 3 && (await planNow(env)).actions.length > 0; i++) await planAndApply(env);
    expect((await clusterView(env)).vms.filter((v) => v.status === "running")).toHaveLength(6);
  });

  it("stops with STATE_CONFLICT when someone else writes the state mid-apply, and releases the lock", async () => {
    env.writeShard({ webSize: 8, dbSize: 0 });
    const desired = await env.desired();
    const store = await env.store();
    const other = await env.store();
    const ops = env.provider();
    const plan = await makePlan(ops, desired, (await store.read())?.doc);
    // Another operator writes the state while the first clone runs (a real second store instance).
    let wrote = false;
    const racing: typeof ops = {
      ...ops,
      run: async (action, context) => {
        const got = await ops.run(action, context);
        if (action.type === "clone" && !wrote) {
          wrote = true;
          const cur = (await other.read())!;
          await other.write(cur.doc, cur.etag);
        }
        return got;
      },
    };
    await expect(
      apply(plan, { ops: racing, store, desired }),
    ).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    const lock = await store.lock("check", { timeoutMs: 0 });
    await lock.release();
    for (let i = 0; i < 3 && (await planNow(env)).actions.length > 0; i++) await planAndApply(env);
    expect((await clusterView(env)).vms).toHaveLength(8);
  });

  it("aborts on the first signal and exits on the second with Terraform's warning", () => {
    const messages: string[] = [];
    const exits: number[] = [];
    const h = installSignalHandlers({ onInterrupt: (_n, m) => messages.push(m), exit: (code) => exits.push(code) });
    try {
      process.emit("SIGINT", "SIGINT");
      expect(h.signal.aborted).toBe(true);
      expect(exits).toEqual([]);
      process.emit("SIGINT", "SIGINT");
      expect(exits).toEqual([130]);
      expect(messages).toEqual([INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE]);
    } finally {
      h.dispose();
    }
  });
});
