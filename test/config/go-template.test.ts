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

describe("Go templates", () => {
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

  it("renders range, with, variables and define/template/block as Go does", () => {
    expect(renderGoTemplate("{{ range $k, $v := .Vars }}{{ $k }}={{ $v }};{{ end }}", DATA)).toBe("Empty=;Env=prod;N=3;");
    expect(renderGoTemplate("{{ with .Instance }}{{ .Kind }}/{{ $.Cluster.ID }}{{ end }}", DATA)).toBe("tst/demo");
    expect(renderGoTemplate('{{ $x := "a" }}{{ $x = print $x "b" }}{{ $x }}', DATA)).toBe("ab");
    expect(renderGoTemplate('{{ define "T" }}[{{ . }}]{{ end }}{{ template "T" .Vars.Env }}{{ block "B" 7 }}<{{ . }}>{{ end }}', DATA)).toBe("[prod]<7>");
  });

  it("formats printf verbs with flags, width and precision", () => {
    expect(renderGoTemplate('{{ printf "%05d" (len .Instance.ID) }}', DATA)).toBe("00029");
    expect(renderGoTemplate('{{ printf "%-8s|%8.3f|%x|%q|%t|%%|%d" "ab" 3.14159 255 "q" true "s" }}', DATA)).toBe('ab      |   3.142|ff|"q"|true|%|%!d(string=s)');
    expect(renderGoTemplate("{{ .Vars }}", DATA)).toBe("map[Empty: Env:prod N:3]");
  });

  it("reports unknown functions and undefined variables with the offset", () => {
    const fn = errorOf("{{ lowr .Vars.Env }}");
    expect(fn.message).toBe('function "lowr" not defined');
    expect(fn.offset).toBe(3);
    const v = errorOf("abc {{ $x }}");
    expect(v.message).toBe('undefined variable "$x"');
    expect(v.offset).toBe(7);
  });

  it("reports unclosed actions, missing end and stray end/else", () => {
    expect(errorOf("hello {{ .Vars.Env").message).toMatch(/unclosed action/);
    expect(errorOf("{{ if .Vars.Env }}x").message).toMatch(/unexpected EOF/);
    expect(errorOf("x{{ end }}").message).toMatch(/unexpected \{\{end\}\}/);
    expect(errorOf("{{ else }}").message).toMatch(/unexpected \{\{else\}\}/);
    expect(errorOf("{{ }}").message).toMatch(/missing value for command/);
    expect(errorOf('{{ "abc }}').message).toMatch(/unterminated quoted string/);
    expect(errorOf("{{ break }}").message).toMatch(/\{\{break\}\} outside \{\{range\}\}/);
  });

  it("reports execution errors such as comparing a string with a number", () => {
    expect(errorOf("{{ if eq .Vars.N 3 }}{{ end }}").message).toMatch(/incompatible types/);
    expect(errorOf('{{ index .Vars.Env "x" }}').message).toMatch(/cannot index slice\/array with type string/);
    expect(errorOf("{{ .Instance.Nope }}").message).toMatch(/can't evaluate field Nope in type instances.InstanceData/);
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
