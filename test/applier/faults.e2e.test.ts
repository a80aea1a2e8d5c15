/**
 * Fault injection: 10 % of requests answer 5xx, reset the connection after the change, or start a
 * task that fails; clones are allowed past the simulator's per-storage lock limit so storage lock
 * timeouts happen too. Apply, re-run until the plan is empty (bounded), and the cluster must be
 * exactly the desired state — nothing duplicated, nothing leaked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterView, planAndApply, planNow, startEnv, type Env, type ShardParams } from "./harness.js";

const codes = new Set<string>();

/**
 * What may stop a whole run under these faults: a read (refresh, details, the permission
 * preflight) that still failed after the provider's bounded retries. Anything else — a state
 * conflict, a lost lock, a TypeError, a failed assertion — is a bug and must fail the test.
 */
const TRANSIENT = new Set(["NETWORK", "SERVER"]);
function transient(err: unknown): boolean {
  return TRANSIENT.has(String((err as { code?: unknown })?.code));
}

async function converge(env: Env, want: ShardParams): Promise<{ rounds: number; retries: number; planErrors: number }> {
  let retries = 0;
  let planErrors = 0;
  for (let round = 1; round <= 10; round++) {
    let run;
    try {
      run = await planAndApply(env, {}, { perStorageCloneLimit: 12, parallelism: 24 });
    } catch (err) {
      // A refresh that failed past the provider's own retries: the run stops before changing
      // anything, and the next one starts over (what a CI re-run does).
      if (!transient(err)) throw err;
      planErrors++;
      if (planErrors > 6) throw err;
      continue;
    }
    retries += run.events.filter((e) => e.type === "retry").length;
    for (const e of run.events) if (e.type === "retry" || e.type === "failed") codes.add(e.error!.code);
    if (run.plan.actions.length === 0) return { rounds: round, retries, planErrors };
  }
  throw new Error(`no convergence to ${JSON.stringify(want)} in 10 rounds`);
}

async function expectExactly(env: Env, want: ShardParams) {
  const view = await clusterView(env);
  const names = view.vms.map((v) => v.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names.filter((n) => n.startsWith("web"))).toHaveLength(want.webSize);
  expect(names.filter((n) => n.startsWith("dbs"))).toHaveLength(want.dbSize ?? 0);
  expect(view.vms.every((v) => v.status === "running" && v.tags.split(";").includes("nstance"))).toBe(true);
  expect(view.isos.map((i) => i.replace(/^.*iso\//, "").replace("-cidata.iso", "")).sort()).toEqual([...names].sort());
  const doc = (await (await env.store()).read())!.doc;
  expect(Object.keys(doc.instances).sort()).toEqual([...names].sort());
  for (const v of view.vms) expect(doc.instances[v.name]).toMatchObject({ vmid: v.vmid, phase: "ready" });
}

describe("apply under injected faults", () => {
  let env: Env;
  beforeAll(async () => {
    // One node: every clone goes to pve1/local-lvm, past the simulator's 2-per-storage lock.
    env = await startEnv({ latency: "fast", faults: "rate=0.1,kinds=5xx+reset+taskfail", seed: 99, nodes: 1 });
  });
  afterAll(async () => env?.close());

  it("converges to exactly the desired state through 5xx, resets, failed tasks and storage lock timeouts", async () => {
    const up = { webSize: 8, dbSize: 3 };
    env.writeShard(up);
    const first = await converge(env, up);
    await expectExactly(env, up);
    expect(first.retries).toBeGreaterThan(0); // faults did hit the applier's own calls
    if (process.env.FAULTS_DEBUG) console.log(first, [...codes]);

    const down = { webSize: 3, dbSize: 1 };
    env.writeShard(down);
    await converge(env, down);
    await expectExactly(env, down);
    let settled = false;
    for (let i = 0; i < 5 && !settled; i++) {
      settled = await planNow(env).then(
        (p) => p.actions.length === 0,
        (err: unknown) => {
          if (!transient(err)) throw err;
          return false;
        },
      );
    }
    expect(settled).toBe(true);
  }, 120_000);
});
