/**
 * Losing the state lease while an apply runs: renewals that fail until the lease expires, a
 * renewal that hangs (the lease expires with no renewal ever reporting), `force-unlock` by another
 * operator, and a takeover of the expired lease by a second run. In every case the applier stops
 * before its next action with LOCK_LOST: no further request changes the cluster and no further
 * state write is started; the next run resumes from what was recorded.
 *
 * The simulator holds the one clone POST for 1.5 s (a `slow` fault), so the 600 ms lease is lost
 * while that clone is in flight. The state lives in the real file backend, behind a wrapper that
 * can make the lock's renewals fail or hang (what a flaky or black-holed S3 endpoint does).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apply, type ApplyEvent } from "../../src/applier/index.js";
import { FileBackend, ShardStateStore, type LockOptions } from "../../src/state/index.js";
import type { LeaseLock, ObjectBackend, Versioned } from "../../src/state/types.js";
import { clusterView, makePlan, planAndApply, startEnv, type Env } from "./harness.js";

const TTL_MS = 600;
const CLONE_HOLD_MS = 1500;
const LOCK_OPTIONS: LockOptions = { ttlMs: TTL_MS, backoffInitialMs: 50, backoffMaxMs: 100, releaseGraceMs: 2_000 };

type Step = { kind: "state-put" } | { kind: "lost"; simLogAt: number };

/** The file backend, with the lock's If-Match writes (renewals, release) made to fail or hang on demand. */
class LockFaultBackend implements ObjectBackend {
  readonly description: string;
  mode: "ok" | "fail" | "hang" = "ok";
  readonly trail: Step[] = [];
  private openGate: () => void = () => undefined;
  private gate: Promise<void> = new Promise((r) => { this.openGate = r; });

  constructor(private readonly inner: FileBackend) {
    this.description = inner.description;
  }

  get(key: string): Promise<Versioned | undefined> {
    return this.inner.get(key);
  }

  async put(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }> {
    if (key.endsWith("state.json")) this.trail.push({ kind: "state-put" });
    if (key.endsWith("state.lock") && "ifMatch" in cond) {
      if (this.mode === "fail") throw new Error("503 Slow Down (injected)");
      // A black-holed request: it answers only when the test lets it, then goes through.
      if (this.mode === "hang") await this.gate;
    }
    return this.inner.put(key, body, cond);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  release(): void {
    this.mode = "ok";
    this.openGate();
  }
}

interface LostRun {
  error: { code?: string; message: string };
  events: ApplyEvent[];
  backend: LockFaultBackend;
  lock: LeaseLock;
  /** Requests other than GET the simulator answered during the apply, and after the loss. */
  writes: string[];
  writesAfterLoss: string[];
}

/** One apply holding a short lease; `whenCloneStarts` breaks the lease while the clone is held. */
async function applyLosingLease(
  env: Env,
  whenCloneStarts: (ctx: { backend: LockFaultBackend; lock: LeaseLock; other: ShardStateStore }) => void,
  options: { applyTakesTheLock?: boolean } = {},
): Promise<LostRun> {
  const backend = new LockFaultBackend(new FileBackend(env.stateDir));
  const store = new ShardStateStore(backend, "apptest", "e2e", LOCK_OPTIONS);
  const other = new ShardStateStore(new FileBackend(env.stateDir), "apptest", "e2e", LOCK_OPTIONS);
  const desired = await env.desired();
  const ops = env.provider();
  const plan = await makePlan(ops, desired, (await store.read())?.doc);
  // Either the caller holds the lock (apply without a plan file) or apply takes and releases it.
  let lock: LeaseLock | undefined = options.applyTakesTheLock ? undefined : await store.lock("apply");
  expect(plan.actions.filter((a) => a.type === "clone")).toHaveLength(1);
  const logStart = env.sim.stats().log.length;
  const events: ApplyEvent[] = [];
  let lockId = "";
  const error = await apply(plan, {
    ops, store, desired, lock, parallelism: 1, retry: { baseDelayMs: 20, maxDelayMs: 200 },
    onEvent: (e) => {
      events.push(e);
      if (e.type === "lock") lockId = /ID ([\w-]+)/.exec(e.message ?? "")![1]!;
      if (e.type === "start" && e.action === "clone") whenCloneStarts({ backend, lock: lock ?? { info: { id: lockId } } as LeaseLock, other });
      if (e.type === "failed" && e.error?.code === "LOCK_LOST") backend.trail.push({ kind: "lost", simLogAt: env.sim.stats().log.length });
    },
  }).then(
    () => { throw new Error("apply finished although its lease was lost"); },
    (err: unknown) => err as { code?: string; message: string },
  );
  await ops.close();
  const log = env.sim.stats().log;
  const lost = backend.trail.find((s): s is Extract<Step, { kind: "lost" }> => s.kind === "lost");
  const mutating = (from: number) => log.slice(from).filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
  lock ??= { info: { id: lockId }, assertHeld: () => undefined, release: async () => undefined } as unknown as LeaseLock;
  return { error, events, backend, lock, writes: mutating(logStart), writesAfterLoss: lost ? mutating(lost.simLogAt) : ["(never lost)"] };
}

/** What every lost lease must leave: the clone only, its record, nothing after the loss; the next run resumes. */
async function expectStoppedCleanly(env: Env, run: LostRun): Promise<void> {
  expect(run.error.code).toBe("LOCK_LOST");
  // The action after the clone was the one refused: one `failed`, nothing started after it.
  const failed = run.events.filter((e) => e.type === "failed");
  expect(failed.map((e) => e.error?.code)).toEqual(["LOCK_LOST"]);
  expect(failed[0]!.action).not.toBe("clone");
  const at = run.events.indexOf(failed[0]!);
  expect(run.events.slice(at + 1).filter((e) => e.type === "start")).toEqual([]);
  expect(run.events.filter((e) => e.type === "done").map((e) => e.action)).toEqual(["clone"]);
  // The only change the cluster saw is the clone that was in flight when the lease went.
  expect(run.writes).toHaveLength(1);
  expect(run.writes[0]).toMatch(/^POST \/api2\/json\/nodes\/pve\d\/qemu\/\d+\/clone$/);
  expect(run.writesAfterLoss).toEqual([]);
  // No state write was started after the loss.
  const lostAt = run.backend.trail.findIndex((s) => s.kind === "lost");
  expect(lostAt).toBeGreaterThanOrEqual(0);
  expect(run.backend.trail.slice(lostAt + 1)).toEqual([]);
  // What was recorded: the create, write-ahead, with its clone done and nothing more.
  const doc = (await (await env.store()).read())!.doc;
  const records = Object.values(doc.instances);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ phase: "creating", stepsDone: ["clone"] });
  const view = await clusterView(env);
  expect(view.vms.map((v) => [v.name, v.status])).toEqual([[records[0]!.instanceId, "stopped"]]);
  expect(view.vms[0]!.vmid).toBe(records[0]!.vmid);
}

async function expectNextRunResumes(env: Env): Promise<void> {
  const before = (await (await env.store()).read())!.doc;
  const [instanceId] = Object.keys(before.instances);
  const next = await planAndApply(env);
  expect(next.result.status).toBe("applied");
  expect(next.plan.actions.map((a) => a.type)).not.toContain("clone");
  const view = await clusterView(env);
  expect(view.vms.map((v) => [v.name, v.status])).toEqual([[instanceId, "running"]]);
  expect((await (await env.store()).read())!.doc.instances[instanceId!]).toMatchObject({ phase: "ready", vmid: before.instances[instanceId!]!.vmid });
}

describe("an apply that loses its lease", () => {
  let env: Env;
  beforeEach(async () => {
    env = await startEnv({ latency: "fast", seed: 18, faults: `rate=1,kinds=slow,slow=${CLONE_HOLD_MS},methods=POST,paths=/clone$` });
    env.writeShard({ webSize: 1 });
  });
  afterEach(async () => env?.close());

  it("stops before its next action when renewals fail until the lease expires", async () => {
    const run = await applyLosingLease(env, ({ backend }) => { backend.mode = "fail"; });
    await expectStoppedCleanly(env, run);
    expect(run.error.message).toContain("renewal failed until the lease expired");
    await run.lock.release();
    env.sim.setFaults(undefined);
    await expectNextRunResumes(env);
  });

  it("stops when the lease expired while its renewal hangs, before any renewal reported", async () => {
    const run = await applyLosingLease(env, ({ backend }) => { backend.mode = "hang"; });
    await expectStoppedCleanly(env, run);
    expect(run.error.message).toMatch(/expired at .* without being renewed/);
    // Once told, it stays lost even when the hung renewal finally lands.
    run.backend.release();
    await new Promise((r) => setTimeout(r, TTL_MS / 2));
    expect(() => run.lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
    await run.lock.release();
    // Nobody took it over, so the release still cleans up: the next run need not wait for it.
    expect(await new FileBackend(env.stateDir).get("shard/e2e/state.lock")).toBeUndefined();
    env.sim.setFaults(undefined);
    await expectNextRunResumes(env);
  });

  it("returns LOCK_LOST, not hang, when it took the lock itself and the renewal never answers", async () => {
    const run = await applyLosingLease(env, ({ backend }) => { backend.mode = "hang"; }, { applyTakesTheLock: true });
    await expectStoppedCleanly(env, run);
    expect(run.error.message).toMatch(/expired at .* without being renewed/);
    // The hung renewal was given up on: the lease object is left to expire, still naming that run.
    const held = JSON.parse(new TextDecoder().decode((await new FileBackend(env.stateDir).get("shard/e2e/state.lock"))!.body)) as { id: string };
    expect(held.id).toBe(run.lock.info.id);
    run.backend.release();
    env.sim.setFaults(undefined);
    await expectNextRunResumes(env);
  });

  it("stops when another operator force-unlocks it", async () => {
    let unlocked: Promise<void> | undefined;
    const run = await applyLosingLease(env, ({ lock, other }) => { unlocked = other.forceUnlock(lock.info.id); });
    await unlocked;
    await expectStoppedCleanly(env, run);
    expect(run.error.message).toContain("removed by someone else");
    await run.lock.release();
    env.sim.setFaults(undefined);
    await expectNextRunResumes(env);
  });

  it("stops when a second run takes the expired lease over, and leaves that run's lease alone", async () => {
    let contender: Promise<LeaseLock> | undefined;
    const run = await applyLosingLease(env, ({ backend, other }) => {
      backend.mode = "hang";
      // A long lease for the second run: its own renewals are not under test and may lag under load.
      contender = other.lock("apply", { timeoutMs: 10_000, ttlMs: 60_000 });
    });
    const second = await contender!;
    await expectStoppedCleanly(env, run);
    // The hung renewal lands now and finds the lease replaced; releasing must not touch it.
    run.backend.release();
    await run.lock.release();
    second.assertHeld();
    const held = JSON.parse(new TextDecoder().decode((await new FileBackend(env.stateDir).get("shard/e2e/state.lock"))!.body)) as { id: string; released?: boolean };
    expect(held.id).toBe(second.info.id);
    expect(held.released).toBeUndefined();
    await second.release();
    env.sim.setFaults(undefined);
    await expectNextRunResumes(env);
  });
});
