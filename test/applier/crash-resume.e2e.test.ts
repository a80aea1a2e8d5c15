/**
 * Crash-resume (ARCHITECTURE.md rule 7): a child `apply` is SIGKILLed at random moments against one
 * simulator (`fast` profile, so kills land mid-clone, mid-upload, mid-delete); after each kill the
 * stale lock is force-unlocked, as an operator would, and apply runs again until the plan is empty.
 * Then: every desired VM exists exactly once, no VM or ISO is left behind, the state matches.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterView, planAndApply, planNow, runChild, startEnv, type Env } from "./harness.js";

const KILLS = 20;

describe("crash-resume", () => {
  let env: Env;
  let caFile: string;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 42 });
    caFile = path.join(env.dir, "ca.pem");
    writeFileSync(caFile, env.sim.caCertificate);
  });
  afterAll(async () => env?.close());

  it.sequential(`converges without duplicates or leaks after ${KILLS} SIGKILLs at random moments mid-apply`, async () => {
    const sizes = [3, 1, 4, 2, 0, 3, 5, 2];
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let killedMidApply = 0;
    let raced = 0;
    for (let i = 0; killedMidApply < KILLS && i < KILLS + 10; i++) {
      const t0 = Date.now();
      const want = { webSize: sizes[i % sizes.length]!, dbSize: i % 2 };
      env.writeShard(want);
      const { killed, lines } = await runChild(env, caFile, Math.floor(random() * 250));
      if (killed && !lines.some((l) => l.startsWith("result"))) killedMidApply++;
      const t1 = Date.now();

      // The killed run left its lease behind; the operator's force-unlock LOCK_ID.
      const lockFile = path.join(env.stateDir, "shard", "e2e", "state.lock");
      const store = await env.store();
      if (existsSync(lockFile)) await store.forceUnlock((JSON.parse(readFileSync(lockFile, "utf8")) as { id: string }).id);

      for (let round = 0; round < 8; round++) {
        let run;
        const tp = Date.now();
        try {
          run = await planAndApply(env);
          if (process.env.CRASH_DEBUG) console.log(`  round ${round}: ${Date.now() - tp} ms, ${run.plan.actions.length} actions`);
        } catch (err) {
          // Tasks the killed child started still run in the simulator; a clone that then fails
          // removes its VM between the listing and the config read of the next plan. Plan again.
          if ((err as { code?: string }).code !== "NOT_FOUND") throw err;
          raced++;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        if (process.env.CRASH_DEBUG) {
          for (const e of run.events) if (e.type === "done" || e.type === "retry" || e.type === "failed") if (e.elapsedMs > 2000 || e.type !== "done") console.log(`  ${e.type} ${e.actionId} ${e.elapsedMs} ms ${e.error?.message ?? ""}`);
        }
        if (run.plan.actions.length === 0) break;
        expect(run.result.failed).toEqual([]);
      }
      expect((await planNow(env)).actions).toEqual([]);

      const view = await clusterView(env);
      const names = view.vms.map((v) => v.name);
      if (process.env.CRASH_DEBUG && names.filter((n) => n.startsWith("web")).length !== want.webSize) {
        const p = await planNow(env);
        console.log(i, JSON.stringify(want), JSON.stringify(view), JSON.stringify((await (await env.store()).read())!.doc.instances, null, 1), p.warnings, JSON.stringify(p.changes), JSON.stringify(await env.api("GET", "/cluster/resources?type=vm")));
      }
      expect(new Set(names).size).toBe(names.length);
      expect(names.filter((n) => n.startsWith("web"))).toHaveLength(want.webSize);
      expect(names.filter((n) => n.startsWith("dbs"))).toHaveLength(want.dbSize);
      expect(view.vms.every((v) => v.status === "running")).toBe(true);
      const isoOwners = view.isos.map((iso) => iso.replace(/^.*iso\//, "").replace("-cidata.iso", "")).sort();
      expect(isoOwners).toEqual([...names].sort());
      const doc = (await store.read())!.doc;
      expect(Object.keys(doc.instances).sort()).toEqual([...names].sort());
      for (const v of view.vms) expect(doc.instances[v.name]).toMatchObject({ vmid: v.vmid, node: v.node, phase: "ready" });
      if (process.env.CRASH_DEBUG) console.log(`round ${i}: child ${t1 - t0} ms, recovery ${Date.now() - t1} ms, killed ${killed}, lines ${lines.length}`);
    }
    // The kills must land while the child is applying, or the test proves little.
    expect(killedMidApply).toBeGreaterThanOrEqual(KILLS);
    if (process.env.CRASH_DEBUG) console.log(`crash-resume: ${killedMidApply} kills mid-apply, ${raced} plans raced a dying task`);
  }, 150_000);
});
