/**
 * Finding 19 of the fidelity audit: `/cluster/resources` takes a VM's name and status from pmxcfs
 * RRD entries, which live up to 5 min after their last update (pve-cluster
 * src/pmxcfs/status.c:1367), so a VMID destroyed and reused before pvestatd's next cycle is listed
 * with the previous VM's name. The simulator does this whenever it has a stats cycle.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";

interface Listed { vmid: number; name?: string; status: string; tags?: string }

describe("a reused VMID in the listing", () => {
  let c: Client;
  // A long cycle, advanced by hand: the test decides when pvestatd runs.
  beforeAll(async () => {
    c = await startClient({
      latency: "fast",
      statsIntervalMs: 3_600_000,
      topology: {
        nodes: [{ name: "pve1" }],
        storages: [{ id: "local-lvm", type: "lvmthin", content: ["images"] }],
        vms: { count: 1, firstVmid: 700, runningFraction: 0 },
      },
    });
  });
  afterAll(async () => c?.close());

  const listed = async (vmid: number): Promise<Listed | undefined> =>
    ((await c.call("GET", "/cluster/resources", { type: "vm" })).body.data as Listed[]).find((v) => v.vmid === vmid);

  it("shows the destroyed VM's name until the next stats cycle, while its config is already the new VM's", async () => {
    const before = await listed(700);
    expect(before?.name).toMatch(/\S/);
    const del = await c.call("DELETE", "/nodes/pve1/qemu/700");
    expect((await c.waitTask(del.body.data)).exitstatus).toBe("OK");
    expect(await listed(700)).toBeUndefined(); // gone from the VM list at once (pmxcfs vmlist)

    const create = await c.call("POST", "/nodes/pve1/qemu", { vmid: 700, name: "newcomer", memory: 512, cores: 1, tags: "ops" });
    expect((await c.waitTask(create.body.data)).exitstatus).toBe("OK");
    const stale = await listed(700);
    expect(stale).toMatchObject({ name: before!.name, status: before!.status, tags: "ops" });
    expect((await c.call("GET", "/nodes/pve1/qemu/700/config")).body.data.name).toBe("newcomer");

    c.sim.tickStats();
    expect((await listed(700))?.name).toBe("newcomer");
  });
});
