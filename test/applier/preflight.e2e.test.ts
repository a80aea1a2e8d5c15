/**
 * The plan-time preflight against the simulator's ACL model: a least-privilege token granted on
 * /vms, /storage and /sdn passes; a token missing one privilege, a missing storage, bridge or
 * template is refused in one grouped error with the fix, before anything is created. And the
 * simulator refuses the same thing on its own (so a preflight that stopped checking it would let
 * the apply fail half-way: the second half of each case shows that failure).
 */
import { afterEach, describe, expect, it } from "vitest";
import { defaultTopology } from "../../src/sim/topology.js";
import { apply } from "../../src/applier/index.js";
import { assertPreflight, preflightError } from "../../src/engine/index.js";
import type { SimulatorOptions } from "../../src/sim/index.js";
import { writeFileSync } from "node:fs";
import { clusterView, makePlan, planAndApply, planNow, shardText, startEnv, type Env } from "./harness.js";

type Topo = NonNullable<SimulatorOptions["topology"]>;

/** PVEVMAdmin on /vms, PVEDatastoreAdmin on /storage, PVESDNUser on /sdn (all propagated), PVEAuditor on /nodes. */
const LEAST: { path: string; roles: string[]; propagate: boolean }[] = [
  { path: "/vms", roles: ["PVEVMAdmin"], propagate: true },
  { path: "/storage", roles: ["PVEDatastoreAdmin"], propagate: true },
  { path: "/sdn", roles: ["PVESDNUser"], propagate: true },
  { path: "/nodes", roles: ["PVEAuditor"], propagate: true },
];

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function start(topology: Partial<Topo>): Promise<Env> {
  env = await startEnv({ latency: "instant", topology: { ...defaultTopology(2), ...topology } as Topo });
  return env;
}

async function nothingCreated(e: Env): Promise<void> {
  const view = await clusterView(e);
  expect(view.vms).toEqual([]);
  expect(view.isos).toEqual([]);
}

describe("plan-time preflight", () => {
  it("passes a token granted on /vms, /storage and /sdn only (with propagate), and the apply then succeeds", async () => {
    const e = await start({ acl: LEAST });
    e.writeShard({ webSize: 2 });
    const plan = await planNow(e);
    expect(plan.preflight?.problems).toEqual([]);
    expect(preflightError(plan)).toBeUndefined();
    const { result } = await planAndApply(e);
    expect(result.status).toBe("applied");
    expect((await clusterView(e)).vms).toHaveLength(2);
  });

  it("refuses a token without VM.Config.CDROM: one grouped error naming /vms/<id> and the pveum fix; nothing created", async () => {
    const roles = { VMNoCdrom: ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Config.Disk", "VM.PowerMgmt"] };
    const e = await start({ roles, acl: [{ path: "/vms", roles: ["VMNoCdrom"], propagate: true }, ...LEAST.slice(1)] });
    e.writeShard({ webSize: 2 });
    const plan = await planNow(e);
    const err = preflightError(plan);
    expect(err?.code).toBe("E_PREFLIGHT");
    expect(err?.message).toMatch(/lacks VM\.Config\.CDROM on \/vms\/\d+, \/vms\/\d+ \(needed by configure of web/);
    expect(err?.message).toContain(`pveum acl modify /vms --tokens '${e.sim.tokenId}' --roles PVEVMAdmin`);
    expect(() => assertPreflight(plan)).toThrow(/VM\.Config\.CDROM/);
    await nothingCreated(e);

    // Without the preflight the simulator refuses the ISO on ide2 inside the config task, as
    // qemu-server does: src/PVE/API2/Qemu.pm:2184-2185 (stable-bookworm 8.4.10), check_drive_perms
    // → `check_vm_perm(..., ['VM.Config.CDROM'])`. The clone went through: a half-made VM.
    const desired = await e.desired();
    const store = await e.store();
    const ops = e.provider();
    const lock = await store.lock("apply");
    try {
      const p = await makePlan(ops, desired, undefined);
      const result = await apply(p, { ops, store, desired, lock, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
      expect(result.status).toBe("partial");
      expect(result.failed.map((f) => f.error.message).join("\n")).toMatch(/Permission check failed \(\/vms\/\d+, VM\.Config\.CDROM\)/);
    } finally {
      await lock.release();
      await ops.close();
    }
  });

  it("refuses a token without SDN.Use on the bridge: the path is /sdn/zones/localnetwork/<bridge>", async () => {
    const e = await start({ acl: LEAST.filter((a) => a.path !== "/sdn") });
    e.writeShard({ webSize: 1 });
    const err = preflightError(await planNow(e));
    expect(err?.message).toMatch(/lacks SDN\.Use on \/sdn\/zones\/localnetwork\/vmbr0 \(needed by clone of web/);
    expect(err?.message).toContain("pveum acl modify /sdn/zones/localnetwork/vmbr0");
    expect(err?.message).toContain("--roles PVESDNUser");
    await nothingCreated(e);
  });

  it("a grant on / without propagate does not reach /vms/<id>; Datastore.AllocateSpace is checked on /storage/<id>", async () => {
    const e = await start({
      acl: [
        { path: "/", roles: ["PVEVMAdmin", "PVEDatastoreUser"], propagate: false },
        { path: "/storage/local", roles: ["PVEDatastoreAdmin"], propagate: true },
        { path: "/sdn", roles: ["PVESDNUser"], propagate: true },
      ],
    });
    e.writeShard({ webSize: 1 });
    const err = preflightError(await planNow(e));
    expect(err?.message).toMatch(/lacks VM\.Allocate, VM\.Audit, .*VM\.Config\.CDROM.* on \/vms\/\d+/);
    expect(err?.message).toContain("lacks VM.Audit, VM.Clone on /vms/9000");
    expect(err?.message).toContain("lacks Datastore.AllocateSpace on /storage/local-lvm");
    expect(err?.message).toContain("pveum acl modify /storage/local-lvm --tokens");
    await nothingCreated(e);
  });

  it("a storage limited to other nodes (listed enabled 0 there, as PVE does) is refused with both ways to make it available", async () => {
    const topo = defaultTopology(2);
    const e = await start({ storages: topo.storages.map((s) => (s.id === "local-lvm" ? { ...s, nodes: ["pve1"] } : s)) });
    e.writeShard({ webSize: 4 });
    const err = preflightError(await planNow(e));
    expect(err?.message).toContain('storage "local-lvm" is not enabled and active on node pve2');
    expect(err?.message).toContain("make it available on pve2 (pvesm set local-lvm --disable 0; its --nodes, if set, must include pve2)");
    await nothingCreated(e);
  });

  it("lists a missing storage, a storage without iso content, a missing bridge and a missing template together", async () => {
    const topo = defaultTopology(2);
    const e = await start({
      // local loses iso content; pve2 has no template; vmbr1 is the only bridge.
      storages: topo.storages.map((s) => (s.id === "local" ? { ...s, content: ["vztmpl", "backup"] } : s)),
      templates: topo.templates.filter((t) => t.node === "pve1").map((t) => ({ ...t, net0: "virtio,bridge=vmbr1,firewall=1" })),
      bridges: ["vmbr1"],
    });
    e.writeShard({ webSize: 3 });
    const err = preflightError(await planNow(e));
    expect(err?.message).toContain('storage "local" on node pve');
    expect(err?.message).toContain("does not allow iso content");
    expect(err?.message).toContain("pvesm set local --content vztmpl,backup,iso");
    expect(err?.message).toMatch(/bridge "vmbr0" does not exist on node pve\d/);
    expect(err?.message).toMatch(/template "debian-13-template" not found on node pve2/);
    expect(err?.message.split("\n").filter((l) => l.startsWith("  - ")).length).toBeGreaterThanOrEqual(3);
    await nothingCreated(e);
  });

  it("refuses a group whose Pool does not exist, and passes (and clones into it) once it does", async () => {
    const e = await start({ pools: [{ id: "fleet", vms: [], storage: [] }] });
    const write = (pool: string) => {
      const doc = JSON.parse(shardText({ webSize: 2 })) as { defaults: { args: Record<string, unknown> } };
      doc.defaults.args.Pool = pool;
      writeFileSync(e.shardPath, JSON.stringify(doc));
    };
    write("nosuch");
    const err = preflightError(await planNow(e));
    expect(err?.code).toBe("E_PREFLIGHT");
    expect(err?.message).toContain('pool "nosuch" does not exist');
    expect(err?.message).not.toContain('pool "fleet"');
    await nothingCreated(e);

    write("fleet");
    expect((await planNow(e)).preflight?.problems).toEqual([]);
    const { result } = await planAndApply(e);
    expect(result.status).toBe("applied");
    const [pool] = (await e.api("GET", "/pools?poolid=fleet")) as { members: { vmid?: number }[] }[];
    expect(pool!.members.filter((m) => m.vmid !== undefined)).toHaveLength(2);
  });

  it("passes a TemplateVMID on shared storage cloned to every node, and refuses one on local storage for another node", async () => {
    const e = await start({ ...defaultTopology(2, { sharedStorage: true }) });
    const write = (vmid: number, storage: string) => {
      const doc = JSON.parse(shardText({ webSize: 2 })) as { defaults: { args: Record<string, unknown> } };
      delete doc.defaults.args.TemplateName;
      Object.assign(doc.defaults.args, { TemplateVMID: vmid, StoragePool: storage });
      writeFileSync(e.shardPath, JSON.stringify(doc));
    };
    write(9100, "shared");
    const ok = await planNow(e);
    expect(new Set(ok.actions.filter((a) => a.type === "clone").map((a) => a.node))).toEqual(new Set(["pve1", "pve2"]));
    expect(ok.preflight?.problems).toEqual([]);
    // Template 9000 lives on pve1 with its disk on local-lvm: not clonable to pve2 (Qemu.pm:289-297, 4376).
    write(9000, "local-lvm");
    const err = preflightError(await planNow(e));
    expect(err?.message).toContain("template 9000 lives on pve1 and its drive local-lvm:base-9000-disk-0 is on local storage, so it cannot be cloned to pve2");
    await nothingCreated(e);
  });
});
