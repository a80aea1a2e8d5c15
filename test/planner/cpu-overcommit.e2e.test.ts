/**
 * vCPU overcommit (issue 13 #7): a plan that commits more vCPUs on a node than `cpu_overcommit` ×
 * the node's CPUs (PVE's `maxcpu`) warns, in every output format, and still plans. Against the
 * simulator over HTTP: three nodes of 16 CPUs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, workspace, type Workspace } from "../cli/helpers.js";

function shard(o: { ratio?: number; size: number; cores: number }): string {
  const options = o.ratio === undefined ? "" : `, "options": { "cpu_overcommit": ${o.ratio} }`;
  return `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva"${options} } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": ${o.cores}, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": ${o.size} } } }
}
`;
}

describe("vCPU overcommit", () => {
  let sim: Simulator;
  let ws: Workspace;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    ws = await workspace(sim, shard({ size: 9, cores: 8 }));
  }, 60_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("stays quiet within the default of 4 vCPUs per CPU", async () => {
    // 9 VMs of 8 vCPUs spread over 3 nodes: 24 vCPUs on 16 CPUs each (1.5 per CPU).
    const r = await cli(ws, ["plan"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Plan: 9 to add/);
    expect(r.stdout).not.toMatch(/overcommit/);
  });

  it("warns per node above cpu_overcommit, in text, markdown and JSON, and still plans", async () => {
    await writeFile(ws.config, shard({ ratio: 1, size: 9, cores: 8 }));
    const text = await cli(ws, ["plan"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Plan: 9 to add/);
    for (const node of ["pve1", "pve2", "pve3"]) {
      expect(text.stdout).toContain(`vCPU overcommit on ${node}: the plan commits 0 → 24 vCPUs on its 16 CPUs (1.5 per CPU, above cpu_overcommit 1)`);
    }
    const json = await cli(ws, ["plan", "--format", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const warnings = (JSON.parse(json.stdout) as { warnings: string[] }).warnings.filter((w) => w.startsWith("vCPU overcommit"));
    expect(warnings).toHaveLength(3);
    const md = await cli(ws, ["plan", "--format", "markdown"]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/vCPU overcommit on pve1/);
  });

  it("does not warn about a node the plan adds no vCPUs to, however full", async () => {
    await writeFile(ws.config, shard({ size: 9, cores: 8 }));
    const applied = await cli(ws, ["apply", "--auto-approve"]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    // Now 24 vCPUs on each 16-CPU node, above a ratio of 1, but this plan adds none.
    await writeFile(ws.config, shard({ ratio: 1, size: 9, cores: 8 }));
    const same = await cli(ws, ["plan"]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/No changes/);
    expect(same.stdout).not.toMatch(/overcommit/);
    // One more VM: only the node it lands on is warned about.
    await writeFile(ws.config, shard({ ratio: 1, size: 10, cores: 8 }));
    const more = await cli(ws, ["plan"]);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout.match(/vCPU overcommit on pve\d: the plan commits 24 → 32 vCPUs/g)).toHaveLength(1);
  }, 120_000);
});
