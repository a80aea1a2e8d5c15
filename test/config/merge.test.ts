import { describe, expect, it } from "vitest";
import { deepMerge, mergeLayers } from "../../src/config/merge.js";
import { BASE, clone, loadObject } from "./helpers.js";

describe("args merge", () => {
  it("follows the example Nstance documents for its args merge", () => {
    const defaults = { a: 1, b: { hello: "world", always: "here" }, c: { goodbye: "world" } };
    const template = { a: "2", b: { hello: "there", location: "world" }, c: 3 };
    expect(deepMerge(defaults, template)).toEqual({ a: "2", b: { hello: "there", always: "here", location: "world" }, c: 3 });
  });

  it("replaces arrays wholesale and lets a scalar replace an object", () => {
    expect(deepMerge({ list: [1, 2, 3], o: { x: 1 } }, { list: [9], o: "flat" })).toEqual({ list: [9], o: "flat" });
    expect(deepMerge({ o: "flat" }, { o: { x: 1 } })).toEqual({ o: { x: 1 } });
  });

  it("shares no objects with its inputs (no aliasing between layers)", () => {
    const defaults = { nested: { deep: { v: 1 } }, list: [{ a: 1 }] };
    const merged = mergeLayers(defaults, { nested: { deep: { w: 2 } } });
    (merged.nested as { deep: { v: number } }).deep.v = 99;
    (merged.list as { a: number }[])[0]!.a = 99;
    expect(defaults).toEqual({ nested: { deep: { v: 1 } }, list: [{ a: 1 }] });
    const again = mergeLayers(defaults, {});
    expect(again).toEqual({ nested: { deep: { v: 1 } }, list: [{ a: 1 }] });
  });

  it("merges defaults → template → group for a real group (docs example B plus a group override)", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.args = { StoragePool: "local-lvm", TemplateName: "debian-13-template", Bridge: "vmbr0", Cores: 2, Memory: 2048 };
    f.templates.database = { kind: "dbs", arch: "amd64", args: { TemplateName: "debian-12-template", Cores: 4, Memory: 8192, DiskSize: "100G" } };
    f.groups.default.db = { template: "database", size: 1, args: { Cores: 8 } };
    const { shard } = await loadObject(f);
    const db = shard.groups.find((g) => g.ref.group === "db")!;
    expect(db.spec.args).toEqual({ Bridge: "vmbr0", Cores: 8, DiskSize: "100G", Memory: 8192, StoragePool: "local-lvm", TemplateName: "debian-12-template" });
    expect(db.spec).toMatchObject({ template: { name: "debian-12-template" }, cores: 8, memoryMiB: 8192, diskBytes: 100 * 1024 ** 3, storage: "local-lvm", bridge: "vmbr0" });
  });

  it("merges vars flat, takes instance_type and subnet_pool from the group over the template, kind and arch from the template", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.shard.subnet_pools = { "subnet-1": ["vmbr1"], "subnet-3": ["vmbr3.30"] };
    f.defaults.vars = { GLOBAL: "d", OVERRIDE: "defaults" };
    f.templates.web = { kind: "web", arch: "arm64", instance_type: "cpu:1,memory:1024", subnet_pool: "subnet-1", vars: { OVERRIDE: "template", T: "t" } };
    f.defaults.args = { TemplateName: "x", StoragePool: "s" };
    f.groups.default.web = { template: "web", vars: { GROUP_VAR: "g", OVERRIDE: "group" }, instance_type: "cpu:2,memory:2048", subnet_pool: "subnet-3" };
    const { shard } = await loadObject(f);
    const spec = shard.groups[0]!.spec;
    expect(spec.vars).toEqual({ GLOBAL: "d", GROUP_VAR: "g", OVERRIDE: "group", T: "t" });
    expect(spec).toMatchObject({ instanceType: "cpu:2,memory:2048", subnetPool: "subnet-3", cores: 2, memoryMiB: 2048, bridge: "vmbr3", vlan: 30, kind: "web", arch: "arm64" });
    expect(shard.groups[0]!.size).toBe(0); // size absent means 0
  });

  it("lets explicit args win over instance_type and the subnet pool", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.shard.subnet_pools = { p: ["vmbr7.70"] };
    f.templates.web = { kind: "web", arch: "amd64", instance_type: "cpu:8,memory:16384,disk:50", subnet_pool: "p" };
    f.defaults.args = { TemplateName: "x", StoragePool: "s", Cores: 3, Bridge: "vmbr0" };
    const spec = (await loadObject(f)).shard.groups[0]!.spec;
    expect(spec.cores).toBe(3); // args
    expect(spec.memoryMiB).toBe(16384); // instance_type fills what args leave unset
    expect(spec.diskBytes).toBe(50 * 1024 ** 3);
    expect(spec.bridge).toBe("vmbr0"); // args set networking: the pool is not consulted
    expect(spec.vlan).toBeUndefined();
  });

  it("takes userdata from the template, else from defaults", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.userdata = { content: "#!/bin/sh\necho defaults" };
    f.templates.own = { kind: "own", arch: "amd64", userdata: { content: "#!/bin/sh\necho own" } };
    f.groups.default.own = { template: "own", size: 1 };
    const { shard } = await loadObject(f);
    expect(shard.groups.find((g) => g.ref.group === "web")!.spec.userdata!.content).toContain("defaults");
    expect(shard.groups.find((g) => g.ref.group === "own")!.spec.userdata!.content).toContain("own");
  });

  it("changes replaceHash for replacement fields and updateHash for in-place fields only", async () => {
    const base = (await loadObject(BASE)).shard.groups[0]!;
    const more = clone(BASE) as Record<string, any>;
    more.defaults.args.Cores = 4;
    const cores = (await loadObject(more)).shard.groups[0]!;
    expect(cores.replaceHash).toBe(base.replaceHash);
    expect(cores.updateHash).not.toBe(base.updateHash);
    const storage = clone(BASE) as Record<string, any>;
    storage.defaults.args.StoragePool = "ceph";
    const moved = (await loadObject(storage)).shard.groups[0]!;
    expect(moved.replaceHash).not.toBe(base.replaceHash);
    expect(moved.updateHash).toBe(base.updateHash);
    expect(base.replaceHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
