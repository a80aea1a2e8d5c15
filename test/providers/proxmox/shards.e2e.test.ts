/**
 * Two shards of one cluster applying at once (issue 12: "two shards applying at once on one cluster
 * do not collide on VMIDs"). Both plans are made from the same listing, so both pick the same
 * VMIDs; PVE cannot reserve a VMID, so one clone of each colliding pair loses — on the same node
 * with `config file already exists`, on another inside the task with pmxcfs's `File exists` — and
 * the provider moves it to the next free VMID. Every instance ends up once, on its own VMID.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { loadShardFile } from "../../../src/config/index.js";
import { openStateStore } from "../../../src/state/index.js";
import { createProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { makePlan } from "../../../src/engine/index.js";
import { apply } from "../../../src/applier/index.js";
import { shardText } from "../../applier/harness.js";

describe("two shards applying at once on one cluster", () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "fast", seed: 7, topology: defaultTopology(2) });
  });
  afterAll(async () => sim?.stop());

  async function shard(id: string, size: number) {
    const dir = mkdtempSync(path.join(tmpdir(), `pvefleet-shard-${id}-`));
    const file = path.join(dir, "shard.json");
    const doc = JSON.parse(shardText({ webSize: size })) as { shard: { id: string } };
    doc.shard.id = id;
    writeFileSync(file, JSON.stringify(doc));
    const desired = await loadShardFile(file);
    const store = await openStateStore({ storage: "file", stateDir: path.join(dir, "state"), clusterId: "apptest", shardId: id });
    const env = { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret };
    const ops = createProxmoxProvider({ clusterId: "apptest", shardId: id, ca: sim.caCertificate, env, pollIntervalMs: 5 });
    return { id, desired, store, ops };
  }

  it("plans the same VMIDs for both, and both applies succeed with every instance once on distinct VMIDs", async () => {
    const a = await shard("alpha", 4);
    const b = await shard("beta", 4);
    try {
      // Both plans first, from the same cluster: the same VMIDs.
      const [pa, pb] = [await makePlan({ ops: a.ops, desired: a.desired }, undefined), await makePlan({ ops: b.ops, desired: b.desired }, undefined)];
      const vmidsOf = (p: typeof pa) => p.actions.filter((x) => x.type === "clone").map((x) => x.vmid).sort();
      expect(vmidsOf(pa)).toEqual(vmidsOf(pb));
      const run = async (s: typeof a, p: typeof pa) => {
        const lock = await s.store.lock("apply");
        try {
          return await apply(p, { ops: s.ops, store: s.store, desired: s.desired, lock, checkFreshness: false, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
        } finally {
          await lock.release();
        }
      };
      const [ra, rb] = await Promise.all([run(a, pa), run(b, pb)]);
      expect(ra.failed).toEqual([]);
      expect(rb.failed).toEqual([]);
      expect([ra.status, rb.status]).toEqual(["applied", "applied"]);

      const live = await a.ops.refresh();
      const names = [...pa.changes, ...pb.changes].map((c) => c.instanceId);
      const vms = live.vms.filter((v) => names.includes(v.name));
      expect(vms).toHaveLength(8);
      expect(new Set(vms.map((v) => v.vmid)).size).toBe(8);
      expect(new Set(vms.map((v) => v.name)).size).toBe(8);
      // Each state records its own VMs at the VMIDs they really got.
      for (const [s, p] of [[a, pa], [b, pb]] as const) {
        const doc = (await s.store.read())!.doc;
        for (const c of p.changes) {
          const vm = vms.find((v) => v.name === c.instanceId)!;
          expect(doc.instances[c.instanceId]?.vmid).toBe(vm.vmid);
          expect(vm.tags).toContain(s.id);
        }
      }
    } finally {
      await a.ops.close();
      await b.ops.close();
    }
  });
});
