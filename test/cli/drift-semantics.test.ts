/**
 * "Changed outside" means outside (ARCHITECTURE.md rule 10), against the simulator over HTTP: a
 * shard-file edit is an ordinary planned change, never drift; drift is the cluster differing from
 * what pvefleet last applied (the state), whatever the shard file says now.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
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

describe("a shard-file edit is not drift", () => {
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
  const ourVm = async () => {
    const vms = await get<{ vmid: number; node: string; tags?: string }[]>("/cluster/resources?type=vm");
    return vms.find((v) => (v.tags ?? "").split(";").includes("dev"))!;
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
    ws = await workspace(sim, shard(2));
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stderr);
  }, 60_000);
  afterAll(async () => {
    await dispatcher?.close();
    await sim?.stop();
  });

  it("plans an edited Cores as an in-place update with no 'changed outside' note, and drift stays in sync", async () => {
    await writeFile(ws.config, shard(1));
    const plan = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(2);
    expect(plan.stdout).not.toMatch(/changed outside/);
    expect(plan.stdout).toMatch(/will be updated in-place/);
    expect(plan.stdout).toMatch(/cores: 2 → 1/);
    const json = JSON.parse((await cli(ws, ["plan", "--format", "json"])).stdout) as { resource_drift: unknown[] };
    expect(json.resource_drift).toEqual([]);

    const drift = await cli(ws, ["drift"]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(0);
    expect(drift.stdout).toMatch(/no drift/);
  }, 60_000);

  it("reports an out-of-band edit against what was applied, not against the edited file", async () => {
    // The file now says 1, the last apply set 2, an operator sets 3.
    const vm = await ourVm();
    await put(`/nodes/${vm.node}/qemu/${vm.vmid}/config`, { cores: "3" });
    const drift = await cli(ws, ["drift", "--format", "json"]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(2);
    const findings = (JSON.parse(drift.stdout) as { findings: { kind: string; attribute?: string; expected?: unknown; actual?: unknown }[] }).findings;
    expect(findings.filter((f) => f.kind === "attribute")).toEqual([expect.objectContaining({ attribute: "cores", expected: 2, actual: 3 })]);

    const plan = await cli(ws, ["plan", "--deep"]);
    expect(plan.stdout).toMatch(/Objects have changed outside of pvefleet/);
    expect(plan.stdout).toMatch(/~ cores: 2 → 3/);
    // The planned change itself goes where the file says.
    expect(plan.stdout).toMatch(/cores: 3 → 1/);
  }, 60_000);

  it("after the apply the state records the applied sizes and drift is clean", async () => {
    const applied = await cli(ws, ["apply", "--auto-approve", "--allow-restart"]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const doc = JSON.parse(await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8")) as { instances: Record<string, { applied?: unknown }> };
    const record = Object.values(doc.instances)[0]!;
    expect(record.applied).toEqual({ cores: 1, memoryMiB: 512, onboot: false });
    const drift = await cli(ws, ["drift"]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(0);
  }, 60_000);
});
