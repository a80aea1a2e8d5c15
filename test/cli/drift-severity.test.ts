/**
 * Drift severity and ignore rules on a shared cluster, against the simulator over HTTP: unmanaged
 * (a pet VM) and suspicious (half-marked) VMs are information — exit 0 unless `--fail-on` names
 * their kind — and `drift.ignore` in the shard file leaves findings out by VM name, VMID or tag
 * without changing any other finding's fingerprint.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { Agent, request } from "undici";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { cli, SHARD_JSONC, workspace, type Workspace } from "./helpers.js";

interface DriftJson {
  in_sync: boolean;
  fail_on: string[];
  summary: { unmanaged: number; suspicious: number; ignored: number };
  findings: { fingerprint: string; kind: string; vmid?: number }[];
}

function withIgnore(rules: string): string {
  return SHARD_JSONC.replace(/\n}\n$/, `,\n  "drift": { "ignore": ${rules} }\n}\n`);
}

describe("drift severity and ignore rules", () => {
  let sim: Simulator;
  let ws: Workspace;
  let dispatcher: Agent;
  const post = async (path: string, form: Record<string, string>) => {
    const r = await request(`${sim.url}${path}`, {
      method: "POST", dispatcher, body: new URLSearchParams(form).toString(),
      headers: { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, "content-type": "application/x-www-form-urlencoded" },
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`POST ${path}: ${r.statusCode}`);
  };
  const drift = async (args: string[] = []) => {
    const r = await cli(ws, ["drift", "--format", "json", ...args]);
    return { code: r.code, json: JSON.parse(r.stdout) as DriftJson, stderr: r.stderr };
  };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast" });
    dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
    ws = await workspace(sim);
    const r = await cli(ws, ["apply", "--auto-approve"]);
    if (r.code !== 0) throw new Error(r.stderr);
    // Pets: no ownership tags at all.
    await post("/nodes/pve1/qemu", { vmid: "500", name: "ops-db", memory: "512", cores: "1", tags: "prod" });
    await post("/nodes/pve2/qemu", { vmid: "501", name: "ops-cache", memory: "512", cores: "1", tags: "pets" });
    // Suspicious: this shard's three tags on a VM that is not named as an instance.
    await post("/nodes/pve3/qemu", { vmid: "502", name: "web01", memory: "512", cores: "1", tags: "dev;nstance;test-cluster" });
  }, 60_000);
  afterAll(async () => {
    await dispatcher?.close();
    await sim?.stop();
  });

  it("reports unmanaged and suspicious VMs as information and exits 0", async () => {
    const { code, json } = await drift();
    expect(code).toBe(0);
    expect(json).toMatchObject({ in_sync: true, fail_on: [], summary: { unmanaged: 2, suspicious: 1, ignored: 0 } });
    const text = await cli(ws, ["drift"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/no drift\..* 2 VMs on the cluster are not this shard's \(left alone\)\. 1 suspicious VM/);
  });

  it("exits 2 for the kinds --fail-on names, and refuses an unknown kind", async () => {
    expect((await drift(["--fail-on", "suspicious"])).code).toBe(2);
    const unmanaged = await drift(["--fail-on", "unmanaged"]);
    expect(unmanaged.code).toBe(2);
    expect(unmanaged.json).toMatchObject({ in_sync: false, fail_on: ["unmanaged"] });
    expect((await drift(["--fail-on", "unmanaged,suspicious"])).code).toBe(2);
    const bad = await cli(ws, ["drift", "--fail-on", "stopped"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--fail-on stopped: use unmanaged or suspicious/);
  });

  it("leaves out findings the shard file ignores by name, VMID or tag, and keeps the others' fingerprints", async () => {
    const before = (await drift()).json.findings;
    await writeFile(ws.config, withIgnore(`[{ "vmid": 500 }, { "name": "web0?" }]`));
    const some = await drift(["--fail-on", "unmanaged,suspicious"]);
    expect(some.code, some.stderr).toBe(2); // 501 is still there
    expect(some.json.summary).toMatchObject({ ignored: 2, unmanaged: 1, suspicious: 0 });
    expect(some.json.findings).toEqual(before.filter((f) => f.vmid === 501));

    await writeFile(ws.config, withIgnore(`[{ "vmid": 500 }, { "name": "web*" }, { "tag": "PE*" }]`));
    const none = await drift(["--fail-on", "unmanaged,suspicious"]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.json).toMatchObject({ in_sync: true, findings: [], summary: { ignored: 3 } });
    const text = await cli(ws, ["drift"]);
    expect(text.stdout).toMatch(/3 findings ignored by drift\.ignore/);
  });

  it("still exits 2 when one of the shard's own VMs changes", async () => {
    await writeFile(ws.config, withIgnore(`[{ "vmid": 500 }, { "name": "web*" }, { "tag": "pe*" }]`));
    const vms = await (await request(`${sim.url}/cluster/resources?type=vm`, { dispatcher, headers: { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` } })).body.json() as { data: { vmid: number; node: string; name?: string; tags?: string }[] };
    const mine = vms.data.find((v) => (v.tags ?? "").split(";").includes("dev") && v.name !== "web01")!;
    await post(`/nodes/${mine.node}/qemu/${mine.vmid}/status/stop`, {});
    await new Promise((r) => setTimeout(r, 200));
    const r = await drift();
    expect(r.code).toBe(2);
    expect(r.json.findings.map((f) => f.kind)).toEqual(["stopped"]);
  });
});
