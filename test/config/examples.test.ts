import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { listShardIds, loadShardFileDetailed } from "../../src/config/load.js";
import { renderUserdata, templateDataFor } from "../../src/config/userdata.js";
import type { DesiredShard } from "../../src/config/model.js";

const DIR = "examples";
const pairs = readdirSync(DIR).filter((f) => f.endsWith(".jsonc") && readdirSync(DIR).includes(f.replace(/\.jsonc$/, ".hcl")));

function withoutSource(s: DesiredShard): Omit<DesiredShard, "source"> {
  const { source: _source, ...rest } = s;
  return rest;
}

describe("examples", () => {
  it("has every example in both formats", () => {
    expect(pairs.sort()).toEqual(["multi-node.jsonc", "quickstart.jsonc", "tenants.jsonc"]);
  });

  it.each(pairs)("loads %s and its .hcl twin to the identical model", async (jsonc) => {
    const a = await loadShardFileDetailed(`${DIR}/${jsonc}`);
    const b = await loadShardFileDetailed(`${DIR}/${jsonc.replace(/\.jsonc$/, ".hcl")}`);
    expect(withoutSource(b.shard)).toEqual(withoutSource(a.shard));
    expect(b.templateCount).toBe(a.templateCount);
    expect(a.notices).toEqual([]);
    expect(b.notices).toEqual([]);
    expect(a.shard.source.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("keeps the quickstart as documented", async () => {
    const { shard } = await loadShardFileDetailed(`${DIR}/quickstart.jsonc`);
    expect(shard).toMatchObject({ clusterId: "demo", shardId: "dev", provider: { options: { cloudInitIsoStorage: "local" } } });
    expect(shard.groups).toHaveLength(1);
    expect(shard.groups[0]).toMatchObject({
      size: 2,
      spec: { template: { name: "debian-13-template" }, storage: "local-lvm", bridge: "vmbr0", cores: 1, memoryMiB: 512, diskBytes: 4 * 1024 ** 3 },
    });
    expect(shard.groups[0]!.spec.userdata?.content).toContain("{{ .Instance.ID }}");
  });

  it("reads Nstance's config-proxmox example unchanged", async () => {
    const text = readFileSync(`${DIR}/nstance-proxmox.jsonc`, "utf8");
    expect(text).toContain('"registration_addr": "0.0.0.0:8992"');
    const { shard, notices } = await loadShardFileDetailed(`${DIR}/nstance-proxmox.jsonc`);
    expect(notices).toEqual([]);
    expect(shard).toMatchObject({ clusterId: "example-cluster", shardId: "dev", provider: { region: "dev", zone: "deva", options: { insecureTls: true, cloudInitIsoStorage: "local" } } });
    expect(shard.groups[0]).toMatchObject({
      ref: { tenant: "default", group: "test" },
      size: 1,
      spec: { kind: "tst", arch: "amd64", cores: 2, memoryMiB: 2048, diskBytes: 20 * 1024 ** 3, storage: "local-lvm", bridge: "vmbr0", onboot: true, subnetPool: "default",
        userdata: { source: "inline", encoding: "plain", content: '#!/bin/bash\necho "Test instance started"' },
        vars: { ClusterFQDN: "dev.nstance.local", ClusterSlug: "dev", Environment: "development" } },
    });
  });

  it("maps VLAN subnet pools and instance types in the multi-node example", async () => {
    const { shard } = await loadShardFileDetailed(`${DIR}/multi-node.hcl`);
    const byName = Object.fromEntries(shard.groups.map((g) => [`${g.ref.tenant}.${g.ref.group}`, g]));
    expect(byName["prod.app"]!.spec).toMatchObject({ bridge: "vmbr0", vlan: 100, cores: 2, memoryMiB: 4096, diskBytes: 32 * 1024 ** 3, pool: "fleet" });
    expect(byName["prod.db"]!.spec).toMatchObject({ template: { name: "debian-12-template" }, vlan: 200, diskBytes: 120 * 1024 ** 3 });
    expect(byName["prod.bastion"]!.spec).toMatchObject({ bridge: "vmbr1", vlan: 30, cores: 1 });
    expect(byName["staging.app"]!.spec).toMatchObject({ cores: 1, memoryMiB: 2048 });
    expect(shard.provider.options).toMatchObject({ vmidRange: { min: 20000, max: 29999 }, shutdownTimeoutSec: 90, scaleDownOrder: "oldest", memoryHeadroom: 0.85 });
  });

  it("reads both shards of the multi-shard example, each with its own provider options", async () => {
    expect(await listShardIds(`${DIR}/multi-shard.jsonc`)).toEqual(["lab-a", "lab-b"]);
    const a = (await loadShardFileDetailed(`${DIR}/multi-shard.jsonc`, { shard: "lab-a" })).shard;
    const b = (await loadShardFileDetailed(`${DIR}/multi-shard.jsonc`, { shard: "lab-b" })).shard;
    expect(a).toMatchObject({ clusterId: "lab", shardId: "lab-a", provider: { zone: "rack-a", options: { cloudInitIsoStorage: "local", vmidRange: { min: 10000 } } } });
    expect(b).toMatchObject({ clusterId: "lab", shardId: "lab-b", provider: { zone: "rack-b", options: { cloudInitIsoStorage: "local", vmidRange: { min: 30000, max: 39999 } } } });
    expect(b.groups).toEqual(a.groups);
  });

  it("renders the tenants example's userdata per instance as Go's text/template would", async () => {
    const { shard } = await loadShardFileDetailed(`${DIR}/tenants.hcl`);
    const render = (name: string) => {
      const g = shard.groups.find((x) => `${x.ref.tenant}.${x.ref.group}` === name)!;
      return renderUserdata(g.spec, templateDataFor(shard, g, `${g.spec.kind}06dx9xy919t3v9kzd2xdsyzb3g`));
    };
    expect(render("acme.web")).toBe("#cloud-config\nhostname: web06dx9xy919t3v9kzd2xdsyzb3g\nruncmd:\n  - echo premium tenant acme > /etc/motd\n  - echo port=8080 level=info >> /etc/app.env\n");
    expect(render("acme.api")).toBe("#!/bin/bash\n# saas/eu-1 in eu/eu-1a\necho acme-api > /etc/role\nset -x\nexec /opt/api --tenant=acme\n");
    expect(render("initech.api")).toBe("#!/bin/bash\n# saas/eu-1 in eu/eu-1a\necho initech-api > /etc/role\nexec /opt/api --tenant=initech\n");
    expect(render("globex.batch")).toBe('#!/bin/sh\necho "batch worker bat06dx9xy919t3v9kzd2xdsyzb3g for globex"\n');
  });
});
