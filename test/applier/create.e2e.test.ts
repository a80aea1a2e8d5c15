import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterView, planAndApply, planNow, startEnv, type Env } from "./harness.js";

describe("apply against the simulator", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "instant" });
  });
  afterAll(async () => env?.close());

  it("creates a shard from nothing and a second plan is empty", async () => {
    env.writeShard({ webSize: 2, dbSize: 1 });
    const { result, events } = await planAndApply(env);
    expect(result.failed).toEqual([]);
    expect(result.status).toBe("applied");
    const view = await clusterView(env);
    expect(view.vms).toHaveLength(3);
    expect(view.vms.every((v) => v.status === "running")).toBe(true);
    expect(view.isos).toHaveLength(3);
    const state = (await (await env.store()).read())!.doc;
    expect(Object.keys(state.instances).sort()).toEqual(view.vms.map((v) => v.name).sort());
    for (const rec of Object.values(state.instances)) {
      expect(rec.phase).toBe("ready");
      expect(view.vms.find((v) => v.name === rec.instanceId)!.vmid).toBe(rec.vmid);
    }
    expect(events.some((e) => e.type === "state-written")).toBe(true);
    const again = await planNow(env);
    expect(again.actions).toEqual([]);
  });
});
