/**
 * The main flow on the S3 backend: `apply`, a second `plan`, `drift`, `state list` and a
 * concurrent apply refused by the lease lock, all through the real CLI against the simulator and
 * the real S3 server (Ceph RGW, started by scripts/test.sh). No secret may reach any output.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.js";
import { openStateStore } from "../../src/state/index.js";
import { TEST_S3_SECRET_KEY, makeBucket, s3Env } from "../state/helpers.js";
import { cli, workspace, type Sim, type Workspace } from "./helpers.js";

describe("the CLI on the S3 state backend", () => {
  let sim: Sim;
  let ws: Workspace;
  let bucket: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    bucket = await makeBucket();
    sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
    ws = await workspace(sim);
    env = { ...s3Env(), PVEFLEET_STORAGE: "s3", PVEFLEET_BUCKET: bucket, PVEFLEET_PREFIX: "fleet/" };
  });
  afterAll(async () => {
    await sim?.stop();
    if (ws) await rm(ws.dir, { recursive: true, force: true });
  });

  const noSecrets = (text: string) => {
    expect(text).not.toContain(sim.tokenSecret);
    expect(text).not.toContain(TEST_S3_SECRET_KEY);
  };

  it("applies, then plans nothing, with the state in the bucket under the prefix", async () => {
    const applied = await cli(ws, ["apply", "--auto-approve"], env);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    noSecrets(applied.stdout + applied.stderr);

    const again = await cli(ws, ["plan", "--detailed-exitcode"], env);
    expect(again.code).toBe(0);

    const store = await openStateStore({ storage: "s3", bucket, prefix: "fleet/", clusterId: "test-cluster", shardId: "dev", env: s3Env() });
    const doc = (await store.read())!.doc;
    expect(Object.values(doc.instances).map((r) => r.phase)).toEqual(["ready", "ready"]);
    const listed = await cli(ws, ["state", "list", "--format", "json"], env);
    expect(listed.code).toBe(0);
    expect(JSON.stringify(JSON.parse(listed.stdout))).toContain(Object.keys(doc.instances)[0]!);
    noSecrets(listed.stdout + JSON.stringify(doc));
  });

  it("refuses an apply while another holds the lease, naming the holder", async () => {
    const store = await openStateStore({ storage: "s3", bucket, prefix: "fleet/", clusterId: "test-cluster", shardId: "dev", env: s3Env() });
    const lease = await store.lock("apply");
    try {
      const refused = await cli(ws, ["apply", "--auto-approve"], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("Lock Info:");
      expect(refused.stderr).toContain(lease.info.id);
      noSecrets(refused.stdout + refused.stderr);
    } finally {
      await lease.release();
    }
  });

  it("reports a VM stopped out of band as drift (exit 2)", async () => {
    const store = await openStateStore({ storage: "s3", bucket, prefix: "fleet/", clusterId: "test-cluster", shardId: "dev", env: s3Env() });
    const record = Object.values((await store.read())!.doc.instances)[0]!;
    const { Agent, request } = await import("undici");
    const agent = new Agent({ connect: { ca: sim.caCertificate } });
    const res = await request(`${ws.env.PROXMOX_API_URL}/nodes/${record.node}/qemu/${record.vmid}/status/stop`, {
      method: "POST", dispatcher: agent, headers: { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` },
    });
    await res.body.text();
    expect(res.statusCode).toBe(200);
    let drift = await cli(ws, ["drift", "--format", "json"], env);
    for (let i = 0; i < 50 && drift.code === 0; i++) {
      await new Promise((r) => setTimeout(r, 50)); // the stop task finishes asynchronously
      drift = await cli(ws, ["drift", "--format", "json"], env);
    }
    await agent.close();
    expect(drift.code).toBe(2);
    const report = JSON.parse(drift.stdout) as { findings: { kind: string; instance_id?: string }[] };
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: "stopped", instance_id: record.instanceId }));
  });
});
