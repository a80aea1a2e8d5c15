/**
 * Templates as operators make them (issue 12, findings 3 and 4 of the PVE fidelity audit): the boot
 * disk is found from the template's `boot` order — a virtio0 or sata0 template works and resize
 * grows that disk — and PVE's own cloud-init drive is removed from the clone so the VM boots with
 * one `cidata` seed, ours.
 */
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTopology } from "../../../src/sim/topology.js";
import { bootDiskOf, cloudinitDrives } from "../../../src/providers/proxmox/codecs/drives.js";
import { ACTION_PARAMS } from "../../../src/providers/types.js";
import { planAndApply, planNow, shardText, startEnv, type Env } from "../../applier/harness.js";

const GiB = 1024 ** 3;

function writeShard(env: Env, template: string, size = 1): void {
  const doc = JSON.parse(shardText({ webSize: size })) as { defaults: { args: Record<string, unknown> } };
  doc.defaults.args.TemplateName = template;
  writeFileSync(env.shardPath, JSON.stringify(doc));
}

async function configOf(env: Env, name: string): Promise<Record<string, string>> {
  const vms = (await env.api("GET", "/cluster/resources?type=vm")) as { vmid: number; node: string; name?: string }[];
  for (const v of vms) {
    const cfg = (await env.api("GET", `/nodes/${v.node}/qemu/${v.vmid}/config`)) as Record<string, unknown>;
    if (cfg.name === name) return Object.fromEntries(Object.entries(cfg).map(([k, x]) => [k, String(x)]));
  }
  throw new Error(`no VM named ${name}`);
}

describe("boot disk and cloud-init drive of operator-made templates", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "instant", topology: defaultTopology(1, { operatorTemplates: true }) });
  });
  afterAll(async () => env?.close());

  for (const [template, disk] of [["debian-13-virtio", "virtio0"], ["debian-13-sata", "sata0"]] as const) {
    it(`creates from a template whose boot disk is ${disk}: the plan's resize names no disk, the VM's ${disk} is grown and boots first`, async () => {
      writeShard(env, template);
      const plan = await planNow(env);
      expect(plan.preflight?.problems).toEqual([]);
      const resize = plan.actions.find((a) => a.type === "resize");
      expect(resize?.params).toEqual({ bytes: 4 * GiB });
      const { plan: applied, result } = await planAndApply(env);
      expect(result.status).toBe("applied");
      const cfg = await configOf(env, applied.changes[0]!.instanceId);
      expect(cfg[disk]).toMatch(/size=4G/);
      expect(cfg.scsi0).toBeUndefined();
      expect(cfg.boot).toBe(`order=${disk};ide2`);
      expect(bootDiskOf(cfg)).toBe(disk);
      // A second plan sees the disk at its size: nothing to do.
      expect((await planNow(env)).changes).toEqual([]);
      writeShard(env, template, 0);
      expect((await planAndApply(env)).result.status).toBe("applied");
    });
  }

  it("removes the clone's own cloud-init drive (ide0) in the configure write: one cidata seed, ours on ide2, the volume freed", async () => {
    const tpl = (await env.api("GET", "/nodes/pve1/qemu/9202/config")) as Record<string, string>;
    expect(tpl.ide0).toBe("local-lvm:vm-9202-cloudinit,media=cdrom");
    writeShard(env, "debian-13-cloudinit");
    const plan = await planNow(env);
    expect(plan.preflight?.problems).toEqual([]);
    const { plan: applied, result } = await planAndApply(env);
    expect(result.status).toBe("applied");
    const id = applied.changes[0]!.instanceId;
    const cfg = await configOf(env, id);
    expect(cfg.ide0).toBeUndefined();
    expect(cloudinitDrives(cfg)).toEqual([]);
    // PVE stores the ISO's size on the drive (Qemu.pm:697-700).
    expect(cfg.ide2).toMatch(new RegExp(`^local:iso/${id}-cidata\\.iso,media=cdrom,size=\\d+[KM]?$`));
    expect(cfg.boot).toBe("order=scsi0;ide2");
    expect(Object.keys(cfg).filter((k) => /^unused\d+$/.test(k))).toEqual([]);
    const volumes = (await env.api("GET", "/nodes/pve1/storage/local-lvm/content")) as { volid: string }[];
    expect(volumes.map((v) => v.volid).filter((v) => /cloudinit/.test(v))).toEqual(["local-lvm:vm-9202-cloudinit"]);
  });

  it("asks VM.Config.Cloudinit at plan time for that template, and refuses a token without it", async () => {
    const e = await startEnv({
      latency: "instant",
      topology: {
        ...defaultTopology(1, { operatorTemplates: true }),
        roles: { NoCloudinit: ["VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Config.Disk", "VM.Config.CDROM", "VM.PowerMgmt"] },
        acl: [
          { path: "/vms", roles: ["NoCloudinit"], propagate: true },
          { path: "/storage", roles: ["PVEDatastoreAdmin"], propagate: true },
          { path: "/sdn", roles: ["PVESDNUser"], propagate: true },
        ],
      },
    });
    try {
      writeShard(e, "debian-13-cloudinit");
      const problems = (await planNow(e)).preflight?.problems ?? [];
      expect(problems.map((p) => p.message).join("\n")).toMatch(/lacks VM\.Config\.Cloudinit on \/vms\/\d+ \(needed by configure of web\w+ \(removes the template's cloud-init drive\)\)/);
      // The plain template needs no VM.Config.Cloudinit.
      writeShard(e, "debian-13-template");
      expect((await planNow(e)).preflight?.problems).toEqual([]);
    } finally {
      await e.close();
    }
  });

  it("keeps loading saved plans whose resize names scsi0, and refuses a disk PVE does not know", () => {
    expect(ACTION_PARAMS.resize.parse({ disk: "scsi0", bytes: 1 })).toEqual({ disk: "scsi0", bytes: 1 });
    expect(ACTION_PARAMS.resize.parse({ disk: "virtio15", bytes: 1 })).toEqual({ disk: "virtio15", bytes: 1 });
    expect(ACTION_PARAMS.resize.safeParse({ disk: "virtio16", bytes: 1 }).success).toBe(false);
    expect(ACTION_PARAMS.resize.safeParse({ disk: "efidisk0", bytes: 1 }).success).toBe(false);
  });
});

describe("bootDiskOf", () => {
  it("takes the first disk of the boot order, skipping CD-ROMs and cloud-init drives, then bootdisk, then the first disk", () => {
    expect(bootDiskOf({ boot: "order=ide2;virtio0;net0", ide2: "none,media=cdrom", virtio0: "local-lvm:vm-1-disk-0,size=2G" })).toBe("virtio0");
    expect(bootDiskOf({ boot: "order=ide0;sata0", ide0: "local-lvm:vm-1-cloudinit,media=cdrom", sata0: "local-lvm:vm-1-disk-0" })).toBe("sata0");
    expect(bootDiskOf({ boot: "cdn", bootdisk: "scsi1", scsi0: "local-lvm:vm-1-disk-0", scsi1: "local-lvm:vm-1-disk-1" })).toBe("scsi1");
    expect(bootDiskOf({ virtio1: "local-lvm:vm-1-disk-1", scsi2: "local-lvm:vm-1-disk-0" })).toBe("scsi2");
    expect(bootDiskOf({ ide2: "local:iso/x.iso,media=cdrom" })).toBeUndefined();
  });

  it("recognises PVE's cloud-init volumes as qemu-server's drive_is_cloudinit does", () => {
    expect(cloudinitDrives({ ide0: "local-lvm:vm-100-cloudinit,media=cdrom", ide2: "local:100/vm-100-cloudinit.qcow2,media=cdrom", scsi0: "local-lvm:vm-100-disk-0" })).toEqual(["ide0", "ide2"]);
    expect(cloudinitDrives({ ide2: "local:iso/web1-cidata.iso,media=cdrom" })).toEqual([]);
  });
});
