/**
 * The Terraform user's flow against the simulator over HTTPS, typed the Terraform way: `plan
 * -out=tfplan` writes tfplan; `apply tfplan` from another directory with only credentials in the
 * environment (the plan names its shard file and state); a shard file changed or moved since the
 * plan is refused with one line; `destroy -target=…` and `destroy -out=…`; the bpg provider's
 * PROXMOX_VE_* variables; `state list -json`; the Groups: table; `graph` of a live plan.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { apiUrl, cli, cliInProcess, workspace, type Sim, type Workspace } from "./helpers.js";

const TWO_GROUPS = `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva" } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 2 }, "db": { "template": "web", "size": 1 } } }
}
`;

let sim: Sim;
let ws: Workspace;
let elsewhere: string;

beforeAll(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim, TWO_GROUPS);
  elsewhere = await mkdtemp(join(tmpdir(), "pvefleet-elsewhere-"));
});

afterAll(async () => {
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
  if (elsewhere) await rm(elsewhere, { recursive: true, force: true });
});

/** Only the credentials: no shard file, no state location (what `apply tfplan` must not need). */
const credentialsOnly = () => ({ PVEFLEET_CONFIG: undefined, PVEFLEET_STATE_DIR: undefined });

interface StateList { format_version: string; cluster_id: string; shard_id: string; exists: boolean; serial: number; instances: { address: string; instance_id: string; group: string; vmid: number; node: string; phase: string; steps_done: string[] }[] }

async function stateList(): Promise<StateList> {
  const r = await cliInProcess(["state", "list", "-json"], { PVEFLEET_CONFIG: ws.config, PVEFLEET_STATE_DIR: join(ws.dir, "state") });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StateList;
}

describe("the Terraform flow, typed the Terraform way", () => {
  it("plan -out=tfplan writes tfplan (not ut=tfplan) and shows each group's counts and size", async () => {
    const r = await cli(ws, ["plan", "-out=tfplan", "-no-color"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(join(ws.dir, "tfplan"))).toBe(true);
    expect(existsSync(join(ws.dir, "ut=tfplan"))).toBe(false);
    expect(r.stdout).toContain("Saved the plan to: tfplan");
    const table = r.stdout.slice(r.stdout.indexOf("Groups:")).split("\n").slice(2, 4).map((l) => l.trim().split(/\s+/));
    expect(table).toEqual([["acme.db", "1", "1", "0", "0", "0"], ["acme.web", "2", "2", "0", "0", "0"]]);

    // graph of the saved plan: no cluster access, from anywhere.
    const graph = await cliInProcess(["graph", join(ws.dir, "tfplan")], { PROXMOX_API_URL: "https://127.0.0.1:1/api2/json" });
    expect(graph.stderr).toBe("");
    expect(graph.code).toBe(0);
    expect(graph.stdout.match(/\[label = "clone\\n/g)).toHaveLength(3);
  });

  it("apply tfplan runs from another directory with nothing but the credentials", async () => {
    const r = await cli({ ...ws, dir: elsewhere }, ["apply", "-input=false", join(ws.dir, "tfplan")], credentialsOnly());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.");
    // The state went where the plan was made (the workspace's state dir), not to ./.pvefleet here.
    expect(existsSync(join(elsewhere, ".pvefleet"))).toBe(false);
    const list = await stateList();
    expect(list).toMatchObject({ format_version: "1.0", cluster_id: "test-cluster", shard_id: "dev", exists: true });
    expect(list.instances.map((i) => i.group).sort()).toEqual(["acme.db", "acme.web", "acme.web"]);
    for (const i of list.instances) {
      expect(i.address).toBe(`${i.group}/${i.instance_id}`);
      expect(i.phase).toBe("ready");
      expect(Object.keys(i).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);
    }
  });

  it("refuses a saved plan whose shard file changed, or moved, since the plan: one line each", async () => {
    const text = await readFile(ws.config, "utf8");
    await writeFile(ws.config, text.replace('"size": 2', '"size": 3'));
    expect((await cli(ws, ["plan", "-out=grow"])).code).toBe(0);

    await writeFile(ws.config, `${text.replace('"size": 2', '"size": 3')}// edited after the plan\n`);
    const changed = await cli({ ...ws, dir: elsewhere }, ["apply", join(ws.dir, "grow")], credentialsOnly());
    expect(changed.code).toBe(1);
    expect(changed.stderr).toBe("Error: Saved plan is stale: the shard file changed after the plan was created; run plan again.\n");

    await writeFile(ws.config, text.replace('"size": 2', '"size": 3'));
    await rename(ws.config, `${ws.config}.moved`);
    const moved = await cli({ ...ws, dir: elsewhere }, ["apply", join(ws.dir, "grow")], credentialsOnly());
    await rename(`${ws.config}.moved`, ws.config);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toBe(`Error: Saved plan ${join(ws.dir, "grow")} was made from the shard file ${ws.config}, which is not there any more (moved or deleted): put it back, or pass -c FILE\n`);
    await writeFile(ws.config, text);
    expect((await stateList()).instances).toHaveLength(3);
  });

  it("accepts the bpg provider's PROXMOX_VE_* variables and never prints the secret", async () => {
    const endpoint = `${new URL(apiUrl(sim)).origin}/`;
    const r = await cliInProcess(["plan", "-detailed-exitcode", "-no-color"], {
      PVEFLEET_CONFIG: ws.config, PVEFLEET_STATE_DIR: join(ws.dir, "state"), PROXMOX_CA_FILE: ws.env.PROXMOX_CA_FILE,
      PROXMOX_API_URL: undefined, PROXMOX_TOKEN_ID: undefined, PROXMOX_TOKEN_SECRET: undefined,
      PROXMOX_VE_ENDPOINT: endpoint, PROXMOX_VE_API_TOKEN: `${sim.tokenId}=${sim.tokenSecret}`,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("No changes.");
    expect(`${r.stdout}${r.stderr}`).not.toContain(sim.tokenSecret);
  });

  it("graph prints the live plan's action graph as DOT", async () => {
    const text = await readFile(ws.config, "utf8");
    await writeFile(ws.config, text.replace('"size": 1', '"size": 2'));
    const r = await cli(ws, ["graph"]);
    await writeFile(ws.config, text);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("digraph pvefleet {\n")).toBe(true);
    expect(r.stdout.trimEnd().endsWith("}")).toBe(true);
    expect(r.stdout).toMatch(/"[a-z0-9]+:clone" -> "[a-z0-9]+:configure";/);
    expect(r.stdout).toMatch(/label = "\+ acme\.db\/[a-z0-9]+ will be created";/);
  });

  it("destroy -target= destroys only that group; destroy -out= only saves the destroy plan, which apply then runs", async () => {
    const one = await cli(ws, ["destroy", "-target=acme.db", "-auto-approve", "-no-color"]);
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("1 destroyed");
    expect((await stateList()).instances.map((i) => i.group)).toEqual(["acme.web", "acme.web"]);

    const saved = await cli(ws, ["destroy", "-out=gone.plan", "-no-color"]);
    expect(saved.stderr).toBe("");
    expect(saved.code).toBe(0);
    expect(saved.stdout).toContain("Plan: 0 to add, 0 to change, 2 to destroy.");
    expect((await stateList()).instances).toHaveLength(2); // nothing destroyed yet
    expect((await cli(ws, ["destroy", "--format", "markdown"])).stderr).toMatch(/^Error: destroy --format markdown renders a destroy plan for review: add --out FILE/);

    const applied = await cli({ ...ws, dir: elsewhere }, ["apply", join(ws.dir, "gone.plan")], credentialsOnly());
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect((await stateList()).instances).toHaveLength(0);
  });
});

describe("natural node order on a cluster of eleven nodes", () => {
  it("lists pve2 before pve10 in the text plan's capacity table and the JSON plan", async () => {
    const big = (await startSimulator({ port: 0, latency: "instant", nodes: 11 })) as Sim;
    const w = await workspace(big);
    try {
      const natural = Array.from({ length: 11 }, (_, i) => `pve${i + 1}`);
      const json = await cli(w, ["plan", "-json"]);
      expect(json.code, json.stderr).toBe(0);
      expect((JSON.parse(json.stdout) as { capacity: { node: string }[] }).capacity.map((c) => c.node)).toEqual(natural);
      const text = await cli(w, ["plan", "-no-color"]);
      const rows = text.stdout.slice(text.stdout.indexOf("Node capacity")).split("\n").slice(2, 13).map((l) => l.trim().split(/\s+/)[0]);
      expect(rows).toEqual(natural);
    } finally {
      await big.stop();
      await rm(w.dir, { recursive: true, force: true });
    }
  });
});
