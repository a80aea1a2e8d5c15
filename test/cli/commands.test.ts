/**
 * Exit codes of plan, apply, drift, show and destroy: the real CLI (`node bin/pvefleet.js`, built
 * into dist/) against the simulator over HTTPS on loopback, with a temp file state store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "undici";
import { createServer, type AddressInfo } from "node:net";
import { startSimulator } from "../../src/sim/index.js";
import { openStateStore } from "../../src/state/index.js";
import { apiUrl, cli, workspace, type Sim, type Workspace } from "./helpers.js";

let sim: Sim;
let ws: Workspace;

beforeAll(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim);
});

afterAll(async () => {
  const rejected = sim?.stats().rejected ?? [];
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
  // Issue 4: no request the CLI sent may fail the simulator's schema check.
  expect(rejected).toEqual([]);
});

async function pveApi(method: string, path: string, body?: Record<string, string>): Promise<unknown> {
  const dispatcher = new Agent({ connect: sim.caCertificate ? { ca: sim.caCertificate } : {} });
  try {
    const res = await fetch(`${apiUrl(sim)}${path}`, {
      method,
      // @ts-expect-error undici's dispatcher option on Node's fetch
      dispatcher,
      headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, ...(body ? { "Content-Type": "application/x-www-form-urlencoded" } : {}) },
      body: body ? new URLSearchParams(body).toString() : undefined,
    });
    expect(res.ok, `${method} ${path}: ${res.status}`).toBe(true);
    return ((await res.json()) as { data: unknown }).data;
  } finally {
    await dispatcher.close();
  }
}

describe("the CLI against the simulator (exit codes)", () => {
  it("plan exits 0 and shows what apply would create", async () => {
    const r = await cli(ws, ["plan"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Plan: 2 to add, 0 to change, 0 to destroy.");
  });

  it("plan --detailed-exitcode exits 2 when there are changes", async () => {
    expect((await cli(ws, ["plan", "--detailed-exitcode"])).code).toBe(2);
  });

  it("plan --format json prints the versioned schema", async () => {
    const r = await cli(ws, ["plan", "--format", "json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { format_version: string; resource_changes: { change: { actions: string[] } }[] };
    expect(j.format_version).toBe("2.0");
    expect(j.resource_changes.map((c) => c.change.actions)).toEqual([["create"], ["create"]]);
  });

  it("plan exits 1 with one error line for a missing shard file", async () => {
    const r = await cli(ws, ["plan", "-c", join(ws.dir, "nope.jsonc")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^Error: /);
  });

  it("apply without a terminal and without --auto-approve refuses at once with exit 1", async () => {
    const r = await cli(ws, ["apply"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("there is no terminal to ask on");
  });

  it("destroy without a terminal and without --auto-approve refuses with exit 1", async () => {
    const r = await cli(ws, ["destroy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: destroy needs confirmation but there is no terminal to ask on: pass --auto-approve, or save a plan with "pvefleet plan --out FILE" and run "pvefleet apply FILE"\n');
    expect(r.stdout).toBe("");
  });

  it("show of a saved plan prints it in every format and exits 0", async () => {
    const file = join(ws.dir, "saved.plan.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const text = await cli(ws, ["show", file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Plan: 2 to add");
    const md = await cli(ws, ["show", file, "--format", "markdown"]);
    expect(md.stdout.split("\n")[0]).toBe("<!-- pvefleet:plan test-cluster/dev -->");
    expect(JSON.parse((await cli(ws, ["show", file, "--format", "json"])).stdout)).toMatchObject({ shard_id: "dev" });
  });

  it("show of a file that is not a plan exits 1", async () => {
    const bad = join(ws.dir, "bad.json");
    await writeFile(bad, "{\"hello\": 1}");
    const r = await cli(ws, ["show", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not a pvefleet plan");
  });

  it("apply --auto-approve creates the VMs, prints plain progress lines off a TTY and exits 0", async () => {
    const r = await cli(ws, ["apply", "--auto-approve"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Terraform's density off a TTY (src/cli/ui/plain.ts): "Creating..." then "Creation complete after Ns".
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ acme\.web\/tst\w+: Creating\.\.\. \(pve\d+, vmid \d+\)$/m);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ acme\.web\/tst\w+: Creation complete after \d+s \[vmid=\d+\]$/m);
    expect(r.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
  });

  it("a plan saved before that apply is refused as stale with exit 1", async () => {
    const r = await cli(ws, ["apply", join(ws.dir, "saved.plan.json")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Saved plan is stale");
  });

  it("plan --detailed-exitcode exits 0 when the cluster matches", async () => {
    const r = await cli(ws, ["plan", "--detailed-exitcode"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("No changes.");
  });

  it("show without a plan summarises the state", async () => {
    const r = await cli(ws, ["show", "--format", "json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { serial: number; instances: unknown[] };
    expect(j.instances).toHaveLength(2);
    expect(j.serial).toBeGreaterThan(0);
  });

  it("drift exits 0 when in sync", async () => {
    const r = await cli(ws, ["drift"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no drift");
  });

  it("drift exits 2 after an out-of-band stop and lists it with a fingerprint", async () => {
    const state = JSON.parse(await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8")) as { instances: Record<string, { vmid: number; node: string }> };
    const vm = Object.values(state.instances)[0]!;
    await pveApi("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/status/stop`);
    // The stop is a task: wait until PVE reports the VM stopped rather than for a fixed time.
    for (let i = 0; i < 100; i++) {
      const st = (await pveApi("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/status/current`)) as { status: string };
      if (st.status === "stopped") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await cli(ws, ["drift", "--format", "json"]);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { in_sync: boolean; findings: { kind: string; fingerprint: string; vmid: number }[] };
    expect(j.in_sync).toBe(false);
    const stopped = j.findings.find((f) => f.kind === "stopped");
    expect(stopped?.vmid).toBe(vm.vmid);
    expect(stopped?.fingerprint).toMatch(/^[0-9a-f]{16,}|^sha256:/);
    const again = JSON.parse((await cli(ws, ["drift", "--format", "json"])).stdout) as typeof j;
    expect(again.findings.map((f) => f.fingerprint)).toEqual(j.findings.map((f) => f.fingerprint));
  });

  it("drift exits 1 when the API cannot be reached", async () => {
    // A port nothing listens on: the connection is refused after the client's bounded retries.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await cli(ws, ["drift"], { PROXMOX_API_URL: `https://127.0.0.1:${port}/api2/json` });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^Error: Proxmox API GET /cluster/resources: ECONNREFUSED .*127\\.0\\.0\\.1:${port}`));
    expect(r.stderr).not.toContain(sim.tokenSecret);
  });

  it("drift exits 1 before any request when the token secret is missing", async () => {
    const r = await cli(ws, ["drift"], { PROXMOX_TOKEN_SECRET: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: PROXMOX_TOKEN_SECRET environment variable is required for proxmox provider\n");
  });

  it("apply --json streams Terraform-shaped events and repairs the drift", async () => {
    const r = await cli(ws, ["apply", "--auto-approve", "--json"]);
    expect(r.code).toBe(0);
    const types = r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe("version");
    expect(types).toContain("apply_complete");
    expect(types.at(-1)).toBe("change_summary");
    expect((await cli(ws, ["drift"])).code).toBe(0);
  });

  it("destroy --auto-approve removes everything and exits 0", async () => {
    const r = await cli(ws, ["destroy", "--auto-approve"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Destroy complete! Resources: 2 destroyed.");
    expect((await cli(ws, ["plan", "--destroy", "--detailed-exitcode"])).code).toBe(0);
  });
});

describe("several shards, saved plans and flag errors", () => {
  const MULTI = `{
  "cluster": { "id": "test-cluster" },
  "shards": [
    { "id": "blue", "provider": { "kind": "proxmox", "region": "dev", "zone": "deva" } },
    { "id": "green", "provider": { "kind": "proxmox", "region": "dev", "zone": "devb" } }
  ],
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 1 } } }
}
`;
  let multi: Workspace;
  beforeAll(async () => { multi = await workspace(sim, MULTI); });
  afterAll(async () => { if (multi) await rm(multi.dir, { recursive: true, force: true }); });

  it("plan --all-shards plans each shard and ends with a summary; --detailed-exitcode gives 2", async () => {
    const r = await cli(multi, ["plan", "--all-shards", "--detailed-exitcode"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("=== shard blue ===");
    expect(r.stdout).toContain("=== shard green ===");
    expect(r.stdout).toMatch(/Plan summary across shards:\n {2}blue +Plan: 1 to add, 0 to change, 0 to destroy\.\n {2}green +Plan: 1 to add/);
    expect(r.stdout).toContain("2 shards, 2 with changes, 0 with no changes, 0 failed.");
  });

  it("drift --all-shards --format json wraps one report per shard", async () => {
    const r = await cli(multi, ["drift", "--all-shards", "--format", "json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { shards: { shard: string; drift: { in_sync: boolean } }[] };
    expect(j.shards.map((s) => [s.shard, s.drift.in_sync])).toEqual([["blue", true], ["green", true]]);
  });

  it("apply of a fresh saved plan applies exactly it and exits 0", async () => {
    const file = join(multi.dir, "blue.plan.json");
    expect((await cli(multi, ["plan", "--shard", "blue", "--out", file])).code).toBe(0);
    const r = await cli(multi, ["apply", "--shard", "blue", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.");
    expect((await cli(multi, ["destroy", "--shard", "blue", "--auto-approve"])).code).toBe(0);
  });

  it("a bad --lock-timeout is one error line and exit 1", async () => {
    const r = await cli(multi, ["apply", "--shard", "blue", "--auto-approve", "--lock-timeout", "soon"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: --lock-timeout "soon" is not a duration (e.g. 30s, 5m, 1h)\n');
  });

  it("apply exits 1 with the holder's lock info while another run holds the lock", async () => {
    const store = await openStateStore({ storage: "file", stateDir: multi.env.PVEFLEET_STATE_DIR, clusterId: "test-cluster", shardId: "green" });
    const lock = await store.lock("apply");
    try {
      const r = await cli(multi, ["apply", "--shard", "green", "--auto-approve"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(lock.info.id);
    } finally {
      await lock.release();
    }
  });
});
