import { describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { GoTemplateError, parseTemplate, renderGoTemplate } from "../../src/config/go-template.js";
import { decodeUserdata } from "../../src/config/userdata.js";
import { jsonNestingOffset, MAX_GROUP_SIZE, MAX_NESTING, MAX_SHARD_INSTANCES, MAX_USERDATA_BYTES } from "../../src/config/limits.js";
import { scanHcl } from "../../src/config/hcl-scan.js";
import { BASE, clone, loadObject, problems, problemsOf } from "./helpers.js";

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
}
group "default" "web" {
  template = "web"
  size     = 2
}
`;

function templateError(src: string): GoTemplateError {
  try {
    renderGoTemplate(src, {});
  } catch (err) {
    if (err instanceof GoTemplateError) return err;
    throw err;
  }
  throw new Error("expected a template error");
}

describe("nesting limits", () => {
  it("finds the bracket that opens level 257, skipping strings and comments", () => {
    expect(jsonNestingOffset("[".repeat(MAX_NESTING) + "]".repeat(MAX_NESTING))).toBe(-1);
    expect(jsonNestingOffset(`{"a": "[[[[", // [[[[\n /* {{{{ */ "b": ${"[".repeat(300)}`)).toBe(`{"a": "[[[[", // [[[[\n /* {{{{ */ "b": `.length + MAX_NESTING - 1);
    expect(jsonNestingOffset('"\\"[[[[' + "[".repeat(3), 2)).toBe(-1);
  });

  it("refuses a JSONC file nested 2,000 deep inside args with one positioned line", async () => {
    const text = JSON.stringify({ ...BASE, defaults: { args: { ...BASE.defaults.args, Deep: "@" } } }).replace('"@"', "[".repeat(2000) + "]".repeat(2000));
    const lines = await problems(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^t\.jsonc:1:\d+: nesting deeper than 256$/);
  });

  it("refuses 100,000 unclosed brackets before jsonc-parser sees them", async () => {
    expect(await problems("[".repeat(100_000))).toEqual(["t.jsonc:1:257: nesting deeper than 256"]);
  });

  it("refuses HCL nested 5,000 deep at the bracket, not at 1:1", async () => {
    const text = HCL.replace("Memory       = 512", `Memory       = 512\n    Deep = ${"[".repeat(5000)}${"]".repeat(5000)}`);
    // defaults { args = { … } } already opens two levels.
    expect(await problems(text, "t.hcl")).toEqual([`t.hcl:18:${"    Deep = ".length + MAX_NESTING - 1}: nesting deeper than 256`]);
  });

  it("counts brackets inside HCL template sequences but not inside plain strings, heredocs or comments", () => {
    expect(scanHcl(`a = "${"[".repeat(400)}"\n# ${"{".repeat(400)}\nb = <<EOT\n${"(".repeat(400)}\nEOT\n`).nestingOffset).toBe(-1);
    expect(scanHcl(`a = "\${${"[".repeat(400)}}"`).nestingOffset).toBeGreaterThan(0);
    expect(scanHcl(`a = "$\${${"[".repeat(400)}"`).nestingOffset).toBe(-1);
  });

  it("refuses 8,000 nested {{ if }} in userdata with the offset of the 257th", () => {
    const src = "{{ if true }}".repeat(8000) + "x" + "{{ end }}".repeat(8000);
    const err = templateError(src);
    expect(err.message).toBe("nesting deeper than 256");
    expect(err.offset).toBe("{{ if true }}".length * MAX_NESTING + 3);
  });

  it("refuses 50,000 {{ else if }} (each one nests in the AST)", () => {
    const src = "{{ if false }}a" + "{{ else if false }}b".repeat(50_000) + "{{ end }}";
    expect(() => parseTemplate(src)).toThrow("nesting deeper than 256");
    expect(renderGoTemplate("{{ if false }}a" + "{{ else if false }}b".repeat(200) + "{{ else }}c{{ end }}", {})).toBe("c");
  });

  it("refuses 8,000 nested parentheses", () => {
    const err = templateError("{{ " + "(".repeat(8000) + "1" + ")".repeat(8000) + " }}");
    expect(err.message).toBe("nesting deeper than 256");
    expect(renderGoTemplate("{{ " + "(".repeat(200) + "1" + ")".repeat(200) + " }}", {})).toBe("1");
  });

  it("stops rendering at the userdata cap (a printf repeating a large var)", () => {
    const src = `{{ printf "${"%s".repeat(2000)}" ${".Vars.X ".repeat(2000)}}}`;
    expect(() => renderGoTemplate(src, { Vars: { X: "x".repeat(1000) } })).toThrow("rendered text is longer than 1 MiB");
    expect(() => renderGoTemplate("{{ .Vars.X }}".repeat(2000), { Vars: { X: "x".repeat(1000) } })).toThrow("rendered text is longer than 1 MiB");
  });

  it("reports the nesting of a shard file's userdata at its place", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { content: "{{ if true }}".repeat(300) + "{{ end }}".repeat(300) };
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^t\.jsonc:\d+:\d+: templates\.web\.userdata\.content: template: nesting deeper than 256$/);
  });
});

describe("HCL object keys and block positions", () => {
  it("refuses a key given twice inside an args object, at the repeat", async () => {
    const text = HCL.replace("Memory       = 512", 'Memory       = 512\n    Cores        = 2');
    expect(await problems(text, "t.hcl")).toEqual(['t.hcl:18:5: duplicate key "Cores"']);
  });

  it("treats quoted and bare keys as the same key, and keeps nested objects apart", () => {
    expect(scanHcl('a = {\n  "x" = 1\n  x = 2\n}').duplicates.map((d) => d.key)).toEqual(["x"]);
    expect(scanHcl("a = { x = { y = 1 }, y = { x = 2 } }").duplicates).toEqual([]);
    expect(scanHcl("a = [{ x = 1 }, { x = 2 }]").duplicates).toEqual([]);
  });

  it("places an unknown labelled block at its line", async () => {
    const lines = await problems(HCL + '\nfoo "bar" {}\n', "t.hcl");
    expect(lines).toEqual(['t.hcl:29:1: foo: unknown key "foo"']);
  });
});

describe("userdata size", () => {
  it("stops inflating a base64+gzip bomb at 1 MiB", () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)).toString("base64");
    expect(() => decodeUserdata(bomb, "base64+gzip")).toThrow("userdata is larger than 1 MiB after gzip decompression (pvefleet's limit for cloud-init userdata)");
    expect(decodeUserdata(gzipSync(Buffer.alloc(MAX_USERDATA_BYTES, 0x61)).toString("base64"), "base64+gzip")).toHaveLength(MAX_USERDATA_BYTES);
  });

  it("caps plain and base64 userdata too", () => {
    expect(() => decodeUserdata("a".repeat(MAX_USERDATA_BYTES + 1), "plain")).toThrow("userdata is larger than 1 MiB (pvefleet's limit");
    expect(() => decodeUserdata(Buffer.alloc(MAX_USERDATA_BYTES + 3).toString("base64"), "base64")).toThrow("after base64 decoding");
  });

  it("reports a bomb in a shard file as one line at the content", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { encoding: "base64+gzip", content: gzipSync(Buffer.alloc(8 * 1024 * 1024)).toString("base64") };
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^t\.jsonc:\d+:\d+: templates\.web\.userdata\.content: userdata is larger than 1 MiB after gzip decompression/);
  });
});

describe("size bounds", () => {
  it("refuses a group size above 10,000", async () => {
    const f = clone(BASE);
    f.groups.default.web.size = 1_000_000_000;
    expect(await problemsOf(f)).toEqual([`t.jsonc:36:17: groups.default.web.size: must be at most ${MAX_GROUP_SIZE}, got number 1000000000`]);
  });

  it("refuses more than 20,000 instances in one shard", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.groups.default = { a: { template: "web", size: 10_000 }, b: { template: "web", size: 10_000 }, c: { template: "web", size: 1 } };
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^t\\.jsonc:\\d+:\\d+: groups: the groups ask for 20001 instances; one shard holds at most ${MAX_SHARD_INSTANCES}`));
    f.groups.default.c.size = 0;
    expect((await loadObject(f)).shard.groups.reduce((n, g) => n + g.size, 0)).toBe(MAX_SHARD_INSTANCES);
  });
});

describe("Pool", () => {
  it("must be a pve-poolid", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.args.Pool = "a,b;c";
    const lines = await problemsOf(f);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/defaults\.args\.Pool: args\.Pool must be a Proxmox pool ID: .*, got string "a,b;c"$/);
  });

  it("accepts PVE 8's nested pools up to three levels", async () => {
    for (const pool of ["web", "team.a_b-c", "team/web", "org/team/web"]) {
      const f = clone(BASE) as Record<string, any>;
      f.defaults.args.Pool = pool;
      expect((await loadObject(f)).shard.groups[0]!.spec.pool).toBe(pool);
    }
    const f = clone(BASE) as Record<string, any>;
    f.defaults.args.Pool = "a/b/c/d";
    expect(await problemsOf(f)).toHaveLength(1);
  });
});
