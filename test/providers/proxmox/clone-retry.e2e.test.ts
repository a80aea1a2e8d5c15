/**
 * The clone loop of the Proxmox operations against the simulator: which failures are cloned again
 * (only the ambiguous ones, once per round, said through onNotice) and which are thrown at once; a
 * VMID taken by someone else (before the check, or between the check and the clone) moving the
 * clone above everything listed while the other VM stays untouched; the round limit; adopting the
 * clone of an earlier attempt (from the refresh snapshot, or looked up for a resumed run); the
 * VMID allocator behind nextVmid(); `/version` read once; and the clone request's parameters as the
 * simulator received them. The simulator's request hook plays the concurrent actor and records
 * what was sent.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxmoxClient, type RetryOptions } from "../../../src/providers/proxmox/api/client.js";
import { TaskWaiter, type TaskTiming } from "../../../src/providers/proxmox/api/tasks.js";
import { ProxmoxOperations } from "../../../src/providers/proxmox/operations.js";
import type { VmidRange } from "../../../src/providers/proxmox/placement/vmid.js";
import type { CloneRequest } from "../../../src/providers/proxmox/types.js";
import type { ReceivedRequest } from "../../../src/sim/index.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { startEnv, type Env } from "../../applier/harness.js";
import { caught, listVms, settle, CLONE, RESOURCES as LISTING } from "../../applier/cluster-api.js";
import { iid } from "../../planner/fixtures.js";

let serial = 0;
/** Instance IDs unique in this file. */
const instanceId = (): string => iid(serial++, "rty");

const NEXTID = "GET /cluster/nextid";
const TAGS = ["nstance", "apptest", "e2e"];

let env: Env;
const clients: ProxmoxClient[] = [];

beforeAll(async () => {
  const topology = defaultTopology(2, { sharedStorage: true });
  topology.pools.push({ id: "web", vms: [], storage: [] });
  env = await startEnv({ latency: "instant", topology });
});
afterEach(() => {
  env.sim.setFaults(undefined);
  env.sim.onRequest(undefined);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await env?.close();
});

/** Each test works in its own block of 100 VMIDs, so "above everything listed" is its own. */
let block = 0;
function ownRange(): VmidRange {
  const min = 40_000 + 100 * block++;
  return { min, max: min + 99 };
}

interface Ops {
  ops: ProxmoxOperations;
  client: ProxmoxClient;
  notices: string[];
}

/** Operations over their own client (no refresh yet), telling notices to `notices`. */
function operations(o: { range?: VmidRange; retry?: Partial<RetryOptions>; clone?: Partial<TaskTiming>; on?: Env; silent?: boolean } = {}): Ops {
  const on = o.on ?? env;
  const client = new ProxmoxClient({ env: on.providerEnv, ca: on.sim.caCertificate, retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 2, ...o.retry } });
  clients.push(client);
  const tasks = new TaskWaiter(client, { pollIntervalMs: 5, ...(o.clone ? { timing: { qmclone: o.clone } } : {}) });
  const notices: string[] = [];
  const ops = new ProxmoxOperations(client, tasks, { clusterId: "apptest", shardId: "e2e", vmidRange: o.range, ...(o.silent ? {} : { onNotice: (m: string) => notices.push(m) }) });
  return { ops, client, notices };
}

function cloneOf(id: string, vmid: number, more: Partial<CloneRequest> = {}): CloneRequest {
  return { instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true, ...more };
}

function sent(endpoint: string, on: Env = env): number {
  return on.sim.stats().requests[endpoint] ?? 0;
}

/** A VM made by hand through the plain API (not by pvefleet), settled. */
async function handMade(vmid: number, name: string, node = "pve1", on: Env = env): Promise<void> {
  await settle(on, await on.api("POST", `/nodes/${node}/qemu`, { vmid, name, memory: 512 }));
}

/** The VMs the listing shows under `name`, as `node/vmid`. */
async function named(name: string): Promise<string[]> {
  return (await listVms(env)).filter((v) => v.name === name).map((v) => `${v.node}/${v.vmid}`);
}

/** The POST clone requests the simulator receives from now on, with their parameters. */
function recordClones(): ReceivedRequest[] {
  const seen: ReceivedRequest[] = [];
  env.sim.onRequest((r) => {
    if (r.method === "POST" && r.path.endsWith("/clone")) seen.push(r);
  });
  return seen;
}

describe("a clone that fails ambiguously", () => {
  it.each([
    ["a 500 answered before PVE acted", "rate=1,count=1,kinds=5xx,methods=POST,paths=/clone$", /failed \(Proxmox API POST \/nodes\/pve1\/qemu\/9000\/clone: proxy loop detected or daemon busy - got timeout\)/],
    [
      "a storage lock timeout inside the task",
      "rate=1,count=1,kinds=taskfail,taskerr=can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout,methods=POST,paths=/clone$",
      /failed \(Proxmox task qmclone .*: can't lock file '\/var\/lock\/pve-manager\/pve-storage-local-lvm' - got timeout\)/,
    ],
  ])("after %s is cloned again exactly once, at the same VMID, and says so", async (_what, faults, why) => {
    const range = ownRange();
    const { ops, client, notices } = operations({ range });
    const id = instanceId();
    const before = sent(CLONE);
    env.sim.setFaults(faults);
    const made = await ops.clone(cloneOf(id, range.min + 3));
    expect(made).toEqual({ vmid: range.min + 3, node: "pve1" });
    expect(sent(CLONE) - before).toBe(2);
    expect(await named(id)).toEqual([`pve1/${range.min + 3}`]);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`^clone of ${id} to VMID ${range.min + 3} failed \\(`));
    expect(notices[0]).toMatch(why);
    expect(notices[0]).toMatch(/\); no VM has that name, cloning again in \d+ ms$/);
    expect(client.stats().retries).toBe(1);
  });

  it("is cloned again by operations that have no onNotice", async () => {
    const range = ownRange();
    const { ops } = operations({ range, silent: true });
    const id = instanceId();
    env.sim.setFaults("rate=1,count=1,kinds=5xx,methods=POST,paths=/clone$");
    expect(await ops.clone(cloneOf(id, range.min))).toEqual({ vmid: range.min, node: "pve1" });
    expect(await named(id)).toEqual([`pve1/${range.min}`]);
  });

  it.each([
    ["the connection was reset", "rate=1,count=1,kinds=reset,methods=POST,paths=/clone$"],
    ["the answer was a 500", "rate=1,count=1,kinds=5xx-after,methods=POST,paths=/clone$"],
  ])("after PVE acted (%s) is found by its name and adopted, never sent again, without a notice", async (_what, faults) => {
    const range = ownRange();
    const { ops, notices } = operations({ range });
    const id = instanceId();
    const before = [sent(CLONE), sent(NEXTID)];
    env.sim.setFaults(faults);
    expect(await ops.clone(cloneOf(id, range.min + 2))).toEqual({ vmid: range.min + 2, node: "pve1" });
    // One VMID check before the clone, none after: the VM with our name settles it.
    expect([sent(CLONE), sent(NEXTID)]).toEqual([before[0]! + 1, before[1]! + 1]);
    expect(await named(id)).toEqual([`pve1/${range.min + 2}`]);
    expect(notices).toEqual([]);
  });

  it("that keeps failing is thrown as it is after retry.attempts clones, leaving no VM", async () => {
    const range = ownRange();
    const { ops, notices } = operations({ range, retry: { attempts: 2 } });
    const id = instanceId();
    const before = sent(CLONE);
    env.sim.setFaults("rate=1,count=2,kinds=5xx,methods=POST,paths=/clone$");
    const e = await caught(ops.clone(cloneOf(id, range.min)));
    expect(e.code).toBe("SERVER");
    expect(e.message).toBe("Proxmox API POST /nodes/pve1/qemu/9000/clone: proxy loop detected or daemon busy - got timeout");
    expect(sent(CLONE) - before).toBe(2);
    expect(notices).toHaveLength(1);
    expect(await named(id)).toEqual([]);
  });
});

describe("a clone that fails for a reason that will not change", () => {
  it("(an instance ID that is not one) is refused before anything is sent", async () => {
    const { ops } = operations({ range: ownRange() });
    const before = Object.values(env.sim.stats().requests).reduce((n, c) => n + c, 0);
    const e = await caught(ops.clone(cloneOf("web-1", 40_000)));
    expect([e.code, e.message]).toEqual(["VALIDATION", '"web-1" is not an instance ID']);
    expect(Object.values(env.sim.stats().requests).reduce((n, c) => n + c, 0)).toBe(before);
  });

  it.each([
    ["a pool that does not exist", { pool: "nosuchpool" }, "PERMISSION", "Proxmox API POST /nodes/pve1/qemu/9000/clone: Permission check failed (pool 'nosuchpool' does not exist)"],
    ["a storage the node does not have", { storage: "nowhere" }, "NOT_FOUND", "Proxmox API POST /nodes/pve1/qemu/9000/clone: storage 'nowhere' does not exist"],
  ] as const)("(%s) is thrown at once, sent once", async (_what, more, code, message) => {
    const range = ownRange();
    const { ops, notices } = operations({ range });
    const id = instanceId();
    const before = sent(CLONE);
    const e = await caught(ops.clone(cloneOf(id, range.min, more)));
    expect([e.code, e.message]).toEqual([code, message]);
    expect(sent(CLONE) - before).toBe(1);
    expect(notices).toEqual([]);
  });
});

describe("a VMID someone else holds", () => {
  it("moves the clone above everything the listing shows, leaving the hand-made VM untouched (no refresh needed)", async () => {
    const range = ownRange();
    await handMade(range.min + 10, "ops-box");
    await handMade(range.min + 20, "ops-db");
    const { ops } = operations({ range });
    const id = instanceId();
    const before = sent(CLONE);
    const made = await ops.clone(cloneOf(id, range.min + 10));
    expect(made).toEqual({ vmid: range.min + 21, node: "pve1" });
    expect(sent(CLONE) - before).toBe(1);
    expect(await named(id)).toEqual([`pve1/${range.min + 21}`]);
    expect(await named("ops-box")).toEqual([`pve1/${range.min + 10}`]);
    const config = (await env.api("GET", `/nodes/pve1/qemu/${range.min + 10}/config`)) as Record<string, string>;
    expect([config.name, config.memory, config.scsi0]).toEqual(["ops-box", "512", undefined]);
  });

  it("by our own earlier clone (named after the instance, not in the snapshot) is adopted there, and nextVmid passes it by", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    await ops.refresh();
    const id = instanceId();
    await handMade(range.min, id);
    const before = sent(CLONE);
    expect(await ops.clone(cloneOf(id, range.min))).toEqual({ vmid: range.min, node: "pve1" });
    expect(sent(CLONE)).toBe(before);
    expect(await named(id)).toEqual([`pve1/${range.min}`]);
    expect(ops.nextVmid()).toBe(range.min + 1);
  });

  it("taken between the check and the clone (PVE refuses the clone) moves to the next free VMID", async () => {
    const range = ownRange();
    const { ops, notices } = operations({ range });
    const id = instanceId();
    let taken = false;
    env.sim.onRequest(async (r) => {
      if (taken || r.method !== "POST" || !r.path.endsWith("/clone")) return;
      taken = true;
      await handMade(Number(r.params.newid), "quick-admin");
    });
    const before = sent(CLONE);
    const made = await ops.clone(cloneOf(id, range.min + 5));
    expect(made).toEqual({ vmid: range.min + 6, node: "pve1" });
    expect(sent(CLONE) - before).toBe(2);
    expect(await named("quick-admin")).toEqual([`pve1/${range.min + 5}`]);
    expect(await named(id)).toEqual([`pve1/${range.min + 6}`]);
    expect(notices).toEqual([]);
  });

  it("taken again each round ends with VMID_TAKEN after retry.attempts rounds, cloning nothing", async () => {
    const range = ownRange();
    await handMade(range.min, "ops-box");
    const { ops } = operations({ range, retry: { attempts: 2 } });
    const id = instanceId();
    // Another actor takes every VMID the moment we check it the second time (after nextid said free).
    const asked = new Set<string>();
    env.sim.onRequest(async (r) => {
      if (r.method !== "GET" || r.path !== "/cluster/nextid" || r.params.vmid === undefined) return;
      if (asked.has(r.params.vmid)) await handMade(Number(r.params.vmid), `racer-${r.params.vmid}`);
      asked.add(r.params.vmid);
    });
    const before = sent(CLONE);
    const e = await caught(ops.clone(cloneOf(id, range.min)));
    expect([e.code, e.message]).toEqual(["VMID_TAKEN", `VMID ${range.min + 2} is taken and no free VMID stayed free for ${id}`]);
    expect(sent(CLONE) - before).toBe(0);
    expect(await named(id)).toEqual([]);
  });
});

describe("the clone of an earlier attempt", () => {
  /** Our VM, as a create leaves it (cloned, named, tagged). */
  async function ours(range: VmidRange): Promise<{ id: string; vmid: number }> {
    const { ops } = operations({ range });
    const id = instanceId();
    const { vmid } = await ops.clone(cloneOf(id, range.min + 1));
    await ops.configure({ node: "pve1", vmid, instanceId: id, fresh: true, tags: TAGS });
    return { id, vmid };
  }

  it("is adopted from the refresh snapshot without checking VMIDs, listing or cloning", async () => {
    const range = ownRange();
    const { id, vmid } = await ours(range);
    const { ops } = operations({ range });
    await ops.refresh();
    const counts = () => [sent(NEXTID), sent(LISTING), sent(CLONE)];
    const before = counts();
    expect(await ops.clone(cloneOf(id, range.min + 50))).toEqual({ vmid, node: "pve1" });
    expect(counts()).toEqual(before);
    expect(await named(id)).toEqual([`pve1/${vmid}`]);
  });

  it("is looked up for a resumed run and adopted, even with a free VMID asked for", async () => {
    const range = ownRange();
    await handMade(range.min + 7, "placeholder");
    const id = instanceId();
    await env.api("PUT", `/nodes/pve1/qemu/${range.min + 7}/config`, { name: id });
    const { ops } = operations({ range });
    const before = sent(CLONE);
    expect(await ops.clone(cloneOf(id, range.min + 30, { resumed: true }))).toEqual({ vmid: range.min + 7, node: "pve1" });
    expect(sent(CLONE)).toBe(before);
    expect(await named(id)).toEqual([`pve1/${range.min + 7}`]);
  });

  it("is not looked for when the run is not resumed and the VMID is free: no listing is read", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    const before = sent(LISTING);
    expect(await ops.clone(cloneOf(id, range.min))).toEqual({ vmid: range.min, node: "pve1" });
    expect(sent(LISTING)).toBe(before);
  });

  it("is not there for a resumed run that never got to clone: the clone is made at the VMID asked for", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    expect(await ops.clone(cloneOf(id, range.min + 30, { resumed: true }))).toEqual({ vmid: range.min + 30, node: "pve1" });
    expect(await named(id)).toEqual([`pve1/${range.min + 30}`]);
  });
});

describe("with clones that take a while and a listing that lags", () => {
  // `fast` profile: a full clone of this 20 GiB template runs ~1 s, twenty times the waits below;
  // pvestatd publishes only when the test says (tickStats), so the listing shows what it last knew.
  let slow: Env;
  beforeAll(async () => {
    const topology = defaultTopology(1);
    topology.templates[0]!.diskGiB = 20;
    slow = await startEnv({ latency: "fast", topology, statsIntervalMs: 3_600_000 });
  });
  afterAll(() => slow?.close());

  /** Waits until VM `vmid` holds no lock; its name then. */
  async function settledName(vmid: number): Promise<string | undefined> {
    for (;;) {
      const st = (await slow.api("GET", `/nodes/pve1/qemu/${vmid}/status/current`)) as { lock?: string; name?: string };
      if (st.lock === undefined) return st.name;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A VMID whose listing entry still names the VM deleted from it (reused within a pvestatd cycle). */
  async function reusedVmid(vmid: number): Promise<void> {
    await handMade(vmid, "old-box", "pve1", slow);
    slow.sim.tickStats();
    await settle(slow, await slow.api("DELETE", `/nodes/pve1/qemu/${vmid}`));
  }

  /** Our earlier attempt's clone to `vmid`, still copying (not waited for). */
  function earlierClone(id: string, vmid: number): Promise<unknown> {
    return slow.api("POST", "/nodes/pve1/qemu/9000/clone", { newid: vmid, name: id, full: 1, storage: "local-lvm" });
  }

  it.each([
    ["before the VMID check", 40_101, false],
    ["between the VMID check and the clone", 40_102, true],
  ])("our earlier clone holding the VMID (started %s), listed under the previous VM's name, is waited for and adopted", async (_when, vmid, racing) => {
    const { ops } = operations({ on: slow });
    const id = instanceId();
    await reusedVmid(vmid);
    let started = false;
    if (racing) {
      slow.sim.onRequest(async (r) => {
        if (started || r.method !== "POST" || !r.path.endsWith("/clone")) return;
        started = true;
        await earlierClone(id, vmid);
      });
    } else await earlierClone(id, vmid);
    try {
      const before = sent(CLONE, slow);
      expect(await ops.clone(cloneOf(id, vmid))).toEqual({ vmid, node: "pve1" });
      expect(sent(CLONE, slow) - before).toBe(racing ? 2 : 0); // the earlier clone's, and ours refused
      slow.sim.tickStats();
      expect((await listVms(slow)).filter((v) => v.name === id).map((v) => v.vmid)).toEqual([vmid]);
    } finally {
      slow.sim.onRequest(undefined);
    }
  });

  it("is not reported as a timeout nor cloned again: it is looked up, and its clone lock ends the wait with VM_LOCKED", async () => {
    const { ops, notices } = operations({ on: slow, clone: { timeoutMs: 50 } });
    const id = instanceId();
    const before = sent(CLONE, slow);
    const e = await caught(ops.clone(cloneOf(id, 40_000)));
    expect([e.code, e.message]).toEqual(["VM_LOCKED", "VM 40000 is still locked (clone) after the clone wait"]);
    expect(sent(CLONE, slow) - before).toBe(1);
    expect(notices).toEqual([]);
    expect(await settledName(40_000)).toBe(id); // the clone goes on to its end, once
  });
});

describe("the template's disk size", () => {
  it("is remembered for the clone, so a resize of a disk whose config gives no size still refuses a shrink", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    const { vmid } = await ops.clone(cloneOf(id, range.min));
    await ops.configure({ node: "pve1", vmid, instanceId: id, fresh: true, tags: TAGS });
    const config = (await env.api("GET", `/nodes/pve1/qemu/${vmid}/config`)) as Record<string, string>;
    await env.api("PUT", `/nodes/pve1/qemu/${vmid}/config`, { scsi0: config.scsi0!.replace(/,size=[^,]+/, "") });
    const e = await caught(ops.resize({ node: "pve1", vmid, instanceId: id, disk: "scsi0", bytes: 1024 ** 3 }));
    expect([e.code, e.message]).toEqual(["VALIDATION", `VM ${vmid}: scsi0 is ${2 * 1024 ** 3} bytes; shrinking to ${1024 ** 3} bytes is not supported`]);
  });
});

/**
 * Operations over a plain HTTP server that answers each GET from `answers` (keyed by path and query
 * after /api2/json; `{"data":null}` otherwise): answers PVE gives that the simulator cannot.
 */
async function answering(answers: Record<string, unknown>, range?: VmidRange): Promise<{ ops: ProxmoxOperations; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const data = answers[(req.url ?? "").replace(/^\/api2\/json/, "")] ?? null;
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ data }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const client = new ProxmoxClient({ env: { PROXMOX_API_URL: `http://127.0.0.1:${port}/api2/json`, PROXMOX_TOKEN_ID: "root@pam!t", PROXMOX_TOKEN_SECRET: "s" }, allowInsecureHttp: true });
  clients.push(client);
  const ops = new ProxmoxOperations(client, new TaskWaiter(client), { clusterId: "apptest", shardId: "e2e", vmidRange: range });
  return { ops, close: () => new Promise((r) => server.close(() => r())) };
}

describe("VMIDs for new VMs", () => {
  it("pass by the VMIDs of containers too (qemu and lxc share them)", async () => {
    const range = { min: 500, max: 599 };
    const server = await answering({ "/cluster/resources?type=vm": [{ id: "lxc/507", type: "lxc", vmid: 507, node: "pve1", name: "ct", status: "running" }] }, range);
    try {
      await server.ops.refresh();
      expect(server.ops.nextVmid()).toBe(508);
    } finally {
      await server.close();
    }
  });

  it("need a refresh first", async () => {
    const { ops } = operations({ range: ownRange() });
    expect(() => ops.nextVmid()).toThrow(expect.objectContaining({ code: "VALIDATION", message: "nextVmid() needs a refresh() first" }));
  });

  it("come from the configured range, above every VMID in use there (not only ours), never twice", async () => {
    const range = ownRange();
    await handMade(range.min + 4, "ops-box");
    await handMade(90_000, "outside-the-range");
    const { ops } = operations({ range });
    await ops.refresh();
    expect([ops.nextVmid(), ops.nextVmid()]).toEqual([range.min + 5, range.min + 6]);
  });

  it("skip the VMID a clone moved to", async () => {
    const range = ownRange();
    await handMade(range.min, "ops-box");
    const { ops } = operations({ range });
    await ops.refresh();
    const id = instanceId();
    // The snapshot's next is min+1; the clone asks for min (taken) and moves to min+1.
    expect(await ops.clone(cloneOf(id, range.min))).toEqual({ vmid: range.min + 1, node: "pve1" });
    expect(ops.nextVmid()).toBe(range.min + 2);
  });
});

describe("the clone request as the simulator received it", () => {
  it("names the storage and the pool of a full clone on the template's node, and no target", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    const seen = recordClones();
    await ops.clone(cloneOf(id, range.min, { pool: "web" }));
    expect(seen.map((r) => r.params)).toEqual([{ node: "pve1", vmid: "9000", newid: String(range.min), name: id, full: "1", storage: "local-lvm", pool: "web" }]);
    const [pool] = (await env.api("GET", "/pools?poolid=web")) as { members: { vmid?: number }[] }[];
    expect(pool!.members.map((m) => m.vmid)).toContain(range.min);
  });

  it("leaves out the storage of a linked clone and an empty pool", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    const seen = recordClones();
    await ops.clone(cloneOf(id, range.min, { full: false, pool: "" }));
    expect(seen.map((r) => r.params)).toEqual([{ node: "pve1", vmid: "9000", newid: String(range.min), name: id, full: "0" }]);
  });

  it("names the target node only when it is not the template's", async () => {
    const range = ownRange();
    const { ops } = operations({ range });
    const id = instanceId();
    const seen = recordClones();
    const made = await ops.clone(cloneOf(id, range.min, { node: "pve2", template: { vmid: 9100, node: "pve1" }, storage: "shared" }));
    expect(made).toEqual({ vmid: range.min, node: "pve2" });
    expect(seen.map((r) => r.params)).toEqual([{ node: "pve1", vmid: "9100", newid: String(range.min), name: id, full: "1", storage: "shared", target: "pve2" }]);
  });
});

describe("the server version", () => {
  it("is read once, and read again after a read that failed", async () => {
    const { ops } = operations({ retry: { attempts: 1 } });
    const before = sent("GET /version");
    env.sim.setFaults("rate=1,count=1,kinds=5xx,methods=GET,paths=^/version$");
    const e = await caught(ops.serverVersion());
    expect(e.code).toBe("SERVER");
    expect(await ops.serverVersion()).toEqual({ version: "8.4.1", release: "8.4" });
    expect(await ops.serverVersion()).toEqual({ version: "8.4.1", release: "8.4" });
    expect(sent("GET /version") - before).toBe(2);
  });

  it("is empty (older than every feature check) when a server answers /version without data", async () => {
    const server = await answering({});
    try {
      expect(await server.ops.serverVersion()).toEqual({ version: "", release: undefined });
    } finally {
      await server.close();
    }
  });
});
