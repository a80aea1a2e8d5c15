/**
 * The applier's entry point at its edges, found by mutation testing (issue 18,
 * stryker/engine.config.mjs): what apply() does before the first action — the lock it takes or is
 * handed, the refusal of a plan for another cluster or shard or one whose VMs changed, the
 * permission preflight only when the cluster is touched, an empty plan, an interrupt before the
 * start — and around the walk: the clone limits per storage and per node, the events it emits, a
 * throwing event handler, and the state it leaves. Each test starts its own simulator and state.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apply, INTERRUPT_MESSAGE, STOPPING_MESSAGE, type ApplyEvent, type ApplyResult } from "../../src/applier/index.js";
import type { Plan } from "../../src/planner/types.js";
import { clusterView, makePlan, planAndApply, shardText, startEnv, type Env } from "./harness.js";

const RETRY = { baseDelayMs: 20, maxDelayMs: 200 };

/** Requests other than GET the simulator answered from `from` on: what changed the cluster. */
function writesSince(env: Env, from: number): string[] {
  return env.sim.stats().log.slice(from).filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
}

/** Most actions in flight at once among those `pick` selects (start → done/failed), per key. */
function maxInFlight(events: ApplyEvent[], pick: (e: ApplyEvent) => string | undefined): number {
  const now = new Map<string, number>();
  let most = 0;
  for (const e of events) {
    const key = pick(e);
    if (key === undefined) continue;
    if (e.type === "start") now.set(key, (now.get(key) ?? 0) + 1);
    else if (e.type === "done" || e.type === "failed") now.set(key, (now.get(key) ?? 0) - 1);
    most = Math.max(most, now.get(key) ?? 0);
  }
  return most;
}

/** A plan made now (no lock), and what apply() needs to run it, with its events collected. */
async function prepared(env: Env): Promise<{ plan: Plan; run: (over?: Partial<Parameters<typeof apply>[1]>) => Promise<ApplyResult>; events: ApplyEvent[]; close: () => Promise<void> }> {
  const desired = await env.desired();
  const store = await env.store();
  const ops = env.provider();
  const plan = await makePlan(ops, desired, (await store.read())?.doc);
  const events: ApplyEvent[] = [];
  return {
    plan,
    events,
    run: (over = {}) => apply(plan, { ops, store, desired, retry: RETRY, onEvent: (e) => events.push(e), ...over }),
    close: () => ops.close(),
  };
}

async function lockIsFree(env: Env): Promise<boolean> {
  const store = await env.store();
  try {
    const lock = await store.lock("check", { timeoutMs: 0 });
    await lock.release();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "STATE_LOCKED") return false;
    throw err;
  }
}

describe("apply() before its first action", () => {
  let env: Env;
  beforeEach(async () => {
    env = await startEnv({ latency: "fast", seed: 41 });
  });
  afterEach(async () => env?.close());

  it("interrupted before it starts: takes no lock, changes nothing, and reports every action not started", async () => {
    env.writeShard({ webSize: 2 });
    const p = await prepared(env);
    const controller = new AbortController();
    controller.abort();
    const from = env.sim.stats().log.length;
    const t0 = Date.now();
    const result = await p.run({ signal: controller.signal });
    const wall = Date.now() - t0;
    await p.close();
    expect(result).toMatchObject({ status: "interrupted", done: [], failed: [], skipped: [], state: { serial: 0, writes: 0, mutations: 0 } });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(result.elapsedMs).toBeLessThanOrEqual(wall);
    expect(result.notStarted).toEqual(p.plan.actions.map((a) => a.id));
    expect(p.events).toEqual([]);
    expect(writesSince(env, from)).toEqual([]);
    expect(await (await env.store()).read()).toBeUndefined();
  });

  it("refuses a plan made for another cluster or another shard before any change, and releases the lock it took", async () => {
    env.writeShard({ webSize: 1 });
    for (const edit of [(q: Plan) => (q.clusterId = "elsewhere"), (q: Plan) => (q.shardId = "other")]) {
      const p = await prepared(env);
      edit(p.plan);
      const from = env.sim.stats().log.length;
      const err = await p.run().then(() => undefined, (e: unknown) => e as { code?: string; message: string });
      await p.close();
      expect(err).toMatchObject({ code: "E_PLAN_MISMATCH" });
      expect(err!.message).toBe(`Saved plan is for shard ${p.plan.clusterId}/${p.plan.shardId}, not apptest/e2e; it cannot be applied here`);
      expect(writesSince(env, from)).toEqual([]);
      expect(await (await env.store()).read()).toBeUndefined();
      expect(await lockIsFree(env)).toBe(true);
    }
  });

  it("refuses a plan whose VM changed since it was made, before any change", async () => {
    env.writeShard({ webSize: 1, webCores: 1 });
    await planAndApply(env);
    env.writeShard({ webSize: 1, webCores: 2 });
    const p = await prepared(env);
    const configure = p.plan.actions.find((a) => a.type === "configure")!;
    await env.api("PUT", `/nodes/${configure.node}/qemu/${configure.vmid}/config`, { description: "edited by hand" });
    const from = env.sim.stats().log.length;
    await expect(p.run()).rejects.toMatchObject({ code: "E_PLAN_STALE", message: expect.stringContaining(`VM ${configure.vmid} config changed`) });
    await p.close();
    expect(writesSince(env, from)).toEqual([]);
  });

  it("with checkFreshness false applies a plan without the saved-plan checks (one the caller just made inside its lock)", async () => {
    env.writeShard({ webSize: 1 });
    const p = await prepared(env);
    p.plan.state = { ...p.plan.state, serial: 99 };
    const result = await p.run({ checkFreshness: false });
    await p.close();
    expect(result.status).toBe("applied");
    expect((await clusterView(env)).vms).toHaveLength(1);
  });

  it("keeps a lock its caller holds, and refuses one already released before reading anything", async () => {
    env.writeShard({ webSize: 1 });
    const store = await env.store();
    const lock = await store.lock("apply");
    const p = await prepared(env);
    const result = await p.run({ lock });
    expect(result.status).toBe("applied");
    expect(() => lock.assertHeld()).not.toThrow();
    expect(await lockIsFree(env)).toBe(false);
    // The caller's lock is handed in, so apply announces no lock of its own.
    expect(p.events.filter((e) => e.type === "lock")).toEqual([]);
    await lock.release();

    env.writeShard({ webSize: 2 });
    const q = await prepared(env);
    const from = env.sim.stats().log.length;
    const serial = (await store.read())!.doc.serial;
    await expect(q.run({ lock })).rejects.toMatchObject({ code: "LOCK_LOST" });
    await q.close();
    await p.close();
    expect(writesSince(env, from)).toEqual([]);
    expect((await store.read())!.doc.serial).toBe(serial);
  });

  it("applies an empty plan at once: no preflight, no state write, the current serial", async () => {
    env.writeShard({ webSize: 0 });
    const fresh = await prepared(env);
    expect(fresh.plan.actions).toEqual([]);
    const first = await fresh.run();
    await fresh.close();
    expect(first).toMatchObject({ status: "applied", done: [], notStarted: [], state: { serial: 0, writes: 0, mutations: 0 } });
    // Nothing to walk: no walk's summary either (the CLI says "No changes.").
    expect(fresh.events.map((e) => e.type)).toEqual(["lock"]);

    env.writeShard({ webSize: 1 });
    const made = await planAndApply(env);
    const serial = made.result.state.serial;
    expect(serial).toBeGreaterThan(0);
    const from = env.sim.stats().log.length;
    const p = await prepared(env);
    expect(p.plan.actions).toEqual([]);
    const result = await p.run();
    await p.close();
    expect(result).toMatchObject({ status: "applied", notStarted: [], state: { serial, writes: 0, mutations: 0 } });
    expect(env.sim.stats().log.slice(from).filter((r) => r.path.endsWith("/access/permissions"))).toEqual([]);
    expect((await (await env.store()).read())!.doc.serial).toBe(serial);
  });

  it("checks the token's permissions only for a plan that touches the cluster, not for state-only bookkeeping", async () => {
    env.writeShard({ webSize: 1 });
    const permissionReads = (from: number) => env.sim.stats().log.slice(from).filter((r) => r.path.endsWith("/access/permissions")).length;
    // The plan reads the permissions too (its own preflight): count what the apply reads, with a
    // provider of its own (nothing cached from the plan).
    const p = await prepared(env);
    const ops = env.provider();
    let from = env.sim.stats().log.length;
    const created = await p.run({ ops });
    await p.close();
    expect(created.status).toBe("applied");
    expect(permissionReads(from)).toBeGreaterThan(0);

    // The VM is deleted out of band: refresh-only forgets its record with no call to Proxmox.
    const [vm] = (await clusterView(env)).vms;
    await env.api("POST", `/nodes/${vm!.node}/qemu/${vm!.vmid}/status/stop`, {});
    await new Promise((r) => setTimeout(r, 200));
    await env.api("DELETE", `/nodes/${vm!.node}/qemu/${vm!.vmid}`);
    for (let i = 0; i < 50 && (await clusterView(env)).vms.length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    from = env.sim.stats().log.length;
    const forgot = await planAndApply(env, { mode: "refresh-only" });
    expect(forgot.plan.actions.map((a) => a.type)).toEqual(["forget-state"]);
    expect(forgot.result.status).toBe("applied");
    expect(permissionReads(from)).toBe(0);
  });
});

describe("apply() and the lock it takes", () => {
  let env: Env;
  beforeEach(async () => {
    env = await startEnv({ latency: "fast", seed: 49 });
  });
  afterEach(async () => env?.close());

  it("holds the lease as an `apply` while it runs", async () => {
    env.writeShard({ webSize: 1 });
    const p = await prepared(env);
    let held: { operation?: string } | undefined;
    const result = await p.run({
      onEvent: (e) => {
        if (e.type === "start" && held === undefined) held = JSON.parse(readFileSync(path.join(env.stateDir, "shard", "e2e", "state.lock"), "utf8"));
      },
    });
    await p.close();
    expect(result.status).toBe("applied");
    expect(held?.operation).toBe("apply");
  });

  it("with lockTimeoutMs 0 gives up at once on a lease someone else holds, changing nothing", async () => {
    env.writeShard({ webSize: 1 });
    const other = await (await env.store()).lock("apply", { timeoutMs: 0 });
    try {
      const p = await prepared(env);
      const from = env.sim.stats().log.length;
      await expect(p.run({ lockTimeoutMs: 0 })).rejects.toMatchObject({ code: "STATE_LOCKED" });
      await p.close();
      expect(writesSince(env, from)).toEqual([]);
      other.assertHeld();
    } finally {
      await other.release();
    }
  });
});

describe("apply() around the walk", () => {
  let env: Env;
  afterEach(async () => env?.close());

  it("survives an event handler that throws, and still converges", async () => {
    env = await startEnv({ latency: "fast", seed: 42 });
    env.writeShard({ webSize: 2 });
    const p = await prepared(env);
    const result = await p.run({ onEvent: () => { throw new Error("a broken renderer"); } });
    await p.close();
    expect(result.status).toBe("applied");
    expect((await clusterView(env)).vms.filter((v) => v.status === "running")).toHaveLength(2);
  });

  it("announces the lock it takes, each state write with its serial, and a summary; nothing after it returned", async () => {
    env = await startEnv({ latency: "fast", seed: 43 });
    env.writeShard({ webSize: 2 });
    const p = await prepared(env);
    const controller = new AbortController();
    const result = await p.run({ signal: controller.signal });
    await p.close();
    expect(result.status).toBe("applied");
    expect(p.events[0]).toMatchObject({ type: "lock", level: "info", message: expect.stringMatching(/^Acquired the state lock \(ID [\w-]+\)$/) });
    const serials = p.events.filter((e) => e.type === "state-written").map((e) => e.serial);
    expect(serials.length).toBe(result.state.writes);
    expect(serials.at(-1)).toBe(result.state.serial);
    expect((await (await env.store()).read())!.doc.serial).toBe(result.state.serial);
    expect(p.events.at(-1)).toMatchObject({ type: "complete", level: "info", message: `Apply complete! ${p.plan.actions.length} actions done, 0 failed, 0 skipped.` });
    expect(result.done.sort()).toEqual(p.plan.actions.map((a) => a.id).sort());
    const count = p.events.length;
    controller.abort();
    expect(p.events.length).toBe(count);
    expect(await lockIsFree(env)).toBe(true);
  });

  it("writes the first record under this cluster and shard, with the groups' replace specs", async () => {
    env = await startEnv({ latency: "fast", seed: 44 });
    env.writeShard({ webSize: 1 });
    const desired = await env.desired();
    await planAndApply(env);
    const doc = (await (await env.store()).read())!.doc;
    expect([doc.clusterId, doc.shardId]).toEqual(["apptest", "e2e"]);
    expect(Object.keys(doc.replaceSpecs ?? {}).sort()).toEqual([...new Set(desired.groups.map((g) => g.replaceHash))].sort());
  });

  it("on interrupt warns twice, once, then says what it did and saved", async () => {
    env = await startEnv({ latency: "fast", seed: 45 });
    env.writeShard({ webSize: 4 });
    const p = await prepared(env);
    const controller = new AbortController();
    const result = await p.run({
      signal: controller.signal,
      parallelism: 1,
      onEvent: (e) => {
        p.events.push(e);
        if (e.type === "done") controller.abort();
      },
    });
    await p.close();
    expect(result.status).toBe("interrupted");
    expect(p.events.filter((e) => e.type === "interrupt").map((e) => [e.message, e.level])).toEqual([[INTERRUPT_MESSAGE, "warn"], [STOPPING_MESSAGE, "warn"]]);
    expect(result.done).toHaveLength(1);
    expect(result.notStarted.length).toBe(p.plan.actions.length - 1);
    expect(p.events.at(-1)).toMatchObject({
      type: "complete",
      level: "warn",
      message: `Apply interrupted: 1 actions done, ${result.notStarted.length} not started; state saved (serial ${result.state.serial}).`,
    });
    expect((await (await env.store()).read())!.doc.serial).toBe(result.state.serial);
  });

  it("retries a failing action as often as its policy says, the defaults filling what the caller leaves out", async () => {
    env = await startEnv({ latency: "fast", seed: 50 });
    env.writeShard({ webSize: 1 });
    env.sim.setFaults("rate=1,kinds=taskfail,methods=POST,paths=/qemu/\\d+/config$");
    // A failed task is retried as lock contention (PVE's storage and config locks): `lockAttempts`.
    const three = await planAndApply(env, {}, { retry: { lockAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } });
    const retries = (events: ApplyEvent[]) => events.filter((e) => e.type === "retry" && e.action === "configure").length;
    expect(three.result.failed.map((f) => [f.type, f.error.code])).toEqual([["configure", "TASK_FAILED"]]);
    expect(retries(three.events)).toBe(2);
    const byDefault = await planAndApply(env, {}, { retry: { baseDelayMs: 5, maxDelayMs: 10 } });
    expect(byDefault.result.failed.map((f) => [f.type, f.error.code])).toEqual([["configure", "TASK_FAILED"]]);
    expect(retries(byDefault.events)).toBe(9); // DEFAULT_RETRY: 10 lock attempts
  });

  it("reports a running action's progress at the interval asked, and run-level times within the run", async () => {
    env = await startEnv({ latency: "fast", seed: 51, faults: "rate=1,kinds=slow,slow=400,methods=POST,paths=/clone$" });
    env.writeShard({ webSize: 1 });
    const t0 = Date.now();
    const often = await planAndApply(env, {}, { progressIntervalMs: 50 });
    const wall = Date.now() - t0;
    expect(often.result.status).toBe("applied");
    expect(often.events.filter((e) => e.type === "progress" && e.action === "clone").length).toBeGreaterThan(0);
    // Run-level events count from the run's start: never more than the run took, never negative.
    for (const e of often.events.filter((x) => x.actionId === undefined)) {
      expect(e.elapsedMs, e.type).toBeGreaterThanOrEqual(0);
      expect(e.elapsedMs, e.type).toBeLessThanOrEqual(wall);
    }
    expect(often.result.elapsedMs).toBeLessThanOrEqual(wall);
    expect(often.result.elapsedMs).toBeGreaterThanOrEqual(0);

    env.writeShard({ webSize: 2 });
    const rarely = await planAndApply(env);
    expect(rarely.result.status).toBe("applied");
    // The default interval is 10 s, far longer than this 400 ms clone.
    expect(rarely.events.filter((e) => e.type === "progress")).toEqual([]);
  });

  it("writes a queued clone's record ahead as soon as the clone is ready, before its storage slot frees", async () => {
    env = await startEnv({ latency: "fast", seed: 52, nodes: 1, faults: "rate=1,kinds=slow,slow=400,methods=POST,paths=/clone$" });
    env.writeShard({ webSize: 2 });
    const stateFile = path.join(env.stateDir, "shard", "e2e", "state.json");
    let recordedWhenFirstCloneEnded: string[] | undefined;
    const { plan, result } = await planAndApply(env, {}, {
      perStorageCloneLimit: 1,
      onEvent: (e) => {
        if (e.type === "done" && e.action === "clone" && recordedWhenFirstCloneEnded === undefined) {
          recordedWhenFirstCloneEnded = Object.keys((JSON.parse(readFileSync(stateFile, "utf8")) as { instances: Record<string, unknown> }).instances).sort();
        }
      },
    });
    expect(result.status).toBe("applied");
    expect(recordedWhenFirstCloneEnded).toEqual(plan.changes.map((c) => c.instanceId).sort());
  });

  describe("clone limits", () => {
    // Every clone is held 300 ms by the simulator, so clones that may overlap do.
    const slowClones = "rate=1,kinds=slow,slow=300,methods=POST,paths=/clone$";
    const clones = (e: ApplyEvent) => (e.action === "clone" ? (e.node ?? "?") : undefined);
    const anyAction = (e: ApplyEvent) => (e.action ? "all" : undefined);

    it("runs as many clones at once on one node's storage as the shard's clone_concurrency_per_storage, one with a limit of 1 per storage or per node", async () => {
      env = await startEnv({ latency: "fast", seed: 46, nodes: 1, faults: slowClones });
      const shard = (webSize: number) => {
        const doc = JSON.parse(shardText({ webSize }));
        doc.shard.infra.options.clone_concurrency_per_storage = 2;
        writeFileSync(env.shardPath, JSON.stringify(doc));
      };
      shard(3);
      const byDefault = await planAndApply(env);
      expect(byDefault.result.status).toBe("applied");
      expect(maxInFlight(byDefault.events, clones)).toBe(2);

      // Three more VMs on the same node and storage, each round.
      shard(6);
      const perStorage = await planAndApply(env, {}, { perStorageCloneLimit: 1 });
      expect(perStorage.result.status).toBe("applied");
      expect(maxInFlight(perStorage.events, clones)).toBe(1);

      shard(9);
      const perNode = await planAndApply(env, {}, { perNodeLimit: 1, perStorageCloneLimit: 3 });
      expect(perNode.result.status).toBe("applied");
      expect(maxInFlight(perNode.events, clones)).toBe(1);

      shard(12);
      const twoPerNode = await planAndApply(env, {}, { perNodeLimit: 2, perStorageCloneLimit: 3 });
      expect(twoPerNode.result.status).toBe("applied");
      expect(maxInFlight(twoPerNode.events, clones)).toBe(2);
    });

    it("runs one action at a time with parallelism 1 (or 0, read as 1)", async () => {
      env = await startEnv({ latency: "fast", seed: 47, faults: slowClones });
      env.writeShard({ webSize: 2 });
      const one = await planAndApply(env, {}, { parallelism: 0 });
      expect(one.result.status).toBe("applied");
      expect(maxInFlight(one.events, anyAction)).toBe(1);
    });

    it("limits a shared storage's clones cluster-wide, a node-local one per node", async () => {
      env = await startEnv({ latency: "fast", seed: 48, faults: slowClones });
      env.writeShard({ webSize: 3 });
      const local = await planAndApply(env, {}, { perStorageCloneLimit: 1 });
      expect(new Set(local.plan.actions.filter((a) => a.type === "clone").map((a) => a.node)).size).toBe(3);
      expect(maxInFlight(local.events, (e) => (e.action === "clone" ? "all" : undefined))).toBe(3);

      env.writeShard({ webSize: 6 });
      const shared = await planAndApply(env, {}, { perStorageCloneLimit: 1, sharedStorages: ["local-lvm"] });
      expect(shared.result.status).toBe("applied");
      expect(maxInFlight(shared.events, (e) => (e.action === "clone" ? "all" : undefined))).toBe(1);
    });
  });
});
