/**
 * The apply-time permission backstop (src/providers/proxmox/permissions.ts): what each action type
 * needs on some path, and the `/access/permissions` check against the simulator.
 *
 * The module is imported afresh inside each test (`vi.resetModules()` + `import()`): its tables are
 * built when it loads, so a test that imported it once at the top would keep the first copy and
 * could never see a changed table (and StrykerJS would credit no test with reading it).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { defaultTopology } from "../../../src/sim/topology.js";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import type { ActionType } from "../../../src/providers/types.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

async function fresh(): Promise<typeof import("../../../src/providers/proxmox/permissions.js")> {
  vi.resetModules();
  return import("../../../src/providers/proxmox/permissions.js");
}

describe("privilegesFor: one action type at a time", () => {
  // Every change re-reads the VM first (the ownership guard), so VM.Audit is always asked; the rest
  // is what PVE checks for that call whatever its parameters.
  const expected: Record<ActionType, string[]> = {
    clone: ["VM.Allocate", "VM.Audit", "VM.Clone", "Datastore.AllocateSpace"],
    configure: ["VM.Audit"],
    resize: ["VM.Audit", "VM.Config.Disk", "Datastore.AllocateSpace"],
    "upload-iso": ["VM.Audit", "Datastore.AllocateTemplate"],
    start: ["VM.Audit", "VM.PowerMgmt"],
    // A running VM is stopped before it is destroyed.
    stop: ["VM.Audit", "VM.PowerMgmt"],
    "delete-iso": ["VM.Audit", "Datastore.Allocate"],
    "delete-vm": ["VM.Allocate", "VM.Audit", "VM.PowerMgmt"],
    "record-state": ["VM.Audit"],
    "forget-state": ["VM.Audit"],
  };

  it.each(Object.entries(expected))("asks %s for exactly %j, in the guide's order", async (type, privileges) => {
    const { privilegesFor } = await fresh();
    expect(privilegesFor([type as ActionType])).toEqual(privileges);
  });

  it("asks VM.Audit alone for a plan with no action (the guard's read is the floor)", async () => {
    const { privilegesFor } = await fresh();
    expect(privilegesFor([])).toEqual(["VM.Audit"]);
  });

  it("asks nothing for an action type it does not know, beyond the floor", async () => {
    const { privilegesFor } = await fresh();
    expect(privilegesFor(["reboot" as ActionType])).toEqual(["VM.Audit"]);
  });
});

describe("checkPermissions against the simulator", () => {
  let sim: Sim;
  let client: ProxmoxClient;

  beforeAll(async () => {
    sim = await startSimulator({ latency: "instant", topology: { ...defaultTopology(1), dropPrivileges: ["VM.Clone", "Datastore.AllocateTemplate"] } });
    client = new ProxmoxClient({ env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret }, ca: sim.caCertificate });
  });

  afterAll(async () => {
    await client?.close();
    await sim?.stop();
  });

  function permissionReads(): number {
    return sim.stats().requests["GET /access/permissions"] ?? 0;
  }

  it("asks the cluster nothing when nothing is needed", async () => {
    const { checkPermissions } = await fresh();
    const before = permissionReads();
    await expect(checkPermissions(client, [])).resolves.toBeUndefined();
    expect(permissionReads() - before).toBe(0);
  });

  it("passes, after one read, when every needed privilege is held on some path", async () => {
    const { checkPermissions } = await fresh();
    const before = permissionReads();
    await expect(checkPermissions(client, ["VM.Audit", "VM.PowerMgmt", "Datastore.Allocate"])).resolves.toBeUndefined();
    expect(permissionReads() - before).toBe(1);
  });

  it("refuses with PERMISSION naming the token, only the privileges held nowhere, and the roles to assign", async () => {
    const { checkPermissions } = await fresh();
    const e = (await checkPermissions(client, ["VM.Audit", "VM.Clone", "Datastore.AllocateTemplate"]).then(
      () => undefined,
      (err: unknown) => err,
    )) as { code?: string; message?: string } | undefined;
    expect(e?.code).toBe("PERMISSION");
    expect(e?.message).toBe(
      `API token ${sim.tokenId} holds [VM.Clone, Datastore.AllocateTemplate] on no path. Assign PVEVMAdmin + PVEDatastoreAdmin + PVEAuditor + PVESDNUser roles to the API token user`,
    );
  });
});
