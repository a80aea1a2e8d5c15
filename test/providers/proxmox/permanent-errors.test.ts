/**
 * Don't retry what cannot succeed: a missing VM, storage, volume or template and a missing
 * privilege fail at once — not after the applier's six backoffs — and the one line says which
 * object is missing and where.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retryClass } from "../../../src/applier/retry.js";
import { classifyHttpError, classifyTaskFailure } from "../../../src/providers/proxmox/api/errors.js";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import { startSimulator } from "../../../src/sim/index.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../../../src/providers/proxmox/index.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

const UPID = (node: string, type: string, id: string) => `UPID:${node}:0000A1B2:0001C3D4:65F00000:${type}:${id}:root@pam!pvefleet:`;

describe("retry classification", () => {
  it("does not retry a VM whose config is missing, although PVE answers it as a 500", () => {
    // qemu-server answers a missing VM with 500 "Configuration file '…' does not exist" (PVE/QemuConfig.pm load_config).
    const e = classifyHttpError({ status: 500, message: "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist", method: "GET", path: "/nodes/pve1/qemu/123/config" });
    expect(e.code).toBe("NOT_FOUND");
    expect(retryClass(e)).toBeUndefined();
    expect(e.message).toContain("/nodes/pve1/qemu/123/config");
  });

  it("does not retry a missing storage or volume", () => {
    const storage = classifyHttpError({ status: 500, message: "storage 'fast' does not exist", method: "POST", path: "/nodes/pve1/qemu/9000/clone" });
    expect(retryClass(storage)).toBeUndefined();
    const volume = classifyTaskFailure("volume local:iso/x.iso does not exist", UPID("pve1", "qmconfig", "123"), "qmconfig");
    expect(retryClass(volume)).toBeUndefined();
  });

  it("does not retry a permission failure, from a 403 or from inside a task", () => {
    expect(retryClass(classifyHttpError({ status: 403, message: "Permission check failed (/vms/123, VM.PowerMgmt)", method: "POST", path: "/nodes/pve1/qemu/123/status/start" }))).toBeUndefined();
    expect(retryClass(classifyHttpError({ status: 500, message: "Permission check failed (/storage/local, Datastore.Allocate)", method: "DELETE", path: "/nodes/pve1/storage/local/content/x" }))).toBeUndefined();
    expect(retryClass(classifyTaskFailure("Permission check failed (/vms/123, VM.Config.CDROM)", UPID("pve1", "qmconfig", "123"), "qmconfig"))).toBeUndefined();
  });

  it("still retries what passes on its own: lock timeouts, unexplained 5xx, a stale digest", () => {
    expect(retryClass(classifyTaskFailure("can't lock file '/var/lock/qemu-server/lock-123.conf' - got timeout", UPID("pve1", "qmconfig", "123"), "qmconfig"))).toBe("lock");
    expect(retryClass(classifyHttpError({ status: 500, message: "proxy loop detected or daemon busy - got timeout", method: "GET", path: "/x" }))).toBe("transient");
    expect(retryClass(classifyHttpError({ status: 502, reason: "Bad Gateway", method: "GET", path: "/x" }))).toBe("transient");
    // resize sends its digest once and relies on the applier's re-read after a CONFLICT.
    expect(retryClass(classifyHttpError({ status: 500, message: "checksum mismatch (file change by other user?)", method: "PUT", path: "/x" }))).toBe("transient");
  });

  it("names the VM and node a failed task worked on", () => {
    const e = classifyTaskFailure("disk 'scsi0' does not exist", UPID("pve2", "resize", "123"), "resize");
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toBe("Proxmox task resize for VM 123 on node pve2 failed: disk 'scsi0' does not exist");
  });
});

describe("against the simulator", () => {
  let sim: Sim;
  let provider: ProxmoxProvider;
  beforeAll(async () => {
    sim = await startSimulator({ latency: "instant" });
    provider = createProxmoxProvider({
      clusterId: "example",
      shardId: "dev-1",
      ca: sim.caCertificate,
      env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
      pollIntervalMs: 5,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 10 },
    });
  });
  afterAll(async () => {
    await provider?.close();
    await sim?.stop();
  });

  it("reads a missing VM once and says which VM on which node", async () => {
    const client = new ProxmoxClient({ env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret }, ca: sim.caCertificate, retry: { attempts: 4, baseDelayMs: 5 } });
    try {
      const err = await client.get("/nodes/pve1/qemu/4242/config").catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "NOT_FOUND" });
      expect((err as Error).message).toMatch(/4242/);
      expect((err as Error).message).toMatch(/pve1/);
      expect(client.stats()).toMatchObject({ requests: 1, retries: 0 });
    } finally {
      await client.close();
    }
  });

  it("fails a start of a missing VM with NOT_FOUND naming the VMID and node", async () => {
    const err = await provider.start({ node: "pve2", vmid: 4243, instanceId: "tstaaaaaaaaaaaaaaaaaaaaaaaaaa" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NOT_FOUND" });
    expect((err as Error).message).toBe('VM 4243 does not exist on node "pve2"');
    expect(retryClass(err)).toBeUndefined();
  });

  it("fails a clone from a template name that does not exist, naming it and the node", async () => {
    await provider.refresh();
    const err = await provider
      .clone({ instanceId: "tstaaaaaaaaaaaaaaaaaaaaaaaaab", node: "pve3", vmid: provider.nextVmid(), template: { name: "no-such-template" }, storage: "local-lvm", full: true })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NOT_FOUND", message: 'no template named "no-such-template" found on node "pve3"' });
    expect(retryClass(err)).toBeUndefined();
  });
});
