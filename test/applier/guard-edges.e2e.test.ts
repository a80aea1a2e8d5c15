/**
 * The provider's last line of defence where the planner cannot help (ARCHITECTURE.md rule 2):
 * changes sent straight to the provider for a VM that looks like ours but must not be touched — an
 * instance an operator turned into a template — and an ISO still in use by a VM the listing cannot
 * name yet (`VM <vmid>`), on any drive bus. Found by hand-made mutants of
 * src/providers/proxmox/operations.ts that the rest of the suite let through.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTopology } from "../../src/sim/topology.js";
import { planAndApply, startEnv, type Env } from "./harness.js";
import { caught, isos, listVms, settle } from "./cluster-api.js";

const listing = listVms;

describe("the provider's guard at its edges", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 33 });
  });
  afterAll(() => env?.close());

  it("refuses to change or delete an instance an operator turned into a template, and sends nothing", async () => {
    env.writeShard({ webSize: 1, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes.find((c) => c.kind === "create")!.instanceId;
    const vm = (await listing(env)).find((v) => v.name === id)!;
    const provider = env.provider();
    await provider.stop({ node: vm.node, vmid: vm.vmid, instanceId: id, timeoutSec: 5 });
    // `qm template <vmid>`: name and all three tags stay, but it is a template now (PVE refuses to
    // start it and a template is the base of other VMs' linked clones).
    expect(await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/template`, {})) as string | null)).toBe("OK");
    const target = { node: vm.node, vmid: vm.vmid, instanceId: id };
    const writes = () => Object.entries(env.sim.stats().requests).filter(([k]) => !k.startsWith("GET")).reduce((n, [, c]) => n + (c as number), 0);
    const sent = writes();
    const errors = [
      await caught(provider.configure({ ...target, cores: 8 })),
      await caught(provider.start(target)),
      await caught(provider.deleteVm(target)),
    ];
    expect(errors.map((e) => e.code)).toEqual(["NOT_OURS", "NOT_OURS", "NOT_OURS"]);
    expect(writes()).toBe(sent);
    const after = (await listing(env)).find((v) => v.vmid === vm.vmid);
    expect(after).toMatchObject({ name: id, template: 1 });
  });

  it("keeps an ISO that a VM not yet named in the listing uses on a SATA drive, or a renamed one on SCSI", async () => {
    env.writeShard({ webSize: 1, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes.find((c) => c.kind === "create")!.instanceId;
    const vm = (await listing(env)).find((v) => v.name === id)!;
    const volume = `local:iso/${id}-cidata.iso`;
    expect(await isos(env, vm.node)).toContain(volume);
    const provider = env.provider();
    // The instance lets go of its seed: only the others below still use it.
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { delete: "ide2" });

    // A VM made with no name: the listing shows it as `VM <vmid>` until it is read by VMID.
    expect(await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu`, { vmid: 4711, memory: 512, cores: 1, sata1: `${volume},media=cdrom` })) as string)).toBe("OK");
    expect(((await listing(env)).find((v) => v.vmid === 4711)?.name ?? "VM 4711")).toBe("VM 4711");
    await provider.deleteVolume({ node: vm.node, volume, instanceId: id, vmid: vm.vmid });
    expect(await isos(env, vm.node)).toContain(volume);

    // Moved to a VM at the instance's recorded VMID under another name, on a SCSI drive.
    await env.api("PUT", `/nodes/${vm.node}/qemu/4711/config`, { delete: "sata1" });
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: "renamed-by-hand", scsi5: `${volume},media=cdrom` });
    await provider.deleteVolume({ node: vm.node, volume, instanceId: id, vmid: vm.vmid });
    expect(await isos(env, vm.node)).toContain(volume);

    // Nobody uses it any more: now it goes.
    await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { delete: "scsi5" });
    await provider.deleteVolume({ node: vm.node, volume, instanceId: id, vmid: vm.vmid });
    expect(await isos(env, vm.node)).not.toContain(volume);
  });
});

describe("a VM delete the API answered with an error", () => {
  let env: Env;
  beforeAll(async () => {
    // Every VM delete is answered 500 before PVE acts (a proxy in front of pveproxy failing).
    env = await startEnv({ latency: "fast", seed: 34, faults: "rate=1,kinds=5xx,methods=DELETE,paths=/qemu/\\d+$" });
  });
  afterAll(() => env?.close());

  it("is a failure while the VM is still there: never recorded as deleted on an unexplained error", async () => {
    env.writeShard({ webSize: 1, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes.find((c) => c.kind === "create")!.instanceId;
    const vm = (await listing(env)).find((v) => v.name === id)!;
    const provider = env.provider();
    const e = await caught(provider.deleteVm({ node: vm.node, vmid: vm.vmid, instanceId: id }));
    expect(e.code).toBe("SERVER");
    expect((await listing(env)).find((v) => v.vmid === vm.vmid)?.name).toBe(id);
    // And through the applier: scaling to zero leaves the record, so the next run deletes it.
    env.writeShard({ webSize: 0, dbSize: 0 });
    const { result } = await planAndApply(env);
    expect(result.status).toBe("partial");
    const doc = (await (await env.store()).read())!.doc;
    expect(Object.keys(doc.instances)).toContain(id);
  });
});

describe("a VM delete PVE refuses with a 'does not exist' about something else", () => {
  let env: Env;
  beforeAll(async () => {
    const topology = defaultTopology(3);
    topology.storages.push({ ...topology.storages.find((st) => st.id === "local-lvm")!, id: "scratch" });
    env = await startEnv({ latency: "fast", seed: 35, topology });
  });
  afterAll(() => env?.close());

  it("is a failure, not 'already gone', while the VM is still there", async () => {
    env.writeShard({ webSize: 1, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes.find((c) => c.kind === "create")!.instanceId;
    const vm = (await listing(env)).find((v) => v.name === id)!;
    // An operator adds a scratch disk, then retires the storage definition (the data stays).
    expect(await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { scsi1: "scratch:1" })) as string | null)).toBe("OK");
    await env.api("DELETE", "/storage/scratch");
    const provider = env.provider();
    // qemu-server's destroy_vm dies with "storage 'scratch' does not exist" (PVE::Storage::path
    // outside its eval): classified NOT_FOUND, which must not be read as "the VM is gone".
    const e = await caught(provider.deleteVm({ node: vm.node, vmid: vm.vmid, instanceId: id }));
    expect(e.message).toContain("storage 'scratch' does not exist");
    expect((await listing(env)).find((v) => v.vmid === vm.vmid)?.name).toBe(id);
  });
});

