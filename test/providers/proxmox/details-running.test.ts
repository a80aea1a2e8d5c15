/**
 * The per-VM read's additions for the planner, against the simulator over HTTP: the config's name
 * (the lagging listing may not have it yet) and, with `status: true` on a running VM, the sizes
 * QEMU runs with — which differ from the config's while a cold change is `[PENDING]`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;
const INSTANCE = "tst06dx9xy919t3v9kzd2xdsyzb3g";

describe("details", () => {
  let sim: Sim;
  let provider: ProxmoxProvider;
  let raw: ProxmoxClient;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, latency: "instant" });
    const env = { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret };
    provider = createProxmoxProvider({ clusterId: "lab", shardId: "dev", ca: sim.caCertificate, env, pollIntervalMs: 5 });
    raw = new ProxmoxClient({ env, ca: sim.caCertificate, retry: { attempts: 1 } });
  });
  afterAll(async () => {
    await raw?.close();
    await provider?.close();
    await sim?.stop();
  });

  it("reads the name, and the running sizes apart from pending config ones", async () => {
    await provider.refresh();
    const { vmid, node } = await provider.clone({ instanceId: INSTANCE, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: false });
    const [stopped] = await provider.details([{ node, vmid }], { status: true });
    expect(stopped!.name).toBe(INSTANCE);
    expect(stopped!.running).toBeUndefined();

    await provider.configure({ node, vmid, instanceId: INSTANCE, fresh: true, tags: ["nstance", "lab", "dev"] });
    await provider.start({ node, vmid, instanceId: INSTANCE });
    await raw.put(`/nodes/${node}/qemu/${vmid}/config`, { cores: 4, memory: "4096" });
    const [d] = await provider.details([{ node, vmid }], { status: true });
    expect({ cores: d!.cores, memoryMiB: d!.memoryMiB }).toEqual({ cores: 4, memoryMiB: 4096 });
    expect(d!.running).toEqual({ cores: 2, memoryMiB: 2048 });

    const [configOnly] = await provider.details([{ node, vmid }]);
    expect(configOnly!.running).toBeUndefined();
  });

  it("skips a VM that vanished between the listing and the read, keeping the others", async () => {
    await provider.refresh();
    const [present] = await provider.details([{ node: "pve1", vmid: 9000 }]);
    expect(present!.vmid).toBe(9000);
    const both = await provider.details([{ node: "pve1", vmid: 9000 }, { node: "pve1", vmid: 99999 }], { status: true });
    expect(both.map((d) => d.vmid)).toEqual([9000]);
  });
});
