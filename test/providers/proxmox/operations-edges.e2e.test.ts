/**
 * The provider's operations at the edges the end-to-end suites do not reach, against the simulator:
 * an ISO delete or upload that fails (or half-succeeds), storages that cannot hold the cloud-init
 * ISO, a VM delete of a VMID nothing holds, the ownership guard for a create's own clone (`fresh`)
 * and for a VM whose tags say another shard. Every check reads the cluster back through the plain
 * API or counts the requests the simulator received.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProxmoxProvider, type ProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { startEnv, type Env } from "../../applier/harness.js";
import { caught, isos, listVms, settle, CLONE, UPLOAD, DELETE_VM } from "../../applier/cluster-api.js";
import { MAX_DESCRIPTION_CHARS } from "../../../src/providers/proxmox/codecs/notes-block.js";
import { iid } from "../../planner/fixtures.js";

let serial = 0;
/** Instance IDs unique in this file. */
const instanceId = (): string => iid(serial++, "edg");

const DELETE_VOLUME = "DELETE /nodes/{node}/storage/{storage}/content/{volume}";
const LIST_CONTENT = "GET /nodes/{node}/storage/{storage}/content";
const READ_CONFIG = "GET /nodes/{node}/qemu/{vmid}/config";

let env: Env;
let provider: ProxmoxProvider;

beforeAll(async () => {
  const topology = defaultTopology(2);
  topology.storages.push(
    { id: "noiso", type: "dir", content: ["images", "backup"], shared: false, sizeGiB: 10, path: "/mnt/noiso" },
  );
  env = await startEnv({ latency: "instant", topology });
  provider = env.provider();
});
afterEach(() => env.sim.setFaults(undefined));
afterAll(() => env?.close());

function sent(endpoint: string): number {
  return env.sim.stats().requests[endpoint] ?? 0;
}
function writes(): number {
  return Object.entries(env.sim.stats().requests).filter(([k]) => !k.startsWith("GET")).reduce((n, [, c]) => n + c, 0);
}

/** A VM of ours: cloned and tagged by the provider, as a create does. */
async function ourVm(node = "pve1"): Promise<{ node: string; vmid: number; instanceId: string }> {
  await provider.refresh();
  const id = instanceId();
  const { vmid } = await provider.clone({ instanceId: id, node, vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
  await provider.configure({ node, vmid, instanceId: id, fresh: true, tags: ["nstance", "apptest", "e2e"] });
  return { node, vmid, instanceId: id };
}

async function anIso(node = "pve1", size = 4096): Promise<{ volume: string; filename: string; id: string }> {
  const id = instanceId();
  const filename = `${id}-cidata.iso`;
  const { volume } = await provider.uploadIso({ node, storage: "local", filename, bytes: new Uint8Array(size).fill(1) });
  return { volume, filename, id };
}

describe("deleting an ISO volume", () => {
  it("is done when the delete acted but the answer was a 500: the listing no longer shows it, sent once", async () => {
    const other = await anIso(); // stays listed: only this volume's absence counts
    const { volume, id } = await anIso();
    const before = sent(DELETE_VOLUME);
    env.sim.setFaults("rate=1,kinds=5xx-after,methods=DELETE,paths=/content/");
    await provider.deleteVolume({ node: "pve1", volume, instanceId: id });
    env.sim.setFaults(undefined);
    expect(sent(DELETE_VOLUME) - before).toBe(1);
    expect(await isos(env, "pve1")).not.toContain(volume);
    expect(await isos(env, "pve1")).toContain(other.volume);
  });

  it("fails while the volume is still listed after a 500 that came before PVE acted", async () => {
    const { volume, id } = await anIso();
    env.sim.setFaults("rate=1,kinds=5xx,methods=DELETE,paths=/content/");
    const e = await caught(provider.deleteVolume({ node: "pve1", volume, instanceId: id }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    expect(await isos(env, "pve1")).toContain(volume);
  });

  it("is done at once for a volume that is already gone", async () => {
    const { volume, id } = await anIso();
    await provider.deleteVolume({ node: "pve1", volume, instanceId: id });
    const listed = sent(LIST_CONTENT);
    await provider.deleteVolume({ node: "pve1", volume, instanceId: id });
    expect(sent(LIST_CONTENT)).toBe(listed);
  });
});

describe("uploading the cloud-init ISO", () => {
  it("keeps a volume of the same name and size, and sends one of another size again", async () => {
    const { filename } = await anIso("pve2", 4096);
    const before = sent(UPLOAD);
    await provider.uploadIso({ node: "pve2", storage: "local", filename, bytes: new Uint8Array(4096).fill(1) });
    expect(sent(UPLOAD)).toBe(before);
    await provider.uploadIso({ node: "pve2", storage: "local", filename, bytes: new Uint8Array(8192).fill(2) });
    expect(sent(UPLOAD)).toBe(before + 1);
    const content = (await env.api("GET", "/nodes/pve2/storage/local/content?content=iso")) as { volid: string; size: number }[];
    expect(content.find((c) => c.volid === `local:iso/${filename}`)?.size).toBe(8192);
  });

  it.each([
    ["a file name outside [a-zA-Z0-9_.-]", { storage: "local", filename: "a b.iso" }, "VALIDATION", 'ISO file name "a b.iso" must use [a-zA-Z0-9_.-] and end in .iso'],
    ["a file name not ending in .iso", { storage: "local", filename: "seed.img" }, "VALIDATION", 'ISO file name "seed.img" must use [a-zA-Z0-9_.-] and end in .iso'],
    ["a file name with .iso inside", { storage: "local", filename: "seed.iso.txt" }, "VALIDATION", 'ISO file name "seed.iso.txt" must use [a-zA-Z0-9_.-] and end in .iso'],
    ["a storage the node does not have", { storage: "nowhere", filename: "x.iso" }, "NOT_FOUND", 'storage "nowhere" does not exist on node "pve1"'],
    ["a block storage", { storage: "local-lvm", filename: "x.iso" }, "VALIDATION", 'storage "local-lvm" (type lvmthin) cannot hold ISO files; set cloud_init_iso_storage to a path-based storage (dir, nfs, cifs, cephfs)'],
    ["a directory storage without iso content", { storage: "noiso", filename: "x.iso" }, "VALIDATION", 'storage "noiso" does not allow iso content on node "pve1"'],
  ] as const)("refuses %s before sending anything", async (_what, req, code, message) => {
    const before = writes();
    const e = await caught(provider.uploadIso({ node: "pve1", ...req, bytes: new Uint8Array(16) }));
    expect([e.code, e.message]).toEqual([code, message]);
    expect(writes()).toBe(before);
  });
});

describe("deleting a VM", () => {
  it("of a VMID nothing holds is done without reading or sending anything about it", async () => {
    const reads = sent(READ_CONFIG);
    const deletes = sent(DELETE_VM);
    await provider.deleteVm({ node: "pve1", vmid: 8123, instanceId: instanceId() });
    expect([sent(READ_CONFIG) - reads, sent(DELETE_VM) - deletes]).toEqual([0, 0]);
  });

  it("stops a running VM of ours first, then destroys it with its disks", async () => {
    const vm = await ourVm("pve2");
    await provider.start(vm);
    await provider.deleteVm(vm);
    expect((await listVms(env)).some((v) => v.vmid === vm.vmid)).toBe(false);
  });
});

describe("the ownership guard", () => {
  it("lets a create tag its own fresh clone, and refuses the same untagged VM to any other change", async () => {
    await provider.refresh();
    const id = instanceId();
    const { vmid, node } = await provider.clone({ instanceId: id, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    const e = await caught(provider.configure({ node, vmid, instanceId: id, cores: 3 }));
    expect(e.code).toBe("NOT_OURS");
    expect(e.message).toBe(
      `refusing to configure VM ${vmid} on ${node}: it is not instance ${id} of shard apptest/e2e (its tags [] lack nstance, apptest, e2e); nothing was sent — run plan again`,
    );
    await provider.configure({ node, vmid, instanceId: id, fresh: true, cores: 3, tags: ["nstance", "apptest", "e2e"] });
    const config = (await env.api("GET", `/nodes/${node}/qemu/${vmid}/config`)) as { cores: number; tags: string };
    expect(config.cores).toBe(3);
    expect(config.tags.split(";").sort()).toEqual(["apptest", "e2e", "nstance"]);
  });

  it("refuses a VM named after the instance whose tags name another shard of the cluster", async () => {
    const vm = await ourVm();
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { tags: "nstance;apptest;other" });
    const before = writes();
    const e = await caught(provider.deleteVm(vm));
    expect(e.code).toBe("NOT_OURS");
    expect(e.message).toMatch(/^refusing to delete VM \d+ on pve1: /);
    expect(e.message).toContain("(its tags [apptest, nstance, other] lack e2e)");
    expect(writes()).toBe(before);
    expect((await listVms(env)).some((v) => v.vmid === vm.vmid)).toBe(true);
  });

  it("refuses a VM with another name, saying which", async () => {
    const vm = await ourVm();
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: "ops-box" });
    const e = await caught(provider.resize({ ...vm, disk: "scsi0", bytes: 64 * 1024 ** 3 }));
    expect(e.code).toBe("NOT_OURS");
    expect(e.message).toContain('(it is named "ops-box")');
    expect((await caught(provider.start(vm))).message).toMatch(new RegExp(`^refusing to start VM ${vm.vmid} on ${vm.node}: `));
  });
});

describe("configure and resize", () => {
  const CONFIG_WRITE = "POST /nodes/{node}/qemu/{vmid}/config";
  const RESIZE = "PUT /nodes/{node}/qemu/{vmid}/resize";

  it("sends nothing when there is nothing to change", async () => {
    const vm = await ourVm();
    const before = sent(CONFIG_WRITE);
    await provider.configure({ ...vm });
    expect(sent(CONFIG_WRITE)).toBe(before);
  });

  it("refuses a description longer than Proxmox allows before sending anything, and writes one that fits", async () => {
    const vm = await ourVm();
    const before = sent(CONFIG_WRITE);
    const e = await caught(provider.configure({ ...vm, description: "x".repeat(MAX_DESCRIPTION_CHARS + 1) }));
    expect([e.code, e.message]).toEqual(["VALIDATION", `VM ${vm.vmid}: description is ${MAX_DESCRIPTION_CHARS + 1} characters; Proxmox allows ${MAX_DESCRIPTION_CHARS}`]);
    expect(sent(CONFIG_WRITE)).toBe(before);
    await provider.configure({ ...vm, description: "y".repeat(MAX_DESCRIPTION_CHARS), onboot: false, memoryMiB: 1536 });
    const config = (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as { description: string; onboot: number; memory: number | string };
    expect([config.description.length, Number(config.onboot), Number(config.memory)]).toEqual([MAX_DESCRIPTION_CHARS, 0, 1536]);
  });

  it("refuses to resize a disk the VM does not have, sending nothing", async () => {
    const vm = await ourVm();
    const before = sent(RESIZE);
    const e = await caught(provider.resize({ ...vm, disk: "scsi7", bytes: 8 * 1024 ** 3 }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", `VM ${vm.vmid} has no disk scsi7`]);
    expect(sent(RESIZE)).toBe(before);
  });

  it("resizes the boot disk when none is named; the same size again sends nothing; a shrink is refused naming both sizes", async () => {
    const vm = await ourVm();
    const before = sent(RESIZE);
    await provider.resize({ ...vm, bytes: 12 * 1024 ** 3 });
    expect(sent(RESIZE) - before).toBe(1);
    const config = (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>;
    expect(config.scsi0).toMatch(/size=12G(,|$)/);
    await provider.resize({ ...vm, bytes: 12 * 1024 ** 3 });
    expect(sent(RESIZE) - before).toBe(1);
    const e = await caught(provider.resize({ ...vm, bytes: 8 * 1024 ** 3 }));
    expect([e.code, e.message]).toEqual(["VALIDATION", `VM ${vm.vmid}: scsi0 is ${12 * 1024 ** 3} bytes; shrinking to ${8 * 1024 ** 3} bytes is not supported`]);
    expect(sent(RESIZE) - before).toBe(1);
  });

  it("a resize of a VM that is gone is NOT_FOUND, sending nothing", async () => {
    const vm = await ourVm();
    await provider.deleteVm({ ...vm });
    const before = sent(RESIZE);
    const e = await caught(provider.resize({ ...vm, bytes: 16 * 1024 ** 3 }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", `VM ${vm.vmid} does not exist on node "${vm.node}"`]);
    expect(sent(RESIZE)).toBe(before);
  });

  it("leaves net0 alone (MAC and all) when the bridge and VLAN asked for are the ones it has, and retargets only those otherwise", async () => {
    const vm = await ourVm();
    const read = async () => ((await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>).net0!;
    const original = await read();
    const before = sent(CONFIG_WRITE);
    await provider.configure({ ...vm, net: { bridge: "vmbr0" } });
    expect(sent(CONFIG_WRITE)).toBe(before); // nothing else asked: no write at all
    expect(await read()).toBe(original);
    await provider.configure({ ...vm, net: { bridge: "vmbr0", vlan: 42 } });
    const retagged = await read();
    expect(retagged).toMatch(/tag=42/);
    expect(retagged.replace(/,tag=42/, "")).toBe(original);
  });
});

describe("configure: the seed ISO and values it refuses", () => {
  const CONFIG_WRITE = "POST /nodes/{node}/qemu/{vmid}/config";

  it("attaches the seed after the boot disk, then detaches it to an empty drive with the disk alone booting", async () => {
    const vm = await ourVm();
    const { volume } = await anIso(vm.node);
    await provider.configure({ ...vm, isoVolume: volume });
    let config = (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>;
    expect(config.ide2).toMatch(new RegExp(`^${volume},media=cdrom(,|$)`));
    expect(config.boot).toBe("order=scsi0;ide2");
    await provider.configure({ ...vm, isoVolume: null });
    config = (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>;
    expect([config.ide2, config.boot]).toEqual(["none,media=cdrom", "order=scsi0"]);
  });

  it.each([
    ["a bridge name PVE would refuse", { net: { bridge: "no such bridge!" } }],
    ["a seed that is not a volume ID", { isoVolume: "cidata.iso" }],
  ])("refuses %s as VALIDATION naming the VM, sending nothing", async (_what, change) => {
    const vm = await ourVm();
    const before = sent(CONFIG_WRITE);
    const e = await caught(provider.configure({ ...vm, ...change }));
    expect(e.code).toBe("VALIDATION");
    expect(e.message).toMatch(new RegExp(`^VM ${vm.vmid}: `));
    expect(sent(CONFIG_WRITE)).toBe(before);
  });
});

describe("a write made conditional by the digest", () => {
  it.each([
    ["configure", "POST /nodes/{node}/qemu/{vmid}/config", "methods=POST,paths=/config$", (vm: { node: string; vmid: number; instanceId: string }) => provider.configure({ ...vm, cores: 5 })],
    ["resize", "PUT /nodes/{node}/qemu/{vmid}/resize", "methods=PUT,paths=/resize$", (vm: { node: string; vmid: number; instanceId: string }) => provider.resize({ ...vm, disk: "scsi0", bytes: 16 * 1024 ** 3 })],
  ] as const)("%s is sent once on an unexplained 500 (a repeat after a lost success would be refused)", async (_op, endpoint, faults, op) => {
    const vm = await ourVm();
    const before = sent(endpoint);
    env.sim.setFaults(`rate=1,kinds=5xx,${faults}`);
    const e = await caught(op(vm));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    expect(sent(endpoint) - before).toBe(1);
  });
});

describe("clone", () => {
  it("refuses a name that is not an instance ID before asking anything", async () => {
    const before = Object.values(env.sim.stats().requests).reduce((n, c) => n + c, 0);
    const e = await caught(provider.clone({ instanceId: "Not-An-Id", node: "pve1", vmid: 4000, template: { name: "debian-13-template" }, storage: "local-lvm", full: true }));
    expect([e.code, e.message]).toEqual(["VALIDATION", '"Not-An-Id" is not an instance ID']);
    expect(Object.values(env.sim.stats().requests).reduce((n, c) => n + c, 0)).toBe(before);
  });

  it("adopts, when resumed, the VM an interrupted run cloned, without cloning again", async () => {
    const vm = await ourVm("pve2");
    const rerun = env.provider();
    await rerun.refresh();
    // A VMID the resumed run did not record: only the name can find the earlier clone.
    const before = sent(CLONE);
    const got = await rerun.clone({ instanceId: vm.instanceId, node: "pve2", vmid: rerun.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true, resumed: true });
    expect(got).toEqual({ vmid: vm.vmid, node: "pve2" });
    expect(sent(CLONE)).toBe(before);
  });

  it("clones again after a 500 that came before PVE acted, only while no VM has the name, and gives up after the attempts", async () => {
    await provider.refresh();
    const id = instanceId();
    const before = sent(CLONE);
    env.sim.setFaults("rate=1,kinds=5xx,methods=POST,paths=/clone$");
    const e = await caught(provider.clone({ instanceId: id, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    expect(sent(CLONE) - before).toBe(4); // the client's default attempts
    expect((await listVms(env)).filter((v) => v.name === id)).toEqual([]);
  });

  it("does not clone again after a clone task that failed for good", async () => {
    await provider.refresh();
    const before = sent(CLONE);
    env.sim.setFaults("rate=1,kinds=taskfail,methods=POST,paths=/clone$");
    const e = await caught(provider.clone({ instanceId: instanceId(), node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("TASK_FAILED");
    expect(sent(CLONE) - before).toBe(1);
  });

  it("names a TemplateVMID that does not exist", async () => {
    await provider.refresh();
    const e = await caught(provider.clone({ instanceId: instanceId(), node: "pve1", vmid: provider.nextVmid(), template: { vmid: 8999 }, storage: "local-lvm", full: true }));
    expect([e.code, e.message]).toEqual(["NOT_FOUND", "TemplateVMID 8999 does not exist in the cluster"]);
  });

  it("never takes a plain VM named like the template for it", async () => {
    const upid = (await env.api("POST", "/nodes/pve2/qemu", { vmid: 4321, name: "debian-13-template", memory: 512, cores: 1 })) as string;
    await settle(env, upid);
    await provider.refresh();
    const id = instanceId();
    const got = await provider.clone({ instanceId: id, node: "pve2", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    const listed = (await listVms(env)).find((v) => v.vmid === got.vmid);
    expect(listed?.name).toBe(id);
    const config = (await env.api("GET", `/nodes/pve2/qemu/${got.vmid}/config`)) as Record<string, string>;
    expect(config.scsi0).toMatch(/size=2G/); // the template's disk; the plain VM has none
  });
});

describe("reads that fail are failures, not answers", () => {
  it("a stop whose ownership read keeps failing fails, rather than calling the VM gone", async () => {
    const vm = await ourVm();
    await provider.start(vm);
    env.sim.setFaults("rate=1,kinds=5xx,methods=GET,paths=/qemu/\\d+/config$");
    const e = await caught(provider.stop({ ...vm, timeoutSec: 5 }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    expect((await listVms(env)).find((v) => v.vmid === vm.vmid)?.status).toBe("running");
  });

  it("an upload whose storage read fails names that failure (not a missing storage), and the next attempt reads again", async () => {
    const fresh = env.provider();
    env.sim.setFaults("rate=1,kinds=5xx,methods=GET,paths=/nodes/pve2/storage$");
    const e = await caught(fresh.uploadIso({ node: "pve2", storage: "local", filename: `${instanceId()}.iso`, bytes: new Uint8Array(16) }));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("SERVER");
    await expect(fresh.uploadIso({ node: "pve2", storage: "local", filename: `${instanceId()}.iso`, bytes: new Uint8Array(16) })).resolves.toMatchObject({ volume: expect.stringMatching(/^local:iso\//) });
  });
});

describe("power", () => {
  it("a start whose task fails is a failure (only 'already running' is success)", async () => {
    const vm = await ourVm();
    env.sim.setFaults("rate=1,kinds=taskfail,methods=POST,paths=/status/start$");
    const e = await caught(provider.start(vm));
    env.sim.setFaults(undefined);
    expect(e.code).toBe("TASK_FAILED");
    expect((await listVms(env)).find((v) => v.vmid === vm.vmid)?.status).toBe("stopped");
  });

  it("a delete of a stopped VM sends no shutdown", async () => {
    const vm = await ourVm();
    const shutdowns = sent("POST /nodes/{node}/qemu/{vmid}/status/shutdown");
    await provider.deleteVm(vm);
    expect(sent("POST /nodes/{node}/qemu/{vmid}/status/shutdown")).toBe(shutdowns);
    expect((await listVms(env)).some((v) => v.vmid === vm.vmid)).toBe(false);
  });
});

describe("an ISO still in use", () => {
  it("is kept while a twin named after the instance uses it on a two-digit SCSI slot, with a notice naming VM and drive; reads only the candidates' configs", async () => {
    const notices: string[] = [];
    const p = createProxmoxProvider({ clusterId: "apptest", shardId: "e2e", ca: env.sim.caCertificate, env: env.providerEnv, pollIntervalMs: 5, onNotice: (m) => notices.push(m) });
    try {
      const vm = await ourVm();
      const { volume } = await anIso(vm.node);
      // A twin: another VMID, the same name, the ISO on scsi12; and, listed before it, a bystander using nothing.
      await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu`, { vmid: 4400, name: vm.instanceId, memory: 512, cores: 1, scsi12: `${volume},media=cdrom` })) as string);
      await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu`, { vmid: 4399, name: "bystander", memory: 512, cores: 1 })) as string);
      env.sim.tickStats();
      const reads = sent(READ_CONFIG);
      await p.deleteVolume({ node: vm.node, volume, instanceId: vm.instanceId });
      expect(await isos(env, vm.node)).toContain(volume);
      expect(notices).toContain(`kept ${volume}: VM 4400 on ${vm.node} ("${vm.instanceId}") still uses it (scsi12)`);
      // The instance's own VM (no ISO) and the twin: not the bystander, not the templates.
      expect(sent(READ_CONFIG) - reads).toBe(2);
    } finally {
      await p.close();
    }
  });
});

describe("the clone's own cloud-init drive", () => {
  it("leaves the boot order with the seed it replaces", async () => {
    const vm = await ourVm();
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { ide0: "local-lvm:vm-" + vm.vmid + "-cloudinit,media=cdrom", boot: "order=scsi0;ide0;net0" });
    const { volume } = await anIso(vm.node);
    await provider.configure({ ...vm, isoVolume: volume });
    const config = (await env.api("GET", `/nodes/${vm.node}/qemu/${vm.vmid}/config`)) as Record<string, string>;
    expect(config.ide0).toBeUndefined();
    expect(config.boot).toBe("order=scsi0;ide2;net0");
  });
});
