/**
 * A whole apply where every clone, ISO upload and VM delete is completed by PVE but answered with
 * a 500 (the simulator's `5xx-after`): the fleet still converges — creates adopt their clone and
 * find their ISO, deletes confirm the VM is gone — and each of those calls reached the cluster
 * exactly once per instance: nothing was duplicated by a retry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterView, planAndApply, planNow, startEnv, type Env } from "./harness.js";
import { CLONE, UPLOAD, DELETE_VM as DELETE } from "./cluster-api.js";

describe("apply when PVE acts, then answers 500", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 31, faults: "rate=1,kinds=5xx-after,methods=POST+DELETE,paths=(/clone|/upload|/qemu/\\d+)$" });
  });
  afterAll(async () => env?.close());

  const sent = (endpoint: string) => env.sim.stats().requests[endpoint] ?? 0;

  async function converge(): Promise<number> {
    for (let round = 1; round <= 4; round++) {
      await planAndApply(env);
      if ((await planNow(env)).actions.length === 0) return round;
    }
    throw new Error("no convergence in 4 rounds");
  }

  it("creates three VMs with one clone and one upload each", async () => {
    env.writeShard({ webSize: 3 });
    await converge();
    const view = await clusterView(env);
    expect(view.vms).toHaveLength(3);
    expect(view.vms.every((v) => v.status === "running")).toBe(true);
    expect(view.isos).toHaveLength(3);
    expect(sent(CLONE)).toBe(3);
    expect(sent(UPLOAD)).toBe(3);
    const doc = (await (await env.store()).read())!.doc;
    for (const v of view.vms) expect(doc.instances[v.name]).toMatchObject({ phase: "ready", vmid: v.vmid });
  });

  it("deletes them with one DELETE each", async () => {
    env.writeShard({ webSize: 0 });
    await converge();
    const view = await clusterView(env);
    expect(view.vms).toEqual([]);
    expect(view.isos).toEqual([]);
    expect(sent(DELETE)).toBe(3);
    expect((await (await env.store()).read())!.doc.instances).toEqual({});
  });
});
