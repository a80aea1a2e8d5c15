/**
 * HCL shard files. The only module that touches @cdktn/hcl2json: it is loaded on first use through
 * createRequire with a two-line type of our own, because its typings pull the DOM lib into the
 * whole program and its WASM compile starts at import. JSONC never loads it.
 *
 * The HCL shape (same model as JSONC, README "HCL shape"):
 *
 *   cluster { id = "demo" }
 *   shard {
 *     id = "dev"
 *     infra { provider = "proxmox"  region = "dev"  zone = "deva"  options = { insecure_tls = true } }
 *     subnet_pools = { default = ["vmbr0"] }
 *   }
 *   defaults { args = { … }  vars = { … }  userdata { content = <<-EOT … EOT } }
 *   template "web" { kind = "web"  arch = "amd64"  args = { … } }
 *   group "tenant" "name" { template = "web"  size = 2 }
 *   shards = [{ id = "a", provider = { kind = "proxmox", region = "r", zone = "z" } }]   # multi-shard form
 *
 * Blocks and attribute maps are interchangeable where the model has an object (`infra {}` or
 * `infra = {}`). Values must be literals: `${…}` and `%{…}` are HCL expressions and are rejected
 * (write `$${` for a literal `${`). Go templates (`{{ .Vars.X }}`) pass through untouched.
 *
 * Positions: syntax errors carry hcl2json's exact line and column. hcl2json gives no positions for
 * values, so semantic problems are placed by searching the source for the block labels and
 * attribute names along the path (`group "default" "web"`, then `size`); when a name is not found
 * the nearest enclosing block found is used, and a name repeated inside one block resolves to its
 * first occurrence.
 */
import { createRequire } from "node:module";
import { LineIndex, type Path, type SourceMap } from "./source-map.js";
import type { SyntaxProblem } from "./jsonc.js";
import { isPlainObject } from "./merge.js";
import { scanHcl } from "./hcl-scan.js";
import { nestingMessage } from "./limits.js";

interface Hcl2Json {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
}

let hcl2json: Hcl2Json | undefined;
function loadHcl2Json(): Hcl2Json {
  hcl2json ??= createRequire(import.meta.url)("@cdktn/hcl2json") as Hcl2Json;
  return hcl2json;
}

const PARSER_FILE = "shard.hcl";

export interface ParsedHcl {
  value: unknown;
  map: SourceMap;
  syntax: SyntaxProblem[];
}

export async function parseHcl(file: string, text: string): Promise<ParsedHcl> {
  const lines = new LineIndex(text);
  const map = hclSourceMap(file, text, lines);
  // hcl2json recurses per bracket level; deep nesting must never reach it.
  const scan = scanHcl(text);
  if (scan.nestingOffset >= 0) return { value: undefined, map, syntax: [{ where: lines.where(file, scan.nestingOffset), message: nestingMessage() }] };
  let raw: Record<string, unknown>;
  try {
    raw = await loadHcl2Json().parse(PARSER_FILE, text);
  } catch (err) {
    return { value: undefined, map, syntax: diagnostics(String((err as Error)?.message ?? err), file, lines) };
  }
  // As in JSONC, a key given twice in one object is an error (hcl2json would keep the last).
  const syntax: SyntaxProblem[] = scan.duplicates.map((d) => ({ where: lines.where(file, d.offset), message: `duplicate key ${JSON.stringify(d.key)}` }));
  if (syntax.length) return { value: undefined, map, syntax };
  const value = normalise(raw, [], syntax, map);
  return { value, map, syntax };
}

/** `parse config: [shard.hcl:3,7-4,1: Summary; Detail. shard.hcl:9,1-2: …]` → one problem per diagnostic. */
function diagnostics(message: string, file: string, lines: LineIndex): SyntaxProblem[] {
  const body = message.replace(/^parse config: \[/, "").replace(/\]$/, "");
  const re = /shard\.hcl:(\d+),(\d+)(?:-(?:\d+,)?\d+)?: /g;
  const heads = [...body.matchAll(re)];
  if (heads.length === 0) return [{ where: lines.where(file, 0), message: `syntax error: ${oneLine(body)}` }];
  return heads.map((m, i) => {
    const end = i + 1 < heads.length ? heads[i + 1]!.index : body.length;
    const text = oneLine(body.slice(m.index! + m[0].length, end));
    return { where: { file, line: Number(m[1]), column: Number(m[2]) }, message: `syntax error: ${text}` };
  });
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

// Where the model has one object, hcl2json gives a block as a one-element array.
const SINGLE_BLOCKS = new Set(["cluster", "shard", "shard.infra", "shard.infra.options", "defaults", "defaults.userdata", "defaults.args", "defaults.vars", "shards.*.provider", "shards.*.provider.options", "drift"]);
const TEMPLATE_BLOCKS = new Set(["userdata", "args", "vars"]);

function normalise(raw: Record<string, unknown>, _path: Path, problems: SyntaxProblem[], map: SourceMap): unknown {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "template" || key === "group") {
      const target = key === "template" ? "templates" : "groups";
      if (raw[target] !== undefined) {
        problems.push({ where: map.locate([target], { key: true }), message: `${target}: use either ${key} blocks or a ${target} attribute, not both` });
        continue;
      }
      out[target] = labelled(value, key === "template" ? 1 : 2, [target], problems, map);
      continue;
    }
    out[key] = value;
  }
  return literal(unwrapBlocks(out, "", problems, map), [], problems, map);
}

/** `template "web" {}` → templates.web; `group "t" "g" {}` → groups.t.g; a label given twice is an error. */
function labelled(value: unknown, depth: number, path: Path, problems: SyntaxProblem[], map: SourceMap): unknown {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [label, inner] of Object.entries(value)) {
    if (depth > 1) out[label] = labelled(inner, depth - 1, [...path, label], problems, map);
    else if (Array.isArray(inner) && inner.length === 1 && isPlainObject(inner[0])) {
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(inner[0])) body[k] = TEMPLATE_BLOCKS.has(k) ? single(v, [...path, label, k], problems, map) : v;
      out[label] = body;
    } else if (Array.isArray(inner)) {
      problems.push({ where: map.locate([...path, label]), message: `${[...path, label].join(".")}: block is defined ${inner.length} times` });
    } else out[label] = inner;
  }
  return out;
}

function single(v: unknown, path: Path, problems: SyntaxProblem[], map: SourceMap): unknown {
  if (!Array.isArray(v) || !v.every(isPlainObject)) return v;
  if (v.length === 1) return v[0];
  problems.push({ where: map.locate(path), message: `${path.join(".")}: block may appear only once (found ${v.length})` });
  return v[0];
}

function unwrapBlocks(obj: Record<string, unknown>, prefix: string, problems: SyntaxProblem[], map: SourceMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const here = prefix ? `${prefix}.${k}` : k;
    let value = SINGLE_BLOCKS.has(here) ? single(v, here.split("."), problems, map) : v;
    if (isPlainObject(value) && [...SINGLE_BLOCKS].some((b) => b.startsWith(here + "."))) value = unwrapBlocks(value, here, problems, map);
    if (here === "shards" && Array.isArray(value)) {
      value = value.map((entry) => (isPlainObject(entry) ? unwrapBlocks(entry, "shards.*", problems, map) : entry));
    }
    out[k] = value;
  }
  return out;
}

/** Rejects HCL expressions and unescapes `$${` / `%%{` in every string. */
function literal(v: unknown, path: Path, problems: SyntaxProblem[], map: SourceMap): unknown {
  if (typeof v === "string") {
    const m = /(?<![$%])[$%]\{/.exec(v.replace(/\$\$\{|%%\{/g, "__"));
    if (m) {
      const expr = v.slice(m.index, m.index + 40).split("\n")[0];
      problems.push({
        where: map.locate(path),
        message: `${path.join(".")}: HCL expressions are not supported (found ${JSON.stringify(expr)})` + "; write literal values, and $${ for a literal ${",
      });
    }
    return v.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
  }
  if (Array.isArray(v)) return v.map((x, i) => literal(x, [...path, i], problems, map));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = literal(x, [...path, k], problems, map);
    return out;
  }
  return v;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function hclSourceMap(file: string, text: string, lines: LineIndex): SourceMap {
  /** Offset of the last path segment found, searching forward from the previous one. */
  const walk = (segments: Path, from: number): number => {
    let offset = from;
    for (const seg of segments) {
      if (typeof seg !== "string") continue;
      // A labelled block (`foo "bar" {`) is found by its type name too.
      const re = new RegExp(`(^|[\\s{,(\\[])"?${escapeRe(seg)}"?(?:[ \\t]+"[^"\\n]*")*\\s*[={:]`, "g");
      re.lastIndex = offset;
      const m = re.exec(text);
      if (!m) break;
      offset = m.index + m[1]!.length;
    }
    return offset;
  };
  /** `template "web"` / `group "t" "g"` block headers; -1 when the file uses the attribute form. */
  const header = (path: Path): { offset: number; used: number } => {
    const label = (s: unknown) => `\\s+"${escapeRe(String(s))}"`;
    const find = (re: string) => new RegExp(`(^|\\n)\\s*${re}`).exec(text);
    if (path[0] === "templates" && typeof path[1] === "string") {
      const m = find(`template${label(path[1])}`);
      return m ? { offset: m.index + m[1]!.length, used: 2 } : { offset: -1, used: 0 };
    }
    if (path[0] === "groups" && typeof path[1] === "string") {
      const full = typeof path[2] === "string" ? find(`group${label(path[1])}${label(path[2])}`) : null;
      if (full) return { offset: full.index + full[1]!.length, used: 3 };
      const tenant = find(`group${label(path[1])}`);
      return tenant ? { offset: tenant.index + tenant[1]!.length, used: path.length } : { offset: -1, used: 0 };
    }
    return { offset: -1, used: 0 };
  };
  const search = (path: Path): number => {
    const h = header(path);
    let offset = h.offset >= 0 ? walk(path.slice(h.used), h.offset) : walk(path, 0);
    while (/\s/.test(text[offset] ?? "")) offset++;
    return offset;
  };
  return {
    file,
    locate: (path) => lines.where(file, search(path)),
    locateInString(path, index, value) {
      const start = search(path);
      const at = lines.where(file, start);
      const before = (value ?? "").slice(0, index);
      const lineDelta = before.split("\n").length - 1;
      const colInLine = before.length - (before.lastIndexOf("\n") + 1);
      const rest = text.slice(start, start + 400);
      const heredoc = /^[^=\n]*=\s*<<-?\s*[A-Za-z_]+[^\n]*\n/.exec(rest);
      if (heredoc) {
        // hcl2json de-indents heredocs; add back the indentation of the source line.
        const line = at.line + 1 + lineDelta;
        const indent = /^[ \t]*/.exec(text.slice(lines.lineStart(line)))![0].length;
        return { file, line, column: indent + colInLine + 1 };
      }
      const quote = /^[^=\n]*=\s*"/.exec(rest);
      if (quote && lineDelta === 0) return { file, line: at.line, column: at.column + quote[0].length + colInLine };
      return { file, line: at.line + lineDelta, column: lineDelta ? colInLine + 1 : at.column };
    },
  };
}
