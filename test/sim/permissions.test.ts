/**
 * The simulator's ACL and the privilege checks PVE makes inside its handlers. Each rule cites the
 * PVE 8 source it follows: pve-access-control stable-bookworm (8.2.3), qemu-server stable-bookworm
 * (8.4.10), pve-guest-common 58ad183, pve-storage stable-8.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";

// VM admin without VM.Config.Memory and VM.Config.CDROM.
const VMOPS = ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CPU", "VM.Config.Network", "VM.Config.Options", "VM.Config.Disk", "VM.Config.Cloudinit", "VM.PowerMgmt"];

describe("the token's ACL and in-handler privilege checks", () => {
  let c: Client;
  beforeAll(async () => {
    c = await startClient({
      latency: "instant",
      topology: {
        nodes: [{ name: "pve1" }],
        storages: [
          { id: "local", type: "dir", content: ["iso"], path: "/var/lib/vz" },
          { id: "local-lvm", type: "lvmthin", content: ["images"] },
          { id: "fast", type: "lvmthin", content: ["images"] },
        ],
        templates: [{ vmid: 9000, node: "pve1", storage: "local-lvm" }],
        vms: { count: 3, firstVmid: 100, runningFraction: 0 },
        roles: { VMOps: VMOPS },
        pools: [{ id: "prod", vms: [101] }],
        acl: [
          { path: "/", roles: ["PVEAuditor"], propagate: true },
          { path: "/vms", roles: ["VMOps"], propagate: false },
          { path: "/vms/100", roles: ["VMOps"], propagate: false },
          { path: "/vms/9000", roles: ["VMOps"], propagate: false },
          { path: "/vms/200", roles: ["VMOps"], propagate: false },
          { path: "/vms/102", roles: ["NoAccess"], propagate: false },
          { path: "/pool/prod", roles: ["PVEVMUser", "PVEPoolUser"], propagate: true },
          { path: "/storage", roles: ["PVEDatastoreUser"], propagate: true },
          { path: "/storage/local-lvm", roles: ["PVEAuditor"], propagate: true },
          { path: "/sdn/zones/localnetwork/vmbr0/7", roles: ["PVESDNUser"], propagate: true },
        ],
      },
    });
  });
  afterAll(async () => c?.close());

  const perms = async (path: string) => (await c.call("GET", "/access/permissions", { path })).body.data;

  // AccessControl.pm:1778-1880 (`roles`): on an ancestor only propagating entries apply, and they
  // replace what was inherited only when there is one ("overwrite previous settings", :1837).
  it("evaluates roles along the path as PVE does: non-propagated entries stay on their path, deeper entries replace", async () => {
    expect((await perms("/vms"))["/vms"]["VM.Allocate"]).toBe(0);
    // /vms's entry does not propagate: /vms/103 keeps what / propagates (PVEAuditor).
    expect(Object.keys((await perms("/vms/103"))["/vms/103"]).sort()).toEqual(["Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit", "VM.Audit"]);
    // /storage/local-lvm's PVEAuditor replaces /storage's PVEDatastoreUser.
    expect((await perms("/storage/fast"))["/storage/fast"]["Datastore.AllocateSpace"]).toBe(1);
    expect((await perms("/storage/local-lvm"))["/storage/local-lvm"]["Datastore.AllocateSpace"]).toBeUndefined();
  });

  // RPCEnvironment.pm:39-81: a pool member gets the pool's roles, unpropagated; AccessControl.pm:1878: NoAccess wins.
  it("gives a pool's VM the pool's roles without propagation, and NoAccess leaves nothing", async () => {
    expect((await perms("/vms/101"))["/vms/101"]["VM.Config.CDROM"]).toBe(0);
    expect(await perms("/vms/102")).toEqual({});
  });

  // RPCEnvironment.pm:241-289 get_effective_permissions: default paths, ACL paths, pool members; empty ones left out.
  it("answers the effective tree without a path", async () => {
    const tree = (await c.call("GET", "/access/permissions")).body.data;
    expect(Object.keys(tree)).toEqual(expect.arrayContaining(["/", "/vms", "/vms/100", "/vms/101", "/storage", "/storage/local-lvm", "/sdn/zones/localnetwork/vmbr0/7", "/pool/prod"]));
    expect(tree["/vms/102"]).toBeUndefined();
  });

  // Qemu.pm:949-996 ($check_vm_modify_config_perm), called before the worker (2104-2106).
  it("checks each config option's privilege before the worker: memory needs VM.Config.Memory", async () => {
    const ok = await c.call("POST", "/nodes/pve1/qemu/100/config", { cores: 2 });
    expect(ok.status).toBe(200);
    const r = await c.call("POST", "/nodes/pve1/qemu/100/config", { memory: 2048 });
    expect(r.status).toBe(403);
    expect(r.reason).toBe("Permission check failed (/vms/100, VM.Config.Memory)");
  });

  // Qemu.pm:2174-2189 ($check_drive_perms) inside the worker, for the new drive (2314).
  it("refuses a CD-ROM on ide2 without VM.Config.CDROM inside the task", async () => {
    const r = await c.call("POST", "/nodes/pve1/qemu/100/config", { ide2: "none,media=cdrom" });
    expect(r.status).toBe(200);
    const task = await c.waitTask(r.body.data);
    expect(task.exitstatus).toBe("Permission check failed (/vms/100, VM.Config.CDROM)");
    expect((await c.call("GET", "/nodes/pve1/qemu/100/config")).body.data.ide2).toBeUndefined();
  });

  // GuestHelpers.pm:393-417 (check_vnet_access): a tagged NIC is checked on /sdn/zones/localnetwork/<bridge>/<tag>.
  it("checks SDN.Use on the bridge's VLAN path for a tagged NIC, on the bridge for an untagged one", async () => {
    const tagged = await c.call("POST", "/nodes/pve1/qemu/100/config", { net0: "virtio,bridge=vmbr0,tag=7" });
    expect(tagged.status).toBe(200);
    expect((await c.waitTask(tagged.body.data)).exitstatus).toBe("OK");
    const other = await c.call("POST", "/nodes/pve1/qemu/100/config", { net0: "virtio,bridge=vmbr0,tag=5" });
    expect(other.reason).toBe("Permission check failed (/sdn/zones/localnetwork/vmbr0/5, SDN.Use)");
    const untagged = await c.call("POST", "/nodes/pve1/qemu/100/config", { net0: "virtio,bridge=vmbr0" });
    expect(untagged.reason).toBe("Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)");
  });

  // Qemu.pm:5781-5783: resize checks Datastore.AllocateSpace on the disk's storage inside the worker.
  it("fails a resize inside the task without Datastore.AllocateSpace on the disk's storage", async () => {
    const r = await c.call("PUT", "/nodes/pve1/qemu/100/resize", { disk: "scsi0", size: "10G" });
    expect(r.status).toBe(200);
    expect((await c.waitTask(r.body.data)).exitstatus).toBe("Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)");
  });

  // Qemu.pm:273-314 ($check_storage_access_clone: `$sid = $storage if $storage`), before the fork;
  // Qemu.pm:4329 check_pool_exist → raise_perm_exc.
  it("checks Datastore.AllocateSpace on the clone's target storage, and the pool's existence", async () => {
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 200, full: 1, storage: "local-lvm" });
    expect(r.reason).toBe("Permission check failed (/storage/local-lvm, Datastore.AllocateSpace)");
    const pool = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 200, full: 1, storage: "fast", pool: "nope" });
    expect(pool.status).toBe(403);
    expect(pool.reason).toBe("Permission check failed (pool 'nope' does not exist)");
  });

  // pve-storage src/PVE/API2/Storage/Content.pm:492: the schema says user => 'all', the handler wants Datastore.Allocate.
  it("refuses deleting a volume without Datastore.Allocate on its storage", async () => {
    const r = await c.call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent("local:iso/x.iso")}`);
    expect(r.status).toBe(403);
    expect(r.reason).toBe("Permission check failed (/storage/local, Datastore.Allocate)");
  });

  // pve-manager PVE/API2/Pool.pm index: only pools with Pool.Audit or Pool.Allocate; Network.pm: the node's bridges.
  it("lists the pools the token may audit and the node's bridges", async () => {
    expect((await c.call("GET", "/pools")).body.data).toEqual([{ poolid: "prod" }]);
    const bridges = (await c.call("GET", "/nodes/pve1/network", { type: "any_bridge" })).body.data as { iface: string; type: string }[];
    expect(bridges.map((b) => b.iface)).toEqual(["vmbr0", "vmbr1"]);
  });
});
