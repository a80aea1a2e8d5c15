/**
 * A documented subset of Go's text/template, enough for Nstance userdata and args:
 *
 * - text and actions `{{ … }}`, trim markers `{{- ` and ` -}}`, comments `{{/* … *\/}}`
 * - fields `.A.B`, `.`, `$`, `$.A.B`; string ("…", `…`), number, `true`/`false`/`nil` literals
 * - pipelines with `|` (the left value becomes the last argument) and parentheses
 * - `{{ if P }} … {{ else if P }} … {{ else }} … {{ end }}`
 * - functions: index, eq, ne, lt, le, gt, ge, not, and, or, len, print, printf, println
 *
 * `if`/`else if` and parentheses nest at most MAX_NESTING (256) deep, and rendered text is at most
 * MAX_USERDATA_BYTES (1 MiB): the parser and executor recurse per level, and nested `printf`
 * doubles text per level.
 *
 * Missing map keys render empty (Go's `missingkey=zero`). Anything else (range, with, define,
 * template, block, variables, other functions) is a parse error with the offset of the offending
 * text, so validate can point into the template.
 */

import { MAX_NESTING, MAX_USERDATA_BYTES, nestingMessage } from "./limits.js";

export class GoTemplateError extends Error {
  constructor(
    message: string,
    /** Offset into the template text. */
    readonly offset: number,
  ) {
    super(message);
    this.name = "GoTemplateError";
  }
}

type Operand =
  | { t: "field"; base: "dot" | "root"; path: string[]; offset: number }
  | { t: "lit"; value: unknown; offset: number }
  | { t: "pipe"; pipe: Pipeline; offset: number }
  | { t: "fn"; name: string; offset: number };

interface Command {
  args: Operand[];
  offset: number;
}
type Pipeline = Command[];

export type TemplateNode =
  | { t: "text"; text: string }
  | { t: "action"; pipe: Pipeline; offset: number }
  | { t: "if"; cond: Pipeline; then: TemplateNode[]; else: TemplateNode[]; offset: number };

export const TEMPLATE_FUNCTIONS = ["index", "eq", "ne", "lt", "le", "gt", "ge", "not", "and", "or", "len", "print", "printf", "println"] as const;
const UNSUPPORTED_KEYWORDS = ["range", "with", "define", "template", "block", "break", "continue"];
const SUPPORTED_HINT = "supported: fields, if/else/end, " + TEMPLATE_FUNCTIONS.join(", ");

// ---------------------------------------------------------------- lexing of one action

type Tok =
  | { k: "field"; path: string[]; base: "dot" | "root"; offset: number }
  | { k: "ident"; name: string; offset: number }
  | { k: "str"; value: string; offset: number }
  | { k: "num"; value: number; offset: number }
  | { k: "pipe" | "lparen" | "rparen"; offset: number };

function lexAction(src: string, start: number, end: number): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
  const identChar = /[A-Za-z0-9_]/;
  while (i < end) {
    const c = src[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === "|") {
      toks.push({ k: "pipe", offset: at });
      i++;
    } else if (c === "(") {
      toks.push({ k: "lparen", offset: at });
      i++;
    } else if (c === ")") {
      toks.push({ k: "rparen", offset: at });
      i++;
    } else if (c === "." || c === "$") {
      const base = c === "$" ? "root" : "dot";
      if (c === "$") {
        i++;
        if (identChar.test(src[i] ?? "")) throw new GoTemplateError("template variables ($name) are not supported; use $ or . (" + SUPPORTED_HINT + ")", at);
      }
      const path: string[] = [];
      while (src[i] === ".") {
        i++;
        let name = "";
        while (i < end && identChar.test(src[i]!)) name += src[i++];
        if (name === "") {
          if (path.length === 0 && base === "dot") break; // bare "."
          throw new GoTemplateError("a field name must follow '.'", i);
        }
        path.push(name);
      }
      toks.push({ k: "field", base, path, offset: at });
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      for (;;) {
        if (j >= end) throw new GoTemplateError("unterminated quoted string", at);
        const d = src[j]!;
        if (d === '"') break;
        if (d === "\n") throw new GoTemplateError("unterminated quoted string", at);
        if (d === "\\") {
          const e = src[j + 1];
          const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", "'": "'" };
          if (e === undefined || map[e] === undefined) throw new GoTemplateError(`unsupported escape \\${e ?? ""} in string`, j);
          value += map[e];
          j += 2;
          continue;
        }
        value += d;
        j++;
      }
      toks.push({ k: "str", value, offset: at });
      i = j + 1;
    } else if (c === "`") {
      const j = src.indexOf("`", i + 1);
      if (j < 0 || j >= end) throw new GoTemplateError("unterminated raw string", at);
      toks.push({ k: "str", value: src.slice(i + 1, j), offset: at });
      i = j + 1;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i, end));
      if (!m) throw new GoTemplateError(`unexpected ${JSON.stringify(c)} in action`, at);
      toks.push({ k: "num", value: Number(m[0]), offset: at });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      let name = "";
      while (i < end && identChar.test(src[i]!)) name += src[i++];
      if (src[i] === ".") throw new GoTemplateError(`field access on ${JSON.stringify(name)} is not supported`, i);
      toks.push({ k: "ident", name, offset: at });
    } else if (c === ":" || c === "=") {
      throw new GoTemplateError("variable declarations are not supported (" + SUPPORTED_HINT + ")", at);
    } else {
      throw new GoTemplateError(`unexpected ${JSON.stringify(c)} in action`, at);
    }
  }
  return toks;
}

// ---------------------------------------------------------------- parsing

function parsePipeline(toks: Tok[], pos: { i: number }, closeParen: boolean, actionOffset: number, depth = 0): Pipeline {
  const cmds: Command[] = [];
  let args: Operand[] = [];
  let cmdOffset = toks[pos.i]?.offset ?? actionOffset;
  const finish = (offset: number) => {
    if (args.length === 0) throw new GoTemplateError("missing value in pipeline", offset);
    cmds.push({ args, offset: cmdOffset });
    args = [];
  };
  while (pos.i < toks.length) {
    const tok = toks[pos.i]!;
    if (tok.k === "rparen") {
      if (!closeParen) throw new GoTemplateError("unexpected ')'", tok.offset);
      finish(tok.offset);
      return cmds;
    }
    pos.i++;
    if (tok.k === "pipe") {
      finish(tok.offset);
      cmdOffset = toks[pos.i]?.offset ?? tok.offset;
      continue;
    }
    if (tok.k === "lparen") {
      if (depth + 1 > MAX_NESTING) throw new GoTemplateError(nestingMessage(), tok.offset);
      const inner = parsePipeline(toks, pos, true, tok.offset, depth + 1);
      if (toks[pos.i]?.k !== "rparen") throw new GoTemplateError("unclosed '('", tok.offset);
      pos.i++;
      args.push({ t: "pipe", pipe: inner, offset: tok.offset });
    } else if (tok.k === "field") args.push({ t: "field", base: tok.base, path: tok.path, offset: tok.offset });
    else if (tok.k === "str" || tok.k === "num") args.push({ t: "lit", value: tok.value, offset: tok.offset });
    else if (tok.k === "ident") {
      if (tok.name === "true" || tok.name === "false") args.push({ t: "lit", value: tok.name === "true", offset: tok.offset });
      else if (tok.name === "nil") args.push({ t: "lit", value: undefined, offset: tok.offset });
      else if ((TEMPLATE_FUNCTIONS as readonly string[]).includes(tok.name)) {
        if (args.length > 0) throw new GoTemplateError(`function ${JSON.stringify(tok.name)} must come first in a command; use parentheses`, tok.offset);
        args.push({ t: "fn", name: tok.name, offset: tok.offset });
      } else if (UNSUPPORTED_KEYWORDS.includes(tok.name) || ["if", "else", "end"].includes(tok.name)) {
        throw new GoTemplateError(`unexpected keyword ${JSON.stringify(tok.name)} inside an action`, tok.offset);
      } else {
        const near = nearestFunction(tok.name);
        throw new GoTemplateError(`function ${JSON.stringify(tok.name)} not defined${near} (${SUPPORTED_HINT})`, tok.offset);
      }
    }
  }
  if (closeParen) throw new GoTemplateError("unclosed '('", actionOffset);
  finish(actionOffset);
  return cmds;
}

function nearestFunction(name: string): string {
  const extra: Record<string, string> = { lower: "", upper: "", default: "" };
  if (name in extra) return "";
  let best = "";
  let bestD = 3;
  for (const f of TEMPLATE_FUNCTIONS) {
    let d = Math.abs(f.length - name.length);
    for (let i = 0; i < Math.min(f.length, name.length); i++) if (f[i] !== name[i]) d++;
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  return best ? ` (did you mean ${JSON.stringify(best)}?)` : "";
}

interface RawAction {
  kind: "text" | "action";
  text: string;
  offset: number; // of the action's content (after "{{" and trim marker)
  start: number; // of "{{"
}

function splitActions(src: string): RawAction[] {
  const parts: RawAction[] = [];
  let i = 0;
  let trimNext = false;
  while (i <= src.length) {
    const open = src.indexOf("{{", i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    if (open < 0) {
      if (text) parts.push({ kind: "text", text, offset: i, start: i });
      break;
    }
    let contentStart = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(contentStart, contentStart + 2))) {
      text = text.replace(/[ \t\r\n]+$/, "");
      contentStart += 2;
    }
    if (text) parts.push({ kind: "text", text, offset: i, start: i });
    // find the closing "}}" outside quoted strings and comments
    let j = contentStart;
    let close = -1;
    const comment = /^\s*\/\*/.exec(src.slice(contentStart));
    if (comment) {
      const endComment = src.indexOf("*/", contentStart + comment[0].length);
      if (endComment < 0) throw new GoTemplateError("unclosed comment", open);
      j = endComment + 2;
    }
    while (j < src.length) {
      const c = src[j]!;
      if (c === '"') {
        j++;
        while (j < src.length && src[j] !== '"' && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
        j++;
        continue;
      }
      if (c === "`") {
        const k = src.indexOf("`", j + 1);
        j = k < 0 ? src.length : k + 1;
        continue;
      }
      if (c === "}" && src[j + 1] === "}") {
        close = j;
        break;
      }
      j++;
    }
    if (close < 0) throw new GoTemplateError("unclosed action: missing }}", open);
    let contentEnd = close;
    trimNext = false;
    if (/[ \t\r\n]-$/.test(src.slice(contentStart, close)) && close - 2 >= contentStart) {
      contentEnd = close - 1;
      trimNext = true;
    }
    const content = src.slice(contentStart, contentEnd);
    if (!comment) parts.push({ kind: "action", text: content, offset: contentStart, start: open });
    else if (!/\*\/\s*$/.test(content)) throw new GoTemplateError("comment must end the action: */}}", open);
    i = close + 2;
  }
  return parts;
}

/** Parses a template; throws GoTemplateError with the offset of the first problem. */
export function parseTemplate(src: string): TemplateNode[] {
  const parts = splitActions(src);
  const root: TemplateNode[] = [];
  // stack of open ifs: the list currently appended to, and the if node
  type Frame = { node: Extract<TemplateNode, { t: "if" }>; inElse: boolean; sawElse: boolean; chained: number };
  const stack: Frame[] = [];
  const current = (): TemplateNode[] => {
    const f = stack[stack.length - 1];
    if (!f) return root;
    return f.inElse ? f.node.else : f.node.then;
  };
  for (const part of parts) {
    if (part.kind === "text") {
      current().push({ t: "text", text: part.text });
      continue;
    }
    const toks = lexAction(src, part.offset, part.offset + part.text.length);
    const first = toks[0];
    if (!first) throw new GoTemplateError("missing value for command (empty action)", part.start);
    if (first.k === "ident" && UNSUPPORTED_KEYWORDS.includes(first.name)) {
      throw new GoTemplateError(`{{${first.name}}} is not supported (${SUPPORTED_HINT})`, first.offset);
    }
    const opensLevel = first.k === "ident" && (first.name === "if" || (first.name === "else" && toks[1]?.k === "ident" && toks[1].name === "if"));
    if (opensLevel && stack.length >= MAX_NESTING) {
      // Each if and each else-if adds a level the executor recurses into.
      throw new GoTemplateError(nestingMessage(), first.offset);
    }
    if (first.k === "ident" && first.name === "if") {
      const cond = parsePipeline(toks, { i: 1 }, false, first.offset);
      const node = { t: "if" as const, cond, then: [], else: [], offset: first.offset };
      current().push(node);
      stack.push({ node, inElse: false, sawElse: false, chained: 0 });
      continue;
    }
    if (first.k === "ident" && first.name === "else") {
      const f = stack[stack.length - 1];
      if (!f) throw new GoTemplateError("unexpected {{else}} outside {{if}}", first.offset);
      if (f.sawElse) throw new GoTemplateError("{{else}} after {{else}}", first.offset);
      const second = toks[1];
      if (second && second.k === "ident" && second.name === "if") {
        // `else if` is an if nested in the else branch that the same {{end}} closes.
        const cond = parsePipeline(toks, { i: 2 }, false, second.offset);
        const node = { t: "if" as const, cond, then: [], else: [], offset: second.offset };
        f.inElse = true;
        f.sawElse = true;
        f.node.else.push(node);
        stack.push({ node, inElse: false, sawElse: false, chained: f.chained + 1 });
        continue;
      }
      if (second) throw new GoTemplateError("unexpected text after {{else}}", second.offset);
      f.inElse = true;
      f.sawElse = true;
      continue;
    }
    if (first.k === "ident" && first.name === "end") {
      const f = stack.pop();
      if (!f) throw new GoTemplateError("unexpected {{end}}", first.offset);
      if (toks[1]) throw new GoTemplateError("unexpected text after {{end}}", toks[1].offset);
      for (let n = f.chained; n > 0; n--) stack.pop();
      continue;
    }
    const pos = { i: 0 };
    const pipe = parsePipeline(toks, pos, false, part.offset);
    current().push({ t: "action", pipe, offset: part.offset });
  }
  const open = stack[0];
  if (open) throw new GoTemplateError("unexpected EOF: {{if}} has no {{end}}", open.node.offset);
  return root;
}

// ---------------------------------------------------------------- static check

/** The shape of the data a template may read: nested objects of field names; "map" allows any key. */
export type DataShape = { [field: string]: DataShape | "string" | "map" };

/** Calls `onField` for every field chain (root-relative path and offset), for checks against a DataShape. */
export function walkFields(nodes: TemplateNode[], onField: (path: string[], offset: number, isDot: boolean) => void): void {
  const walkPipe = (p: Pipeline) => {
    for (const c of p) for (const a of c.args) {
      if (a.t === "field") onField(a.path, a.offset, a.base === "dot" && a.path.length === 0);
      else if (a.t === "pipe") walkPipe(a.pipe);
    }
  };
  for (const n of nodes) {
    if (n.t === "action") walkPipe(n.pipe);
    else if (n.t === "if") {
      walkPipe(n.cond);
      walkFields(n.then, onField);
      walkFields(n.else, onField);
    }
  }
}

/** The first problem of a field path against a shape, or undefined. */
export function fieldProblem(shape: DataShape, path: string[]): string | undefined {
  let cur: DataShape | "string" | "map" = shape;
  let typeName = "data";
  for (const name of path) {
    if (cur === "map") {
      cur = "string";
      typeName = "string";
      continue;
    }
    if (cur === "string") return `can't evaluate field ${name} in type string`;
    const next: DataShape | "string" | "map" | undefined = Object.prototype.hasOwnProperty.call(cur, name) ? cur[name] : undefined;
    if (next === undefined) {
      const known = Object.keys(cur);
      const lower = known.find((k) => k.toLowerCase() === name.toLowerCase());
      return `can't evaluate field ${name} in ${typeName} (fields: ${known.join(", ")})${lower ? ` (did you mean ${JSON.stringify(lower)}?)` : ""}`;
    }
    typeName = `.${path.slice(0, path.indexOf(name) + 1).join(".")}`;
    cur = next;
  }
  return undefined;
}

// ---------------------------------------------------------------- execution

function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return `map[${entries.map(([k, x]) => `${k}:${show(x)}`).join(" ")}]`;
}

function printf(format: string, args: unknown[], offset: number): string {
  let i = 0;
  return format.replace(/%([%svdqx])/g, (_, verb: string) => {
    if (verb === "%") return "%";
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    if (verb === "q") return JSON.stringify(show(a));
    if (verb === "d") {
      if (typeof a !== "number") throw new GoTemplateError(`printf %d needs a number, got ${show(a)}`, offset);
      return String(Math.trunc(a));
    }
    if (verb === "x") return Buffer.from(show(a)).toString("hex");
    return show(a);
  });
}

function compare(a: unknown, b: unknown, offset: number): number {
  if (typeof a !== typeof b || (typeof a !== "string" && typeof a !== "number" && typeof a !== "boolean")) {
    throw new GoTemplateError(`incompatible types for comparison: ${show(a)} and ${show(b)}`, offset);
  }
  return a === b ? 0 : (a as string | number) < (b as string | number) ? -1 : 1;
}

function callFunction(name: string, args: unknown[], offset: number): unknown {
  const need = (n: number, exact = true) => {
    if (exact ? args.length !== n : args.length < n) {
      throw new GoTemplateError(`wrong number of args for ${name}: want ${exact ? "" : "at least "}${n} got ${args.length}`, offset);
    }
  };
  switch (name) {
    case "index": {
      need(1, false);
      let v = args[0];
      for (const k of args.slice(1)) {
        if (v === undefined || v === null) return "";
        if (Array.isArray(v)) {
          if (typeof k !== "number") throw new GoTemplateError(`cannot index slice with ${show(k)}`, offset);
          v = v[k];
        } else if (typeof v === "object") v = Object.prototype.hasOwnProperty.call(v, String(k)) ? (v as Record<string, unknown>)[String(k)] : "";
        else throw new GoTemplateError(`can't index item of type ${typeof v}`, offset);
      }
      return v ?? "";
    }
    case "eq":
      need(2, false);
      return args.slice(1).some((b) => compare(args[0], b, offset) === 0);
    case "ne":
      need(2);
      return compare(args[0], args[1], offset) !== 0;
    case "lt":
      need(2);
      return compare(args[0], args[1], offset) < 0;
    case "le":
      need(2);
      return compare(args[0], args[1], offset) <= 0;
    case "gt":
      need(2);
      return compare(args[0], args[1], offset) > 0;
    case "ge":
      need(2);
      return compare(args[0], args[1], offset) >= 0;
    case "not":
      need(1);
      return !truth(args[0]);
    case "and": {
      need(1, false);
      for (const a of args) if (!truth(a)) return a;
      return args[args.length - 1];
    }
    case "or": {
      need(1, false);
      for (const a of args) if (truth(a)) return a;
      return args[args.length - 1];
    }
    case "len": {
      need(1);
      const v = args[0];
      if (typeof v === "string" || Array.isArray(v)) return v.length;
      if (v && typeof v === "object") return Object.keys(v).length;
      throw new GoTemplateError(`len of ${show(v)}`, offset);
    }
    case "print":
      return args.map((a, i) => (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string" ? " " : "") + show(a)).join("");
    case "println":
      return args.map(show).join(" ") + "\n";
    case "printf":
      need(1, false);
      if (typeof args[0] !== "string") throw new GoTemplateError("printf needs a format string first", offset);
      return printf(args[0], args.slice(1), offset);
  }
  throw new GoTemplateError(`function ${JSON.stringify(name)} not defined`, offset);
}

function field(base: unknown, path: string[], offset: number): unknown {
  let v = base;
  for (const name of path) {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) throw new GoTemplateError(`can't evaluate field ${name} in type ${typeof v}`, offset);
    v = Object.prototype.hasOwnProperty.call(v, name) ? (v as Record<string, unknown>)[name] : undefined;
  }
  return v;
}

function evalPipe(pipe: Pipeline, dot: unknown, root: unknown): unknown {
  let prev: unknown;
  let hasPrev = false;
  for (const cmd of pipe) {
    const head = cmd.args[0]!;
    const operand = (a: Operand): unknown => {
      if (a.t === "lit") return a.value;
      if (a.t === "field") return field(a.base === "root" ? root : dot, a.path, a.offset);
      if (a.t === "pipe") return evalPipe(a.pipe, dot, root);
      throw new GoTemplateError(`function ${a.name} used as a value`, a.offset);
    };
    if (head.t === "fn") {
      const args = cmd.args.slice(1).map(operand);
      if (hasPrev) args.push(prev);
      prev = callFunction(head.name, args, head.offset);
      if (typeof prev === "string" && prev.length > MAX_USERDATA_BYTES) throw new GoTemplateError(tooLong(), head.offset);
    } else {
      if (cmd.args.length > 1) throw new GoTemplateError("can't give argument to non-function", cmd.args[1]!.offset);
      if (hasPrev) throw new GoTemplateError("can't give argument to non-function", head.offset);
      prev = operand(head);
    }
    hasPrev = true;
  }
  return prev;
}

/** Runs a parsed template; throws GoTemplateError for execution errors (e.g. a bad comparison). */
export function executeTemplate(nodes: TemplateNode[], data: unknown): string {
  let out = "";
  for (const n of nodes) {
    if (n.t === "text") out += n.text;
    else if (n.t === "action") out += show(evalPipe(n.pipe, data, data));
    else out += executeTemplate(truth(evalPipe(n.cond, data, data)) ? n.then : n.else, data);
    if (out.length > MAX_USERDATA_BYTES) throw new GoTemplateError(tooLong(), "offset" in n ? n.offset : 0);
  }
  return out;
}

function tooLong(): string {
  return `rendered text is longer than ${MAX_USERDATA_BYTES / 1024 / 1024} MiB`;
}

/** Parse and execute in one go. */
export function renderGoTemplate(src: string, data: unknown): string {
  if (!src.includes("{{")) return src;
  return executeTemplate(parseTemplate(src), data);
}
