import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTopology } from "../../src/sim/topology.js";
import { clusterView, planAndApply, startEnv, type Env } from "./harness.js";

describe("apply with a token that lacks a privilege", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "instant", topology: { ...defaultTopology(2), dropPrivileges: ["VM.Clone"] } });
  });
  afterAll(async () => env?.close());

  it("fails before any change, naming the missing privilege and the roles to assign", async () => {
    env.writeShard({ webSize: 2 });
    const err = await planAndApply(env).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe("PERMISSION");
    expect(err?.message).toContain("VM.Clone");
    expect(err?.message).toMatch(/PVEVMAdmin/);
    expect((await clusterView(env)).vms).toEqual([]);
    const state = await (await env.store()).read();
    expect(state === undefined || Object.keys(state.doc.instances).length === 0).toBe(true);
  });
});
