import { describe, expect, it } from "vitest";
import { load, problems, problemsOf, BASE, clone, loadObject } from "./helpers.js";
import { loadShardBytes } from "../../src/config/load.js";

/** `line:col` of the nth occurrence of `needle` in `text` (+ `shift` characters). */
function pos(text: string, needle: string, shift = 0, nth = 0): string {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not in text`);
  at += shift;
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const GOOD = JSON.stringify(BASE, null, 2);

describe("validation problems and their positions (JSONC)", () => {
  it("reports a syntax error at its place", async () => {
    const text = GOOD.replace('"demo"\n', '"demo" "x"\n').replace('"id": "demo"', '"id": "demo" "extra": 1');
    const lines = await problems(text);
    expect(lines[0]).toMatch(/^t\.jsonc:\d+:\d+: syntax error: ',' expected$/);
    expect(lines[0]).toContain(`t.jsonc:${pos(text, '"extra"')}:`);
  });

  it("reports a duplicate key", async () => {
    const text = GOOD.replace('"id": "demo"', '"id": "demo", "id": "again"');
    expect(await problems(text)).toEqual([`t.jsonc:${pos(text, '"id": "again"')}: duplicate key "id"`]);
  });

  it("names an unknown key at the key, with a did-you-mean", async () => {
    const text = GOOD.replace('"templates"', '"tempaltes"');
    const lines = await problems(text);
    expect(lines).toContain(`t.jsonc:${pos(text, '"tempaltes"')}: tempaltes: unknown key "tempaltes" (did you mean "templates"?)`);
    expect(lines.some((l) => l.endsWith("templates: is required (record)"))).toBe(true);
  });

  it("reports a wrong type at the value", async () => {
    const text = GOOD.replace('"size": 2', '"size": "2"');
    expect(await problems(text)).toEqual([`t.jsonc:${pos(text, '"2"')}: groups.default.web.size: must be a number, got string "2"`]);
  });

  it("suggests the nearest template for an unknown template reference", async () => {
    const text = GOOD.replace('"template": "web"', '"template": "webb"');
    expect(await problems(text)).toEqual([`t.jsonc:${pos(text, '"webb"')}: groups.default.web.template: template "webb" is not defined (did you mean "web"?)`]);
  });

  it("suggests the nearest subnet pool for an unknown pool", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.subnet_pool = "defualt";
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/templates\.web\.subnet_pool: subnet pool "defualt" is not defined in shard\.subnet_pools \(did you mean "default"\?\)$/);
  });

  it("applies the identifier rules with Nstance's messages", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.cluster.id = "Demo";
    f.groups = { Bad_Tenant: { "-x": { template: "web" } } };
    f.shard.subnet_pools = { "pool--1": ["vmbr0"] };
    const lines = await problemsOf(f);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/cluster\.id: cluster ID "Demo" must contain only lowercase alphanumeric characters and hyphens, with no leading\/trailing\/consecutive hyphens$/),
      expect.stringMatching(/groups\.Bad_Tenant: tenant ID "Bad_Tenant" must contain only lowercase/),
      expect.stringMatching(/groups\.Bad_Tenant\.-x: group ID "-x" must contain only lowercase/),
      expect.stringMatching(/shard\.subnet_pools\.pool--1: subnet pool "pool--1" must contain/),
    ]));
    const long = clone(BASE) as Record<string, any>;
    long.shard.id = "abcdefghijklmnopqrstuvwxyzabcdefg";
    expect((await problemsOf(long))[0]).toMatch(/shard ID "abcdefghijklmnopqrstuvwxyzabcdefg" exceeds maximum length of 32 characters$/);
  });

  it("checks kind and arch of templates", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web = { kind: "webs", arch: "x86" };
    const lines = await problemsOf(f);
    expect(lines).toEqual([
      expect.stringMatching(/templates\.web\.kind: kind "webs" must be exactly 3 lowercase letters/),
      expect.stringMatching(/templates\.web\.arch: arch "x86" must be "amd64" or "arm64"$/),
    ]);
  });

  it("requires StoragePool and exactly one of TemplateName / TemplateVMID, at the group", async () => {
    const text = GOOD.replace('"StoragePool": "local-lvm",', '"StoragPool": "local-lvm",');
    expect(await problems(text)).toEqual([
      `t.jsonc:${pos(text, '{\n        "template"')}: groups.default.web: StoragePool is required in args for proxmox provider (found "StoragPool": did you mean "StoragePool"?)`,
    ]);
    const both = clone(BASE) as Record<string, any>;
    both.defaults.args.TemplateVMID = 9000;
    expect((await problemsOf(both))[0]).toMatch(/groups\.default\.web: TemplateVMID and TemplateName are mutually exclusive$/);
    const neither = clone(BASE) as Record<string, any>;
    neither.defaults.args.TemplateName = "";
    expect((await problemsOf(neither))[0]).toMatch(/groups\.default\.web: either TemplateVMID or TemplateName is required in args for proxmox provider$/);
  });

  it("rejects wrongly typed args where they were written", async () => {
    const text = GOOD.replace('"Cores": 1', '"Cores": "2"');
    expect(await problems(text)).toEqual([`t.jsonc:${pos(text, '"2"')}: defaults.args.Cores: args.Cores must be a number, got string "2"`]);
    const f = clone(BASE) as Record<string, any>;
    f.groups.default.web.args = { VLANTag: 5000, Bridge: "vmbr0", DiskSize: "20GB", StartOnBoot: "yes" };
    const lines = await problemsOf(f);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/groups\.default\.web\.args\.VLANTag: args\.VLANTag must be at most 4094, got number 5000$/),
      expect.stringMatching(/groups\.default\.web\.args\.StartOnBoot: args\.StartOnBoot must be a boolean, got string "yes"$/),
      expect.stringMatching(/groups\.default\.web\.args\.DiskSize: args\.DiskSize: size "20GB" must be a whole number followed by K, M, G or T/),
    ]));
  });

  it("warns about unknown args with the nearest known arg", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.args.Memroy = 1;
    const { notices } = await loadObject(f);
    expect(notices).toEqual([expect.stringMatching(/^t\.jsonc:\d+:\d+: notice: defaults\.args\.Memroy: unknown Proxmox arg "Memroy" is not used \(did you mean "Memory"\?\)$/)]);
  });

  it("requires Cores and Memory from args or instance_type", async () => {
    const f = clone(BASE) as Record<string, any>;
    delete f.defaults.args.Cores;
    f.templates.web.instance_type = "cpu:x";
    const lines = await problemsOf(f);
    expect(lines[0]).toMatch(/templates\.web\.instance_type: instance_type "cpu:x": "cpu:x" is not key:number/);
    f.templates.web.instance_type = "memory:1024";
    expect(await problemsOf(f)).toEqual([expect.stringMatching(/groups\.default\.web: Cores is not set: set args\.Cores or an instance_type/)]);
  });

  it("applies Nstance's userdata rules and messages", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ source: "s3", content: "x" }, /userdata\.source: invalid userdata source "s3": must be 'inline' or 'url'$/],
      [{ encoding: "zip", content: "x" }, /userdata\.encoding: invalid userdata encoding "zip": must be 'plain', 'base64', 'gzip', or 'base64\+gzip'$/],
      [{ encoding: "gzip", content: "x" }, /userdata\.encoding: userdata encoding 'gzip' is only valid with source 'url' \(cannot embed binary in JSON\)$/],
      [{ content: "" }, /userdata\.content: userdata content is required$/],
      [{ encoding: "base64", content: "@@@" }, /userdata\.content: failed to decode base64/],
      [{ source: "url", content: "ftp://x" }, /userdata source 'url' needs an http\(s\) URL/],
    ];
    for (const [userdata, re] of cases) {
      const f = clone(BASE) as Record<string, any>;
      f.templates.web.userdata = userdata;
      const lines = await problemsOf(f);
      expect(lines.some((l) => re.test(l)), `${JSON.stringify(userdata)} → ${lines.join(" | ")}`).toBe(true);
    }
  });

  it("points a userdata template error at the character inside the string", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { content: "#!/bin/sh\necho {{ .Instance.Foo }}" };
    const text = JSON.stringify(f, null, 2);
    const lines = await problems(text);
    expect(lines).toEqual([
      `t.jsonc:${pos(text, ".Instance.Foo")}: templates.web.userdata.content: template: can't evaluate field Foo in .Instance (fields: ID, Kind, Arch, Type, Hostname)`,
    ]);
    f.templates.web.userdata = { content: "ok\n{{ range .Vars }}{{ lowr . }}{{ end }}" };
    const text2 = JSON.stringify(f, null, 2);
    expect(await problems(text2)).toEqual([`t.jsonc:${pos(text2, "lowr")}: templates.web.userdata.content: template: function "lowr" not defined`]);
  });

  it("reports a template error in base64 userdata with the decoded line", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { encoding: "base64", content: Buffer.from("a\nb {{ nope }}").toString("base64") };
    expect((await problemsOf(f))[0]).toMatch(/function "nope" not defined .*\(decoded line 2, column 6\)$/);
  });

  it("refuses per-instance fields in args, which render once per group", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.args.Pool = "p-{{ .Instance.ID }}";
    expect((await problemsOf(f))[0]).toMatch(/defaults\.args\.Pool: template: \.Instance\.ID is per instance, but args are rendered once per group/);
  });

  it("notices Nstance-only template data, server-only keys and keys that cannot work on Proxmox", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { content: "token={{ .Nonce }}" };
    f.groups.default.web.load_balancers = ["lb"];
    f.shard.leader_network = { ip: "10.0.0.5" };
    f.shard.bind = { health_addr: "0.0.0.0:8990" };
    f.cluster.secrets = { provider: "memory" };
    const { notices } = await loadObject(f);
    expect(notices).toHaveLength(3);
    expect(notices.join("\n")).toMatch(/\.Nonce is filled by an Nstance server/);
    expect(notices.join("\n")).toMatch(/groups\.default\.web\.load_balancers: load balancers cannot work on Proxmox/);
    expect(notices.join("\n")).toMatch(/shard\.leader_network: leader_network \(a floating leader IP\) cannot work on Proxmox/);
  });

  it("checks provider options", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.shard.infra.options = { insecure_tsl: true, scheduler: "random", shutdown_timeout: "60", vmid_range: { min: 5000, max: 4000 } };
    const lines = await problemsOf(f);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/shard\.infra\.options\.insecure_tsl: unknown key "insecure_tsl" \(did you mean "insecure_tls"\?\)$/),
      expect.stringMatching(/shard\.infra\.options\.scheduler: must be one of "nstance", "pve-static", got string "random"$/),
    ]));
    const g = clone(BASE) as Record<string, any>;
    g.shard.infra.options = { shutdown_timeout: "60", vmid_range: { min: 5000, max: 4000 } };
    expect(await problemsOf(g)).toEqual([
      expect.stringMatching(/shard\.infra\.options\.shutdown_timeout: duration "60" must look like "30s"/),
      expect.stringMatching(/shard\.infra\.options\.vmid_range: min 5000 is above max 4000$/),
    ]);
  });

  it("fills option defaults", async () => {
    const { shard } = await loadObject(BASE);
    expect(shard.provider.options).toEqual({
      insecureTls: false, cloudInitIsoStorage: "local", vmidRange: { min: 10000, max: 999999999 }, scheduler: "nstance", placementSpread: "group",
      cloneConcurrencyPerStorage: 4, memoryHeadroom: 0.9, cpuOvercommit: 4, fullClone: true, shutdownTimeoutSec: 60, scaleDownOrder: "newest", maxSurge: 1,
    });
  });

  it("checks subnet pools", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.shard.subnet_pools = { default: ["vmbr0.5000"], other: [], third: ["vmbr0.5000"] };
    const lines = await problemsOf(f);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/shard\.subnet_pools\.default\[0\]: subnet ID "vmbr0\.5000" must be a bridge/),
      expect.stringMatching(/shard\.subnet_pools\.other: subnet pool ID "other" has no associated subnet IDs$/),
      expect.stringMatching(/shard\.subnet_pools\.third\[0\]: subnet ID "vmbr0\.5000" is already in subnet pool "default"$/),
    ]));
  });

  it("refuses providers other than proxmox and a missing shard", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.shard.infra.provider = "aws";
    expect(await problemsOf(f)).toEqual([expect.stringMatching(/shard\.infra\.provider: pvefleet drives Proxmox only/)]);
    const g = clone(BASE) as Record<string, any>;
    delete g.shard;
    expect(await problemsOf(g)).toEqual([expect.stringMatching(/^t\.jsonc:1:1: shard: shard is required/)]);
  });

  it("reports every problem of a file at once, sorted by position", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.cluster.id = "";
    f.templates.web.kind = "w";
    f.groups.default.web.template = "wbe";
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(3);
    const lineNos = lines.map((l) => Number(l.split(":")[1]));
    expect([...lineNos].sort((a, b) => a - b)).toEqual(lineNos);
  });
});

describe("multi-shard files", () => {
  const multi = () => {
    const f = clone(BASE) as Record<string, any>;
    delete f.shard.id;
    delete f.shard.infra;
    f.shard.infra = { options: { insecure_tls: true } };
    f.shards = [
      { id: "dc1-cluster-a", provider: { kind: "proxmox", region: "dc1", zone: "cluster-a" } },
      { id: "dc1-cluster-b", provider: { kind: "proxmox", region: "dc1", zone: "cluster-b", options: { max_surge: 3 } } },
    ];
    return f;
  };

  it("selects a shard with --shard and merges its options over the shared ones", async () => {
    const { shard } = await loadObject(multi(), "dc1-cluster-b");
    expect(shard.shardId).toBe("dc1-cluster-b");
    expect(shard.provider).toMatchObject({ region: "dc1", zone: "cluster-b" });
    expect(shard.provider.options).toMatchObject({ insecureTls: true, maxSurge: 3 });
  });

  it("asks for --shard when the file holds several and suggests the nearest for a typo", async () => {
    expect(await problemsOf(multi())).toEqual([expect.stringMatching(/shards: the file defines 2 shards \(dc1-cluster-a, dc1-cluster-b\); choose one with --shard$/)]);
    expect(await problemsOf(multi(), "dc1-cluster-c")).toEqual([expect.stringMatching(/no shard "dc1-cluster-c" in this file .*did you mean/)]);
  });

  it("needs no flag with one shard and lists the shard IDs", async () => {
    const f = multi();
    f.shards.pop();
    expect((await loadObject(f)).shard.shardId).toBe("dc1-cluster-a");
    const { listShardIds } = await import("../../src/config/load.js");
    const { writeFile, mkdtemp } = await import("node:fs/promises");
    const dir = await mkdtemp("/tmp/pvefleet-config-");
    await writeFile(`${dir}/s.jsonc`, JSON.stringify(multi()));
    expect(await listShardIds(`${dir}/s.jsonc`)).toEqual(["dc1-cluster-a", "dc1-cluster-b"]);
    expect(await listShardIds(undefined, { cwd: dir }).catch((e: Error) => e.message)).toMatch(/no shard file/);
  });

  it("reads s3:// locations through the injected reader", async () => {
    const { loadShardFile } = await import("../../src/config/load.js");
    const seen: string[] = [];
    const shard = await loadShardFile("s3://bucket/shard/dev/config.jsonc", {
      readRemote: async (url) => {
        seen.push(url);
        return Buffer.from(JSON.stringify(BASE));
      },
    });
    expect(seen).toEqual(["s3://bucket/shard/dev/config.jsonc"]);
    expect(shard.source.location).toBe("s3://bucket/shard/dev/config.jsonc");
    await expect(loadShardFile("s3://bucket/k.jsonc")).rejects.toThrow(/not available here/);
  });
});

describe("HCL positions", () => {
  const HCL = `cluster {
  id = "demo"
}
shard {
  id = "dev"
  infra {
    provider = "proxmox"
    region   = "dev"
    zone     = "deva"
  }
}
defaults {
  args = {
    TemplateName = "t"
    StoragePool  = "s"
    Cores        = 1
    Memory       = 512
  }
}
template "web" {
  kind = "web"
  arch = "amd64"
  userdata {
    content = <<-EOT
      #!/bin/sh
      echo {{ .Instance.Foo }}
    EOT
  }
}
group "default" "web" {
  template = "web"
  size     = 2
}
`;

  it("gives syntax errors the parser's line and column", async () => {
    const lines = await problems(HCL.replace('id = "demo"', "id = "), "t.hcl");
    expect(lines[0]).toMatch(/^t\.hcl:2:8: syntax error: Invalid expression; Expected the start of an expression/);
  });

  it("places semantic errors by searching for the block and attribute", async () => {
    const lines = await problems(HCL.replace("size     = 2", 'size     = "2"').replace("{{ .Instance.Foo }}", "{{ .Instance.ID }}"), "t.hcl");
    expect(lines).toEqual(['t.hcl:32:3: groups.default.web.size: must be a number, got string "2"']);
  });

  it("points template errors into heredocs", async () => {
    expect(await problems(HCL, "t.hcl")).toEqual([
      "t.hcl:26:15: templates.web.userdata.content: template: can't evaluate field Foo in .Instance (fields: ID, Kind, Arch, Type, Hostname)",
    ]);
  });

  it("rejects HCL expressions and unescapes $${", async () => {
    const bad = HCL.replace('region   = "dev"', "region   = var.region").replace("{{ .Instance.Foo }}", "{{ .Instance.ID }}");
    expect((await problems(bad, "t.hcl"))[0]).toMatch(/^t\.hcl:8:5: shard\.infra\.region: HCL expressions are not supported \(found "\$\{var\.region\}"\); write literal values, and \$\$\{ for a literal \$\{$/);
    const escaped = HCL.replace("echo {{ .Instance.Foo }}", () => "echo $${HOME}");
    const { shard } = await load(escaped, "t.hcl");
    expect(shard.groups[0]!.spec.userdata!.content).toBe("#!/bin/sh\necho ${HOME}\n");
  });

  it("accepts blocks or attribute maps alike, and the multi-shard list", async () => {
    const alt = `cluster = { id = "demo" }
shard {
  infra = { options = { max_surge = 2 } }
}
shards = [
  { id = "a", provider = { kind = "proxmox", region = "r", zone = "z1" } },
  { id = "b", provider = { kind = "proxmox", region = "r", zone = "z2" } },
]
defaults {
  args {
    TemplateName = "t"
    StoragePool  = "s"
    Cores        = 1
    Memory       = 512
  }
}
templates = { web = { kind = "web", arch = "amd64" } }
group "default" "web" {
  template = "web"
  size     = 1
}
`;
    const { shard } = await load(alt, "alt.hcl", "b");
    expect(shard).toMatchObject({ clusterId: "demo", shardId: "b", provider: { zone: "z2", options: { maxSurge: 2 } } });
    expect(shard.groups[0]!.spec).toMatchObject({ storage: "s", cores: 1 });
    const { parseShardSource } = await import("../../src/config/load.js");
    const { shardIdsOf } = await import("../../src/config/resolve.js");
    const parsed = await parseShardSource("alt.hcl", alt);
    expect(shardIdsOf(parsed.value, parsed.map)).toEqual(["a", "b"]);
    expect(await problems(alt.replace('kind = "web"', 'kind = "webs"'), "alt.hcl", "b")).toEqual([
      'alt.hcl:17:23: templates.web.kind: kind "webs" must be exactly 3 lowercase letters (it prefixes instance IDs)',
    ]);
  });

  it("refuses a block defined twice", async () => {
    const lines = await problems(HCL + 'cluster {\n  id = "x"\n}\n', "t.hcl");
    expect(lines[0]).toMatch(/cluster: block may appear only once \(found 2\)$/);
  });
});

describe("sources", () => {
  it("refuses unknown extensions, missing files and non-UTF-8 bytes with one line", async () => {
    const { loadShardFile } = await import("../../src/config/load.js");
    await expect(loadShardFile("x.yaml")).rejects.toThrow("x.yaml: a shard file must end in .jsonc, .json or .hcl");
    await expect(loadShardFile("/nonexistent/s.jsonc")).rejects.toThrow("/nonexistent/s.jsonc: no such file");
    await expect(loadShardBytes("b.jsonc", Uint8Array.from([0xff, 0xfe, 0x00]))).rejects.toThrow(/not UTF-8/);
  });
});
