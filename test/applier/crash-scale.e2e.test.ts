/**
 * Crash-resume at fleet scale (issue 15): the crash tests' SIGKILL, at 1,000 instances. A child
 * `apply` of 1,000 creates (parallelism 50) on a 16-node `fast` cluster is SIGKILLed mid-apply, then
 * a scale-down to 600 is SIGKILLed mid-delete. After each kill, before any recovery:
 * - write-ahead held: every VM the child's requests made (by name, once its tasks settled) is in
 *   the state it left (a clone was never sent before its record was durable);
 * After the operator's force-unlock and re-applies until the plan is empty:
 * - every desired VM exists exactly once, running, in the state with its VMID and node, one ISO each;
 * - nothing acknowledged was lost: every record the killed run had written `ready` that is still
 *   desired kept its VMID (the VM was not made again).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterView, planAndApply, planNow, runChild, startEnv, type Env } from "./harness.js";
import type { InstanceRecord } from "../../src/state/types.js";

const NODES = 16;
const PARALLELISM = 50;

describe("crash-resume at 1,000 instances", () => {
  let env: Env;
  let caFile: string;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 15, nodes: NODES });
    caFile = path.join(env.dir, "ca.pem");
    writeFileSync(caFile, env.sim.caCertificate);
  });
  afterAll(async () => env?.close());

  /** Waits until no task runs on any node (the killed child's clones and deletes finish in the cluster). */
  async function tasksSettled(): Promise<void> {
    for (;;) {
      let running = 0;
      for (let i = 1; i <= NODES; i++) running += ((await env.api("GET", `/nodes/pve${i}/tasks?source=active`)) as unknown[]).length;
      if (running === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const stateNow = async (): Promise<Record<string, InstanceRecord>> => ((await (await env.store()).read())?.doc.instances ?? {});

  it.sequential("a SIGKILL mid-create of 1,000 and mid-delete of 400 loses nothing written ahead, and re-applying converges without duplicates", async () => {
    // Killed after a number of finished actions (1,000 creates are ~5,000 actions; 400 deletes ~1,600).
    const rounds = [{ webSize: 1000, afterDone: 1500, killMs: 30 }, { webSize: 600, afterDone: 300, killMs: 10 }];
    let killedMidApply = 0;
    for (const round of rounds) {
      env.writeShard({ webSize: round.webSize, dbSize: 0 });
      const { killed, lines } = await runChild(env, caFile, round.killMs, { PARALLELISM: String(PARALLELISM) }, round.afterDone);
      const childDone = lines.filter((l) => l.startsWith("done ")).length;
      if (killed && !lines.some((l) => l.startsWith("result"))) killedMidApply++;

      // Before any recovery: every VM of ours the cluster holds is in the state the dead child left.
      await tasksSettled();
      const left = await stateNow();
      const afterKill = await clusterView(env);
      const unrecorded = afterKill.vms.filter((v) => left[v.name] === undefined).map((v) => `${v.name} (${v.vmid})`);
      expect(unrecorded, "VMs made without a durable write-ahead record").toEqual([]);
      expect(childDone).toBeGreaterThanOrEqual(round.afterDone);

      const lockFile = path.join(env.stateDir, "shard", "e2e", "state.lock");
      const store = await env.store();
      if (existsSync(lockFile)) await store.forceUnlock((JSON.parse(readFileSync(lockFile, "utf8")) as { id: string }).id);
      for (let attempt = 0; attempt < 6; attempt++) {
        const run = await planAndApply(env, {}, { parallelism: PARALLELISM });
        if (run.plan.actions.length === 0) break;
        expect(run.result.failed.filter((f) => f.error.code !== "VM_LOCKED")).toEqual([]);
      }
      expect((await planNow(env)).actions).toEqual([]);

      const view = await clusterView(env);
      const names = view.vms.map((v) => v.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names).toHaveLength(round.webSize);
      expect(view.vms.every((v) => v.status === "running")).toBe(true);
      const isoOwners = view.isos.map((iso) => iso.replace(/^.*iso\//, "").replace("-cidata.iso", "")).sort();
      expect(isoOwners).toEqual([...names].sort());
      const doc = await stateNow();
      expect(Object.keys(doc).sort()).toEqual([...names].sort());
      for (const v of view.vms) expect(doc[v.name]).toMatchObject({ vmid: v.vmid, node: v.node, phase: "ready" });
      // Acknowledged `ready` before the kill and still desired: the same VM, not a new one.
      for (const [name, rec] of Object.entries(left)) {
        if (rec.phase === "ready" && doc[name]) expect(doc[name]!.vmid, name).toBe(rec.vmid);
      }
      if (process.env.CRASH_DEBUG) console.log(`round ${round.webSize}: child finished ${childDone} actions before the kill; ${Object.keys(left).length} records left`);
    }
    expect(killedMidApply).toBe(rounds.length);
  }, 900_000);
});
