/**
 * Version differences: `GET /version` is read once, and `overrule-shutdown` (qemu-server ≥ 8.1.2,
 * first in PVE 8.2; a 400 before) is sent only to servers that have it. Older servers get a
 * shutdown with `forceStop=1` instead, which hard-stops the guest when the timeout passes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { ProxmoxClient, type Params, type RetryClass } from "../../../src/providers/proxmox/api/client.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { TaskWaiter } from "../../../src/providers/proxmox/api/tasks.js";
import { ProxmoxOperations, pveAtLeast } from "../../../src/providers/proxmox/operations.js";

const ID = "tstaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ENV = { PROXMOX_API_URL: "https://127.0.0.1:1/api2/json", PROXMOX_TOKEN_ID: "root@pam!t", PROXMOX_TOKEN_SECRET: "s" };

/** A server that answers the guard's read and the power calls, recording what was sent. */
class RecordingClient extends ProxmoxClient {
  readonly sent: { method: string; path: string; params?: Params }[] = [];
  constructor(private readonly pveVersion: string) {
    super({ env: ENV });
  }
  override get<T>(path: string, query?: Params, _retry?: RetryClass): Promise<T> {
    this.sent.push({ method: "GET", path, params: query });
    if (path === "/version") return Promise.resolve({ version: this.pveVersion, release: this.pveVersion.split(".").slice(0, 2).join(".") } as T);
    if (path.endsWith("/config")) return Promise.resolve({ name: ID, tags: "dev-1;example;nstance", digest: "d" } as T);
    return Promise.reject(new ProxmoxError("SERVER", `unexpected GET ${path}`));
  }
  override post<T>(path: string, params?: Params, _retry?: RetryClass): Promise<T> {
    this.sent.push({ method: "POST", path, params });
    const type = path.endsWith("/shutdown") ? "qmshutdown" : "qmstop";
    return Promise.resolve(`UPID:pve1:0000A1B2:0001C3D4:65F00000:${type}:100:root@pam!t:` as T);
  }
}

/** The shutdown task is still running when our wait ends (the guest ignores ACPI). */
class ShutdownHangs extends TaskWaiter {
  override async settle(answer: unknown): Promise<void> {
    if (typeof answer === "string" && answer.includes(":qmshutdown:")) throw new ProxmoxError("TASK_TIMEOUT", "Proxmox task qmshutdown still running", { upid: answer });
  }
}

function opsFor(version: string): { ops: ProxmoxOperations; client: RecordingClient } {
  const client = new RecordingClient(version);
  return { client, ops: new ProxmoxOperations(client, new ShutdownHangs(client), { clusterId: "example", shardId: "dev-1" }) };
}

describe("overrule-shutdown", () => {
  it("is sent after a shutdown we gave up on, on PVE 8.2 and later", async () => {
    const { ops, client } = opsFor("8.4.1");
    await ops.stop({ node: "pve1", vmid: 100, instanceId: ID, timeoutSec: 1 });
    expect(client.sent.filter((c) => c.method === "POST")).toEqual([
      { method: "POST", path: "/nodes/pve1/qemu/100/status/shutdown", params: { timeout: 1 } },
      { method: "POST", path: "/nodes/pve1/qemu/100/status/stop", params: { "overrule-shutdown": 1 } },
    ]);
    await client.close();
  });

  it("is never sent to PVE 8.0/8.1: the shutdown carries forceStop=1 instead", async () => {
    const { ops, client } = opsFor("8.1.4");
    await ops.stop({ node: "pve1", vmid: 100, instanceId: ID, timeoutSec: 1 });
    expect(client.sent.filter((c) => c.method === "POST")).toEqual([
      { method: "POST", path: "/nodes/pve1/qemu/100/status/shutdown", params: { timeout: 1, forceStop: 1 } },
      { method: "POST", path: "/nodes/pve1/qemu/100/status/stop", params: {} },
    ]);
    await client.close();
  });

  it("reads /version once per provider", async () => {
    const { ops, client } = opsFor("8.4.1");
    await ops.stop({ node: "pve1", vmid: 100, instanceId: ID, timeoutSec: 1 });
    await ops.stop({ node: "pve1", vmid: 100, instanceId: ID, timeoutSec: 1 });
    expect(client.sent.filter((c) => c.path === "/version")).toHaveLength(1);
    await client.close();
  });

  it("compares pve-manager versions by major and minor", () => {
    expect(pveAtLeast({ version: "8.2.2" }, [8, 2])).toBe(true);
    expect(pveAtLeast({ version: "9.0.3" }, [8, 2])).toBe(true);
    expect(pveAtLeast({ version: "8.1.10" }, [8, 2])).toBe(false);
    expect(pveAtLeast({ version: "7.4-17" }, [8, 2])).toBe(false);
  });
});

describe("against a simulated PVE 8.1", () => {
  type Sim = Awaited<ReturnType<typeof startSimulator>>;
  let sim: Sim;
  let client: ProxmoxClient;
  beforeAll(async () => {
    sim = await startSimulator({
      latency: "fast",
      topology: {
        pveVersion: "8.1.4",
        nodes: [{ name: "pve1" }],
        storages: [{ id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"] }],
        templates: [{ vmid: 9000, node: "pve1" }],
      },
    });
    client = new ProxmoxClient({ env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret }, ca: sim.caCertificate, retry: { attempts: 1 } });
  });
  afterAll(async () => {
    await client?.close();
    await sim?.stop();
  });

  it("stops a guest that ignores ACPI with one forceStop shutdown, never sending overrule-shutdown", async () => {
    const ops = new ProxmoxOperations(client, new TaskWaiter(client, { pollIntervalMs: 5 }), { clusterId: "example", shardId: "dev-1" });
    await ops.refresh();
    const { vmid, node } = await ops.clone({ instanceId: ID, node: "pve1", vmid: ops.nextVmid(), template: { vmid: 9000 }, storage: "local-lvm", full: true });
    await ops.configure({ node, vmid, instanceId: ID, fresh: true, tags: ["nstance", "example", "dev-1"] });
    const waiter = new TaskWaiter(client, { pollIntervalMs: 5 });
    await client.post(`/nodes/${node}/qemu/${vmid}/config`, { acpi: 0 }, "never");
    await waiter.settle(await client.post(`/nodes/${node}/qemu/${vmid}/status/start`, {}, "never"));
    const stopsBefore = sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/status/stop"] ?? 0;
    await ops.stop({ node, vmid, instanceId: ID, timeoutSec: 1 });
    expect((await client.get<{ status: string }>(`/nodes/${node}/qemu/${vmid}/status/current`)).status).toBe("stopped");
    expect((sim.stats().requests["POST /nodes/{node}/qemu/{vmid}/status/stop"] ?? 0) - stopsBefore).toBe(0);
    expect(sim.stats().rejected).toEqual([]);
  });
});
