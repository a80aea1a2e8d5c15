/**
 * A replacement names the attribute that forces it (issue 13 #6), against the simulator over HTTP:
 * a userdata edit shows a unified diff on the text plan (sensitive: never in the saved plan or the
 * markdown), a template change names the old and the new template, and a state written before the
 * replace-forcing attributes were recorded still plans.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, workspace, type Workspace } from "../cli/helpers.js";

function shard(o: { hostname: string; template?: string }): string {
  const template = o.template ?? `"TemplateName": "debian-13-template"`;
  return `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "full_clone": false } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", ${template}, "Cores": 1, "Memory": 512, "Bridge": "vmbr0" },
      "userdata": { "content": "#cloud-config\\npackages:\\n  - nginx\\nhostname: ${o.hostname}\\ntimezone: UTC\\n" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 2 } } }
}
`;
}

describe("what forces a replacement", () => {
  let sim: Simulator;
  let ws: Workspace;
  const statePath = () => join(ws.dir, "state", "shard", "dev", "state.json");
  beforeAll(async () => {
    // One node: TemplateVMID 9000 lives there, and a template on local storage clones only on its node.
    sim = await startSimulator({ port: 0, latency: "fast", nodes: 1 });
    ws = await workspace(sim, shard({ hostname: "one" }));
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stdout + r.stderr);
  }, 90_000);
  afterAll(async () => {
    await sim?.stop();
  });

  it("records the group's replace-forcing attributes once, not per instance", async () => {
    const doc = JSON.parse(await readFile(statePath(), "utf8")) as { instances: Record<string, { replaceHash: string }>; replaceSpecs?: Record<string, { template: unknown; userdata?: { content: string } }> };
    const hashes = [...new Set(Object.values(doc.instances).map((r) => r.replaceHash))];
    expect(hashes).toHaveLength(1);
    expect(Object.keys(doc.replaceSpecs ?? {})).toEqual(hashes);
    expect(doc.replaceSpecs![hashes[0]!]!.template).toEqual({ name: "debian-13-template" });
    expect(doc.replaceSpecs![hashes[0]!]!.userdata!.content).toContain("hostname: one");
  });

  it("shows a userdata edit as a diff naming the changed line, in the text plan only", async () => {
    await writeFile(ws.config, shard({ hostname: "two" }));
    const planFile = join(ws.dir, "userdata.json");
    const r = await cli(ws, ["plan", "--out", planFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Plan: 2 to add, 0 to change, 2 to destroy\./);
    expect(r.stdout).toMatch(/userdata: \(sensitive, 2 lines changed\) # forces replacement/);
    expect(r.stdout).toMatch(/^\s+-hostname: one$/m);
    expect(r.stdout).toMatch(/^\s+\+hostname: two$/m);
    expect(r.stdout).toMatch(/^\s+ {1}timezone: UTC$/m); // context
    expect(r.stdout).toContain("because userdata changed (sensitive, 2 lines changed)");
    expect(r.stdout).not.toMatch(/replaceHash|sha256:.*forces replacement/);

    // The saved plan (a CI artifact) says how much changed, never the old text.
    const saved = await readFile(planFile, "utf8");
    expect(saved).toContain("userdata changed (sensitive, 2 lines changed)");
    expect(saved).not.toContain("hostname: one");
    const shown = await cli(ws, ["show", planFile]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/userdata: \(sensitive, 2 lines changed\)/);
    expect(shown.stdout).not.toContain("hostname: one");

    // In CI the text plan is a log others read: the size of the change, not the text.
    const inCi = await cli(ws, ["plan"], { CI: "true" });
    expect(inCi.code, inCi.stderr).toBe(0);
    expect(inCi.stdout).toMatch(/userdata: \(sensitive, 2 lines changed; diff not shown in CI\) # forces replacement/);
    expect(inCi.stdout).not.toContain("hostname: one");
    expect(inCi.stdout).not.toContain("hostname: two");

    const md = await cli(ws, ["plan", "--format", "markdown"]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/userdata.*sensitive/);
    expect(md.stdout).not.toContain("hostname: one");
    expect(md.stdout).not.toContain("hostname: two");
  }, 60_000);

  it("names the old and the new template", async () => {
    await writeFile(ws.config, shard({ hostname: "one", template: `"TemplateVMID": 9000` }));
    const r = await cli(ws, ["plan"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/template: +"debian-13-template" → "VMID 9000" # forces replacement/);
    expect(r.stdout).toContain("because template debian-13-template → VMID 9000");
    expect(r.stdout).not.toMatch(/userdata/);
  }, 60_000);

  it("still plans from a state recorded before the attributes were, and records them on apply", async () => {
    const doc = JSON.parse(await readFile(statePath(), "utf8")) as Record<string, unknown>;
    delete doc.replaceSpecs;
    await writeFile(statePath(), `${JSON.stringify(doc, null, 2)}\n`);
    await writeFile(ws.config, shard({ hostname: "two" }));
    const r = await cli(ws, ["plan"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Plan: 2 to add, 0 to change, 2 to destroy\./);
    expect(r.stdout).toContain("because replace-forcing spec changed (recorded by an older pvefleet");

    const applied = await cli(ws, ["apply", "--auto-approve"]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const after = JSON.parse(await readFile(statePath(), "utf8")) as { instances: Record<string, { replaceHash: string }>; replaceSpecs?: Record<string, { userdata?: { content: string } }> };
    const hashes = [...new Set(Object.values(after.instances).map((x) => x.replaceHash))];
    expect(Object.keys(after.replaceSpecs ?? {})).toEqual(hashes);
    expect(after.replaceSpecs![hashes[0]!]!.userdata!.content).toContain("hostname: two");
    expect((await cli(ws, ["plan", "--detailed-exitcode"])).code).toBe(0);
  }, 120_000);
});
