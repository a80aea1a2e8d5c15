import { describe, expect, it } from "vitest";
import { GoTemplateError, renderGoTemplate } from "../../src/config/go-template.js";
import { renderUserdata, templateDataFor, decodeUserdata, withShebang } from "../../src/config/userdata.js";
import { gzipSync } from "node:zlib";
import { loadObject, BASE, clone } from "./helpers.js";
import type { TemplateData } from "../../src/config/model.js";

const DATA: TemplateData = {
  Instance: { ID: "tst06dx9xy919t3v9kzd2xdsyzb3g", Kind: "tst", Arch: "amd64", Type: "cpu:2", Hostname: "tst06dx9xy919t3v9kzd2xdsyzb3g" },
  Vars: { Env: "prod", Empty: "", N: "3" },
  Cluster: { ID: "demo" },
  Server: { Shard: "dev" },
  Provider: { Kind: "proxmox", Region: "r", Zone: "z" },
};

function errorOf(src: string): GoTemplateError {
  try {
    renderGoTemplate(src, DATA);
  } catch (err) {
    if (err instanceof GoTemplateError) return err;
    throw err;
  }
  throw new Error("expected a template error");
}

describe("Go template subset", () => {
  it("renders fields, index, $ and literals", () => {
    expect(renderGoTemplate("{{ .Instance.ID }} {{ .Cluster.ID }}/{{ .Server.Shard }} {{ .Provider.Kind }}", DATA)).toBe("tst06dx9xy919t3v9kzd2xdsyzb3g demo/dev proxmox");
    expect(renderGoTemplate('{{ index .Vars "Env" }}-{{ $.Vars.Env }}-{{ "lit" }}-{{ 42 }}', DATA)).toBe("prod-prod-lit-42");
  });

  it("renders missing map keys as empty (missingkey=zero)", () => {
    expect(renderGoTemplate("[{{ .Vars.Nope }}][{{ index .Vars \"nope\" }}]", DATA)).toBe("[][]");
  });

  it("trims whitespace around {{- and -}}", () => {
    expect(renderGoTemplate("a  \n {{- .Vars.Env -}} \n  b", DATA)).toBe("aprodb");
    expect(renderGoTemplate("x {{-3}}", DATA)).toBe("x -3"); // "{{-" without a space is a negative number
  });

  it("evaluates if / else if / else / end with Go truthiness", () => {
    const t = '{{ if eq .Vars.Env "dev" }}D{{ else if eq .Vars.Env "prod" }}P{{ else }}O{{ end }}';
    expect(renderGoTemplate(t, DATA)).toBe("P");
    expect(renderGoTemplate("{{ if .Vars.Empty }}yes{{ else }}no{{ end }}", DATA)).toBe("no");
    expect(renderGoTemplate("{{ if and .Vars.Env (not .Vars.Empty) }}ok{{ end }}", DATA)).toBe("ok");
    expect(renderGoTemplate("{{ if or .Vars.Empty .Vars.Env }}{{ end }}", DATA)).toBe("");
  });

  it("supports pipelines, printf, len and comments", () => {
    expect(renderGoTemplate('{{ .Vars.Env | printf "%s!" }}', DATA)).toBe("prod!");
    expect(renderGoTemplate('{{ printf "%s-%d-%q" .Instance.Kind 7 .Vars.Env }}', DATA)).toBe('tst-7-"prod"');
    expect(renderGoTemplate("{{ len .Vars.Env }}{{/* a comment */}}", DATA)).toBe("4");
  });

  it("reports unsupported actions and unknown functions with the offset", () => {
    const range = errorOf("abc {{ range .Vars }}x{{ end }}");
    expect(range.message).toMatch(/\{\{range\}\} is not supported/);
    expect(range.offset).toBe(7);
    const fn = errorOf("{{ lowr .Vars.Env }}");
    expect(fn.message).toMatch(/function "lowr" not defined/);
    expect(fn.offset).toBe(3);
    expect(errorOf("{{ $x := 1 }}").message).toMatch(/variables/);
  });

  it("reports unclosed actions, missing end and stray end/else", () => {
    expect(errorOf("hello {{ .Vars.Env").message).toMatch(/unclosed action/);
    expect(errorOf("{{ if .Vars.Env }}x").message).toMatch(/no \{\{end\}\}/);
    expect(errorOf("x{{ end }}").message).toMatch(/unexpected \{\{end\}\}/);
    expect(errorOf("{{ else }}").message).toMatch(/outside/);
    expect(errorOf("{{ }}").message).toMatch(/empty action/);
    expect(errorOf('{{ "abc }}').message).toMatch(/unclosed action|unterminated/);
  });

  it("reports execution errors such as comparing a string with a number", () => {
    expect(errorOf("{{ if eq .Vars.N 3 }}{{ end }}").message).toMatch(/incompatible types/);
    expect(errorOf("{{ index .Vars.Env \"x\" }}").message).toMatch(/can't index/);
  });
});

describe("userdata", () => {
  it("decodes base64 and base64+gzip with Nstance's messages", () => {
    expect(decodeUserdata(Buffer.from("hi {{ .Instance.ID }}").toString("base64"), "base64")).toBe("hi {{ .Instance.ID }}");
    expect(decodeUserdata(gzipSync("zipped").toString("base64"), "base64+gzip")).toBe("zipped");
    expect(decodeUserdata(gzipSync("raw"), "gzip")).toBe("raw");
    expect(() => decodeUserdata("not base64!", "base64")).toThrow("failed to decode base64");
    expect(() => decodeUserdata(Buffer.from("plain").toString("base64"), "base64+gzip")).toThrow("failed to decompress gzip");
  });

  it("prepends #!/bin/bash unless the text starts with #! or #cloud-config", () => {
    expect(withShebang("echo hi")).toBe("#!/bin/bash\necho hi");
    expect(withShebang("  #!/bin/sh\necho")).toBe("  #!/bin/sh\necho");
    expect(withShebang("#cloud-config\n{}")).toBe("#cloud-config\n{}");
    expect(withShebang(withShebang("echo"))).toBe("#!/bin/bash\necho");
  });

  it("renders the final user-data of one instance from a loaded shard", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.vars = { Env: "prod" };
    f.templates.web.userdata = { encoding: "base64", content: Buffer.from("echo {{ .Instance.Hostname }} {{ .Vars.Env }} {{ .Instance.Type }}").toString("base64") };
    const { shard } = await loadObject(f);
    const group = shard.groups[0]!;
    const data = templateDataFor(shard, group, "web06dx9xy919t3v9kzd2xdsyzb3g");
    expect(data.Instance).toEqual({ ID: "web06dx9xy919t3v9kzd2xdsyzb3g", Kind: "web", Arch: "amd64", Type: "", Hostname: "web06dx9xy919t3v9kzd2xdsyzb3g" });
    expect(renderUserdata(group.spec, data)).toBe("#!/bin/bash\necho web06dx9xy919t3v9kzd2xdsyzb3g prod ");
  });

  it("renders url userdata only from the bytes the caller fetched", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.templates.web.userdata = { source: "url", encoding: "gzip", content: "https://example.test/ud.gz" };
    const { shard } = await loadObject(f);
    const group = shard.groups[0]!;
    const data = templateDataFor(shard, group, "web06dx9xy919t3v9kzd2xdsyzb3g");
    expect(() => renderUserdata(group.spec, data)).toThrow(/fetch it/);
    expect(renderUserdata(group.spec, data, gzipSync("#cloud-config\nid: {{ .Instance.ID }}"))).toBe("#cloud-config\nid: web06dx9xy919t3v9kzd2xdsyzb3g");
  });

  it("renders args strings once per group with the group's data", async () => {
    const f = clone(BASE) as Record<string, any>;
    f.defaults.vars = { Store: "ceph" };
    f.defaults.args.StoragePool = "{{ .Vars.Store }}-{{ .Server.Shard }}";
    f.defaults.args.Extra = { note: "{{ .Cluster.ID }}", n: 1 };
    const spec = (await loadObject(f)).shard.groups[0]!.spec;
    expect(spec.storage).toBe("ceph-dev");
    expect(spec.args.Extra).toEqual({ n: 1, note: "demo" });
  });
});
