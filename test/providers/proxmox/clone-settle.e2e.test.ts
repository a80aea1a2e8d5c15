/**
 * The clone's look-ups when PVE's listing lags (pvestatd held to one cycle a minute: new VMs are
 * listed without a name, a reused VMID under the previous VM's name), against the simulator:
 * - the holder of a taken VMID is read, whatever the listing says: a clone still running (`lock:
 *   clone`) is waited for, and adopted when it turns out to be ours; someone else's VM, a template,
 *   a VM that vanishes meanwhile are passed by;
 * - an earlier attempt's clone is found among the VMs the listing shows without a name (templates
 *   and named VMs are not read), one of them vanishing meanwhile;
 * - a cross-node clone is followed from the source node to its target;
 * - a clone lock that outlasts the wait ends it with VM_LOCKED;
 * - containers (a plain HTTP server answering as PVE does) are never adopted nor read.
 * Full clones of a 16 GiB template take ~0.8 s with the `fast` profile: long enough to be caught
 * running. Every check reads the cluster back or counts the requests the simulator received.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import { TaskWaiter } from "../../../src/providers/proxmox/api/tasks.js";
import { ProxmoxOperations } from "../../../src/providers/proxmox/operations.js";
import type { CloneRequest } from "../../../src/providers/proxmox/types.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { startEnv, type Env } from "../../applier/harness.js";
import { caught, listVms, settle, CLONE } from "../../applier/cluster-api.js";
import { iid } from "../../planner/fixtures.js";

const BIG = 9300; // 16 GiB on local-lvm, pve1
const BIG_SHARED = 9301; // 16 GiB on the shared storage, pve1

let serial = 0;
/** Instance IDs unique in this file. */
const instanceId = (): string => iid(serial++, "stl");
let nextVmid = 200;
/** VMIDs of this file's VMs: 200…899, all listed after VM 100 (the listing sorts VMIDs as strings). */
function vmid(): number {
  return nextVmid++;
}

/** Runs `act` right before the simulator handles the first request for `path`: an actor at that very moment. */
function beforeFirst(env: Env, method: string, path: RegExp, act: () => Promise<unknown>): void {
  let done = false;
  env.sim.onRequest(async (r) => {
    if (done || r.method !== method || !path.test(r.path)) return;
    done = true;
    await act();
  });
}

function topology() {
  const t = defaultTopology(3, { sharedStorage: true });
  const big = { node: "pve1", diskGiB: 16, cores: 1, memoryMiB: 512, net0: "virtio,bridge=vmbr0", bootDisk: "scsi0" };
  t.templates.push({ ...big, vmid: BIG, name: "debian-13-big", storage: "local-lvm" }, { ...big, vmid: BIG_SHARED, name: "debian-13-big-shared", storage: "shared" });
  return t;
}

/** The provider's operations over `client`; `cloneWaitMs` bounds the wait for a clone lock. */
function operations(client: ProxmoxClient, cloneWaitMs?: number): ProxmoxOperations {
  const tasks = new TaskWaiter(client, { pollIntervalMs: 5, ...(cloneWaitMs ? { timing: { qmclone: { timeoutMs: cloneWaitMs } } } : {}) });
  return new ProxmoxOperations(client, tasks, { clusterId: "apptest", shardId: "e2e" });
}

function newClient(env: Env): ProxmoxClient {
  return new ProxmoxClient({ env: env.providerEnv, ca: env.sim.caCertificate, retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 } });
}

function request(id: string, at: number, over: Partial<CloneRequest> = {}): CloneRequest {
  return { instanceId: id, node: "pve1", vmid: at, template: { vmid: 9000, node: "pve1" }, storage: "local-lvm", full: true, ...over };
}

function sent(env: Env, endpoint: string): number {
  return env.sim.stats().requests[endpoint] ?? 0;
}
/** The nodes on which `status/current` of VM `id` was read, in order. */
function statusReads(env: Env, id: number): string[] {
  return env.sim.stats().log.filter((l) => l.method === "GET" && new RegExp(`/qemu/${id}/status/current$`).test(l.path)).map((l) => /\/nodes\/([^/]+)\//.exec(l.path)![1]!);
}

/** Another actor's clone, not waited for: returns its UPID. */
async function startClone(env: Env, at: number, name: string, from = BIG, over: Record<string, unknown> = {}): Promise<string> {
  return (await env.api("POST", `/nodes/pve1/qemu/${from}/clone`, { newid: at, name, full: 1, storage: "local-lvm", ...over })) as string;
}
/** A VM made by hand (no disk), settled. */
async function handVm(env: Env, at: number, config: Record<string, unknown> = {}, node = "pve1"): Promise<void> {
  await settle(env, (await env.api("POST", `/nodes/${node}/qemu`, { vmid: at, memory: 512, cores: 1, ...config })) as string);
}
async function destroy(env: Env, at: number, node = "pve1"): Promise<void> {
  await settle(env, (await env.api("DELETE", `/nodes/${node}/qemu/${at}`)) as string);
}
async function named(env: Env, name: string): Promise<{ vmid: number; node: string }[]> {
  // The listing lags: each VM's name is read from its config.
  const out: { vmid: number; node: string }[] = [];
  for (const v of await listVms(env)) {
    const config = (await env.api("GET", `/nodes/${v.node}/qemu/${v.vmid}/config`)) as { name?: string };
    if (config.name === name) out.push({ vmid: v.vmid, node: v.node });
  }
  return out;
}

describe("a lagging listing", () => {
  let env: Env;
  let client: ProxmoxClient;
  let ops: ProxmoxOperations;

  beforeAll(async () => {
    env = await startEnv({ latency: "fast", topology: topology(), statsIntervalMs: 60_000 });
    client = newClient(env);
    ops = operations(client);
    // VM 100 on pve1 is listed first (VMIDs sort as strings): a lookup that took the first VM listed would land on it.
    await handVm(env, 100, { name: "ops-first" });
  });
  // Each test starts from a published listing: only its own new VMs are listed without a name.
  beforeEach(() => env.sim.tickStats());
  afterEach(() => {
    env.sim.setFaults(undefined);
    env.sim.onRequest(undefined);
  });
  afterAll(async () => {
    await client?.close();
    await env?.close();
  });

  describe("the holder of a taken VMID", () => {
    it("is someone else's clone still running: waited for, left alone, and the clone moves to a free VMID", async () => {
      const at = vmid();
      const upid = await startClone(env, at, "ops-other");
      const id = instanceId();
      const got = await ops.clone(request(id, at));
      expect(await settle(env, upid)).toBe("OK");
      expect(got.vmid).not.toBe(at);
      expect(await named(env, id)).toEqual([{ vmid: got.vmid, node: "pve1" }]);
      const other = (await env.api("GET", `/nodes/pve1/qemu/${at}/config`)) as { name: string; tags?: string };
      expect([other.name, other.tags]).toEqual(["ops-other", undefined]);
    });

    it("is ours, listed under the previous VM's name of a reused VMID: read and adopted, not cloned again", async () => {
      // A VM on pve2 is destroyed within the pvestatd cycle; the earlier attempt's clone took its VMID
      // and finished: the listing still shows the old name, and no lock (rule 20).
      const at = vmid();
      await handVm(env, at, { name: "ops-gone" }, "pve2");
      env.sim.tickStats();
      await destroy(env, at, "pve2");
      const id = instanceId();
      await settle(env, (await env.api("POST", "/nodes/pve2/qemu/9001/clone", { newid: at, name: id, full: 1, storage: "local-lvm" })) as string);
      expect((await listVms(env)).find((v) => v.vmid === at)).toMatchObject({ name: "ops-gone", node: "pve2" });
      const clones = sent(env, CLONE);
      const got = await ops.clone(request(id, at, { node: "pve2", template: { vmid: 9001, node: "pve2" } }));
      expect(got).toEqual({ vmid: at, node: "pve2" });
      expect(sent(env, CLONE)).toBe(clones);
      expect(await named(env, id)).toEqual([{ vmid: at, node: "pve2" }]);
      // Read where it is listed, nowhere else.
      expect(new Set(statusReads(env, at))).toEqual(new Set(["pve2"]));
    });

    it("is a template: passed by, untouched", async () => {
      const at = vmid();
      await handVm(env, at, { name: "ops-template" });
      await settle(env, (await env.api("POST", `/nodes/pve1/qemu/${at}/template`)) as string);
      env.sim.tickStats();
      const id = instanceId();
      const got = await ops.clone(request(id, at));
      expect(got.vmid).not.toBe(at);
      const template = (await env.api("GET", `/nodes/pve1/qemu/${at}/config`)) as { name: string; template: number };
      expect([template.name, template.template]).toEqual(["ops-template", 1]);
    });

    it("vanishes while it is read (its clone failed): the clone moves to a free VMID", async () => {
      const at = vmid();
      await handVm(env, at, { name: "ops-doomed" });
      env.sim.tickStats();
      beforeFirst(env, "GET", new RegExp(`/qemu/${at}/status/current$`), () => destroy(env, at));
      const id = instanceId();
      const got = await ops.clone(request(id, at));
      expect(got.vmid).not.toBe(at);
      expect(await named(env, id)).toEqual([{ vmid: got.vmid, node: "pve1" }]);
      expect((await listVms(env)).some((v) => v.vmid === at)).toBe(false);
    });

    it("is gone by the time of the listing: the clone moves to a free VMID", async () => {
      const at = vmid();
      await handVm(env, at, { name: "ops-fleeting" });
      // nextid still finds it; it is destroyed right before the listing that follows.
      beforeFirst(env, "GET", /^\/cluster\/resources$/, () => destroy(env, at));
      const id = instanceId();
      const got = await ops.clone(request(id, at));
      expect(got.vmid).not.toBe(at);
      expect(await named(env, id)).toEqual([{ vmid: got.vmid, node: "pve1" }]);
    });

    it("is our cross-node clone still copying: followed from the source node to the target and adopted there", async () => {
      // The clone's config sits on pve1 (the source) with lock: clone until the copy is done, then
      // moves to pve3.
      const at = vmid();
      const id = instanceId();
      const upid = await startClone(env, at, id, BIG_SHARED, { storage: "shared", target: "pve3" });
      const clones = sent(env, CLONE);
      const got = await ops.clone(request(id, at, { node: "pve3", template: { vmid: BIG_SHARED, node: "pve1" }, storage: "shared" }));
      expect(got).toEqual({ vmid: at, node: "pve3" });
      expect(await settle(env, upid)).toBe("OK");
      expect(sent(env, CLONE)).toBe(clones);
      const reads = statusReads(env, at);
      expect([reads[0], reads.at(-1)]).toEqual(["pve1", "pve3"]);
      expect(await named(env, id)).toEqual([{ vmid: at, node: "pve3" }]);
    });
  });

  describe("an earlier attempt's clone, when the create resumes", () => {
    it("is found by its listed name without reading any VM, and adopted", async () => {
      const id = instanceId();
      const mine = vmid();
      expect(await settle(env, await startClone(env, mine, id, 9000))).toBe("OK");
      env.sim.tickStats(); // listed under its name
      const clones = sent(env, CLONE);
      const got = await ops.clone(request(id, vmid(), { resumed: true }));
      expect(got).toEqual({ vmid: mine, node: "pve1" });
      expect(sent(env, CLONE)).toBe(clones);
    });

    it("is found among the VMs listed without a name while it still runs (the first of them), and adopted", async () => {
      const id = instanceId();
      const mine = vmid();
      const other = vmid();
      const upids = [await startClone(env, mine, id), await startClone(env, other, "ops-bystander")];
      const clones = sent(env, CLONE);
      const got = await ops.clone(request(id, vmid(), { resumed: true }));
      expect(got).toEqual({ vmid: mine, node: "pve1" });
      expect(sent(env, CLONE)).toBe(clones);
      for (const upid of upids) expect(await settle(env, upid)).toBe("OK");
      expect(await named(env, id)).toEqual([{ vmid: mine, node: "pve1" }]);
    });

    it("is found behind one that vanishes and one of someone else's; templates and named VMs are not read", async () => {
      const unnamedTemplate = vmid();
      await handVm(env, unnamedTemplate);
      await settle(env, (await env.api("POST", `/nodes/pve1/qemu/${unnamedTemplate}/template`)) as string);
      const bystander = vmid();
      await handVm(env, bystander, { name: "ops-bystander" });
      env.sim.tickStats(); // both listed: `VM <vmid>` (a template) and a named VM
      const gone = vmid();
      await handVm(env, gone); // listed without a name
      const other = vmid();
      const otherUpid = await startClone(env, other, "ops-other");
      const id = instanceId();
      const mine = vmid();
      const upid = await startClone(env, mine, id);
      beforeFirst(env, "GET", new RegExp(`/qemu/${gone}/status/current$`), () => destroy(env, gone));
      const clones = sent(env, CLONE);
      const got = await ops.clone(request(id, vmid(), { resumed: true }));
      expect(got).toEqual({ vmid: mine, node: "pve1" });
      expect(sent(env, CLONE)).toBe(clones);
      expect(await settle(env, upid)).toBe("OK");
      expect(await settle(env, otherUpid)).toBe("OK");
      expect([statusReads(env, unnamedTemplate), statusReads(env, bystander), statusReads(env, 100)]).toEqual([[], [], []]);
      expect(await named(env, id)).toEqual([{ vmid: mine, node: "pve1" }]);
    });

    it("is not looked for past a status read that fails: the read's error, no second listing", async () => {
      const at = vmid();
      await handVm(env, at); // listed without a name: read
      const listings = sent(env, "GET /cluster/resources");
      const clones = sent(env, CLONE);
      env.sim.setFaults(`rate=1,kinds=5xx,methods=GET,paths=/qemu/${at}/status/current$`);
      const e = await caught(ops.clone(request(instanceId(), vmid(), { resumed: true })));
      expect([e.code, e.message]).toEqual(["SERVER", expect.stringContaining("proxy loop detected or daemon busy")]);
      expect(sent(env, "GET /cluster/resources") - listings).toBe(1);
      expect(sent(env, CLONE)).toBe(clones);
    });
  });

  describe("a clone lock that outlasts the wait", () => {
    // PVE lets only root@pam set `lock` by hand (the simulator too), so the lock is a real one:
    // another clone of the 16 GiB template (~0.8 s) against a wait of 0.3 s.
    let short: ProxmoxOperations;
    beforeAll(() => {
      short = operations(client, 300);
    });

    it("on the VMID's holder, listed under the previous VM's name, ends the clone with VM_LOCKED, sending none", async () => {
      const at = vmid();
      await handVm(env, at, { name: "ops-gone" });
      env.sim.tickStats();
      await destroy(env, at);
      const upid = await startClone(env, at, "ops-other");
      const clones = sent(env, CLONE);
      const e = await caught(short.clone(request(instanceId(), at)));
      expect([e.code, e.message, e.lock]).toEqual(["VM_LOCKED", `VM ${at} is still locked (clone) after the clone wait`, "clone"]);
      expect(sent(env, CLONE)).toBe(clones);
      expect(await settle(env, upid)).toBe("OK");
    });

    it("on a VM listed without a name ends a resumed create with VM_LOCKED, sending no clone", async () => {
      const at = vmid();
      const upid = await startClone(env, at, "ops-other");
      const clones = sent(env, CLONE);
      const e = await caught(short.clone(request(instanceId(), vmid(), { resumed: true })));
      expect([e.code, e.message, e.lock]).toEqual(["VM_LOCKED", `VM ${at} is still locked (clone) after the clone wait`, "clone"]);
      expect(sent(env, CLONE)).toBe(clones);
      expect(await settle(env, upid)).toBe("OK");
    });
  });
});

describe("a VM still being created", () => {
  // `lock: create` lasts as long as the create task: 2 s with the realistic profile.
  let env: Env;
  let client: ProxmoxClient;
  afterAll(async () => {
    await client?.close();
    await env?.close();
  });

  it("named after the instance (a restore, say) is waited for until its lock clears, then adopted when the create resumes", async () => {
    env = await startEnv({ latency: "realistic", topology: topology(), statsIntervalMs: 60_000 });
    client = newClient(env);
    const ops = operations(client);
    const id = instanceId();
    const upid = (await env.api("POST", "/nodes/pve1/qemu", { vmid: 400, name: id, memory: 512, cores: 1 })) as string;
    const clones = sent(env, CLONE);
    // A linked clone, should it be sent: no 11 s copy.
    const got = await ops.clone(request(id, 401, { resumed: true, full: false, storage: "local-lvm" }));
    expect(got).toEqual({ vmid: 400, node: "pve1" });
    expect(sent(env, CLONE)).toBe(clones);
    expect(await settle(env, upid)).toBe("OK");
  }, 30_000);
});

describe("containers (the simulator has none: a plain HTTP server answers as PVE 8 does)", () => {
  /**
   * A cluster whose listing is `listing`: nextid refuses the VMIDs listed, qemu calls for them fail
   * as PVE's do for a container's VMID (there is no qemu-server config), anything else answers
   * `null` (a clone then needs no task). Returns the operations and the paths requested.
   */
  async function cluster(listing: object[]): Promise<{ ops: ProxmoxOperations; paths: string[]; close(): Promise<void> }> {
    const paths: string[] = [];
    const taken = new Set(listing.map((v) => String((v as { vmid: number }).vmid)));
    const server = createServer((req, res) => {
      const path = (req.url ?? "").replace(/^\/api2\/json/, "");
      paths.push(`${req.method} ${path}`);
      const asked = /^\/cluster\/nextid\?vmid=(\d+)$/.exec(path)?.[1];
      const qemu = /^\/nodes\/([^/]+)\/qemu\/(\d+)\//.exec(path);
      const [status, body] =
        path === "/cluster/resources?type=vm" ? [200, { data: listing }]
        : asked && taken.has(asked) ? [400, { data: null, errors: { vmid: `VM ${asked} already exists` } }]
        : qemu && taken.has(qemu[2]!) ? [500, { data: null, message: `Configuration file 'nodes/${qemu[1]}/qemu-server/${qemu[2]}.conf' does not exist\n` }]
        : [200, { data: null }];
      res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = new ProxmoxClient({
      env: { PROXMOX_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api2/json`, PROXMOX_TOKEN_ID: "root@pam!t", PROXMOX_TOKEN_SECRET: "s" },
      allowInsecureHttp: true,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    const ops = new ProxmoxOperations(client, new TaskWaiter(client, { pollIntervalMs: 5 }), { clusterId: "apptest", shardId: "e2e", vmidRange: { min: 500, max: 599 } });
    return { ops, paths, close: async () => { await client.close(); await new Promise((r) => server.close(r)); } };
  }
  const ct = (vmid: number, name?: string) => ({ id: `lxc/${vmid}`, type: "lxc", vmid, node: "pve1", status: "running", ...(name ? { name } : {}) });

  it("named after the instance, or listed without a name, is neither adopted nor read when the create resumes", async () => {
    const id = instanceId();
    const pve = await cluster([ct(507, id), ct(508)]);
    try {
      expect(await pve.ops.clone(request(id, 520, { resumed: true }))).toEqual({ vmid: 520, node: "pve1" });
      expect(pve.paths.filter((p) => /\/qemu\/50[78]\//.test(p))).toEqual([]);
    } finally {
      await pve.close();
    }
  });

  it("holding the VMID is passed by without a read: the clone moves to a free VMID", async () => {
    const pve = await cluster([ct(507, "ct-box")]);
    try {
      expect(await pve.ops.clone(request(instanceId(), 507))).toEqual({ vmid: 508, node: "pve1" });
      expect(pve.paths.filter((p) => /\/qemu\/507\//.test(p))).toEqual([]);
    } finally {
      await pve.close();
    }
  });
});
