/**
 * Ownership on a shared cluster (ARCHITECTURE.md rule 2; F3, F4, F5 of the adversarial review):
 * operator VMs that are untagged, half-tagged, renamed or named like an instance, and a change sent
 * straight to the provider for a VM that is not ours. Nothing that is not ours may change: every
 * check reads the cluster back through the plain API.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ProxmoxProvider } from "../../src/providers/proxmox/index.js";
import { planAndApply, planNow, startEnv, type Env } from "./harness.js";
import { caught, isos, listVms, settle, type Listed } from "./cluster-api.js";

async function listing(env: Env): Promise<Listed[]> {
  return (await listVms(env)).filter((v) => !v.template);
}

async function config(env: Env, node: string, vmid: number): Promise<Record<string, string | number>> {
  return (await env.api("GET", `/nodes/${node}/qemu/${vmid}/config`)) as Record<string, string | number>;
}

/** An operator's hand-made VM: `qm create` through the API. */
async function handMade(env: Env, node: string, vmid: number, fields: Record<string, string | number>): Promise<void> {
  const upid = (await env.api("POST", `/nodes/${node}/qemu`, { vmid, memory: 1024, cores: 1, ...fields })) as string;
  await settle(env, upid);
}

async function ours(env: Env): Promise<Listed[]> {
  return (await listing(env)).filter((v) => (v.tags ?? "").split(/[;, ]/).includes("e2e"));
}

describe("ownership on a cluster shared with operators", () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ latency: "fast", seed: 21 });
  });
  afterAll(async () => env?.close());
  beforeEach(async () => {
    // Each test starts from an empty shard: destroy, then remove by hand what a test left that
    // pvefleet rightly refuses to touch (hand-made VMs, a renamed instance).
    env.writeShard({ webSize: 0, dbSize: 0 });
    await planAndApply(env, { mode: "destroy" });
    for (const v of await listing(env)) {
      if (v.vmid >= 500 && v.vmid !== 9000 && v.vmid !== 9100) {
        if (v.status === "running") await settle(env, (await env.api("POST", `/nodes/${v.node}/qemu/${v.vmid}/status/stop`, {})) as string);
        await settle(env, (await env.api("DELETE", `/nodes/${v.node}/qemu/${v.vmid}`)) as string);
      }
    }
    // Records a test left held (untagged, renamed) are dropped with the state itself.
    rmSync(env.stateDir, { recursive: true, force: true });
    expect(await ours(env)).toEqual([]);
  });

  it("--gc deletes neither an untagged nor a half-tagged VM named like an instance (F3)", async () => {
    env.writeShard({ webSize: 2, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const [i1, i2] = plan.changes.map((c) => c.instanceId);
    await handMade(env, "pve3", 502, { name: i1! });
    await handMade(env, "pve3", 503, { name: i2!, tags: "nstance;apptest" });

    const gc = await planNow(env, { gc: true });
    expect(gc.actions.filter((a) => a.vmid === 502 || a.vmid === 503)).toEqual([]);
    const { result } = await planAndApply(env, { gc: true });
    expect(result.failed).toEqual([]);
    const vmids = (await listing(env)).map((v) => v.vmid);
    expect(vmids).toEqual(expect.arrayContaining([502, 503]));
    // The real instances and their ISOs are untouched.
    expect((await ours(env)).map((v) => v.name).sort()).toEqual([i1, i2].sort());
    const all = [...(await isos(env, "pve1")), ...(await isos(env, "pve2")), ...(await isos(env, "pve3"))];
    expect(all.filter((v) => v.includes(i1!) || v.includes(i2!))).toHaveLength(2);
  });

  it("--gc deletes a fully tagged twin of an instance but keeps the instance's ISO", async () => {
    env.writeShard({ webSize: 1, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes[0]!.instanceId;
    const real = (await ours(env))[0]!;
    await handMade(env, real.node, 504, { name: id, tags: "nstance;apptest;e2e" });
    const { result } = await planAndApply(env, { gc: true });
    expect(result.failed).toEqual([]);
    expect((await listing(env)).some((v) => v.vmid === 504)).toBe(false);
    expect(await isos(env, real.node)).toContain(`local:iso/${id}-cidata.iso`);
    expect((await config(env, real.node, real.vmid)).ide2).toContain(`${id}-cidata.iso`);
  });

  it("never reconfigures, starts or destroys an untagged VM named like a deleted instance (F4)", async () => {
    env.writeShard({ webSize: 2, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes[0]!.instanceId;
    const real = (await ours(env)).find((v) => v.name === id)!;
    await settle(env, (await env.api("POST", `/nodes/${real.node}/qemu/${real.vmid}/status/stop`, {})) as string);
    await settle(env, (await env.api("DELETE", `/nodes/${real.node}/qemu/${real.vmid}`)) as string);
    const other = real.node === "pve2" ? "pve3" : "pve2";
    await handMade(env, other, 600, { name: id, memory: 4096, cores: 4, description: "operator database - do not touch" });
    const before = await config(env, other, 600);

    const p = await planNow(env);
    expect(p.actions.filter((a) => a.vmid === 600)).toEqual([]);
    expect(p.warnings.join("\n")).toContain(`${id}: VM 600 on ${other} carries this instance's name but lacks the ownership tags`);
    await planAndApply(env);
    const destroyed = await planAndApply(env, { mode: "destroy" });
    expect(destroyed.plan.actions.filter((a) => a.vmid === 600)).toEqual([]);
    const after = await config(env, other, 600);
    expect(after).toEqual(before);
    expect((await listing(env)).find((v) => v.vmid === 600)?.status).toBe("stopped");
  });

  it("a renamed instance is reported, kept with its ISO, and not replaced (F5)", async () => {
    env.writeShard({ webSize: 2, dbSize: 0 });
    const { plan } = await planAndApply(env);
    const id = plan.changes[0]!.instanceId;
    const vm = (await ours(env)).find((v) => v.name === id)!;
    await settle(env, (await env.api("POST", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: "renamed-vm" })) as string);

    const p = await planNow(env);
    expect(p.actions).toEqual([]);
    expect(p.warnings.join("\n")).toContain(`${id}: VM ${vm.vmid} on ${vm.node} carries this shard's tags but is named "renamed-vm"`);
    // One of this shard's instances changed outside pvefleet: drift (exit 2), not a stranger's VM.
    expect(p.drift.filter((f) => f.instanceId === id)).toEqual([
      expect.objectContaining({ kind: "attribute", attribute: "name", expected: id, actual: "renamed-vm", vmid: vm.vmid }),
    ]);
    const { result } = await planAndApply(env);
    expect(result.done).toEqual([]);
    expect(await isos(env, vm.node)).toContain(`local:iso/${id}-cidata.iso`);
    expect(await ours(env)).toHaveLength(2);
    const doc = (await (await env.store()).read())!.doc;
    expect(doc.instances[id]).toMatchObject({ vmid: vm.vmid, phase: "ready" });
  });

  describe("the provider's guard, for changes sent straight to it (a forged plan)", () => {
    let provider: ProxmoxProvider;
    beforeEach(async () => {
      provider = env.provider();
      await handMade(env, "pve1", 500, { name: "ops-db", tags: "prod" });
    });

    it("refuses stop, start, configure, resize and delete of an operator VM, and sends nothing", async () => {
      const before = await config(env, "pve1", 500);
      const writes = () => Object.entries(env.sim.stats().requests).filter(([k]) => !k.startsWith("GET")).reduce((n, [, c]) => n + (c as number), 0);
      const sent = writes();
      for (const instanceId of ["ops-db", "webxxxxxxxxxxxxxxxxxxxxxxxxxx"]) {
        const target = { node: "pve1", vmid: 500, instanceId };
        const errors = [
          await caught(provider.stop({ ...target, timeoutSec: 1 })),
          await caught(provider.start(target)),
          await caught(provider.configure({ ...target, cores: 8 })),
          await caught(provider.resize({ ...target, disk: "scsi0", bytes: 64 * 1024 ** 3 })),
          await caught(provider.deleteVm(target)),
        ];
        expect(errors.map((e) => e.code)).toEqual(["NOT_OURS", "NOT_OURS", "NOT_OURS", "NOT_OURS", "NOT_OURS"]);
        expect(errors[0]!.message).toMatch(/^refusing to stop VM 500 on pve1: it is not instance \S+ of shard apptest\/e2e/);
      }
      expect(writes()).toBe(sent);
      expect(await config(env, "pve1", 500)).toEqual(before);
    });

    it("refuses an instance-named VM missing one ownership tag, and one with our tags but another name", async () => {
      env.writeShard({ webSize: 1, dbSize: 0 });
      const { plan } = await planAndApply(env);
      const id = plan.changes[0]!.instanceId;
      const vm = (await ours(env))[0]!;
      await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { tags: "nstance;apptest" });
      const e = await caught(provider.stop({ node: vm.node, vmid: vm.vmid, instanceId: id, timeoutSec: 1 }));
      expect(e.code).toBe("NOT_OURS");
      expect(e.message).toContain("lack e2e");
      await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { tags: "nstance;apptest;e2e", name: "someone-else" });
      expect((await caught(provider.deleteVm({ node: vm.node, vmid: vm.vmid, instanceId: id }))).code).toBe("NOT_OURS");
      expect((await listing(env)).find((v) => v.vmid === vm.vmid)?.status).toBe("running");
      await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: id });
    });

    it("keeps an ISO a VM still references, whatever the VM is named", async () => {
      env.writeShard({ webSize: 1, dbSize: 0 });
      const { plan } = await planAndApply(env);
      const id = plan.changes[0]!.instanceId;
      const vm = (await ours(env))[0]!;
      const volume = `local:iso/${id}-cidata.iso`;
      await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: "renamed-again" });
      await provider.deleteVolume({ node: vm.node, volume, instanceId: id, vmid: vm.vmid });
      expect(await isos(env, vm.node)).toContain(volume);
      await env.api("PUT", `/nodes/${vm.node}/qemu/${vm.vmid}/config`, { name: id });
    });
  });
});
