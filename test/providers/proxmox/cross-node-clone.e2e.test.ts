/**
 * Clones PVE does not make idempotent, against the simulator:
 * - a VMID held on *another* node passes clone's early check and fails inside the task with
 *   `close (rename) atomic file '…/<vmid>.conf' failed: File exists` (qemu-server PVE/API2/Qemu.pm
 *   clone_vm, pve-common PVE/Tools.pm file_set_contents): that is "VMID taken", and the create moves
 *   to the next free VMID;
 * - a cross-node clone keeps its config on the source node until the copy is done, then renames it
 *   to the target: a clone whose answer was lost is found and adopted on the node it settles on,
 *   never cloned twice.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { ProxmoxClient, type Params, type RetryClass } from "../../../src/providers/proxmox/api/client.js";
import { TaskWaiter } from "../../../src/providers/proxmox/api/tasks.js";
import { classifyTaskFailure } from "../../../src/providers/proxmox/api/errors.js";
import { ProxmoxOperations } from "../../../src/providers/proxmox/operations.js";
import { CLONE } from "../../applier/cluster-api.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

let serial = 0;
function instanceId(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let n = Date.now() * 1000 + serial++;
  let tail = "";
  for (let i = 0; i < 26; i++) {
    tail = alphabet[n % 32] + tail;
    n = Math.floor(n / 32);
  }
  return `xnc${tail}`;
}

/** `/cluster/nextid?vmid=N` says free once for the VMIDs in `racy`: another actor's clone was not yet visible (its temporary config is written in the worker). */
class RacyClient extends ProxmoxClient {
  readonly racy = new Set<number>();
  override get<T>(path: string, query?: Params, retry?: RetryClass): Promise<T> {
    const vmid = Number(query?.vmid);
    if (path === "/cluster/nextid" && this.racy.delete(vmid)) return Promise.resolve(vmid as T);
    return super.get<T>(path, query, retry);
  }
}

let sim: Sim;
let client: RacyClient;
let ops: ProxmoxOperations;

beforeAll(async () => {
  sim = await startSimulator({ latency: "fast", seed: 7, sharedStorage: true });
  client = new RacyClient({
    env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
    ca: sim.caCertificate,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
  });
  ops = new ProxmoxOperations(client, new TaskWaiter(client, { pollIntervalMs: 5 }), { clusterId: "example", shardId: "dev-1" });
});
afterEach(() => sim.setFaults(undefined));
afterAll(async () => {
  await client?.close();
  const rejected = sim?.stats().rejected ?? [];
  await sim?.stop();
  expect(rejected).toEqual([]);
});

describe("a VMID taken on another node", () => {
  it("classifies PVE's in-task text as VMID_TAKEN", () => {
    const e = classifyTaskFailure(
      "close (rename) atomic file '/etc/pve/nodes/pve1/qemu-server/10007.conf' failed: File exists",
      "UPID:pve1:0000A1B2:0001C3D4:65F00000:qmclone:9000:root@pam!pvefleet:",
      "qmclone",
    );
    expect(e.code).toBe("VMID_TAKEN");
  });

  it("moves the create to the next free VMID when the clone task fails with File exists", async () => {
    await ops.refresh();
    const vmid = ops.nextVmid();
    const other = instanceId();
    // Another actor's VM holds the VMID on pve2 …
    await ops.clone({ instanceId: other, node: "pve2", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    // … and our clone on pve1 did not see it: PVE's early check only looks on the source node.
    client.racy.add(vmid);
    const mine = instanceId();
    const got = await ops.clone({ instanceId: mine, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    expect(got.vmid).not.toBe(vmid);
    expect(got.node).toBe("pve1");
    const live = await ops.refresh();
    expect(live.vms.filter((v) => v.name === mine).map((v) => [v.vmid, v.node])).toEqual([[got.vmid, "pve1"]]);
    expect(live.vms.find((v) => v.vmid === vmid)).toMatchObject({ name: other, node: "pve2" });
  });
});

describe("a cross-node clone whose answer was lost", () => {
  it("is found while it still runs on the source node and adopted where it settles, not cloned again", async () => {
    await ops.refresh();
    const vmid = ops.nextVmid();
    const id = instanceId();
    // An earlier attempt's clone, still copying: its config sits on pve1 (the source) until the
    // task renames it to pve3 — the listing shows VM <vmid> on pve1 with lock: clone.
    await client.post("/nodes/pve1/qemu/9100/clone", { newid: vmid, name: id, full: 1, storage: "shared", target: "pve3" });
    const before = sim.stats().requests[CLONE] ?? 0;
    const got = await ops.clone({ instanceId: id, node: "pve3", vmid, template: { vmid: 9100 }, storage: "shared", full: true });
    expect(got).toEqual({ vmid, node: "pve3" });
    expect((sim.stats().requests[CLONE] ?? 0) - before).toBe(0);
    const live = await ops.refresh();
    expect(live.vms.filter((v) => v.name === id).map((v) => [v.vmid, v.node])).toEqual([[vmid, "pve3"]]);
  });

  it("is adopted on the target node it settles on, and sent once", async () => {
    await ops.refresh();
    const vmid = ops.nextVmid();
    const id = instanceId();
    const before = sim.stats().requests[CLONE] ?? 0;
    // The clone runs (config on pve1 with lock: clone, then renamed to pve3); the answer is lost.
    sim.setFaults("rate=1,kinds=reset,methods=POST,paths=/clone$");
    const got = await ops.clone({ instanceId: id, node: "pve3", vmid, template: { vmid: 9100 }, storage: "shared", full: true });
    sim.setFaults(undefined);
    expect(got).toEqual({ vmid, node: "pve3" });
    expect((sim.stats().requests[CLONE] ?? 0) - before).toBe(1);
    const live = await ops.refresh();
    expect(live.vms.filter((v) => v.name === id).map((v) => [v.vmid, v.node])).toEqual([[vmid, "pve3"]]);
  });
});
