/**
 * `pvefleet apply` when an action fails for good, run in-process through `main()` against the
 * simulator: exit 1, the failure and the skipped step in the plain progress lines and on stderr,
 * the same in `--json` events, and a second apply (once the cluster is healthy) that resumes the
 * half-made VM instead of cloning another. The failure is the cluster's: every ISO upload is
 * answered 500 before PVE acts (the simulator's `5xx` fault on the upload path), through every
 * retry, so the action fails for good. (A shard that puts the ISO on a storage that cannot hold ISOs no
 * longer gets this far: the plan-time preflight refuses it, see test/applier/preflight.e2e.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { cliInProcess, workspace, type Sim, type Workspace } from "./helpers.js";

const UPLOAD_FAILS = "rate=1,kinds=5xx,methods=POST,paths=/storage/[^/]+/upload$";

const shard = (isoStorage: string) => `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "cloud_init_iso_storage": "${isoStorage}" } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 1 } } }
}
`;

let sim: Awaited<ReturnType<typeof startSimulator>>;
let ws: Workspace;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, latency: "instant", faults: UPLOAD_FAILS });
  ws = await workspace(sim as Sim, shard("local"));
});

afterAll(async () => {
  const rejected = sim?.stats().rejected ?? [];
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
  expect(rejected).toEqual([]);
});

type InstanceRec = { phase: string; vmid: number; stepsDone: string[] };
async function records(): Promise<{ [id: string]: InstanceRec }> {
  const doc = JSON.parse(await readFile(join(ws.dir, "state", "shard", "dev", "state.json"), "utf8")) as { instances: { [id: string]: InstanceRec } };
  return doc.instances;
}

describe("apply with an action that fails for good", () => {
  it("exits 1, names the failed upload and the skipped steps, and keeps the half-made VM recorded", async () => {
    const r = await cliInProcess(["apply", "--auto-approve"], ws.env);
    expect(r.code).toBe(1);
    // CI lines at Terraform's density (src/cli/ui/plain.ts): no line per step; the failed VM's skipped steps are counted on stderr.
    expect(r.stdout).toMatch(/acme\.web\/tst\w+: Creating\.\.\./);
    expect(r.stdout).toMatch(/acme\.web\/tst\w+: upload-iso failed: SERVER: Proxmox API POST \/nodes\/\w+\/storage\/local\/upload: proxy loop detected or daemon busy/);
    expect(r.stdout).toContain("Apply failed. Resources: 0 added, 0 changed, 0 destroyed.");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Error: tst\w+: upload-iso: SERVER: Proxmox API POST \/nodes\/\w+\/storage\/local\/upload: /);
    expect(lines[1]).toBe("Error: 1 action failed, 2 skipped.");
    const recs = Object.values(await records());
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ phase: "creating", stepsDone: ["clone"] });
  });

  it("reports the same failure in --json events and exits 1", async () => {
    const r = await cliInProcess(["apply", "--auto-approve", "--json"], ws.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; "@level": string; "@message": string; hook?: { step?: string; error?: { code: string } } });
    expect(events.filter((e) => e.type === "apply_errored").map((e) => [e.hook?.step, e.hook?.error?.code])).toEqual([["upload-iso", "SERVER"]]);
    expect(events.filter((e) => e["@level"] === "error").map((e) => e["@message"])).toContain("Error: 1 action failed, 2 skipped"); // a Terraform diagnostic
    expect(events.some((e) => e.type === "apply_start" && e.hook?.step === "clone")).toBe(false); // the clone of the first run is kept
  });

  it("resumes the recorded VM once the cluster is healthy: no second clone, exit 0", async () => {
    const [id, before] = Object.entries(await records())[0]!;
    const clones = sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/clone"] ?? 0;
    sim.setFaults(undefined); // the cluster is healthy again
    const r = await cliInProcess(["apply", "--auto-approve"], ws.env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Apply complete!");
    expect(sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/clone"] ?? 0).toBe(clones);
    const after = await records();
    expect(Object.keys(after)).toEqual([id]);
    expect(after[id]).toMatchObject({ phase: "ready", vmid: before.vmid });
    expect((await cliInProcess(["plan", "--detailed-exitcode"], ws.env)).code).toBe(0);
  });
});
