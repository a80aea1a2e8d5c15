/**
 * The provider against the simulator over HTTPS on loopback: every operation, the failure paths
 * (locked VM, VMID taken meanwhile, task failure, storage lock timeout, missing privilege,
 * unreachable API, bad token), and no request rejected by the simulator's schema validation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../../../src/sim/index.js";
import { createProxmoxProvider, type ProxmoxProvider, type ProxmoxProviderOptions } from "../../../src/providers/proxmox/index.js";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { privilegesFor } from "../../../src/providers/proxmox/permissions.js";
import { defaultTopology } from "../../../src/sim/topology.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

const CLUSTER = "example";
const SHARD = "dev-1";
const GiB = 1024 ** 3;

/** Instance IDs: 3 letters + 26 Crockford chars; a counter keeps them unique per test file. */
let serial = 0;
function instanceId(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let n = Date.now() * 1000 + serial++;
  let tail = "";
  for (let i = 0; i < 26; i++) {
    tail = alphabet[n % 32] + tail;
    n = Math.floor(n / 32);
  }
  return `tst${tail}`;
}

function envOf(sim: Sim, overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret, ...overrides };
}

function providerFor(sim: Sim, extra: Partial<ProxmoxProviderOptions> = {}): ProxmoxProvider {
  return createProxmoxProvider({
    clusterId: CLUSTER,
    shardId: SHARD,
    ca: sim.caCertificate,
    env: envOf(sim),
    pollIntervalMs: 5,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    ...extra,
  });
}

function rawClient(sim: Sim): ProxmoxClient {
  return new ProxmoxClient({ env: envOf(sim), ca: sim.caCertificate, retry: { attempts: 1 } });
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A clone made ours the way the create chain does it: its configure (fresh) writes the tags. */
async function ourVm(provider: ProxmoxProvider, node: string, id = instanceId()): Promise<{ vmid: number; node: string; instanceId: string }> {
  const { vmid } = await provider.clone({ instanceId: id, node, vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
  await provider.configure({ node, vmid, instanceId: id, fresh: true, tags: ["nstance", CLUSTER, SHARD] });
  return { vmid, node, instanceId: id };
}

async function caught(p: Promise<unknown>): Promise<ProxmoxError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ProxmoxError);
    return e as ProxmoxError;
  }
  throw new Error("expected a ProxmoxError");
}

/** Every schema rejection the simulator counted (400s for unknown/missing/invalid parameters). */
function rejections(sim: Sim): unknown[] {
  return sim.stats().rejected;
}

function totalRequests(sim: Sim): number {
  return Object.values(sim.stats().requests).reduce((a, b) => a + b, 0);
}

describe("Proxmox provider against the simulator", () => {
  let sim: Sim;
  let provider: ProxmoxProvider;

  beforeAll(async () => {
    sim = await startSimulator({ latency: "fast", sharedStorage: true });
    provider = providerFor(sim);
  });

  afterAll(async () => {
    await provider?.close();
    await sim?.stop();
  });

  it("refreshes the whole cluster with two calls", async () => {
    const before = provider.requestCount();
    const live = await provider.refresh();
    expect(provider.requestCount() - before).toBe(2);
    expect(live.apiCalls).toBe(2);
    expect(live.nodes.map((n) => n.node)).toEqual(["pve1", "pve2", "pve3"]);
    const template = live.vms.find((v) => v.vmid === 9000);
    expect(template).toMatchObject({ template: true, node: "pve1", ownership: "unmanaged" });
  });

  it("adds storages with a third call only when asked", async () => {
    const live = await provider.refresh({ storages: true });
    expect(live.apiCalls).toBe(3);
    expect(live.storages?.some((s) => s.storage === "local" && s.content.includes("iso"))).toBe(true);
  });

  it("creates a VM end to end in at most 12 calls without task polls", async () => {
    const live = await provider.refresh();
    const id = instanceId();
    const start = provider.stats();
    const vmid = provider.nextVmid();
    expect(live.usedVmids).not.toContain(vmid);

    const cloned = await provider.clone({ instanceId: id, node: "pve2", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    expect(cloned).toEqual({ vmid, node: "pve2" });
    const iso = await provider.uploadIso({ node: "pve2", storage: "local", filename: `${id}.iso`, bytes: new Uint8Array(64 * 1024).fill(7) });
    expect(iso.volume).toBe(`local:iso/${id}.iso`);
    await provider.configure({
      node: "pve2",
      vmid,
      instanceId: id,
      fresh: true,
      cores: 4,
      memoryMiB: 4096,
      net: { bridge: "vmbr0", vlan: 20 },
      onboot: true,
      description: "operator text\n\n# DO NOT EDIT BELOW - managed by nstance #\ngroup: web\n# DO NOT EDIT ABOVE - managed by nstance #",
      tags: ["Nstance", CLUSTER, SHARD, "team-a"],
      isoVolume: iso.volume,
    });
    await provider.resize({ node: "pve2", vmid, instanceId: id, disk: "scsi0", bytes: 8 * GiB });
    await provider.start({ node: "pve2", vmid, instanceId: id });
    const end = provider.stats();
    const calls = end.requests - start.requests - (end.taskPolls - start.taskPolls);
    // 9, plus the ownership guard's config read before configure, resize and start.
    expect(calls).toBeLessThanOrEqual(12);

    const after = await provider.refresh();
    const vm = after.vms.find((v) => v.vmid === vmid);
    expect(vm).toMatchObject({ name: id, node: "pve2", ownership: "ours", status: "running", cores: 4, tags: ["dev-1", "example", "nstance", "team-a"] });
    const [detail] = await provider.details([{ node: "pve2", vmid }], { status: true });
    expect(detail).toMatchObject({ cores: 4, memoryMiB: 4096, onboot: true, status: "running" });
    expect(detail!.ide2).toMatch(new RegExp(`^${iso.volume.replace(/[.]/g, "\\.")},media=cdrom,size=\\d+[KM]?$`)); // PVE adds the ISO's size
    expect(detail!.boot).toMatch(/^order=scsi0;ide2/);
    // The template NIC's firewall=1 survives: only bridge and tag are set.
    expect(detail!.net0).toMatch(/^virtio=[0-9A-F:]{17},bridge=vmbr0,firewall=1,tag=20$/);
    expect(detail!.scsi0).toMatch(/size=8G/);
    expect(detail!.digest).toMatch(/^[0-9a-f]{40}$/);
  });

  it("does not clone again when the instance already exists (resumed create)", async () => {
    await provider.refresh();
    const id = instanceId();
    const vmid = provider.nextVmid();
    await provider.clone({ instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    // A new run (no snapshot) retries the same step with the same VMID: the holder is this instance.
    const rerun = providerFor(sim);
    try {
      const again = await rerun.clone({ instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
      expect(again).toEqual({ vmid, node: "pve1" });
    } finally {
      await rerun.close();
    }
    const live = await provider.refresh();
    expect(live.vms.filter((v) => v.name === id)).toHaveLength(1);
  });

  it("moves to the next free VMID when another VM took it meanwhile", async () => {
    await provider.refresh();
    const vmid = provider.nextVmid();
    const other = instanceId();
    const mine = instanceId();
    // Another actor clones onto the VMID our snapshot thought free.
    const actor = providerFor(sim);
    try {
      await actor.clone({ instanceId: other, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    } finally {
      await actor.close();
    }
    const got = await provider.clone({ instanceId: mine, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    expect(got.vmid).not.toBe(vmid);
    const live = await provider.refresh();
    expect(live.vms.find((v) => v.vmid === vmid)?.name).toBe(other);
    expect(live.vms.find((v) => v.vmid === got.vmid)?.name).toBe(mine);
  });

  it("retries clones that hit a storage lock timeout until all succeed", async () => {
    // Allocations of 300 ms under the storage's exclusive lock (100 ms timeout in the fast profile):
    // of five clones sent at once, every one that arrives while another allocates times out with
    // `clone failed: can't lock file …` (however slowly a loaded machine delivers the five requests).
    const contended = await startSimulator({ latency: "fast", topology: { ...defaultTopology(3), storageAllocMs: 300 } });
    const notices: string[] = [];
    const p = providerFor(contended, { retry: { attempts: 20, baseDelayMs: 20, maxDelayMs: 200 }, onNotice: (m) => notices.push(m) });
    try {
      await p.refresh();
      const ids = Array.from({ length: 5 }, () => instanceId());
      const results = await Promise.all(
        ids.map((id) => p.clone({ instanceId: id, node: "pve3", vmid: p.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true })),
      );
      expect(new Set(results.map((r) => r.vmid)).size).toBe(5);
      const live = await p.refresh();
      for (const id of ids) expect(live.vms.filter((v) => v.name === id)).toHaveLength(1);
      expect(notices.join("\n")).toMatch(/clone failed: can't lock file '\/var\/lock\/pve-manager\/pve-storage-local-lvm' - got timeout/);
    } finally {
      await p.close();
      await contended.stop();
    }
  });

  it("reports a failed task with its exitstatus (starting a template)", async () => {
    const client = rawClient(sim);
    try {
      const { vmid } = await ourVm(provider, "pve1");
      await client.post(`/nodes/pve1/qemu/${vmid}/template`, {});
      const e = await caught(provider.start({ node: "pve1", vmid, instanceId: "x" }));
      expect(e.code).toBe("NOT_OURS"); // a template is never an instance: refused before any start
      const raw = await client.post<string>(`/nodes/pve1/qemu/9000/status/start`, {}).catch((err: ProxmoxError) => err);
      expect(raw).toBeDefined();
    } finally {
      await client.close();
    }
  });

  it("refuses to configure a VM locked by a running clone", async () => {
    await provider.refresh();
    const id = instanceId();
    const vmid = provider.nextVmid();
    const client = rawClient(sim);
    try {
      // Start the clone without waiting: the target carries `lock: clone` until the task ends.
      const upid = await client.post<string>(`/nodes/pve1/qemu/9000/clone`, { newid: vmid, name: id, full: 1, storage: "local-lvm" });
      const e = await caught(provider.configure({ node: "pve1", vmid, instanceId: id, fresh: true, cores: 2 }));
      expect(e.code).toBe("VM_LOCKED");
      expect(e.lock).toBe("clone");
      // clone() of the same instance adopts it once the lock is gone.
      const adopted = await provider.clone({ instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
      expect(adopted.vmid).toBe(vmid);
      expect(upid).toMatch(/^UPID:pve1:/);
    } finally {
      await client.close();
    }
  });

  it("keeps the MAC when the network is unchanged and refuses a stale digest", async () => {
    await provider.refresh();
    const id = instanceId();
    const { vmid } = await provider.clone({ instanceId: id, node: "pve1", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    await provider.configure({ node: "pve1", vmid, instanceId: id, fresh: true, net: { bridge: "vmbr1" }, tags: ["nstance", CLUSTER, SHARD] });
    const [before] = await provider.details([{ node: "pve1", vmid }]);
    await provider.configure({ node: "pve1", vmid, instanceId: id, net: { bridge: "vmbr1" }, currentNet0: before!.net0, cores: 3, digest: before!.digest });
    const [after] = await provider.details([{ node: "pve1", vmid }]);
    expect(after!.net0).toBe(before!.net0);
    expect(after!.cores).toBe(3);
    const e = await caught(provider.configure({ node: "pve1", vmid, instanceId: id, cores: 4, digest: before!.digest }));
    expect(e.code).toBe("CONFLICT");
  });

  it("grows disks only: equal is a no-op, a shrink fails before any call", async () => {
    await provider.refresh();
    const vm = await ourVm(provider, "pve1");
    await provider.resize({ ...vm, disk: "scsi0", bytes: 4 * GiB });
    const n = provider.requestCount();
    await provider.resize({ ...vm, disk: "scsi0", bytes: 4 * GiB, currentBytes: 4 * GiB });
    expect(provider.requestCount()).toBe(n + 1); // the guard's read only: the size is reached
    const sent = provider.requestCount();
    const e = await caught(provider.resize({ ...vm, disk: "scsi0", bytes: 3 * GiB }));
    expect(provider.requestCount()).toBe(sent + 1); // refused after the read, before any resize
    const { vmid } = vm;
    expect(e.code).toBe("VALIDATION");
    const [d] = await provider.details([{ node: "pve1", vmid }]);
    expect(d!.scsi0).toMatch(/size=4G/);
  });

  it("uploads an ISO once and refuses storage that cannot hold ISOs", async () => {
    const id = instanceId();
    const bytes = new Uint8Array(10_000).fill(1);
    await provider.uploadIso({ node: "pve3", storage: "local", filename: `${id}.iso`, bytes });
    const n = provider.stats();
    const again = await provider.uploadIso({ node: "pve3", storage: "local", filename: `${id}.iso`, bytes });
    expect(again.volume).toBe(`local:iso/${id}.iso`);
    expect(provider.stats().requests - n.requests).toBe(1); // the content listing only
    const e = await caught(provider.uploadIso({ node: "pve3", storage: "local-lvm", filename: `${id}.iso`, bytes }));
    expect(e.code).toBe("VALIDATION");
    expect(e.message).toContain("lvmthin");
  });

  it("deletes an ISO volume, and deleting it again succeeds", async () => {
    const id = instanceId();
    const { volume } = await provider.uploadIso({ node: "pve1", storage: "local", filename: `${id}.iso`, bytes: new Uint8Array(2048) });
    await provider.deleteVolume({ node: "pve1", volume, instanceId: id });
    await provider.deleteVolume({ node: "pve1", volume, instanceId: id });
    const client = rawClient(sim);
    try {
      const list = await client.get<{ volid: string }[]>("/nodes/pve1/storage/local/content", { content: "iso" });
      expect(list.some((v) => v.volid === volume)).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("stops with a shutdown, then a hard stop when the guest ignores ACPI", async () => {
    await provider.refresh();
    const vm = await ourVm(provider, "pve2");
    const { vmid } = vm;
    const client = rawClient(sim);
    try {
      await client.put(`/nodes/pve2/qemu/${vmid}/config`, { acpi: 0 });
    } finally {
      await client.close();
    }
    await provider.start(vm);
    await provider.start(vm); // already running: success
    await provider.stop({ ...vm, timeoutSec: 1 });
    const [d] = await provider.details([{ node: "pve2", vmid }], { status: true });
    expect(d!.status).toBe("stopped");
    await provider.stop({ ...vm, timeoutSec: 1 }); // stopped: no-op
  });

  it("treats stopping a VM that no longer exists as done (a delete chain resumed after a crash)", async () => {
    await expect(provider.stop({ node: "pve1", vmid: 999_999, instanceId: instanceId(), timeoutSec: 1 })).resolves.toBeUndefined();
  });

  it("reports a paused VM as suspended only in a deep check, and hard-stops it", async () => {
    await provider.refresh();
    const vm = await ourVm(provider, "pve1");
    const { vmid } = vm;
    await provider.start(vm);
    const client = rawClient(sim);
    try {
      const upid = await client.post<string>(`/nodes/pve1/qemu/${vmid}/status/suspend`, {});
      expect(upid).toMatch(/^UPID:/);
      for (let i = 0; i < 100; i++) {
        const st = await client.get<{ qmpstatus?: string }>(`/nodes/pve1/qemu/${vmid}/status/current`);
        if (st.qmpstatus === "paused") break;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await client.close();
    }
    const live = await provider.refresh();
    expect(live.vms.find((v) => v.vmid === vmid)?.status).toBe("running");
    const [deep] = await provider.details([{ node: "pve1", vmid }], { status: true });
    expect(deep!.status).toBe("suspended");
    await provider.stop({ ...vm, timeoutSec: 5 }); // shutdown refused while paused → hard stop
    const [after] = await provider.details([{ node: "pve1", vmid }], { status: true });
    expect(after!.status).toBe("stopped");
  });

  it("deletes only the VM still named after the instance, and a missing VM is success", async () => {
    await provider.refresh();
    const vm = await ourVm(provider, "pve3");
    const { vmid, instanceId: id } = vm;
    await provider.start(vm);
    const e = await caught(provider.deleteVm({ node: "pve3", vmid, instanceId: instanceId() })); // VMID "reused"
    expect(e.code).toBe("NOT_OURS");
    expect((await provider.refresh()).vms.some((v) => v.vmid === vmid)).toBe(true);
    await provider.deleteVm({ node: "pve3", vmid, instanceId: id });
    expect((await provider.refresh()).vms.some((v) => v.vmid === vmid)).toBe(false);
    await provider.deleteVm({ node: "pve3", vmid, instanceId: id });
  });

  it("resolves templates by name per node with Nstance's messages", async () => {
    const e = await caught(provider.clone({ instanceId: instanceId(), node: "pve1", vmid: 777777, template: { name: "no-such-template" }, storage: "local-lvm", full: true }));
    expect(e.message).toBe('no template named "no-such-template" found on node "pve1"');
  });

  it("refuses a TemplateVMID on another node when the storage is not shared", async () => {
    await provider.refresh();
    const e = await caught(provider.clone({ instanceId: instanceId(), node: "pve2", vmid: provider.nextVmid(), template: { vmid: 9000 }, storage: "local-lvm", full: true }));
    expect(e.code).toBe("VALIDATION");
    expect(e.message).toContain("not shared");
  });

  it("clones a TemplateVMID on shared storage to another node", async () => {
    await provider.refresh();
    const id = instanceId();
    const got = await provider.clone({ instanceId: id, node: "pve2", vmid: provider.nextVmid(), template: { vmid: 9100 }, storage: "shared", full: true });
    expect(got.node).toBe("pve2");
    expect((await provider.refresh()).vms.find((v) => v.name === id)?.node).toBe("pve2");
  });

  it("passes the permission preflight with every privilege", async () => {
    const needed = privilegesFor(["clone", "configure", "resize", "upload-iso", "start", "stop", "delete-iso", "delete-vm"]);
    expect(needed).toEqual(expect.arrayContaining(["VM.Clone", "VM.Allocate", "VM.PowerMgmt", "Datastore.AllocateSpace", "Datastore.AllocateTemplate"]));
    const asked = sim.stats().requests["GET /access/permissions"] ?? 0;
    await expect(provider.checkPermissions(needed)).resolves.toBeUndefined();
    // It asked the cluster (one permissions read), rather than passing without looking.
    expect((sim.stats().requests["GET /access/permissions"] ?? 0) - asked).toBe(1);
  });

  it("sent no request the simulator's schema validation rejected", () => {
    expect(rejections(sim)).toEqual([]);
    expect(totalRequests(sim)).toBeGreaterThan(100);
  });
});

describe("provider failure paths outside the happy cluster", () => {
  let sim: Sim;

  beforeAll(async () => {
    sim = await startSimulator({ latency: "fast", topology: { ...defaultTopology(2), dropPrivileges: ["VM.Clone", "Datastore.AllocateTemplate"] } });
  });

  afterAll(async () => {
    await sim?.stop();
  });

  it("fails the preflight listing the missing privileges and the role advice", async () => {
    const p = providerFor(sim);
    try {
      const e = await caught(p.checkPermissions(privilegesFor(["clone", "upload-iso", "start"])));
      expect(e.code).toBe("PERMISSION");
      expect(e.message).toBe(
        `API token ${sim.tokenId} holds [VM.Clone, Datastore.AllocateTemplate] on no path. Assign PVEVMAdmin + PVEDatastoreAdmin + PVEAuditor + PVESDNUser roles to the API token user`,
      );
      await p.checkPermissions(privilegesFor(["start", "stop"]));
    } finally {
      await p.close();
    }
  });

  it("reports a bad token as AUTH without the secret anywhere", async () => {
    const secret = "not-the-secret-0f3c9a71-5b2e-4d4c-9e55-8c1d2a6b7e90";
    const p = createProxmoxProvider({
      clusterId: CLUSTER,
      shardId: SHARD,
      ca: sim.caCertificate,
      env: envOf(sim, { PROXMOX_TOKEN_SECRET: secret }),
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    });
    try {
      const e = await caught(p.refresh());
      expect(e.code).toBe("AUTH");
      expect(`${e.message} ${e.stack} ${JSON.stringify(e)}`).not.toContain(secret);
    } finally {
      await p.close();
    }
  });

  it("reports an unreachable API as NETWORK after bounded retries, secret-free", async () => {
    const port = await closedPort();
    const p = createProxmoxProvider({
      clusterId: CLUSTER,
      shardId: SHARD,
      env: envOf(sim, { PROXMOX_API_URL: `https://127.0.0.1:${port}/api2/json` }),
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 4 },
    });
    try {
      const e = await caught(p.details([{ node: "pve1", vmid: 100 }]));
      expect(e.code).toBe("NETWORK");
      expect(e.message).toContain("ECONNREFUSED");
      expect(e.message).not.toContain(sim.tokenSecret);
      expect(p.requestCount()).toBe(3); // one read, three attempts
      expect(p.stats().retries).toBe(2);
    } finally {
      await p.close();
    }
  });

  it("verifies TLS by default: the simulator's self-signed certificate is refused without its CA", async () => {
    const p = createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: envOf(sim), retry: { attempts: 1 } });
    try {
      const e = await caught(p.refresh());
      expect(e.code).toBe("NETWORK");
      expect(e.message).toContain("TLS verification failed");
    } finally {
      await p.close();
    }
    const insecure = createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: envOf(sim), insecureTls: true });
    try {
      expect((await insecure.refresh()).nodes).toHaveLength(2);
    } finally {
      await insecure.close();
    }
  });

  it("trusts the CA in PROXMOX_CA_FILE, and names an unreadable one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pvefleet-ca-"));
    const file = join(dir, "ca.pem");
    writeFileSync(file, sim.caCertificate);
    const p = createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: envOf(sim, { PROXMOX_CA_FILE: file }) });
    try {
      expect((await p.refresh()).nodes).toHaveLength(2);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: envOf(sim, { PROXMOX_CA_FILE: file }) })).toThrow(/PROXMOX_CA_FILE .*ca\.pem/);
  });

  it("fails with Nstance's lines when the token variables are missing, before any request", () => {
    const before = totalRequests(sim);
    expect(() => createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: { PROXMOX_API_URL: sim.url } })).toThrow(
      "PROXMOX_TOKEN_ID environment variable is required for proxmox provider",
    );
    expect(() => createProxmoxProvider({ clusterId: CLUSTER, shardId: SHARD, env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId } })).toThrow(
      "PROXMOX_TOKEN_SECRET environment variable is required for proxmox provider",
    );
    expect(totalRequests(sim)).toBe(before);
  });
});

describe("template resolution on a node with duplicate template names", () => {
  it("fails with Nstance's several-match message", async () => {
    const topo = defaultTopology(1);
    topo.templates.push({ ...topo.templates[0]!, vmid: 9050 });
    const sim = await startSimulator({ latency: "fast", topology: topo });
    const p = providerFor(sim);
    try {
      const e = await caught(p.clone({ instanceId: instanceId(), node: "pve1", vmid: 20000, template: { name: "debian-13-template" }, storage: "local-lvm", full: true }));
      expect(e.message).toBe('multiple templates named "debian-13-template" found on node "pve1" (found 2)');
    } finally {
      await p.close();
      await sim.stop();
    }
  });
});

describe("provider under injected faults", () => {
  it("adopts a clone whose answer was lost (connection reset after PVE acted)", async () => {
    const sim = await startSimulator({ latency: "fast", faults: "rate=1,kinds=reset,methods=POST,paths=/clone$", seed: 7 });
    const p = providerFor(sim);
    try {
      await p.refresh();
      const id = instanceId();
      const vmid = p.nextVmid();
      const got = await p.clone({ instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
      expect(got).toEqual({ vmid, node: "pve1" });
      const live = await p.refresh();
      expect(live.vms.filter((v) => v.name === id)).toHaveLength(1);
      expect(sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/clone"]).toBe(1);
    } finally {
      await p.close();
      await sim.stop();
    }
  });

  it("rides out daemon errors on reads with bounded retries", async () => {
    const sim = await startSimulator({ latency: "fast", faults: "rate=0.4,kinds=5xx,methods=GET", seed: 11 });
    const p = providerFor(sim, { retry: { attempts: 8, baseDelayMs: 2, maxDelayMs: 10 } });
    try {
      for (let i = 0; i < 5; i++) expect((await p.refresh()).nodes).toHaveLength(3);
      expect(p.stats().retries).toBeGreaterThan(0);
      expect(sim.stats().rejected).toEqual([]);
    } finally {
      await p.close();
      await sim.stop();
    }
  });
});
