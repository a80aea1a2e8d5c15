/**
 * Templates as operators make them: a NIC with `firewall=1` (the web UI's default), `mtu`,
 * `queues`, `rate` and a non-virtio model. A create changes only bridge and VLAN tag; every other
 * NIC option of the template survives (finding: configure used to write a bare `virtio,bridge=…`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { retargetNet0 } from "../../../src/providers/proxmox/codecs/net0.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

const TEMPLATE_NET0 = "e1000,bridge=vmbr0,firewall=1,mtu=1400,queues=4,rate=50";

describe("retargetNet0", () => {
  const nic = "virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1,mtu=1400,queues=4,rate=50";

  it("changes only bridge and tag, keeping model, MAC and every other option in place", () => {
    expect(retargetNet0(nic, { bridge: "vmbr1", vlan: 30 })).toBe("virtio=BC:24:11:2E:C5:4A,bridge=vmbr1,firewall=1,mtu=1400,queues=4,rate=50,tag=30");
  });

  it("returns the value unchanged when bridge and tag already match", () => {
    const tagged = "virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1,tag=30,trunks=40";
    expect(retargetNet0(tagged, { bridge: "vmbr0", vlan: 30 })).toBe(tagged);
    expect(retargetNet0(nic, { bridge: "vmbr0" })).toBe(nic);
  });

  it("removes the tag for an untagged network (VLAN 0 or none)", () => {
    expect(retargetNet0("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1,tag=30", { bridge: "vmbr0", vlan: 0 })).toBe("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1");
  });

  it("adds a bridge after the model when the NIC had none", () => {
    expect(retargetNet0("virtio=BC:24:11:2E:C5:4A,firewall=1", { bridge: "vmbr0" })).toBe("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1");
  });

  it("refuses a bad bridge or VLAN before anything is written", () => {
    expect(() => retargetNet0(nic, { bridge: "vm br0" })).toThrow(/bridge/);
    expect(() => retargetNet0(nic, { bridge: "vmbr0", vlan: 4095 })).toThrow(/VLAN/);
  });
});

describe("a create from an operator-made template", () => {
  let sim: Sim;
  let provider: ProxmoxProvider;
  beforeAll(async () => {
    sim = await startSimulator({
      latency: "instant",
      topology: {
        nodes: [{ name: "pve1" }],
        storages: [
          { id: "local", type: "dir", content: ["iso"], path: "/var/lib/vz" },
          { id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"] },
        ],
        templates: [{ vmid: 9000, node: "pve1", name: "debian-13-template", net0: TEMPLATE_NET0 }],
      },
    });
    provider = createProxmoxProvider({
      clusterId: "example",
      shardId: "dev-1",
      ca: sim.caCertificate,
      env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
      pollIntervalMs: 5,
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
  });
  afterAll(async () => {
    await provider?.close();
    await sim?.stop();
  });

  async function create(instanceId: string, net: { bridge: string; vlan?: number }): Promise<string> {
    await provider.refresh();
    const { vmid, node } = await provider.clone({ instanceId, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    await provider.configure({ node, vmid, instanceId, fresh: true, net, tags: ["nstance", "example", "dev-1"] });
    const [detail] = await provider.details([{ node, vmid }]);
    return detail!.net0!;
  }

  it("keeps firewall, mtu, queues, rate and the model when moving the NIC to another bridge and VLAN", async () => {
    const net0 = await create("tstaaaaaaaaaaaaaaaaaaaaaaaaaa", { bridge: "vmbr1", vlan: 30 });
    expect(net0).toMatch(/^e1000=BC:24:11:[0-9A-F:]{8},bridge=vmbr1,firewall=1,mtu=1400,queues=4,rate=50,tag=30$/);
  });

  it("leaves the template's NIC untouched (MAC included) when bridge and tag already match", async () => {
    await provider.refresh();
    const instanceId = "tstaaaaaaaaaaaaaaaaaaaaaaaaab";
    const { vmid, node } = await provider.clone({ instanceId, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    const [cloned] = await provider.details([{ node, vmid }]);
    await provider.configure({ node, vmid, instanceId, fresh: true, net: { bridge: "vmbr0" }, tags: ["nstance", "example", "dev-1"] });
    const [after] = await provider.details([{ node, vmid }]);
    expect(after!.net0).toBe(cloned!.net0);
    expect(after!.net0).toContain("firewall=1");
  });
});
