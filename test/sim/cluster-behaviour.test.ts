/**
 * Behaviour beyond single calls: storage-lock contention of concurrent full clones, seeded faults,
 * `--state` persistence across restarts, pvestatd lag, node usage of running VMs, permissions.
 */
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";
import { parseFaults } from "../../src/sim/index.js";

const open: Client[] = [];
async function client(opts: Parameters<typeof startClient>[0] = {}): Promise<Client> {
  const c = await startClient(opts);
  open.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
});

describe("contention", () => {
  // pve-storage: the storage lock (`cluster_lock_storage`, Storage/Plugin.pm:668-683) is exclusive and
  // held only around the allocation (Storage.pm:986-992 vdisk_alloc, 1066-1077 vdisk_clone), not the
  // copy; its timeout is 10 s (pve-common Tools.pm:207); qemu-server prefixes `clone failed: `.
  it("serialises volume allocations under an exclusive storage lock, not the copies; a waiter past the timeout fails the clone", async () => {
    // 8 GiB: a fast-profile copy takes ~400 ms; allocations take 90 ms against a 100 ms lock timeout.
    const c = await client({ latency: "fast", topology: {
      nodes: [{ name: "pve1" }], storages: [{ id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"] }],
      templates: [{ vmid: 9000, node: "pve1", diskGiB: 8 }], storageAllocMs: 90,
    } });
    const posts = await Promise.all([300, 301, 302].map((newid) => c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid, full: 1 })));
    for (const p of posts) expect(p.status).toBe(200);
    const results = await Promise.all(posts.map((p) => c.waitTask(p.body.data)));
    const statuses = results.map((r) => r.exitstatus).sort();
    // The second allocation waited at most 90 ms (< 100 ms) although the first copy ran 400 ms; the third ~180 ms.
    expect(statuses).toEqual(["OK", "OK", "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"]);
    // The failed clone's target is gone again; the others exist.
    const vms = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data.map((v: { vmid: number }) => v.vmid);
    expect(vms.filter((id: number) => id >= 300 && id <= 302)).toHaveLength(2);
  });

  it("lets linked clones and clones onto different nodes' storages proceed together", async () => {
    const c = await client({ latency: "fast" });
    const posts = await Promise.all([
      c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 310, full: 1 }),
      c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 311, full: 1 }),
      c.call("POST", "/nodes/pve2/qemu/9001/clone", { newid: 312, full: 1 }),
      c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 313 }),
    ]);
    const results = await Promise.all(posts.map((p) => c.waitTask(p.body.data)));
    expect(results.map((r) => r.exitstatus)).toEqual(["OK", "OK", "OK", "OK"]);
  });
});

describe("faults", () => {
  it("parses the documented grammar and rejects nonsense with one clear line", () => {
    expect(parseFaults("rate=0.1,kinds=5xx+reset,paths=/qemu/\\d+,/config")).toMatchObject({ rate: 0.1, kinds: ["5xx", "reset"] });
    expect(parseFaults("rate=0.1,kinds=5xx+reset,paths=/qemu/\\d+,/config").paths?.test("/nodes/x/qemu/100,/config")).toBe(true);
    expect(() => parseFaults("rate=2")).toThrow("--faults 'rate=2': rate must be a number between 0 and 1");
    expect(() => parseFaults("rate=0.1,kinds=boom")).toThrow("unknown kind 'boom'");
  });

  it("draws the same faults for the same seed, and a 5xx never changes the cluster", async () => {
    const run = async () => {
      const c = await client({ latency: "instant", seed: 7, faults: "rate=0.5,kinds=5xx,paths=/config$" });
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await c.call("PUT", "/nodes/pve1/qemu/9000/config", { description: `v${i}` });
        seen.push(r.status);
        const cfg = (await c.call("GET", "/nodes/pve1/qemu/9000/config")).body;
        if (r.status === 500) expect(cfg?.data?.description ?? "").not.toBe(`v${i}`);
      }
      return seen;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a).toContain(500);
    expect(a).toContain(200);
  });

  it("resets the connection after the handler ran, and fails tasks on taskfail", async () => {
    const c = await client({ latency: "instant", faults: "rate=1,kinds=reset,paths=/cluster/nextid" });
    await expect(c.call("GET", "/cluster/nextid")).rejects.toThrow(/socket hang up|ECONNRESET/);
    const t = await client({ latency: "instant", faults: "rate=1,kinds=taskfail,methods=POST" });
    const r = await t.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 400 });
    expect(r.status).toBe(200);
    expect((await t.waitTask(r.body.data)).exitstatus).toBe("qmclone failed: got timeout (injected fault)");
    expect((await t.call("GET", "/nodes/pve1/qemu/400/config")).status).toBe(500);
  });

  it("stops after `count` faults (the first attempt fails, the next works) and fails a task with `taskerr`'s words", async () => {
    expect(() => parseFaults("rate=1,count=0")).toThrow("count must be a whole number of faults, at least 1");
    expect(() => parseFaults("rate=1,taskerr=")).toThrow("taskerr needs the task's exit status");
    const c = await client({ latency: "instant", faults: "rate=1,kinds=5xx,count=2,paths=/config$" });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await c.call("PUT", "/nodes/pve1/qemu/9000/config", { description: `v${i}` })).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
    const t = await client({ latency: "instant", faults: "rate=1,kinds=taskfail,count=1,taskerr=VM is paused - cannot shutdown,methods=POST" });
    const first = await t.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 401 });
    expect((await t.waitTask(first.body.data)).exitstatus).toBe("VM is paused - cannot shutdown");
    const second = await t.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 402 });
    expect((await t.waitTask(second.body.data)).exitstatus).toBe("OK");
  });
});

describe("state, stats lag, usage and permissions", () => {
  it("keeps the cluster and the token across restarts with --state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvefleet-sim-test-"));
    const file = join(dir, "sim.json");
    try {
      const a = await startClient({ latency: "instant", stateFile: file });
      const r = await a.call("POST", "/nodes/pve2/qemu/9001/clone", { newid: 500, name: "kept" });
      await a.waitTask(r.body.data);
      await a.call("PUT", "/nodes/pve2/qemu/500/config", { tags: "b,a" });
      const secret = a.sim.tokenSecret;
      await a.close();
      expect(readFileSync(file, "utf8")).toContain('"vmid":500');
      const b = await startClient({ latency: "instant", stateFile: file });
      try {
        expect(b.sim.tokenSecret).toBe(secret);
        const cfg = (await b.call("GET", "/nodes/pve2/qemu/500/config")).body.data;
        expect(cfg).toMatchObject({ name: "kept", tags: "a;b" });
        expect((await b.call("GET", "/cluster/nextid")).body.data).toBe("100");
      } finally {
        await b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts running VMs in their node's cpu and memory", async () => {
    const c = await client({ latency: "instant" });
    const before = (await c.call("GET", "/cluster/resources", { type: "node" })).body.data.find((n: { node: string }) => n.node === "pve3");
    const r = await c.call("POST", "/nodes/pve3/qemu", { vmid: 600, memory: 8192, cores: 4, start: 1 });
    await c.waitTask(r.body.data);
    const after = (await c.call("GET", "/cluster/resources", { type: "node" })).body.data.find((n: { node: string }) => n.node === "pve3");
    expect(after.mem - before.mem).toBe(8192 * 1024 * 1024);
    expect(after.cpu).toBeGreaterThan(before.cpu);
  });

  it("shows a new VM as status unknown until pvestatd publishes its stats (realistic profile)", async () => {
    const c = await client({ latency: "realistic", http: true });
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 700 });
    const entry = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data.find((v: { vmid: number }) => v.vmid === 700);
    expect(entry).toEqual({ id: "qemu/700", vmid: 700, node: "pve1", type: "qemu", status: "unknown", lock: "clone" });
    expect(r.body.data).toMatch(/^UPID:pve1:/);
  });

  it("reports and enforces the token's privileges; dropped ones give PVE's 403", async () => {
    const c = await client({ latency: "instant", topology: { nodes: [{ name: "pve1" }], storages: [{ id: "local-lvm", type: "lvmthin", content: ["images"] }], dropPrivileges: ["VM.Clone"] } });
    const perms = (await c.call("GET", "/access/permissions")).body.data["/"];
    expect(perms["VM.Allocate"]).toBe(1);
    expect(perms["VM.Clone"]).toBeUndefined();
    const r = await c.call("POST", "/nodes/pve1/qemu/100/clone", { newid: 101 });
    expect(r.status).toBe(403);
    expect(r.reason).toBe("Permission check failed (/vms/100, VM.Clone)");
  });
});

describe("templates from the topology", () => {
  // The web UI ticks the NIC's firewall box by default (pve-manager www/manager6/qemu/NetworkEdit.js:
  // `checked: me.insideWizard || me.isCreate`), and a clone keeps every NIC option, drawing only a
  // new MAC (qemu-server stable-bookworm src/PVE/API2/Qemu.pm:4411-4412, clone_vm:
  // `$net->{macaddr} = PVE::Tools::random_ether_addr(...); $newconf->{$opt} = print_net($net)`).
  it("gives a template the NIC the topology names, and a clone keeps its options with a new MAC", async () => {
    const c = await client({ latency: "instant", topology: {
      nodes: [{ name: "pve1" }], storages: [{ id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"] }],
      templates: [{ vmid: 9000, node: "pve1", net0: "e1000,bridge=vmbr1,firewall=1,mtu=1400,queues=4,rate=50" }],
    } });
    const template = (await c.call("GET", "/nodes/pve1/qemu/9000/config")).body.data;
    expect(template.net0).toMatch(/^e1000=BC:24:11:[0-9A-F:]{8},bridge=vmbr1,firewall=1,mtu=1400,queues=4,rate=50$/);
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 300, full: 1 });
    await c.waitTask(r.body.data);
    const clone = (await c.call("GET", "/nodes/pve1/qemu/300/config")).body.data;
    expect(clone.net0.replace(/=[0-9A-F:]{17}/, "")).toBe(template.net0.replace(/=[0-9A-F:]{17}/, ""));
    expect(clone.net0).not.toBe(template.net0);
  });

  it("gives the default templates a firewall=1 NIC, as the web UI makes them", async () => {
    const c = await client({ latency: "instant" });
    expect((await c.call("GET", "/nodes/pve1/qemu/9000/config")).body.data.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,firewall=1$/);
  });

  it("refuses a template NIC on a bridge the topology does not have", async () => {
    await expect(client({ topology: {
      nodes: [{ name: "pve1" }], storages: [{ id: "local-lvm", type: "lvmthin", content: ["images"] }],
      templates: [{ vmid: 9000, node: "pve1", net0: "virtio,bridge=vmbr9" }],
    } })).rejects.toThrow(/unknown bridge 'vmbr9'/);
  });
});

describe("clone placement (qemu-server stable-bookworm src/PVE/API2/Qemu.pm clone_vm)", () => {
  const shared = {
    nodes: [{ name: "pve1" }, { name: "pve2" }],
    storages: [{ id: "local-lvm", type: "lvmthin" as const, content: ["images" as const, "rootdir" as const] },
               { id: "shared", type: "nfs" as const, content: ["images" as const], shared: true, path: "/mnt/pve/shared" }],
    templates: [{ vmid: 9000, node: "pve1", storage: "local-lvm" }, { vmid: 9001, node: "pve2", storage: "local-lvm" },
                { vmid: 9100, node: "pve1", storage: "shared", diskGiB: 4 }],
  };

  // Qemu.pm:4379-4381 checks only the local (source) node's config file before forking; the
  // worker's temporary config write (4487-4489) then fails on pmxcfs with EEXIST (pve-cluster
  // src/pmxcfs/memdb.c:1098-1102), worded by pve-common src/PVE/Tools.pm:333-334.
  it("fails a clone to a VMID held on another node inside the task, with pmxcfs's File exists", async () => {
    const c = await client({ latency: "fast", topology: shared });
    await c.waitTask((await c.call("POST", "/nodes/pve2/qemu/9001/clone", { newid: 500, full: 1, name: "theirs" })).body.data);
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 500, full: 1, name: "mine" });
    expect(r.status).toBe(200);
    const task = await c.waitTask(r.body.data);
    expect(task.exitstatus).toBe("close (rename) atomic file '/etc/pve/nodes/pve1/qemu-server/500.conf' failed: File exists");
    // The holder is untouched.
    const holder = (await c.call("GET", "/nodes/pve2/qemu/500/config")).body.data;
    expect(holder.name).toBe("theirs");
    // Held on the source node itself: the early, synchronous 500.
    const local = await c.call("POST", "/nodes/pve2/qemu/9001/clone", { newid: 500, full: 1 });
    expect(local.body.message).toBe("unable to create VM 500: config file already exists\n");
  });

  // Qemu.pm:4379 and 4489 write the temporary config on the local (source) node; only when the
  // copy is done is it moved: 4579-4581 `rename($conffile, $newconffile)` to the target node.
  it("keeps a cross-node clone's config on the source node until the task ends, then moves it", async () => {
    const c = await client({ latency: "fast", topology: shared });
    const r = await c.call("POST", "/nodes/pve1/qemu/9100/clone", { newid: 501, full: 1, storage: "shared", target: "pve2" });
    const during = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data.find((v: { vmid: number }) => v.vmid === 501);
    expect(during).toMatchObject({ node: "pve1", lock: "clone" });
    expect((await c.call("GET", "/nodes/pve1/qemu/501/status/current")).body.data.lock).toBe("clone");
    expect((await c.call("GET", "/nodes/pve2/qemu/501/status/current")).status).toBe(500);
    await c.waitTask(r.body.data);
    const after = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data.find((v: { vmid: number }) => v.vmid === 501);
    expect(after.node).toBe("pve2");
    expect((await c.call("GET", "/nodes/pve1/qemu/501/config")).body.message).toBe("Configuration file 'nodes/pve1/qemu-server/501.conf' does not exist\n");
    expect((await c.call("GET", "/nodes/pve2/qemu/501/config")).body.data.lock).toBeUndefined();
  });
});

describe("PVE versions (topology pveVersion)", () => {
  // qemu-server commit 50b5893b ("fix #4474: qemu api: add overrule-shutdown parameter to stop
  // endpoint"), released in qemu-server 8.1.2 (debian/changelog, 19 Apr 2024), first with PVE 8.2;
  // before it the stop schema has no such property (pve-common JSONSchema.pm validate).
  it("reports the configured version and refuses overrule-shutdown below 8.2", async () => {
    const c = await client({ latency: "instant", topology: {
      pveVersion: "8.1.4", nodes: [{ name: "pve1" }], storages: [{ id: "local-lvm", type: "lvmthin", content: ["images"] }],
      templates: [{ vmid: 9000, node: "pve1" }],
    } });
    expect((await c.call("GET", "/version")).body.data).toMatchObject({ version: "8.1.4", release: "8.1" });
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/status/stop", { "overrule-shutdown": 1 });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual({ "overrule-shutdown": "property is not defined in schema and the schema does not allow additional properties" });
  });

  it("accepts overrule-shutdown from 8.2 on (default 8.4.1)", async () => {
    const c = await client({ latency: "instant" });
    expect((await c.call("GET", "/version")).body.data.version).toBe("8.4.1");
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/status/stop", { "overrule-shutdown": 1 });
    expect(r.status).not.toBe(400);
  });
});
