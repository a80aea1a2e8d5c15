/**
 * The provider's ISO upload, power and delete operations at their edges, against the simulator over
 * HTTP: storages that exist but are disabled on the node or not reachable, a start or stop whose
 * request or task fails one way or another (only failures a hard stop helps lead to one), a VM that
 * vanishes between the ownership guard and the next call, an ISO kept while a VM uses it (and which
 * VMs are looked at for that), a delete whose outcome must be read back. Every check counts or reads
 * the requests the simulator received (`onRequest`), or reads the cluster back through the plain API.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createProxmoxProvider, type ProxmoxProvider, type ProxmoxProviderOptions } from "../../../src/providers/proxmox/index.js";
import type { ReceivedRequest } from "../../../src/sim/index.js";
import { PveError } from "../../../src/sim/context.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { startEnv, type Env } from "../../applier/harness.js";
import { caught, listVms, settle } from "../../applier/cluster-api.js";
import { iid } from "../../planner/fixtures.js";

let serial = 0;
/** Instance IDs unique in this file. */
const instanceId = (): string => iid(serial++, "pde");

type Vm = { node: string; vmid: number; instanceId: string };

/** What the simulator received while a test ran, and an action to take when one request arrives. */
let seen: ReceivedRequest[] = [];
let act: ((r: ReceivedRequest) => Promise<void>) | undefined;
const notices: string[] = [];
const made: ProxmoxProvider[] = [];

function record(e: Env): void {
  e.sim.onRequest(async (r) => {
    seen.push(r);
    await act?.(r);
  });
}

/** Runs `fn` once, when the first request matching method and path arrives, before PVE handles it. */
function when(method: string, path: string, fn: () => Promise<void>): void {
  let done = false;
  act = async (r) => {
    if (done || r.method !== method || r.path !== path) return;
    done = true;
    await fn();
  };
}

/** The parameters of the requests received with this method and path (the path's own ones left out). */
function params(method: string, path: RegExp): Record<string, string>[] {
  return seen.filter((r) => r.method === method && path.test(r.path)).map(({ params: { node: _n, vmid: _v, storage: _s, ...rest } }) => rest);
}

function count(method: string, path: string): number {
  return seen.filter((r) => r.method === method && r.path === path).length;
}

function providerFor(e: Env, extra: Partial<ProxmoxProviderOptions> = {}): ProxmoxProvider {
  const p = createProxmoxProvider({
    clusterId: "apptest", shardId: "e2e", ca: e.sim.caCertificate, env: e.providerEnv, pollIntervalMs: 5,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 4 }, onNotice: (m) => notices.push(m), ...extra,
  });
  made.push(p);
  return p;
}

afterEach(() => {
  seen = [];
  act = undefined;
  notices.length = 0;
});
afterAll(async () => {
  for (const p of made) await p.close();
});

describe("on an instant cluster", () => {
  let env: Env;
  let ops: ProxmoxProvider;
  let nextVmid = 5000;

  beforeAll(async () => {
    const topology = defaultTopology(2);
    topology.storages.push(
      { id: "far", type: "dir", content: ["iso"], shared: false, sizeGiB: 10, path: "/mnt/far", nodes: ["pve2"] },
      { id: "gone-nfs", type: "nfs", content: ["iso"], shared: true, sizeGiB: 10, path: "/mnt/pve/gone", online: false },
      { id: "keep", type: "dir", content: ["iso"], shared: false, sizeGiB: 10, path: "/mnt/keep" },
      { id: "spare", type: "dir", content: ["images"], shared: false, sizeGiB: 10, path: "/mnt/spare" },
    );
    // The token may upload to `keep` but not delete from it (Datastore.Allocate is missing there).
    topology.acl = [
      { path: "/", roles: ["Administrator"], propagate: true },
      { path: "/storage/keep", roles: ["IsoKeeper"], propagate: true },
    ];
    topology.roles = { IsoKeeper: ["Datastore.AllocateTemplate", "Datastore.AllocateSpace", "Datastore.Audit"] };
    env = await startEnv({ latency: "instant", topology });
    record(env);
    ops = providerFor(env);
  });
  afterEach(() => env.sim.setFaults(undefined));
  afterAll(() => env?.close());

  /** A VM of ours made by hand through the plain API: named after a new instance, tagged, one disk. */
  async function ourVm(extra: Record<string, unknown> = {}, node = "pve1"): Promise<Vm> {
    const vm = { node, vmid: nextVmid++, instanceId: instanceId() };
    const config = { vmid: vm.vmid, name: vm.instanceId, tags: "nstance;apptest;e2e", memory: 512, cores: 1, scsi0: "local-lvm:1", ...extra };
    await settle(env, (await env.api("POST", `/nodes/${node}/qemu`, config)) as string);
    seen = []; // the test counts what the provider sends from here on
    return vm;
  }
  async function running(extra: Record<string, unknown> = {}): Promise<Vm> {
    const vm = await ourVm(extra);
    await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/status/start`, {})) as string);
    seen = [];
    return vm;
  }
  async function status(vm: Vm): Promise<string | undefined> {
    return (await listVms(env)).find((v) => v.vmid === vm.vmid)?.status;
  }
  async function destroy(vm: { node: string; vmid: number }): Promise<void> {
    await settle(env, (await env.api("DELETE", `/nodes/${vm.node}/qemu/${vm.vmid}`)) as string);
  }
  async function volumes(storage: string, node = "pve1"): Promise<string[]> {
    return ((await env.api("GET", `/nodes/${node}/storage/${storage}/content`)) as { volid: string }[]).map((v) => v.volid);
  }
  function writes(): number {
    return seen.filter((r) => r.method !== "GET").length;
  }

  describe("uploading the cloud-init ISO", () => {
    it.each([
      ["limited to other nodes (PVE lists it there with enabled 0)", "far"],
      ["whose share does not answer (PVE lists it enabled but with active 0)", "gone-nfs"],
    ])("refuses a storage %s, sending nothing, after asking PVE about that one storage", async (_what, storage) => {
      const e = await caught(providerFor(env).uploadIso({ node: "pve1", storage, filename: "seed.iso", bytes: new Uint8Array(16) }));
      expect([e.code, e.message]).toEqual(["VALIDATION", `storage "${storage}" is not enabled and active on node "pve1"`]);
      expect(writes()).toBe(0);
      expect(params("GET", /^\/nodes\/pve1\/storage$/)).toEqual([{}]);
      expect(seen.find((r) => r.path === "/nodes/pve1/storage")?.params.storage).toBe(storage);
    });

    it("reads the storage once per run, lists only its ISOs, and keeps a volume of the same name and size", async () => {
      const p = providerFor(env);
      const filename = `${instanceId()}-cidata.iso`;
      const { volume } = await p.uploadIso({ node: "pve2", storage: "local", filename, bytes: new Uint8Array(64).fill(7) });
      expect(volume).toBe(`local:iso/${filename}`);
      expect(await p.uploadIso({ node: "pve2", storage: "local", filename, bytes: new Uint8Array(64).fill(7) })).toEqual({ volume });
      expect(count("GET", "/nodes/pve2/storage")).toBe(1);
      expect(count("POST", "/nodes/pve2/storage/local/upload")).toBe(1);
      expect(params("GET", /^\/nodes\/pve2\/storage\/local\/content$/)).toEqual([{ content: "iso" }, { content: "iso" }]);
      expect(await volumes("local", "pve2")).toContain(volume);
    });
  });

  describe("start", () => {
    it("of a VMID nothing holds is NOT_FOUND naming VM and node, sending no start", async () => {
      const e = await caught(ops.start({ node: "pve1", vmid: 8124, instanceId: instanceId() }));
      expect([e.code, e.message]).toEqual(["NOT_FOUND", 'VM 8124 does not exist on node "pve1"']);
      expect(writes()).toBe(0);
    });

    it("is sent again after a 500 that came before PVE acted, and the VM runs", async () => {
      const vm = await ourVm();
      env.sim.setFaults("rate=1,count=1,kinds=5xx,methods=POST,paths=/status/start$");
      await ops.start(vm);
      expect(count("POST", `/nodes/pve1/qemu/${vm.vmid}/status/start`)).toBe(2);
      expect(await status(vm)).toBe("running");
    });

    it("of a VM already running is success", async () => {
      const vm = await running();
      await ops.start(vm);
      expect(await status(vm)).toBe("running");
    });
  });

  describe("stop", () => {
    const shutdownOrStop = (vm: Vm) => new RegExp(`^/nodes/pve1/qemu/${vm.vmid}/status/(shutdown|stop)$`);

    it.each([
      "VM is paused - cannot shutdown",
      "VM quit/powerdown failed - got timeout",
    ])("hard-stops the guest when the shutdown task fails with '%s' (no overrule: no shutdown is left running)", async (exit) => {
      const vm = await running();
      env.sim.setFaults(`rate=1,count=1,kinds=taskfail,taskerr=${exit},methods=POST,paths=/status/shutdown$`);
      await ops.stop({ ...vm, timeoutSec: 5 });
      expect(seen.filter((r) => shutdownOrStop(vm).test(r.path)).map((r) => [r.path.split("/").pop(), r.params.timeout, r.params["overrule-shutdown"]])).toEqual([
        ["shutdown", "5", undefined],
        ["stop", undefined, undefined],
      ]);
      expect(params("POST", new RegExp(`/${vm.vmid}/status/stop$`))).toEqual([{}]);
      expect(await status(vm)).toBe("stopped");
    });

    it("fails, with no hard stop, when the shutdown task fails for a reason a hard stop does not help", async () => {
      const vm = await running();
      env.sim.setFaults("rate=1,count=1,kinds=taskfail,taskerr=QEMU guest agent is not running,methods=POST,paths=/status/shutdown$");
      const e = await caught(ops.stop({ ...vm, timeoutSec: 5 }));
      expect(e.code).toBe("TASK_FAILED");
      expect(e.message).toBe(`Proxmox task qmshutdown for VM ${vm.vmid} on node pve1 failed: QEMU guest agent is not running`);
      expect(count("POST", `/nodes/pve1/qemu/${vm.vmid}/status/stop`)).toBe(0);
      expect(await status(vm)).toBe("running");
    });

    it("of a paused VM: the shutdown PVE refuses (sent again like any 500) ends in a hard stop, itself sent again after a 500", async () => {
      const vm = await running();
      await settle(env, (await env.api("POST", `/nodes/pve1/qemu/${vm.vmid}/status/suspend`, {})) as string);
      env.sim.setFaults("rate=1,count=1,kinds=5xx,methods=POST,paths=/status/stop$");
      await ops.stop({ ...vm, timeoutSec: 5 });
      // The client's 3 attempts of the shutdown, then the stop twice (its first one met the 500).
      expect(count("POST", `/nodes/pve1/qemu/${vm.vmid}/status/shutdown`)).toBe(3);
      expect(params("POST", new RegExp(`/${vm.vmid}/status/stop$`))).toEqual([{}, {}]);
      expect(await status(vm)).toBe("stopped");
    });

    it("of a VM named otherwise is refused, saying what it would have done", async () => {
      const vm = await running({ name: "ops-box" });
      const e = await caught(ops.stop({ ...vm, timeoutSec: 5 }));
      expect([e.code, e.message]).toEqual([
        "NOT_OURS",
        `refusing to stop VM ${vm.vmid} on pve1: it is not instance ${vm.instanceId} of shard apptest/e2e (it is named "ops-box"); nothing was sent — run plan again`,
      ]);
      expect(writes()).toBe(0);
      expect(await status(vm)).toBe("running");
    });

    it("is done when the VM is deleted between the guard and the shutdown", async () => {
      const vm = await ourVm();
      when("POST", `/nodes/pve1/qemu/${vm.vmid}/status/shutdown`, () => destroy(vm));
      await ops.stop({ ...vm, timeoutSec: 5 });
      expect(count("POST", `/nodes/pve1/qemu/${vm.vmid}/status/shutdown`)).toBe(1);
      expect(count("POST", `/nodes/pve1/qemu/${vm.vmid}/status/stop`)).toBe(0);
      expect(await status(vm)).toBeUndefined();
    });
  });

  describe("deleting a VM", () => {
    const vmPath = (vm: Vm) => `/nodes/${vm.node}/qemu/${vm.vmid}`;

    it.each([
      ["the default 60 s", undefined, "60"],
      ["the provider's shutdown timeout", 7, "7"],
    ])("shuts a running VM down with %s, then destroys it purging it from jobs and freeing unreferenced disks", async (_what, shutdownTimeoutSec, timeout) => {
      const p = providerFor(env, shutdownTimeoutSec === undefined ? {} : { shutdownTimeoutSec });
      const vm = await running();
      await p.deleteVm(vm);
      expect(params("POST", new RegExp(`^${vmPath(vm)}/status/shutdown$`))).toEqual([{ timeout }]);
      expect(params("DELETE", new RegExp(`^${vmPath(vm)}$`))).toEqual([{ purge: "1", "destroy-unreferenced-disks": "1" }]);
      expect(await status(vm)).toBeUndefined();
    });

    it("refuses a VM at the VMID that is named otherwise, saying what it would have done", async () => {
      const vm = await ourVm({ name: "ops-box" });
      const e = await caught(ops.deleteVm(vm));
      expect([e.code, e.message]).toEqual([
        "NOT_OURS",
        `refusing to delete VM ${vm.vmid} on pve1: it is not instance ${vm.instanceId} of shard apptest/e2e (it is named "ops-box"); nothing was sent — run plan again`,
      ]);
      expect(writes()).toBe(0);
    });

    it("is done when the VM is deleted between the guard and the status read", async () => {
      const vm = await ourVm();
      when("GET", `${vmPath(vm)}/status/current`, () => destroy(vm));
      await ops.deleteVm(vm);
      expect(count("DELETE", vmPath(vm))).toBe(1); // the other actor's only
      expect(await status(vm)).toBeUndefined();
    });

    it("fails, sending no destroy, when the status read fails otherwise", async () => {
      const vm = await ourVm();
      env.sim.setFaults(`rate=1,kinds=5xx,methods=GET,paths=^${vmPath(vm)}/status/current$`);
      const e = await caught(ops.deleteVm(vm));
      expect(e.code).toBe("SERVER");
      expect(count("DELETE", vmPath(vm))).toBe(0);
      expect(await status(vm)).toBe("stopped");
    });

    it("fails on a destroy task that failed, without asking again whether the VM is still there", async () => {
      const vm = await ourVm();
      env.sim.setFaults("rate=1,count=1,kinds=taskfail,methods=DELETE,paths=/qemu/\\d+$");
      const e = await caught(ops.deleteVm(vm));
      expect(e.code).toBe("TASK_FAILED");
      expect(count("GET", `${vmPath(vm)}/config`)).toBe(1); // the guard's
      expect(await status(vm)).toBe("stopped");
    });

    it("fails on a destroy that names something else missing, after reading that the VM is still ours", async () => {
      const vm = await ourVm({ scsi1: "spare:1" });
      await env.api("DELETE", "/storage/spare");
      const e = await caught(ops.deleteVm(vm));
      expect([e.code, e.message]).toEqual(["NOT_FOUND", `Proxmox task qmdestroy for VM ${vm.vmid} on node pve1 failed: storage 'spare' does not exist`]);
      expect(count("GET", `${vmPath(vm)}/config`)).toBe(2); // the guard's, then the check
      expect(await status(vm)).toBe("stopped");
    });

    it("is done when the destroy meets a VM already gone (NOT_FOUND, and the read back finds none)", async () => {
      const vm = await ourVm();
      when("DELETE", vmPath(vm), () => destroy(vm));
      await ops.deleteVm(vm);
      expect(count("GET", `${vmPath(vm)}/config`)).toBe(2);
      expect(await status(vm)).toBeUndefined();
    });

    it("is done when the destroy acted but the connection dropped before the answer, and the read back finds no VM", async () => {
      const vm = await ourVm();
      env.sim.setFaults("rate=1,count=1,kinds=reset-after,methods=DELETE,paths=/qemu/\\d+$");
      await ops.deleteVm(vm);
      expect(count("DELETE", vmPath(vm))).toBe(1);
      expect(count("GET", `${vmPath(vm)}/config`)).toBe(2); // the guard's, then the check
      expect(await status(vm)).toBeUndefined();
    });

    it("is done when the destroy acted but answered 500 and the VMID now holds someone else's VM, which stays", async () => {
      const vm = await ourVm();
      env.sim.setFaults("rate=1,count=1,kinds=5xx-after,methods=DELETE,paths=/qemu/\\d+$");
      let guardRead = false;
      act = async (r) => {
        if (r.method !== "GET" || r.path !== `${vmPath(vm)}/config`) return;
        if (!guardRead) {
          guardRead = true;
          return;
        }
        act = undefined;
        await settle(env, (await env.api("POST", "/nodes/pve1/qemu", { vmid: vm.vmid, name: "newcomer", memory: 512, cores: 1 })) as string);
      };
      await ops.deleteVm(vm);
      expect(count("DELETE", vmPath(vm))).toBe(1);
      expect((await listVms(env)).find((v) => v.vmid === vm.vmid)?.name).toBe("newcomer");
    });

    it("fails when the destroy failed and the read back fails too, rather than calling the VM gone", async () => {
      const vm = await ourVm();
      when("DELETE", vmPath(vm), async () => env.sim.setFaults(`rate=1,kinds=5xx,methods=GET+DELETE,paths=^${vmPath(vm)}(/config)?$`));
      const e = await caught(ops.deleteVm(vm));
      env.sim.setFaults(undefined);
      expect(e.code).toBe("SERVER");
      expect(count("GET", `${vmPath(vm)}/config`)).toBe(1 + 3); // the guard's, then the check's 3 attempts
      expect(await status(vm)).toBe("stopped");
    });
  });

  describe("deleting an ISO volume", () => {
    async function seed(storage = "local"): Promise<{ volume: string; id: string }> {
      const id = instanceId();
      const { volume } = await ops.uploadIso({ node: "pve1", storage, filename: `${id}-cidata.iso`, bytes: new Uint8Array(64) });
      seen = [];
      return { volume, id };
    }

    it("fails at once on a refusal for permission, without listing the storage", async () => {
      const { volume, id } = await seed("keep");
      const e = await caught(ops.deleteVolume({ node: "pve1", volume, instanceId: id }));
      expect(e.code).toBe("PERMISSION");
      expect(e.message).toContain("Permission check failed (/storage/keep, Datastore.Allocate)");
      expect(count("GET", "/nodes/pve1/storage/keep/content")).toBe(0);
      expect(await volumes("keep")).toContain(volume);
    });

    it("fails at once when the token is refused at the delete (it expired meanwhile), without listing the storage", async () => {
      const { volume, id } = await seed();
      act = async (r) => {
        if (r.method === "DELETE") throw new PveError(401, "authentication failure");
      };
      const e = await caught(ops.deleteVolume({ node: "pve1", volume, instanceId: id }));
      act = undefined;
      expect(e.code).toBe("AUTH");
      expect(count("GET", "/nodes/pve1/storage/local/content")).toBe(0);
      expect(await volumes("local")).toContain(volume);
    });

    it("is done at once for a volume on a storage that no longer exists", async () => {
      await ops.deleteVolume({ node: "pve1", volume: "retired:iso/seed.iso", instanceId: instanceId() });
      expect(seen.filter((r) => r.path.startsWith("/nodes/pve1/storage/retired/")).map((r) => [r.method, r.params.volume])).toEqual([["DELETE", "retired:iso/seed.iso"]]);
    });

    it("deletes it when only a template named after the instance and a bystander's VM are there, reading neither's config", async () => {
      const { volume, id } = await seed();
      const template = { node: "pve1", vmid: nextVmid++ };
      await settle(env, (await env.api("POST", "/nodes/pve1/qemu", { vmid: template.vmid, name: id, memory: 512, cores: 1, ide2: `${volume},media=cdrom` })) as string);
      await settle(env, (await env.api("POST", `/nodes/pve1/qemu/${template.vmid}/template`, {})) as string);
      const bystander = await ourVm({ name: "bystander", ide2: `${volume},media=cdrom` });
      seen = [];
      await ops.deleteVolume({ node: "pve1", volume, instanceId: id });
      expect([count("GET", `/nodes/pve1/qemu/${template.vmid}/config`), count("GET", `/nodes/pve1/qemu/${bystander.vmid}/config`)]).toEqual([0, 0]);
      expect(await volumes("local")).not.toContain(volume);
      expect(notices).toEqual([]);
    });

    it("keeps it while the VM at the recorded VMID uses it under another name, or an unnamed VM uses it, naming each", async () => {
      const { volume, id } = await seed();
      const renamed = await ourVm({ name: "renamed-box", ide2: `${volume},media=cdrom` });
      await ops.deleteVolume({ node: "pve1", volume, instanceId: id, vmid: renamed.vmid });
      expect(notices).toEqual([`kept ${volume}: VM ${renamed.vmid} on pve1 ("renamed-box") still uses it (ide2)`]);
      await destroy(renamed);
      const unnamed = { node: "pve1", vmid: nextVmid++ };
      await settle(env, (await env.api("POST", "/nodes/pve1/qemu", { vmid: unnamed.vmid, memory: 512, cores: 1, sata3: `${volume},media=cdrom` })) as string);
      await ops.deleteVolume({ node: "pve1", volume, instanceId: id });
      expect(notices[1]).toBe(`kept ${volume}: VM ${unnamed.vmid} on pve1 ("") still uses it (sata3)`);
      expect(await volumes("local")).toContain(volume);
      // Without anyone to tell, it is kept all the same.
      await env.provider().deleteVolume({ node: "pve1", volume, instanceId: id });
      expect(await volumes("local")).toContain(volume);
      await destroy(unnamed);
    });

    it("passes over a VM named after the instance that is gone when its config is read", async () => {
      const { volume, id } = await seed();
      const twin = await ourVm({ name: id, ide2: `${volume},media=cdrom` });
      when("GET", `/nodes/pve1/qemu/${twin.vmid}/config`, () => destroy(twin));
      await ops.deleteVolume({ node: "pve1", volume, instanceId: id });
      expect(await volumes("local")).not.toContain(volume);
    });

    it("fails, keeping it, when the config of a VM named after the instance cannot be read", async () => {
      const { volume, id } = await seed();
      const twin = await ourVm({ name: id });
      env.sim.setFaults(`rate=1,kinds=5xx,methods=GET,paths=^/nodes/pve1/qemu/${twin.vmid}/config$`);
      const e = await caught(ops.deleteVolume({ node: "pve1", volume, instanceId: id }));
      env.sim.setFaults(undefined);
      expect(e.code).toBe("SERVER");
      expect(seen.filter((r) => r.method === "DELETE")).toEqual([]);
      expect(await volumes("local")).toContain(volume);
    });
  });

  describe("attaching the seed to a VM with no boot order", () => {
    it("drops the clone's own cloud-init drive and boots the disk, then the seed", async () => {
      const vm = await ourVm();
      await env.api("PUT", `/nodes/pve1/qemu/${vm.vmid}/config`, { ide0: `local-lvm:vm-${vm.vmid}-cloudinit,media=cdrom`, delete: "boot" });
      const before = (await env.api("GET", `/nodes/pve1/qemu/${vm.vmid}/config`)) as Record<string, string>;
      expect(before.boot).toBeUndefined();
      const { volume } = await ops.uploadIso({ node: "pve1", storage: "local", filename: `${vm.instanceId}-cidata.iso`, bytes: new Uint8Array(64) });
      await ops.configure({ ...vm, isoVolume: volume });
      const config = (await env.api("GET", `/nodes/pve1/qemu/${vm.vmid}/config`)) as Record<string, string>;
      expect([config.ide0, config.ide2?.split(",").slice(0, 2).join(","), config.boot]).toEqual([undefined, `${volume},media=cdrom`, "order=scsi0;ide2"]);
    });
  });
});

describe("on a cluster with real task durations", () => {
  let env: Env;
  let ops: ProxmoxProvider;

  beforeAll(async () => {
    // Two VMs of ours made at start: slow7000 running, slow7001 stopped.
    const topology = { ...defaultTopology(1), vms: { count: 2, firstVmid: 7000, namePrefix: "slow", tags: "nstance;apptest;e2e", runningFraction: 0.01 } };
    env = await startEnv({ latency: "realistic", statsIntervalMs: 0, topology });
    record(env);
    // Waits given up at once unless the operation sets its own (the shutdown does).
    ops = providerFor(env, { taskTiming: { qmshutdown: { timeoutMs: 1 }, qmdestroy: { timeoutMs: 1 } } });
  });
  afterAll(async () => {
    // The one request the schema refused is the test's own (the VALIDATION case below).
    await expect(env.close()).rejects.toThrow("the simulator rejected 1 request(s) by schema");
  });

  it("waits for a shutdown as long as the shutdown's own timeout allows (not the task type's wait), sending no stop", async () => {
    await ops.stop({ node: "pve1", vmid: 7000, instanceId: "slow7000", timeoutSec: 30 });
    expect(params("POST", /^\/nodes\/pve1\/qemu\/7000\/status\/(shutdown|stop)$/)).toEqual([{ timeout: "30" }]);
    expect((await listVms(env)).find((v) => v.vmid === 7000)?.status).toBe("stopped");
  });

  it("fails on a destroy still running when the wait ends, after reading that the VM is still there", async () => {
    const e = await caught(ops.deleteVm({ node: "pve1", vmid: 7001, instanceId: "slow7001" }));
    expect(e.code).toBe("TASK_TIMEOUT");
    expect(count("GET", "/nodes/pve1/qemu/7001/config")).toBe(2); // the guard's, then the check
  });

  it("fails at once when PVE refuses the volume's delete as invalid, without listing the storage", async () => {
    const e = await caught(ops.deleteVolume({ node: "pve1", volume: "x:iso/seed.iso", instanceId: "slow7000" }));
    expect(e.code).toBe("VALIDATION");
    expect(e.message).toMatch(/storage: /);
    expect(seen.filter((r) => r.path.includes("/storage/x/content"))).toHaveLength(1);
    expect(env.sim.stats().rejected).toEqual([expect.objectContaining({ method: "DELETE", status: 400 })]);
  });
});
