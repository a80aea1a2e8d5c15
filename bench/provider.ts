/**
 * Provider figures against the simulator (instant profile, HTTPS on loopback):
 * - API calls per created VM (excluding task polls) and wall time of full creates, 10 in flight;
 * - refresh time and calls for 1,000 and 10,000 VMs (always 2 calls).
 * Run: npx tsx bench/provider.ts
 */
import { startSimulator } from "../src/sim/index.js";
import { defaultTopology } from "../src/sim/topology.js";
import { createProxmoxProvider } from "../src/providers/proxmox/index.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

function providerFor(sim: Sim) {
  return createProxmoxProvider({
    clusterId: "bench",
    shardId: "s1",
    ca: sim.caCertificate,
    env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
    pollIntervalMs: 2,
  });
}

let serial = 0;
function instanceId(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let n = Date.now() * 1000 + serial++;
  let tail = "";
  for (let i = 0; i < 26; i++) {
    tail = alphabet[n % 32] + tail;
    n = Math.floor(n / 32);
  }
  return `bch${tail}`;
}

async function creates(count: number, parallel: number): Promise<void> {
  const sim = await startSimulator({ latency: "instant" });
  const p = providerFor(sim);
  try {
    await p.refresh();
    const nodes = ["pve1", "pve2", "pve3"];
    const iso = new Uint8Array(374_784).fill(1);
    const t0 = performance.now();
    const s0 = p.stats();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const node = nodes[i % 3]!;
        const id = instanceId();
        const { vmid } = await p.clone({ instanceId: id, node, vmid: p.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
        const { volume } = await p.uploadIso({ node, storage: "local", filename: `${id}.iso`, bytes: iso });
        await p.configure({ node, vmid, instanceId: id, fresh: true, cores: 2, memoryMiB: 2048, net: { bridge: "vmbr0" }, onboot: true, description: "bench", tags: ["nstance", "bench", "s1"], isoVolume: volume });
        await p.resize({ node, vmid, instanceId: id, disk: "scsi0", bytes: 8 * 1024 ** 3 });
        await p.start({ node, vmid, instanceId: id });
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const ms = performance.now() - t0;
    const s1 = p.stats();
    const calls = s1.requests - s0.requests - (s1.taskPolls - s0.taskPolls);
    console.log(
      `create ${count} VMs, ${parallel} in flight: ${ms.toFixed(0)} ms (${(ms / count).toFixed(1)} ms/VM); ` +
        `${(calls / count).toFixed(2)} API calls/VM excluding polls; ${((s1.taskPolls - s0.taskPolls) / count).toFixed(2)} polls/VM; retries ${s1.retries - s0.retries}`,
    );
  } finally {
    await p.close();
    await sim.stop();
  }
}

async function refreshAt(vmCount: number): Promise<void> {
  const topology = { ...defaultTopology(3), vms: { count: vmCount, firstVmid: 1000, namePrefix: "vm", runningFraction: 0.5 } };
  const sim = await startSimulator({ latency: "instant", topology });
  const p = providerFor(sim);
  try {
    await p.refresh(); // warm the connection
    const runs: number[] = [];
    let calls = 0;
    for (let i = 0; i < 5; i++) {
      const before = p.requestCount();
      const t0 = performance.now();
      const live = await p.refresh();
      runs.push(performance.now() - t0);
      calls = p.requestCount() - before;
      if (live.vms.length < vmCount) throw new Error(`expected ${vmCount} VMs, saw ${live.vms.length}`);
    }
    runs.sort((a, b) => a - b);
    console.log(`refresh with ${vmCount} VMs: median ${runs[2]!.toFixed(1)} ms over 5 runs, ${calls} API calls`);
  } finally {
    await p.close();
    await sim.stop();
  }
}

await creates(30, 10);
await refreshAt(1000);
await refreshAt(10_000);
