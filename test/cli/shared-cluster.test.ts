/**
 * A cluster shared with an operator's hand-made VM and a sibling shard (F7 of the adversarial
 * review): VMs that are not this shard's are information, never drift, so a scheduled `drift`
 * exits 0 when this shard is in sync — and 2 as soon as one of its own VMs changes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, SHARD_JSONC, workspace, type Workspace } from "./helpers.js";

describe("drift on a shared cluster", () => {
  let sim: Simulator;
  let ws: Workspace;
  let dispatcher: Agent;
  const api = async (method: "GET" | "POST" | "PUT", path: string, form?: Record<string, string>) => {
    const r = await request(`${sim.url}${path}`, {
      method, dispatcher,
      headers: { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const body = (await r.body.json()) as { data: unknown };
    if (r.statusCode !== 200) throw new Error(`${method} ${path}: ${r.statusCode}`);
    return body.data;
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
    ws = await workspace(sim);
    await api("POST", "/nodes/pve1/qemu", { vmid: "500", name: "ops-db", memory: "1024", cores: "1", tags: "prod" });
    // A sibling shard of the same cluster, applied from its own file and state.
    const sibling = join(ws.dir, "sibling.jsonc");
    await writeFile(sibling, SHARD_JSONC.replace(`"id": "dev"`, `"id": "prod"`));
    for (const args of [["apply", "--auto-approve", "-c", sibling], ["apply", "--auto-approve"]]) {
      const r = await cli(ws, args);
      if (r.code !== 0) throw new Error(r.stderr);
    }
  }, 60_000);
  afterAll(async () => {
    await dispatcher?.close();
    await sim?.stop();
  });

  it("exits 0 and says the other VMs are not this shard's", async () => {
    const r = await cli(ws, ["drift"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no drift\..* 3 VMs on the cluster are not this shard's \(left alone\)\./);
    const json = await cli(ws, ["drift", "--format", "json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ in_sync: true, summary: { unmanaged: 3 } });
  });

  it("exits 2 once one of its own VMs is stopped out of band", async () => {
    const vms = (await api("GET", "/cluster/resources?type=vm")) as { vmid: number; node: string; tags?: string }[];
    const mine = vms.find((v) => (v.tags ?? "").split(";").includes("dev"))!;
    await api("POST", `/nodes/${mine.node}/qemu/${mine.vmid}/status/stop`, {});
    for (let i = 0; i < 100; i++) {
      const st = (await api("GET", `/nodes/${mine.node}/qemu/${mine.vmid}/status/current`)) as { status: string };
      if (st.status === "stopped") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await cli(ws, ["drift", "--format", "json"]);
    expect(r.code, r.stderr).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ in_sync: false, summary: { stopped: 1, unmanaged: 3 } });
  });
});

describe("an empty state in front of a live fleet", () => {
  let sim: Simulator;
  let ws: Workspace;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    ws = await workspace(sim);
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stderr);
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("refuses to plan the fleet again from an empty --state-dir, naming the VMs and the ways out", async () => {
    const before = (sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/clone"] ?? 0);
    for (const cmd of [["plan"], ["apply", "--auto-approve"]]) {
      const r = await cli(ws, [...cmd, "--state-dir", join(ws.dir, "elsewhere")]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^Error: the state knows no instance of shard test-cluster\/dev, but 2 VM\(s\) carry its tags: tst\w+ \(VMID \d+ on pve\d\)/);
      expect(r.stderr).toMatch(/point pvefleet at the shard's state \(--state-dir, --storage\/--bucket\/--prefix\), or plan with --adopt/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/clone"] ?? 0).toBe(before);
    // The right state plans nothing.
    const ok = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
  });
});
