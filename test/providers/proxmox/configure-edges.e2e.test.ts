/**
 * The ownership guard, the template lookup, configure and resize at the edges the end-to-end suites
 * do not reach, against the simulator over HTTP: VMs made by hand through the plain API (no name, no
 * disk, no NIC, a template, a lock), templates found by name (cached per node, failures forgotten),
 * by VMID (the refresh snapshot, the request's node or one listing), PVE's own cloud-init drives.
 * Every check reads the cluster back, counts the requests the simulator received or compares the
 * exact error.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { startEnv, type Env } from "../../applier/harness.js";
import { caught, listVms, requestsTo, settle, writesSent, CLONE, RESOURCES } from "../../applier/cluster-api.js";
import { iid } from "../../planner/fixtures.js";

let serial = 0;
/** Instance IDs unique in this file. */
const instanceId = (): string => iid(serial++, "cfg");
let nextHandVmid = 5000;

const CONFIG_WRITE = "POST /nodes/{node}/qemu/{vmid}/config";
const RESIZE = "PUT /nodes/{node}/qemu/{vmid}/resize";
const NODE_VMS = "GET /nodes/{node}/qemu";
const OURS = "nstance;apptest;e2e";

let env: Env;
let provider: ProxmoxProvider;

beforeAll(async () => {
  const topology = defaultTopology(2, { sharedStorage: true });
  // A template whose PVE cloud-init drive sits on ide2 (the slot our seed ISO takes), and a
  // storage only pve2 has.
  const base = topology.templates.find((t) => t.vmid === 9000)!;
  topology.templates.push({ ...base, vmid: 9300, name: "debian-13-ci-ide2", cloudinitDrive: "ide2" });
  topology.storages.push({ id: "pve2-only", type: "lvmthin", content: ["images"], shared: false, sizeGiB: 50, nodes: ["pve2"] });
  env = await startEnv({ latency: "instant", topology });
  provider = env.provider();
});
afterEach(() => {
  env.sim.setFaults(undefined);
  env.sim.onRequest(undefined);
});
afterAll(() => env?.close());

const sent = (endpoint: string) => requestsTo(env, endpoint);
const writes = () => writesSent(env);
async function readConfig(vm: { node: string; vmid: number }): Promise<Record<string, string>> {
  return (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>;
}

/** A VM of ours: cloned and tagged by the provider, as a create does. */
async function ourVm(template = "debian-13-template", node = "pve1"): Promise<{ node: string; vmid: number; instanceId: string }> {
  await provider.refresh();
  const id = instanceId();
  const { vmid } = await provider.clone({ instanceId: id, node, vmid: provider.nextVmid(), template: { name: template }, storage: "local-lvm", full: true });
  await provider.configure({ node, vmid, instanceId: id, fresh: true, tags: ["nstance", "apptest", "e2e"] });
  return { node, vmid, instanceId: id };
}

/** A VM created by hand through the plain API with exactly these options (no disk, no NIC unless given). */
async function handMade(params: Record<string, unknown>, node = "pve1"): Promise<{ node: string; vmid: number }> {
  const vmid = nextHandVmid++;
  await settle(env, (await env.api("POST", `/nodes/${node}/qemu`, { vmid, memory: 512, cores: 1, ...params })) as string);
  return { node, vmid };
}

/**
 * The parameters of the requests `method` to a path matching `path` the simulator receives from now
 * on, without the `node` and `vmid` of the path.
 */
function recorded(method: string, path: RegExp): Record<string, string>[] {
  const seen: Record<string, string>[] = [];
  env.sim.onRequest((r) => {
    const { node: _node, vmid: _vmid, ...params } = r.params;
    if (r.method === method && path.test(r.path)) seen.push(params);
  });
  return seen;
}
const configWrites = () => recorded("POST", /^\/nodes\/[^/]+\/qemu\/\d+\/config$/);

/** A seed ISO uploaded to the VM's node. */
async function aSeed(vm: { node: string; instanceId: string }): Promise<string> {
  return (await provider.uploadIso({ node: vm.node, storage: "local", filename: `${vm.instanceId}-cidata.iso`, bytes: new Uint8Array(64) })).volume;
}

/** The message the guard refuses with. */
function notOurs(change: string, vm: { node: string; vmid: number }, id: string, why: string): string {
  return `refusing to ${change} VM ${vm.vmid} on ${vm.node}: it is not instance ${id} of shard apptest/e2e (${why}); nothing was sent — run plan again`;
}

describe("the ownership guard", () => {
  it("fails with the read's own error when the config read fails for another reason than a missing VM, sending nothing", async () => {
    const vm = await ourVm();
    const before = writes();
    env.sim.setFaults("rate=1,kinds=5xx,methods=GET,paths=/qemu/\\d+/config$");
    const e = await caught(provider.configure({ ...vm, cores: 2 }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    expect(writes()).toBe(before);
  });

  it.each([
    ["configure", (vm: { node: string; vmid: number }, id: string) => provider.configure({ ...vm, instanceId: id, cores: 2 })],
    ["resize", (vm: { node: string; vmid: number }, id: string) => provider.resize({ ...vm, instanceId: id, bytes: 8 * 1024 ** 3 })],
  ] as const)("refuses to %s a VM without a name, quoting the empty name, sending nothing", async (change, op) => {
    const vm = await handMade({ tags: OURS });
    const id = instanceId();
    const before = writes();
    const e = await caught(op(vm, id));
    expect([e.code, e.message]).toEqual(["NOT_OURS", notOurs(change, vm, id, 'it is named ""')]);
    expect(writes()).toBe(before);
  });

  it("refuses a template named after the instance and carrying all three tags, even as a create's fresh clone", async () => {
    const id = instanceId();
    const vm = await handMade({ name: id, tags: OURS });
    await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/template`)) as string);
    const before = writes();
    for (const fresh of [false, true]) {
      const e = await caught(provider.configure({ ...vm, instanceId: id, fresh, cores: 2 }));
      expect([e.code, e.message]).toEqual(["NOT_OURS", notOurs("configure", vm, id, "it is a template")]);
    }
    expect(writes()).toBe(before);
  });

  it.each(["clone", "create"])("refuses a VM still under a %s lock as VM_LOCKED, naming the lock, sending nothing", async (lock) => {
    const vm = await handMade({ lock });
    const before = writes();
    const e = await caught(provider.configure({ ...vm, instanceId: instanceId(), cores: 2 }));
    expect([e.code, e.message, e.lock]).toEqual(["VM_LOCKED", `VM ${vm.vmid} is locked (${lock})`, lock]);
    expect(writes()).toBe(before);
  });
});

describe("finding the template", () => {
  const clone = (p: ProxmoxProvider, template: { name: string } | { vmid: number; node?: string }, node: string, storage = "local-lvm") =>
    p.clone({ instanceId: instanceId(), node, vmid: nextHandVmid++, template, storage, full: true });

  it("by name lists the node's VMs once for two clones on that node", async () => {
    const p = env.provider();
    const before = sent(NODE_VMS);
    const first = await clone(p, { name: "debian-13-template" }, "pve2");
    const second = await clone(p, { name: "debian-13-template" }, "pve2");
    expect(sent(NODE_VMS) - before).toBe(1);
    const listed = await listVms(env);
    expect([first.vmid, second.vmid].map((vmid) => listed.find((v) => v.vmid === vmid)?.node)).toEqual(["pve2", "pve2"]);
  });

  it("by name forgets a lookup that failed: the next clone lists again and succeeds", async () => {
    const p = env.provider();
    env.sim.setFaults("rate=1,kinds=5xx,methods=GET,paths=^/nodes/pve1/qemu$");
    const e = await caught(clone(p, { name: "debian-13-template" }, "pve1"));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    const before = sent(NODE_VMS);
    const got = await clone(p, { name: "debian-13-template" }, "pve1");
    expect(sent(NODE_VMS) - before).toBe(1);
    expect((await listVms(env)).find((v) => v.vmid === got.vmid)?.node).toBe("pve1");
  });

  it("by name takes the template, not a plain VM of that name on the node, and names a template that is not there", async () => {
    await handMade({ name: "lookalike" }, "pve2"); // listed first
    const template = await handMade({ name: "lookalike", scsi0: "local-lvm:1" }, "pve2");
    await settle(env, (await env.api("POST", `/nodes/pve2/qemu/${template.vmid}/template`)) as string);
    const clonedFrom: string[] = [];
    env.sim.onRequest((r) => {
      if (r.method === "POST" && r.path.endsWith("/clone")) clonedFrom.push(r.path);
    });
    const p = env.provider();
    await clone(p, { name: "lookalike" }, "pve2");
    expect(clonedFrom).toEqual([`/nodes/pve2/qemu/${template.vmid}/clone`]);
    const e = await caught(clone(p, { name: "no-such-template" }, "pve2"));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", 'no template named "no-such-template" found on node "pve2"']);
  });

  it("by name refuses two templates of that name on the node, counting them, cloning nothing", async () => {
    for (let i = 0; i < 2; i++) {
      const vm = await handMade({ name: "twin-template" }, "pve2");
      await settle(env, (await env.api("POST", `/nodes/pve2/qemu/${vm.vmid}/template`)) as string);
    }
    const before = sent(CLONE);
    const e = await caught(clone(env.provider(), { name: "twin-template" }, "pve2"));
    expect([e.code, e.message]).toEqual(["VALIDATION", 'multiple templates named "twin-template" found on node "pve2" (found 2)']);
    expect(sent(CLONE)).toBe(before);
  });

  it("by VMID and node, without a refresh, lists nothing and clones from that node", async () => {
    const p = env.provider();
    const before = sent(RESOURCES);
    const got = await clone(p, { vmid: 9000, node: "pve1" }, "pve1");
    expect(sent(RESOURCES)).toBe(before);
    expect((await listVms(env)).find((v) => v.vmid === got.vmid)?.node).toBe("pve1");
  });

  it("by VMID alone, without a refresh, finds the template's node in one listing", async () => {
    const p = env.provider();
    const listings = recorded("GET", /^\/cluster\/resources$/);
    const got = await clone(p, { vmid: 9001 }, "pve2");
    expect(listings).toEqual([{ type: "vm" }]);
    expect((await listVms(env)).find((v) => v.vmid === got.vmid)?.node).toBe("pve2");
  });

  it("by VMID alone after a refresh takes the node from the snapshot, listing nothing more", async () => {
    const p = env.provider();
    await p.refresh();
    const before = sent(RESOURCES);
    const got = await clone(p, { vmid: 9001 }, "pve2");
    expect(sent(RESOURCES)).toBe(before);
    expect((await listVms(env)).find((v) => v.vmid === got.vmid)?.node).toBe("pve2");
  });

  it.each(["pve2-only", "nowhere"])("by VMID on another node refuses storage %s (not shared, or unknown), cloning nothing", async (storage) => {
    const before = sent(CLONE);
    const e = await caught(clone(env.provider(), { vmid: 9000, node: "pve1" }, "pve2", storage));
    expect([e.code, e.message]).toEqual([
      "VALIDATION",
      `TemplateVMID 9000 lives on node "pve1" and storage "${storage}" is not shared, so it cannot be cloned to node "pve2"; use TemplateName with a template on every node, or shared storage`,
    ]);
    expect(sent(CLONE)).toBe(before);
  });

  it("by VMID on another node clones onto shared storage, with the target node", async () => {
    const sources = recorded("POST", /\/clone$/);
    const got = await clone(env.provider(), { vmid: 9100, node: "pve1" }, "pve2", "shared");
    expect(sources.map((p) => [p.target, p.storage])).toEqual([["pve2", "shared"]]);
    expect((await listVms(env)).find((v) => v.vmid === got.vmid)?.node).toBe("pve2");
  });
});

describe("configure", () => {
  it("of a VM that is gone is NOT_FOUND naming it, sending nothing", async () => {
    const vm = await ourVm();
    await provider.deleteVm(vm);
    const before = writes();
    const e = await caught(provider.configure({ ...vm, cores: 2 }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", `VM ${vm.vmid} does not exist on node "pve1"`]);
    expect(writes()).toBe(before);
  });

  it("gives a VM without a NIC a new net0 on the bridge and VLAN asked for", async () => {
    const id = instanceId();
    const vm = await handMade({ name: id, tags: OURS, scsi0: "local-lvm:1" });
    const { digest } = await readConfig(vm);
    const writes = configWrites();
    await provider.configure({ ...vm, instanceId: id, net: { bridge: "vmbr0", vlan: 7 } });
    expect(writes).toEqual([{ net0: "virtio,bridge=vmbr0,tag=7", digest }]);
    expect((await readConfig(vm)).net0).toMatch(/^virtio=[0-9A-F:]{17},bridge=vmbr0,tag=7$/);
  });

  it("refuses to attach the seed to a VM without a boot disk as NOT_FOUND, sending nothing", async () => {
    const id = instanceId();
    const vm = await handMade({ name: id, tags: OURS });
    const before = sent(CONFIG_WRITE);
    const e = await caught(provider.configure({ ...vm, instanceId: id, isoVolume: "local:iso/seed.iso" }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", `VM ${vm.vmid} on pve1 has no boot disk (no disk in its boot order); its template needs one`]);
    expect(sent(CONFIG_WRITE)).toBe(before);
  });

  it("puts the seed in place of the template's cloud-init drive on ide2, with nothing to delete", async () => {
    const vm = await ourVm("debian-13-ci-ide2");
    expect((await readConfig(vm)).ide2).toMatch(/cloudinit/);
    const volume = await aSeed(vm);
    const { digest } = await readConfig(vm);
    const writes = configWrites();
    await provider.configure({ ...vm, isoVolume: volume });
    expect(writes).toEqual([{ ide2: `${volume},media=cdrom`, boot: "order=scsi0;ide2", digest }]);
    const config = await readConfig(vm);
    expect(config.ide2).toMatch(new RegExp(`^${volume},media=cdrom(,|$)`));
    expect(config.boot).toBe("order=scsi0;ide2");
  });
});

describe("configure: PVE's own cloud-init drives next to the seed", () => {
  it("deletes every one of them in the write that attaches the seed, and drops them from the boot order", async () => {
    const vm = await ourVm("debian-13-template", "pve2");
    await env.api("PUT", `/nodes/pve2/qemu/${vm.vmid}/config`, {
      ide0: `local-lvm:vm-${vm.vmid}-cloudinit,media=cdrom`,
      sata1: `pve2-only:vm-${vm.vmid}-cloudinit,media=cdrom`,
      boot: "order=scsi0;ide0;sata1;net0",
    });
    const volume = await aSeed(vm);
    const { digest } = await readConfig(vm);
    const writes = configWrites();
    await provider.configure({ ...vm, isoVolume: volume });
    expect(writes).toEqual([{ delete: "ide0,sata1", ide2: `${volume},media=cdrom`, boot: "order=scsi0;ide2;net0", digest }]);
    const config = await readConfig(vm);
    expect([config.ide0, config.sata1, config.boot]).toEqual([undefined, undefined, "order=scsi0;ide2;net0"]);
  });

  it("leaves them alone when the seed is detached: only ide2 empties and leaves the boot order", async () => {
    const vm = await ourVm();
    await provider.configure({ ...vm, isoVolume: await aSeed(vm) });
    const drive = `local-lvm:vm-${vm.vmid}-cloudinit,media=cdrom`;
    await env.api("PUT", `/nodes/pve1/qemu/${vm.vmid}/config`, { ide0: drive, boot: "order=scsi0;ide2;ide0" });
    const { digest } = await readConfig(vm);
    const writes = configWrites();
    await provider.configure({ ...vm, isoVolume: null });
    expect(writes).toEqual([{ ide2: "none,media=cdrom", boot: "order=scsi0;ide0", digest }]);
    const config = await readConfig(vm);
    expect([config.ide2, config.ide0, config.boot]).toEqual(["none,media=cdrom", drive, "order=scsi0;ide0"]);
  });
});

describe("resize", () => {
  it("of a VM without a boot disk is NOT_FOUND naming the VM, sending nothing", async () => {
    const id = instanceId();
    const vm = await handMade({ name: id, tags: OURS });
    const before = sent(RESIZE);
    const e = await caught(provider.resize({ ...vm, instanceId: id, bytes: 8 * 1024 ** 3 }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", `VM ${vm.vmid} on pve1 has no boot disk to resize`]);
    expect(sent(RESIZE)).toBe(before);
  });
});
