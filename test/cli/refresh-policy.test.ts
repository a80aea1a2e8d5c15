/**
 * One refresh policy for every command (ARCHITECTURE.md rule 9), against the simulator over HTTP:
 * whatever `drift` reports, `plan` shows and `apply` repairs, so drift is clean right after a
 * repair apply; every plan and drift says which policy it used and how many reads it made.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, workspace, type Workspace } from "./helpers.js";

describe("one refresh policy for plan, apply and drift", () => {
  let sim: Simulator;
  let ws: Workspace;
  let dispatcher: Agent;
  const headers = () => ({ authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` });
  const get = async <T>(path: string): Promise<T> => {
    const r = await request(`${sim.url}${path}`, { headers: headers(), dispatcher });
    return ((await r.body.json()) as { data: T }).data;
  };
  const put = async (path: string, form: Record<string, string>) => {
    const r = await request(`${sim.url}${path}`, {
      method: "PUT", dispatcher, body: new URLSearchParams(form).toString(),
      headers: { ...headers(), "content-type": "application/x-www-form-urlencoded" },
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`PUT ${path}: ${r.statusCode}`);
  };
  const ourVms = async () => {
    const vms = await get<{ vmid: number; node: string; tags?: string }[]>("/cluster/resources?type=vm");
    return vms.filter((v) => (v.tags ?? "").split(";").includes("dev"));
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
    ws = await workspace(sim);
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stderr);
  }, 60_000);
  afterAll(async () => {
    await dispatcher?.close();
    await sim?.stop();
  });

  it("says which policy a plan and a drift check used and how many reads they made", async () => {
    const plan = await cli(ws, ["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    // (A VM the listing has not caught up with yet is also read live: status reads are not fixed.)
    expect(plan.stdout).toMatch(/^Refresh: full \(2 listings, 2 config reads, \d+ status reads?\): every VM of the shard read/m);
    const json = JSON.parse((await cli(ws, ["plan", "--format", "json"])).stdout) as { refresh: { status_reads: number } };
    expect(json.refresh).toEqual({ policy: "full", listings: 2, config_reads: 2, status_reads: json.refresh.status_reads, api_calls: 4 + json.refresh.status_reads });

    const listing = await cli(ws, ["plan", "--refresh", "listing"]);
    expect(listing.stdout).toMatch(/^Refresh: listing \(2 listings, \d+ config reads?, \d+ status reads?\): pending cores\/memory changes, onboot and notes edits are not seen/m);

    const drift = await cli(ws, ["drift"]);
    expect(drift.code, drift.stdout).toBe(0);
    expect(drift.stdout).toMatch(/^Refresh: full \(2 listings, 2 config reads, \d+ status reads?\)/m);
    const driftJson = JSON.parse((await cli(ws, ["drift", "--format", "json", "--refresh", "listing"])).stdout) as { refresh: unknown };
    expect(driftJson.refresh).toMatchObject({ policy: "listing", listings: 2 });
  }, 60_000);

  it("plans and repairs a pending cores edit on a running VM that drift reports, and drift is clean after the apply", async () => {
    const [vm] = await ourVms();
    // PVE keeps a cold cores change on a running VM pending: the listing still shows the old value.
    await put(`/nodes/${vm!.node}/qemu/${vm!.vmid}/config`, { cores: "4" });
    const drift = await cli(ws, ["drift"]);
    expect(drift.code, drift.stdout).toBe(2);
    expect(drift.stdout).toMatch(/cores: 1 → 4/);

    const plan = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(2);
    expect(plan.stdout).toMatch(/Objects have changed outside of pvefleet/);
    expect(plan.stdout).toMatch(/cores: 4 → 1/);

    const applied = await cli(ws, ["apply", "--auto-approve"]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const config = await get<{ cores: number }>(`/nodes/${vm!.node}/qemu/${vm!.vmid}/config`);
    expect(config.cores).toBe(1);
    const after = await cli(ws, ["drift"]);
    expect(after.code, after.stdout).toBe(0);
    expect((await cli(ws, ["plan", "--detailed-exitcode"])).code).toBe(0);
  }, 60_000);

  it("the listing-only mode does not see the pending edit, and says so", async () => {
    const [vm] = await ourVms();
    await put(`/nodes/${vm!.node}/qemu/${vm!.vmid}/config`, { cores: "4" });
    const plan = await cli(ws, ["plan", "--refresh", "listing", "--detailed-exitcode"]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/pending cores\/memory changes, onboot and notes edits are not seen/);
    expect((await cli(ws, ["drift", "--refresh", "listing"])).code).toBe(0);
    expect((await cli(ws, ["drift"])).code).toBe(2);
    expect((await cli(ws, ["apply", "--auto-approve"])).code).toBe(0);
  }, 60_000);

  it("refuses --deep with --refresh listing", async () => {
    const r = await cli(ws, ["plan", "--deep", "--refresh", "listing"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--deep and --refresh listing contradict each other/);
  });
});
