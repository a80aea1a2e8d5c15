/**
 * max_surge is how many replacements run at once, rolling through all of them within one apply
 * (issue #6), against the simulator over HTTP: a userdata change replaces every VM of the group in
 * one apply, never more than max_surge new VMs ahead of the old ones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { parseSavedPlan } from "../../src/planner/saved-plan.js";
import { cli, workspace, type Workspace } from "./helpers.js";

function shard(hostnameLine: string): string {
  return `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "full_clone": false, "max_surge": 2 } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" },
      "userdata": { "content": "#cloud-config\\n${hostnameLine}\\n" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 5 } } }
}
`;
}

describe("rolling replacements", () => {
  let sim: Simulator;
  let ws: Workspace;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    ws = await workspace(sim, shard("hostname: one"));
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stderr);
  }, 90_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("plans every replacement of the group, max_surge at a time, and applies them all in one run", async () => {
    const before = JSON.parse(await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8")) as { instances: Record<string, unknown> };
    await writeFile(ws.config, shard("hostname: two"));
    const planFile = join(ws.dir, "p.json");
    const plan = await cli(ws, ["plan", "--out", planFile]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/Plan: 5 to add, 0 to change, 5 to destroy\./);
    expect(plan.stdout).not.toMatch(/deferred/);

    // The waves: the third new VM is cloned only after the first old one is gone, and so on.
    const saved = parseSavedPlan(await readFile(planFile, "utf8"), planFile);
    const pairs = saved.changes.filter((c) => c.kind === "replace").map((c) => ({ old: c.instanceId, new: c.replaces! }));
    const waits = (newId: string) => saved.actions.find((a) => a.instanceId === newId && a.type === "clone")!.dependsOn;
    expect(waits(pairs[0]!.new)).toEqual([]);
    expect(waits(pairs[1]!.new)).toEqual([]);
    for (let k = 2; k < pairs.length; k++) expect(waits(pairs[k]!.new)).toEqual([`${pairs[k - 2]!.old}:forget-state`]);

    const applied = await cli(ws, ["apply", planFile]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const after = JSON.parse(await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8")) as { instances: Record<string, unknown> };
    expect(Object.keys(after.instances)).toHaveLength(5);
    expect(Object.keys(after.instances).filter((id) => id in before.instances)).toEqual([]);
    expect((await cli(ws, ["plan", "--detailed-exitcode"])).code).toBe(0);
    expect((await cli(ws, ["drift"])).code).toBe(0);
  }, 120_000);
});
