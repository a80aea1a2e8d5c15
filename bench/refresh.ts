/**
 * What one `plan` (and one `drift`) of a managed fleet in sync costs under each refresh policy
 * (ARCHITECTURE.md rule 9): wall time and API calls against the simulator's `realistic` profile.
 * `full` (the default) reads every VM's config; `listing` makes the two listings only.
 *
 * The fleet is built once with the `instant` profile through the ordinary API (create + start, the
 * notes block and the three ownership tags pvefleet writes, a matching state document), then the
 * simulator is restarted from its state file with `realistic` latency and the engine plans against it
 * in-process (no CLI start-up in the figures). Prints figures; asserts nothing.
 * Run: npx tsx bench/refresh.ts [vms=1000] [vms…]   e.g. npx tsx bench/refresh.ts 1000 10000
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startSimulator, type Simulator } from "../src/sim/index.js";
import { newInstanceId } from "../src/config/instance-id.js";
import { makeDrift, makePlan, openShard, type ShardLocation } from "../src/engine/index.js";
import { expectedNotes } from "../src/planner/facts.js";
import { proxmoxPlanningHooks } from "../src/providers/proxmox/hooks.js";
import { CREATE_STEPS } from "../src/providers/types.js";
import { newStateDoc } from "../src/state/document.js";
import type { InstanceRecord } from "../src/state/types.js";

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const VM_MEMORY_MIB = 128;

function shardFile(vms: number): string {
  return JSON.stringify({
    cluster: { id: "bench" },
    shard: { id: "dev", infra: { provider: "proxmox", region: "r", zone: "z", options: { full_clone: false } } },
    templates: { web: { kind: "tst", arch: "amd64", args: { StoragePool: "local-lvm", TemplateName: "debian-13-template", Cores: 1, Memory: VM_MEMORY_MIB, Bridge: "vmbr0" } } },
    groups: { acme: { web: { template: "web", size: vms } } },
  });
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function useSimulator(sim: Simulator, dir: string): void {
  process.env.PROXMOX_API_URL = sim.url;
  process.env.PROXMOX_TOKEN_ID = sim.tokenId;
  process.env.PROXMOX_TOKEN_SECRET = sim.tokenSecret;
  process.env.PROXMOX_CA_FILE = join(dir, "ca.pem");
}

/** The fleet pvefleet would have made: named, tagged, noted, running; and the state that knows it. */
async function buildFleet(vms: number, dir: string, at: ShardLocation, simState: string, nodes: number): Promise<void> {
  const sim = await startSimulator({ port: 0, latency: "instant", nodes, stateFile: simState, tokenSecret: "bench-secret" });
  await writeFile(join(dir, "ca.pem"), sim.caCertificate);
  useSimulator(sim, dir);
  const session = await openShard(at);
  const group = session.desired.groups[0]!;
  const tags = proxmoxPlanningHooks.ownershipTags("bench", "dev").join(";");
  const doc = newStateDoc("bench", "dev");
  const dispatcher = new Agent({ connect: { ca: sim.caCertificate }, connections: 16 });
  const headers = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, "content-type": "application/x-www-form-urlencoded" };
  const post = async (path: string, form: Record<string, string>) => {
    const r = await request(`${sim.url}${path}`, { method: "POST", dispatcher, headers, body: new URLSearchParams(form).toString() });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`POST ${path}: ${r.statusCode} ${text}`);
  };
  const created = new Date(Date.now() - 3_600_000).toISOString();
  const records: InstanceRecord[] = Array.from({ length: vms }, (_, i) => ({
    instanceId: newInstanceId("tst", Date.parse(created) + i),
    tenant: "acme", group: "web", template: "web", kind: "tst",
    vmid: 10_000 + i, node: `pve${(i % nodes) + 1}`,
    replaceHash: group.replaceHash, updateHash: group.updateHash,
    isoVolume: `local:iso/${""}`, phase: "ready", stepsDone: [...CREATE_STEPS], createdAt: created, updatedAt: created,
  }));
  await pool(records, 16, async (rec) => {
    rec.isoVolume = `local:iso/${rec.instanceId}-cidata.iso`;
    await post(`/nodes/${rec.node}/qemu`, {
      vmid: String(rec.vmid), name: rec.instanceId, cores: "1", memory: String(VM_MEMORY_MIB), onboot: "0", tags,
      description: proxmoxPlanningHooks.notes.compose("", expectedNotes(rec)),
    });
    await post(`/nodes/${rec.node}/qemu/${rec.vmid}/status/start`, {});
    doc.instances[rec.instanceId] = rec;
  });
  await session.store.write(doc, undefined);
  await dispatcher.close();
  await session.close();
  await sim.stop();
}

async function measure(vms: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "pvefleet-bench-refresh-"));
  const at: ShardLocation = { config: join(dir, "shard.jsonc"), storage: "file", prefix: "", stateDir: join(dir, "state") };
  await writeFile(at.config!, shardFile(vms));
  const simState = join(dir, "sim.json");
  const nodes = Math.max(3, Math.ceil(vms / 250));
  const t0 = Date.now();
  await buildFleet(vms, dir, at, simState, nodes);
  console.log(`\n${vms} managed VMs in sync on ${nodes} nodes (built in ${((Date.now() - t0) / 1000).toFixed(1)} s); simulator latency: realistic`);

  const sim = await startSimulator({ port: 0, latency: "realistic", nodes, stateFile: simState, tokenSecret: "bench-secret" });
  await writeFile(join(dir, "ca.pem"), sim.caCertificate);
  useSimulator(sim, dir);
  const total = () => Object.values(sim.stats().requests).reduce((a, b) => a + b, 0);
  const session = await openShard(at);
  try {
    const doc = (await session.store.read())?.doc;
    for (const refresh of ["full", "listing"] as const) {
      for (const what of ["plan", "drift"] as const) {
        const before = total();
        const t = performance.now();
        const result = what === "plan" ? await makePlan(session, doc, { refresh }) : await makeDrift(session, doc, { refresh });
        const ms = performance.now() - t;
        const calls = total() - before;
        const outcome = "changes" in result ? `${result.changes.length} changes` : `${result.findings.length} findings`;
        const r = result.refresh!;
        console.log(`  ${what.padEnd(5)} --refresh ${refresh.padEnd(7)} ${ms.toFixed(0).padStart(7)} ms  ${String(calls).padStart(6)} API calls (${r.listings} listings, ${r.configReads} config, ${r.statusReads} status)  ${outcome}`);
      }
    }
  } finally {
    await session.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

for (const n of sizes.length ? sizes : [1000]) await measure(n);
