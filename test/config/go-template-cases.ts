/**
 * Cases for the differential test of the Go-template engine against Go: a hand-written corpus
 * (real-world-shaped cloud-init templates and every feature of text/template) and a seeded
 * random generator over the grammar and the template data.
 */
import type { TemplateData } from "../../src/config/model.js";

export interface Case {
  name?: string;
  src: string;
  data: unknown;
}

export const DATA: TemplateData & { Image?: Record<string, string>; Nonce?: string } = {
  Instance: { ID: "web06dx9xy919t3v9kzd2xdsyzb3g", Kind: "web", Arch: "amd64", Type: "cpu:2,memory:4096", Hostname: "web06dx9xy919t3v9kzd2xdsyzb3g" },
  Vars: { Env: "prod", Empty: "", N: "3", Domain: "example.com", Quote: `it's "q" <b>&`, Unicode: "héllo wörld ✓", Multi: "a\nb", Spaces: "  x  " },
  Cluster: { ID: "demo" },
  Server: { Shard: "dev" },
  Provider: { Kind: "proxmox", Region: "eu", Zone: "eu-a" },
  Image: { "debian-13": "ami-123", ubuntu: "ami-456" },
  Nonce: "eyJhbGciOi.jwt",
};

/** Nstance's own data: no Hostname (its InstanceData has no such field), no Image. */
const NSTANCE_DATA = { ...DATA, Instance: { ID: "db06dx9xy919t3v9kzd2xdsyzb3g", Kind: "db", Arch: "arm64", Type: "" }, Image: undefined };

const CLOUD_CONFIG = `#cloud-config
hostname: {{ .Instance.Hostname }}
fqdn: {{ .Instance.Hostname }}.{{ .Vars.Domain }}
{{- if .Vars.SSHKey }}
ssh_authorized_keys:
  - {{ .Vars.SSHKey }}
{{- end }}
write_files:
  - path: /etc/nstance/env
    content: |
{{- range $k, $v := .Vars }}
      {{ $k }}={{ printf "%q" $v }}
{{- end }}
runcmd:
  - [ sh, -c, 'echo {{ .Cluster.ID }}/{{ .Server.Shard }} > /etc/cluster' ]
  - echo "{{ js .Vars.Quote }}"
{{ with .Image }}{{ range $name, $id := . }}  # image {{ $name }}: {{ $id }}
{{ end }}{{ else }}  # no images
{{ end -}}
`;

const SHELL = `#!/bin/bash
set -euo pipefail
{{/* pvefleet renders this per instance */ -}}
{{ $id := .Instance.ID -}}
{{ $short := slice $id 0 8 -}}
echo "instance {{ $id }} ({{ $short }}), {{ len $id }} chars, kind {{ .Instance.Kind | printf "%-6s" }}|"
{{ if and .Vars.Env (ne .Vars.Env "dev") -}}
export ENV={{ .Vars.Env | urlquery }}
{{- else if eq .Vars.Env "dev" "test" -}}
export ENV=dev
{{- else -}}
export ENV=unknown
{{- end }}
{{ range $i, $c := .Vars }}{{ if eq $i "Multi" }}{{ continue }}{{ end }}{{ if eq $i "Spaces" }}{{ break }}{{ end }}{{ $i }};{{ end }}
printf '%s\\n' {{ printf "%05d|%-8s|%8.3f|%x|%X|%o|%b|%c|%U|%e|%g|%t|%%" 42 "ab" 3.14159 255 "hi" 8 5 65 9731 123456.789 0.000012 true }}
{{ define "line" }}[{{ . }}]{{ end -}}
{{ template "line" .Provider.Region }}{{ block "zone" .Provider }}<{{ .Zone }}>{{ end }}
`;

export const CORPUS: Case[] = [
  { src: CLOUD_CONFIG, data: DATA },
  { src: CLOUD_CONFIG, data: NSTANCE_DATA },
  { src: SHELL, data: DATA },
  { src: SHELL, data: NSTANCE_DATA },
  { src: `{{ printf "%05d" (len .Instance.ID) }}`, data: DATA },
  { src: `{{ .Instance.Hostname }}`, data: NSTANCE_DATA },
  { src: `{{ .Vars.Missing }}|{{ index .Vars "Missing" }}|{{ .Image.x }}|{{ .Nonce }}`, data: DATA },
  { src: `{{ . }}`, data: DATA },
  { src: `{{ printf "%v|%+v|%#v|%T" .Instance .Instance .Instance .Instance }}`, data: DATA },
  { src: `{{ printf "%v %#v %d %x %q %s" .Vars .Vars .Vars .Vars .Vars .Image }}`, data: NSTANCE_DATA },
  { src: `{{ printf "%s %d" }}{{ printf "%!" }}{{ printf "%[2]d %[1]s" "a" 2 }}{{ printf "%[3]d" 1 }}{{ printf "%*d|%-*d|%.*f" 5 1 5 2 2 3.14159 }}`, data: DATA },
  { src: `{{ printf "%d %s %t %x" "s" 1 3 true }}|{{ printf "%z" 1 }}|{{ printf "%!d" 1 }}|{{ printf "%" }}|{{ printf "%d" nil }}|{{ printf "%v %s" nil nil }}`, data: DATA },
  { src: `{{ print 1 2 "a" 3 "b" "c" 4.5 true nil }}|{{ println 1 "a" nil }}|{{ print }}|{{ println }}`, data: DATA },
  { src: `{{ printf "%6.2f|%-8.3e|%+d|% d|%08.3f|%+.1e|%#x|%#o|%#v|%x|%X" 3.14159 1234.5678 5 7 -3.5 0.000123 255 8 1.0 3.5 -1.5 }}`, data: DATA },
  { src: `{{ printf "%.0f %.1f %.2f %.0f %.0f" 0.5 0.25 0.125 1.5 2.5 }}`, data: DATA },
  { src: `{{ 1e21 }} {{ 123456789.0 }} {{ 1e-7 }} {{ 100000.0 }} {{ 1e6 }} {{ 0.1 }} {{ -0.0 }} {{ 1.0 }}`, data: DATA },
  { src: `{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 017 }} {{ 1_000_000 }} {{ 0x_1f }} {{ 'a' }} {{ '\\n' }} {{ '\\x41' }} {{ '\\u00e9' }} {{ 'é' }} {{ 0x1p4 }} {{ 1i }} {{ 2+3i }} {{ 1.5e3 }} {{ -7 }} {{ +7 }}`, data: DATA },
  { src: `{{ 08 }}`, data: DATA },
  { src: `{{ 1__0 }}`, data: DATA },
  { src: `{{ 9223372036854775807 }}`, data: DATA },
  { src: `{{ 9223372036854775808 }}`, data: DATA },
  { src: `{{ 18446744073709551616 }}`, data: DATA },
  { src: `{{ 1e400 }}`, data: DATA },
  { src: `{{ 'ab' }}`, data: DATA },
  { src: `{{ "\\q" }}`, data: DATA },
  { src: `{{ "a\\tb\\u00e9\\x41\\101" }} {{ \`raw \\n \` }}`, data: DATA },
  { src: `{{ html "<a href='x'>&\\"</a>" }} {{ js "<script>alert('x' + \\"y\\")</script>=\\\\" }} {{ urlquery "a b&c=d/é~" }} {{ html 1 2 "x" nil }} {{ js nil }} {{ urlquery }}`, data: DATA },
  { src: `{{ and 1 0 "x" }}|{{ and 1 2 }}|{{ or 0 "" "z" }}|{{ or 0 "" }}|{{ not 0 }}|{{ not "" }}|{{ not .Vars }}|{{ and }}`, data: DATA },
  { src: `{{ and false (index .Vars.Env 99) }}|{{ or true (len 3) }}`, data: DATA },
  { src: `{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq "a" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 1.5 }} {{ eq (index "a" 0) 97 }} {{ lt 1 (index "a" 0) }}`, data: DATA },
  { src: `{{ eq .Vars.N 3 }}`, data: DATA },
  { src: `{{ lt true false }}`, data: DATA },
  { src: `{{ eq 1 1.0 }}`, data: DATA },
  { src: `{{ eq .Instance .Instance }} {{ eq .Cluster .Cluster }}`, data: DATA },
  { src: `{{ eq .Vars .Vars }}`, data: DATA },
  { src: `{{ eq 1 }}`, data: DATA },
  { src: `{{ lt 1 }}`, data: DATA },
  { src: `{{ eq nil nil }}`, data: DATA },
  { src: `{{ len .Vars }} {{ len "héllo" }} {{ len .Image }} {{ index .Vars "Env" }} {{ index "héllo" 1 }} {{ slice "hello" 1 }} {{ slice "hello" 1 3 }} {{ slice "hello" }}`, data: DATA },
  { src: `{{ len 3 }}`, data: DATA },
  { src: `{{ index .Vars 1 }}`, data: DATA },
  { src: `{{ index "abc" 5 }}`, data: DATA },
  { src: `{{ slice "abc" 2 1 }}`, data: DATA },
  { src: `{{ slice "abc" 1 2 3 }}`, data: DATA },
  { src: `{{ index nil 1 }}`, data: DATA },
  { src: `{{ call .Vars }}`, data: DATA },
  { src: `{{ call nil }}`, data: DATA },
  { src: `{{ call }}`, data: DATA },
  { src: `{{ nil }}`, data: DATA },
  { src: `{{ .Instance.Bogus }}`, data: DATA },
  { src: `{{ .Vars.Env.X }}`, data: DATA },
  { src: `{{ .Vars.Env 1 }}`, data: DATA },
  { src: `{{ .Instance.ID 1 }}`, data: DATA },
  { src: `{{ 1 2 }}`, data: DATA },
  { src: `{{ 1 | 2 }}`, data: DATA },
  { src: `{{ "x" | printf "%s-%s" "y" }}|{{ .Vars.Env | len | printf "%03d" }}|{{ 3 | printf "%d" }}`, data: DATA },
  { src: `{{ $x := 1 }}{{ $x }}{{ $x = "two" }}{{ $x }}{{ if true }}{{ $x = 3 }}{{ $y := 4 }}{{ end }}{{ $x }}`, data: DATA },
  { src: `{{ if true }}{{ $y := 4 }}{{ end }}{{ $y }}`, data: DATA },
  { src: `{{ $x = 1 }}`, data: DATA },
  { src: `{{ with $v := .Vars.Env }}{{ $v }}/{{ . }}{{ end }}{{ with .Vars.Empty }}x{{ else }}empty{{ end }}`, data: DATA },
  { src: `{{ range .Vars }}{{ . }},{{ end }}|{{ range $k, $v := .Image }}{{ $k }}={{ $v }};{{ else }}none{{ end }}|{{ range $v := .Vars }}{{ $v }}{{ end }}`, data: DATA },
  { src: `{{ range .Image }}x{{ else }}no images{{ end }}`, data: NSTANCE_DATA },
  { src: `{{ range .Vars.Env }}x{{ end }}`, data: DATA },
  { src: `{{ range 3 }}x{{ end }}`, data: DATA },
  { src: `{{ range $i, $v, $w := .Vars }}{{ end }}`, data: DATA },
  { src: `{{ range $k, $v := .Vars }}{{ if eq $k "N" }}{{ break }}{{ end }}{{ $k }}{{ end }}`, data: DATA },
  { src: `{{ break }}`, data: DATA },
  { src: `{{ range .Vars }}{{ continue 1 }}{{ end }}`, data: DATA },
  { src: `{{ $x := 0 }}{{ $y := 1 }}{{ range $x = .Vars }}{{ $x }}:{{ $y }} {{ end }}`, data: DATA },
  { src: `{{ define "T1" }}ONE{{ end }}{{ define "T2" }}TWO {{ template "T1" }}{{ end }}{{ template "T2" }} {{ template "T1" . }}`, data: DATA },
  { src: `{{ define "x" }}{{ . }}{{ end }}{{ template "x" }}|{{ template "x" .Vars.Env }}`, data: DATA },
  { src: `{{ template "nope" }}`, data: DATA },
  { src: `{{ define "userdata" }}replaced{{ end }}`, data: DATA },
  { src: `{{ define "userdata" }}replaced{{ end }}main`, data: DATA },
  { src: `{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}`, data: DATA },
  { src: `{{ define "a" }}1{{ end }}{{ define "a" }} {{ end }}{{ template "a" }}`, data: DATA },
  { src: `{{ block "b" . }}{{ .Cluster.ID }}{{ end }}{{ define "b" }}override{{ end }}`, data: DATA },
  { src: `{{ define "r" }}{{ if . }}{{ len . }}{{ template "r" slice . 1 }}{{ end }}{{ end }}{{ template "r" "abcdef" }}`, data: DATA },
  { src: `a  {{- /* comment */ -}}  b {{/* c2 */}} c {{- 3 }} {{ 4 -}} d`, data: DATA },
  { src: `{{ /* not a comment */ }}`, data: DATA },
  { src: `{{/* unclosed }}`, data: DATA },
  { src: `{{/* a */ 1 }}`, data: DATA },
  { src: `{{- .Vars.Env -}}`, data: DATA },
  { src: `x {{-3}} {{3 -}} y`, data: DATA },
  { src: `{{ .Vars.Env}}{{.Vars.Env -}}`, data: DATA },
  { src: `{{1-}}`, data: DATA },
  { src: `{{ if }}{{ end }}`, data: DATA },
  { src: `{{ if 1 }}`, data: DATA },
  { src: `{{ end }}`, data: DATA },
  { src: `{{ else }}`, data: DATA },
  { src: `{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}`, data: DATA },
  { src: `{{ with 1 }}a{{ else if 2 }}b{{ end }}`, data: DATA },
  { src: `{{ foo }}`, data: DATA },
  { src: `{{ $undefined }}`, data: DATA },
  { src: `{{ .X.Y | }}`, data: DATA },
  { src: `{{ ( }}`, data: DATA },
  { src: `{{ ) }}`, data: DATA },
  { src: `{{ () }}`, data: DATA },
  { src: `{{ "unterminated }}`, data: DATA },
  { src: `{{ 'x }}`, data: DATA },
  { src: `{{ \`raw }}`, data: DATA },
  { src: `{{ .Vars.Env`, data: DATA },
  { src: `{{ ! }}`, data: DATA },
  { src: `{{ € }}`, data: DATA },
  { src: `{{ 3.x }}`, data: DATA },
  { src: `{{ true.x }}`, data: DATA },
  { src: `{{ (.Vars).Env }} {{ ($).Cluster.ID }} {{ $.Vars.Env }}`, data: DATA },
  { src: `{{ len.X }}`, data: DATA },
  { src: `{{ (nil).X }}`, data: DATA },
  { src: `{{ print (1) ("a") (.Vars.N) }}`, data: DATA },
  { src: `{{ ($x := 5) }}{{ $x }}`, data: DATA },
  { src: `{{ printf "%s" 1.5 }}`, data: DATA },
  { src: `{{ printf 1 }}`, data: DATA },
  { src: `{{ printf .Vars.Missing }}|{{ printf .Vars.N }}`, data: DATA },
  { src: `{{ printf "%c|%q|%U|%#U|%x|%5c" 0x1F600 0x1F600 0x1F600 0x41 -1 66 }}`, data: DATA },
  { src: `{{ printf "%q|%+q|%#q|%#q|%x|% x|%#x|%X" "héllo\\n" "héllo" "back\`tick" "plain" "hé" "hé" "hé" "hé" }}`, data: DATA },
  { src: `{{ printf "%5.1s|%-5s|%05s|%.2q|%8q" "héllo" "é" "ab" "héllo" "a" }}`, data: DATA },
  { src: `{{ printf "%v %d %x %o %b %c" (index "é" 0) (index "é" 1) (index "é" 0) (index "é" 0) (index "é" 0) (index "é" 0) }}`, data: DATA },
  { src: `{{ printf "%#v %T %v" (index "a" 0) (index "a" 0) (slice "abc" 1) }}`, data: DATA },
  { src: `{{ printf "%v %.3v %10.4v %-10v| %g %G %e %E %.3g %.10g" 1e100 3.14159 2.5 1.5 1e-5 1e21 0.0 1.0 1234567.0 0.1 }}`, data: DATA },
  { src: `{{ printf "%b %x %X %.2x %#x" 1.5 1.5 -1.5 1.0 3.0 }}`, data: DATA },
  { src: `{{ printf "%v %.2f %+.1v %T" 2+3i 1.5i -1-1i 1i }}`, data: DATA },
  { src: `{{ printf "%d %d" 9223372036854775807 -9223372036854775807 }} {{ printf "%x %X %o %b %U %c" -255 -255 -8 -5 -1 -1 }}`, data: DATA },
  { src: `{{ printf "%08d|%-08d|%+08d|% 08d|%.5d|%8.5d|%.0d|%5.0d|%x" -42 42 42 42 42 -42 0 0 0 }}`, data: DATA },
  { src: `{{ printf "%t %v %5t %-6t|" true false true false }}{{ printf "%s" true }}`, data: DATA },
  { src: `{{ printf "%[1]d %[1]x %[1]q" 65 }} {{ printf "%[0]d %[x]d %[2]d %[1]*d" 1 2 }} {{ printf "%d %d %[1]d %d" 1 2 }}`, data: DATA },
  { src: `{{ printf "%.*d|%*s|%-*s|%*d" -1 5 "x" 3 "y" "z" 4 }}`, data: DATA },
  { src: `{{ printf "%p" 1 }} {{ printf "%v" .Cluster }} {{ printf "%s" .Instance }} {{ printf "%d" .Instance }}`, data: DATA },
  { src: `{{ if .Vars.Missing }}yes{{ else if .Vars.N }}N={{ .Vars.N }}{{ end }}`, data: DATA },
  { src: `{{ if .Image }}has images{{ else }}no images{{ end }} {{ if .Instance }}struct is true{{ end }} {{ if 0.0 }}x{{ else }}zero float{{ end }} {{ if 0i }}x{{ else }}zero complex{{ end }}`, data: NSTANCE_DATA },
  { src: `{{ with .Instance }}{{ .ID }} {{ $.Cluster.ID }}{{ end }}`, data: DATA },
  { src: `{{ template "x" }}{{ define "x" }}{{ .Cluster }}{{ end }}`, data: DATA },
  { src: `{{ define "x" }}{{ $ }}{{ end }}{{ template "x" 7 }}`, data: DATA },
  { src: `{{ define "x" }}{{ $v }}{{ end }}`, data: DATA },
  { src: `{{ block "b" }}x{{ end }}`, data: DATA },
  { src: `{{ define "x" }}{{ if 1 }}{{ end }}`, data: DATA },
  { name: "args", src: `{{ template "args" }}`, data: { ...DATA, Vars: {} } },
  { name: "args", src: `{{ .Vars.Store }}-{{ .Server.Shard }}`, data: { ...DATA, Vars: { Store: "ceph" } } },
  { src: `{{ .Cluster.ID }}`, data: null },
  { src: `{{ . }}|{{ .X }}|{{ print .X }}|{{ html .X }}|{{ len . }}`, data: null },
  { src: "{{ \"a\r\nb\" }}", data: DATA },
  { src: "{{ `a\r\nb` }}", data: DATA },
  { src: "line1\r\n{{- .Vars.Env }}\r\n", data: DATA },
  { src: `{{ range $i, $c := "abc" }}{{ end }}`, data: DATA },
  { src: `{{ print 1.0 2.50 1e2 0x10 'x' }}`, data: DATA },
  { src: `{{ .Vars.Unicode | printf "%x" }} {{ .Vars.Unicode | js }} {{ .Vars.Unicode | html }} {{ .Vars.Unicode | urlquery }} {{ len .Vars.Unicode }}`, data: DATA },
  { src: `{{ printf "%q" .Vars.Multi }} {{ printf "%q" "\\x00\\x7f\\u00a0\\u200b\\U0001F600" }} {{ js "\\x00\\x1f\\u2028" }} {{ html "\\x00" }}`, data: DATA },
];

// ---------------------------------------------------------------- the generator

/** mulberry32: a small seeded PRNG, so every run generates the same cases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ["Env", "N", "Empty", "A", "b", "Zed", "é", "x_1"];
const VALUES = ["", "3", "prod", "a b", "é✓", "<&'\">", "-1", "true", "0", "1.5", "line\nnext", "%d"];
const TEXTS = ["", "", "a", " ", "\n", "x y", "  ", "\t", "é", "#!/bin/sh\n", " - ", "=", "key: ", "\r\n"];
const FIELDS = [
  ".Instance.ID", ".Instance.Kind", ".Instance.Type", ".Instance.Hostname", ".Vars.Env", ".Vars.N", ".Vars.Empty", ".Vars.Nope", ".Vars.A",
  ".Image", ".Image.debian", ".Nonce", ".Cluster.ID", ".Cluster", ".Server.Shard", ".Provider.Region", ".Provider", ".Vars", ".", "$", "$.Vars.Env",
  "$.Instance", ".Instance", ".Cluster.CACert",
];
const BAD_FIELDS = [".Instance.Bogus", ".Vars.Env.X", ".Nonce.X"];
const LITERALS = [
  "0", "1", "-1", "3", "42", "0x1F", "010", "1_000", "1.5", "-2.25", "1e3", "0.1", "'a'", "'\\n'", "1i", "2+1i", "\"\"", "\"a\"", "\"héllo\"",
  "\"3\"", "`raw`", "\"%s\"", "true", "false", "9223372036854775807",
];
const BAD_LITERALS = ["nil", "08", "0x", "1e", "18446744073709551615", "1__0", "'ab'"];
const FORMATS = [
  "%s", "%d", "%v", "%q", "%x", "%X", "%5d", "%-5s|", "%05d", "%.2f", "%8.3f", "%e", "%g", "%t", "%c", "%U", "%o", "%b", "%%", "%T", "%+v", "%#v",
  "%s %s", "%d-%d", "%v %v %v", "%[2]s %[1]s", "%*d", "%.*s", "%z", "%!", "%", "% d", "%+d", "%#x", "%-8q|", "%.1s", "%3c", "%x %X",
];
const FUNCS_1 = ["len", "not", "html", "js", "urlquery", "print", "println", "index", "slice"];
const FUNCS_N = ["and", "or", "eq", "ne", "lt", "le", "gt", "ge", "print", "println", "printf", "index", "slice", "html", "js", "urlquery", "call", "len", "not"];

export function generate(seed: number, count: number): Case[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;

  const data = (): unknown => {
    const vars: Record<string, string> = {};
    for (const k of KEYS) if (chance(0.5)) vars[k] = pick(VALUES);
    const d: Record<string, unknown> = {
      Instance: { ID: "web06dx9xy919t3v9kzd2xdsyzb3g", Kind: pick(["web", "db", ""]), Arch: "amd64", Type: pick(["", "cpu:2"]) },
      Vars: vars,
      Cluster: { ID: pick(["demo", "", "c-1"]) },
      Server: { Shard: "dev" },
      Provider: { Kind: "proxmox", Region: "eu", Zone: "eu-a" },
    };
    if (chance(0.7)) (d.Instance as Record<string, string>).Hostname = "web06dx9xy919t3v9kzd2xdsyzb3g";
    if (chance(0.4)) d.Image = chance(0.5) ? {} : { debian: "ami-1", ubuntu: "ami-2" };
    if (chance(0.3)) d.Nonce = "jwt.x";
    return d;
  };

  const gen = (): string => {
    const vars: string[][] = [[]];
    let inRange = 0;
    let depth = 0;
    let inDefine = 0;
    const visible = () => vars.flat();
    const operand = (d: number): string => {
      const x = r();
      if (x < 0.4) return pick(chance(0.08) ? BAD_FIELDS : FIELDS);
      if (x < 0.65) return pick(chance(0.08) ? BAD_LITERALS : LITERALS);
      if (x < 0.75 && visible().length) return pick(visible()) + (chance(0.2) ? pick([".X", ".Env", ".ID"]) : "");
      if (x < 0.9 && d < 3) return "(" + pipeline(d + 1) + ")";
      if (x < 0.95) return `"${pick(FORMATS)}"`;
      return pick(["$", ".", "$", ".", "nil", "$undefinedVar"]);
    };
    const command = (d: number, first: boolean): string => {
      const x = r();
      if (x < 0.35) return operand(d);
      if (x < 0.5) {
        const fn = pick(FUNCS_1);
        return `${fn} ${operand(d)}`;
      }
      const fn = pick(FUNCS_N);
      const arity: Record<string, number> = { ne: 2, lt: 2, le: 2, gt: 2, ge: 2, len: 1, not: 1, eq: 2, index: 2, slice: 2, and: 2, or: 2 };
      const n = fn in arity && chance(0.8) ? arity[fn]! + (chance(0.3) ? 1 : 0) : Math.floor(r() * 4);
      const args: string[] = [];
      if (fn === "printf" && chance(0.85)) args.push(`"${pick(FORMATS)}"`);
      for (let i = 0; i < n; i++) args.push(operand(d));
      void first;
      return [fn, ...args].join(" ");
    };
    const pipeline = (d: number): string => {
      let s = "";
      if (chance(0.12)) {
        const v = "$v" + Math.floor(r() * 4);
        const vis = visible();
        if (vis.includes(v) && chance(0.5)) s = `${v} = `;
        else {
          s = `${v} := `;
          vars[vars.length - 1]!.push(v);
        }
      }
      s += command(d, true);
      const stages = chance(0.25) ? 1 + Math.floor(r() * 2) : 0;
      for (let i = 0; i < stages; i++) {
        const fn = pick(["printf \"%v|\"", "len", "print", "html", "urlquery", "js", "not", "printf \"%s\"", "index .Vars", "eq 3", "and 1", "or 0", "println", "slice", "1", "."]);
        s += ` | ${fn}`;
      }
      return s;
    };
    const open = () => (chance(0.2) ? "{{- " : chance(0.1) ? "{{" : "{{ ");
    const close = () => (chance(0.2) ? " -}}" : chance(0.1) ? "}}" : " }}");
    const block = (n: number): string => {
      let s = "";
      for (let i = 0; i < n; i++) {
        const x = r();
        if (x < 0.25) s += pick(TEXTS);
        else if (x < 0.6) s += open() + pipeline(0) + close();
        else if (x < 0.8 && depth < 4) {
          const kind = pick(["if", "if", "with", "range", "range"]);
          depth++;
          vars.push([]);
          let head: string;
          if (kind === "range" && chance(0.5)) {
            head = chance(0.5) ? `$k, $e := ${pick([".Vars", ".Image", ".Vars.Env", "$", "."])}` : `$e := ${pick([".Vars", ".Image"])}`;
            vars[vars.length - 1]!.push(...(head.startsWith("$k") ? ["$k", "$e"] : ["$e"]));
          } else head = kind === "range" ? pick([".Vars", ".Image", ".Vars", "$.Vars", ".", ".Vars.Env", "3"]) : pipeline(0);
          if (kind === "range") inRange++;
          s += `${open()}${kind} ${head}${close()}${block(1 + Math.floor(r() * 3))}`;
          if (kind === "range") inRange--;
          if (chance(0.35)) {
            if (kind === "if" && chance(0.4)) s += `{{ else if ${pipeline(0)} }}${block(1)}`;
            s += `{{ else }}${block(1)}`;
          }
          s += chance(0.97) ? `${open()}end${close()}` : "";
          vars.pop();
          depth--;
        } else if (x < 0.85) s += (inRange > 0 || chance(0.1) ? pick(["{{ break }}", "{{ continue }}", "{{ if true }}{{ continue }}{{ end }}"]) : "{{/* c */}}");
        // No template calls inside define/block bodies, and none of the template itself: Go
        // takes minutes to unwind 100,000 levels of recursion (both sides fail anyway).
        else if (x < 0.9 && inDefine === 0) s += `{{ template "${pick(["t", "t", "u", "nope"])}" ${chance(0.5) ? operand(0) : ""} }}`;
        else if (x < 0.95 && depth === 0 && vars.length === 1) {
          const saved = vars.splice(0);
          vars.push([]);
          inDefine++;
          s += `{{ define "${pick(["t", "u"])}" }}${block(1 + Math.floor(r() * 2))}{{ end }}`;
          inDefine--;
          vars.splice(0, vars.length, ...saved);
        } else if (x < 0.97) {
          inDefine++;
          s += `{{ block "${pick(["t", "u"])}" ${operand(0)} }}${block(1)}{{ end }}`;
          inDefine--;
        }
        else s += pick(["{{", "}}", "{{ ( }}", "{{ ) }}", "{{ end }}", "{{ else }}", "{{ $x }}", "{{ 'ab' }}", "{{ \"\\z\" }}", "{{/* x */ }}", "{{- /* y */ -}}", "{{ 1 2 }}", "{{ .A-B }}", "{{ € }}"]);
      }
      return s;
    };
    return block(1 + Math.floor(r() * 4));
  };

  const cases: Case[] = [];
  for (let i = 0; i < count; i++) cases.push({ src: gen(), data: data(), name: chance(0.1) ? "args" : undefined });
  return cases;
}
