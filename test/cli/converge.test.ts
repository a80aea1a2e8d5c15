/**
 * `plan` right after `apply`, and on running VMs, against the simulator over real HTTP: the
 * lagging listing (pvestatd cycle, `realistic` profile only) must not plan a second start, and a
 * cores change that PVE keeps pending until a restart must not be planned again on every run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { Agent, request } from "undici";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, workspace, type Workspace } from "./helpers.js";

function shard(cores: number): string {
  return `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "full_clone": false } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": ${cores}, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 1 } } }
}
`;
}

/** An operator's own API calls (no backdoor: the same REST API pvefleet uses). */
function operator(sim: Simulator) {
  const dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
  const headers = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` };
  return {
    async get<T>(path: string): Promise<T> {
      const r = await request(`${sim.url}${path}`, { headers, dispatcher });
      return ((await r.body.json()) as { data: T }).data;
    },
    async put(path: string, form: Record<string, string>): Promise<void> {
      const r = await request(`${sim.url}${path}`, {
        method: "PUT", dispatcher, body: new URLSearchParams(form).toString(),
        headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
      });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`PUT ${path}: ${r.statusCode}`);
    },
    close: () => dispatcher.close(),
  };
}

type Op = ReturnType<typeof operator>;

async function ourVm(op: Op): Promise<{ node: string; vmid: number }> {
  const vms = await op.get<{ vmid: number; node: string; tags?: string }[]>("/cluster/resources?type=vm");
  const vm = vms.find((v) => (v.tags ?? "").includes("nstance"));
  if (!vm) throw new Error("no VM of ours is listed");
  return { node: vm.node, vmid: vm.vmid };
}

describe("plan straight after apply while the listing lags (realistic pvestatd cycle)", () => {
  let sim: Simulator;
  let ws: Workspace;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "realistic" });
    ws = await workspace(sim, shard(1));
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it("apply then an immediate plan --detailed-exitcode exits 0", async () => {
    const applied = await cli(ws, ["apply", "--auto-approve"]);
    expect(applied.code, applied.stderr).toBe(0);
    const before = sim.stats().requests["GET /nodes/{node}/qemu/{vmid}/status/current"] ?? 0;
    const r = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No changes/);
    // The listing still said stopped (or had no name yet), so the plan read the VM live.
    const after = sim.stats().requests["GET /nodes/{node}/qemu/{vmid}/status/current"] ?? 0;
    expect(after).toBeGreaterThan(before);
  }, 90_000);
});

describe("cores on a running VM", () => {
  let sim: Simulator;
  let ws: Workspace;
  let op: Op;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    ws = await workspace(sim, shard(1));
    op = operator(sim);
    const applied = await cli(ws, ["apply", "--auto-approve"]);
    if (applied.code !== 0) throw new Error(applied.stderr);
  }, 60_000);
  afterAll(async () => {
    await op?.close();
    await sim?.stop();
  });

  it("a raised cores is configured once, then reported pending until restart instead of planned again", async () => {
    await writeFile(ws.config, shard(2));
    const applied = await cli(ws, ["apply", "--auto-approve"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout + applied.stderr).toMatch(/cores 1 → 2 will be pending until the VM restarts/);

    const r = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/cores 1 → 2 is pending until the VM restarts \(use --allow-restart\)/);
  }, 60_000);

  it("--allow-restart restarts the VM once, and the next plan is clean", async () => {
    const planned = await cli(ws, ["plan", "--allow-restart", "--detailed-exitcode"]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(2);
    const applied = await cli(ws, ["apply", "--allow-restart", "--auto-approve"]);
    expect(applied.code, applied.stderr).toBe(0);
    const vm = await ourVm(op);
    const current = await op.get<{ status: string; cpus: number }>(`/nodes/${vm.node}/qemu/${vm.vmid}/status/current`);
    expect(current).toMatchObject({ status: "running", cpus: 2 });
    const r = await cli(ws, ["plan", "--allow-restart", "--detailed-exitcode"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/pending/);
  }, 60_000);

  it("an operator's cores edit on the running VM is seen by --deep, set back once, and not looped on", async () => {
    const vm = await ourVm(op);
    await op.put(`/nodes/${vm.node}/qemu/${vm.vmid}/config`, { cores: "4" });
    // Pending on a running VM: the listing still shows 2, only the config read sees 4.
    const plain = await cli(ws, ["plan", "--refresh", "listing", "--detailed-exitcode"]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    const deep = await cli(ws, ["plan", "--deep", "--detailed-exitcode"]);
    expect(deep.code, deep.stdout + deep.stderr).toBe(2);
    expect(deep.stdout).toMatch(/cores/);
    const drift = await cli(ws, ["drift"]);
    expect(drift.code).toBe(2);

    const applied = await cli(ws, ["apply", "--deep", "--auto-approve"]);
    expect(applied.code, applied.stderr).toBe(0);
    const config = await op.get<{ cores: number }>(`/nodes/${vm.node}/qemu/${vm.vmid}/config`);
    expect(config.cores).toBe(2);
    const again = await cli(ws, ["plan", "--deep", "--detailed-exitcode"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toMatch(/pending/);
    expect((await cli(ws, ["drift"])).code).toBe(0);
  }, 60_000);
});
