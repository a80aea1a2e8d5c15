/**
 * Lexer and parser of Go's text/template language (Go 1.19): the same tokens, the same
 * grammar and the same parse-time errors (undefined functions and variables, `{{break}}` outside
 * `{{range}}`, bad numbers, unterminated strings, `define`/`block` redefinition, …). Every node
 * and every error carries an offset into the template text. Written from Go's documentation and
 * observed behaviour; nesting of control structures and of parentheses is bounded (MAX_NESTING).
 */
import { GoTemplateError } from "./go-template-error.js";
import { MAX_NESTING, nestingMessage } from "./limits.js";

// ---------------------------------------------------------------- the syntax tree

export interface Pipe {
  pos: number;
  isAssign: boolean;
  decl: string[]; // variable names, "$x"
  declPos: number[];
  cmds: Command[];
}
export interface Command {
  pos: number;
  args: Arg[];
}
export interface NumberInfo {
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int: bigint;
  float: number;
  re: number;
  im: number;
}
export type Arg =
  | { t: "field"; ident: string[]; pos: number }
  | { t: "var"; ident: string[]; pos: number } // ident[0] is the variable ("$" or "$x")
  | { t: "chain"; node: Arg; fields: string[]; pos: number }
  | { t: "ident"; name: string; pos: number }
  | { t: "dot"; pos: number }
  | { t: "nil"; pos: number }
  | { t: "bool"; value: boolean; pos: number }
  | { t: "number"; num: NumberInfo; pos: number }
  | { t: "string"; text: string; pos: number }
  | { t: "pipe"; pipe: Pipe; pos: number };

export interface ControlNode {
  t: "if" | "with" | "range";
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | null;
  pos: number;
}
export type Node =
  | { t: "text"; text: string; pos?: number }
  | { t: "action"; pipe: Pipe; pos: number }
  | ControlNode
  | { t: "template"; name: string; pipe: Pipe | null; pos: number }
  | { t: "break" | "continue"; pos: number };

/** A parsed template: its own tree and every tree `define`/`block` added, by name. */
export interface TemplateSet {
  name: string;
  trees: Map<string, Node[]>;
}

export const BUILTIN_FUNCTIONS = [
  "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
] as const;
const FUNCS = new Set<string>(BUILTIN_FUNCTIONS);

// ---------------------------------------------------------------- lexer

type ItemType =
  | "error" | "bool" | "char" | "charConstant" | "complex" | "assign" | "declare" | "eof" | "field" | "identifier"
  | "leftDelim" | "leftParen" | "number" | "pipe" | "rawString" | "rightDelim" | "rightParen" | "space" | "string"
  | "text" | "variable" | "block" | "break" | "continue" | "dot" | "define" | "else" | "end" | "if" | "nil" | "range"
  | "template" | "with";

interface Item {
  typ: ItemType;
  pos: number;
  val: string;
}

const KEYWORDS: Record<string, ItemType> = {
  ".": "dot", block: "block", break: "break", continue: "continue", define: "define", else: "else", end: "end",
  if: "if", range: "range", nil: "nil", template: "template", with: "with",
};

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";
const ALNUM = /^[\p{L}\p{Nd}_]$/u;
const isAlphaNumeric = (c: string | undefined) => c !== undefined && c !== "" && ALNUM.test(c);
const SPACE_RE = /^[ \t\r\n]*/;
const hasLeftTrimMarker = (s: string, i: number) => s[i] === "-" && isSpace(s[i + 1]);
const hasRightTrimMarker = (s: string, i: number) => isSpace(s[i]) && s[i + 1] === "-";

function describeRune(c: string): string {
  const cp = c.codePointAt(0)!;
  const u = "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c) ? `${u} '${c}'` : u;
}

function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  const n = input.length;
  const emit = (typ: ItemType) => {
    items.push({ typ, pos: start, val: input.slice(start, pos) });
    start = pos;
  };
  const error = (msg: string): false => {
    items.push({ typ: "error", pos: start, val: msg });
    return false;
  };
  const next = (): string => {
    if (pos >= n) {
      pos = n + 1; // marks EOF for backup
      return "";
    }
    const cp = input.codePointAt(pos)!;
    const ch = String.fromCodePoint(cp);
    pos += ch.length;
    return ch;
  };
  const backup = (ch: string) => {
    if (pos > n) pos = n;
    else pos -= ch.length;
  };
  const peek = (): string => {
    if (pos >= n) return "";
    return String.fromCodePoint(input.codePointAt(pos)!);
  };
  const accept = (valid: string): boolean => {
    const c = next();
    if (c !== "" && valid.includes(c)) return true;
    backup(c);
    return false;
  };
  const acceptRun = (valid: string) => {
    for (;;) {
      const c = next();
      if (c === "" || !valid.includes(c)) {
        backup(c);
        return;
      }
    }
  };
  const atRightDelim = (): [boolean, boolean] => {
    if (hasRightTrimMarker(input, pos) && input.startsWith("}}", pos + 2)) return [true, true];
    if (input.startsWith("}}", pos)) return [true, false];
    return [false, false];
  };
  const atTerminator = (): boolean => {
    const r = peek();
    if (isSpace(r)) return true;
    if (r === "" || r === "." || r === "," || r === "|" || r === ":" || r === ")" || r === "(") return true;
    return input.startsWith("}}", pos);
  };
  const scanNumber = (): boolean => {
    accept("+-");
    let digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (accept("oO")) digits = "01234567_";
      else if (accept("bB")) digits = "01_";
    }
    acceptRun(digits);
    if (accept(".")) acceptRun(digits);
    if (digits.length === 11 && accept("eE")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    if (digits.length === 23 && accept("pP")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    accept("i");
    if (isAlphaNumeric(peek())) {
      next();
      return false;
    }
    return true;
  };
  const fieldOrVariable = (typ: "field" | "variable"): boolean => {
    if (atTerminator()) {
      emit(typ === "variable" ? "variable" : "dot");
      return true;
    }
    let r: string;
    for (;;) {
      r = next();
      if (!isAlphaNumeric(r)) {
        backup(r);
        break;
      }
    }
    if (!atTerminator()) return error(`bad character ${describeRune(r || " ")}`);
    emit(typ);
    return true;
  };

  // lexText / lexLeftDelim / lexComment / lexInsideAction, as one loop
  text: for (;;) {
    const x = input.indexOf("{{", pos);
    if (x < 0) {
      pos = n;
      if (pos > start) emit("text");
      emit("eof");
      return items;
    }
    pos = x;
    let trimLength = 0;
    if (hasLeftTrimMarker(input, pos + 2)) {
      const before = input.slice(start, pos);
      trimLength = before.length - before.replace(/[ \t\r\n]+$/, "").length;
    }
    pos -= trimLength;
    if (pos > start) emit("text");
    pos += trimLength;
    start = pos;
    // left delimiter
    pos += 2;
    const trimSpace = hasLeftTrimMarker(input, pos);
    const afterMarker = trimSpace ? 2 : 0;
    if (input.startsWith("/*", pos + afterMarker)) {
      pos += afterMarker;
      start = pos;
      pos += 2;
      const i = input.indexOf("*/", pos);
      if (i < 0) {
        error("unclosed comment");
        return items;
      }
      pos = i + 2;
      const [delim, trim] = atRightDelim();
      if (!delim) {
        error("comment ends before closing delimiter");
        return items;
      }
      if (trim) pos += 2;
      pos += 2;
      if (trim) pos += SPACE_RE.exec(input.slice(pos))![0].length;
      start = pos;
      continue text;
    }
    emit("leftDelim");
    pos += afterMarker;
    start = pos;
    parenDepth = 0;
    // inside the action
    for (;;) {
      const [delim, trim] = atRightDelim();
      if (delim) {
        if (parenDepth !== 0) {
          error("unclosed left paren");
          return items;
        }
        if (trim) {
          pos += 2;
          start = pos;
        }
        pos += 2;
        emit("rightDelim");
        if (trim) {
          pos += SPACE_RE.exec(input.slice(pos))![0].length;
          start = pos;
        }
        continue text;
      }
      const r = next();
      if (r === "") {
        error("unclosed action");
        return items;
      }
      if (isSpace(r)) {
        backup(r);
        let numSpaces = 0;
        while (isSpace(peek())) {
          next();
          numSpaces++;
        }
        if (hasRightTrimMarker(input, pos - 1) && input.startsWith("}}", pos + 1)) {
          pos--;
          if (numSpaces === 1) continue; // at the trim marker: the delimiter comes next
        }
        emit("space");
        continue;
      }
      if (r === "=") emit("assign");
      else if (r === ":") {
        if (next() !== "=") {
          error("expected :=");
          return items;
        }
        emit("declare");
      } else if (r === "|") emit("pipe");
      else if (r === '"') {
        for (;;) {
          const c = next();
          if (c === "\\") {
            const d = next();
            if (d !== "" && d !== "\n") continue;
          }
          if (c === "\\" || c === "" || c === "\n") {
            error("unterminated quoted string");
            return items;
          }
          if (c === '"') break;
        }
        emit("string");
      } else if (r === "`") {
        const i = input.indexOf("`", pos);
        if (i < 0) {
          error("unterminated raw quoted string");
          return items;
        }
        pos = i + 1;
        emit("rawString");
      } else if (r === "$") {
        if (atTerminator()) emit("variable");
        else if (!fieldOrVariable("variable")) return items;
      } else if (r === "'") {
        for (;;) {
          const c = next();
          if (c === "\\") {
            const d = next();
            if (d !== "" && d !== "\n") continue;
          }
          if (c === "\\" || c === "" || c === "\n") {
            error("unterminated character constant");
            return items;
          }
          if (c === "'") break;
        }
        emit("charConstant");
      } else if (r === "." && pos < n && !(input[pos]! >= "0" && input[pos]! <= "9")) {
        if (!fieldOrVariable("field")) return items;
      } else if (r === "." || r === "+" || r === "-" || (r >= "0" && r <= "9")) {
        backup(r);
        if (!scanNumber()) {
          error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
          return items;
        }
        const sign = peek();
        if (sign === "+" || sign === "-") {
          if (!scanNumber() || input[pos - 1] !== "i") {
            error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
            return items;
          }
          emit("complex");
        } else emit("number");
      } else if (isAlphaNumeric(r)) {
        backup(r);
        let c: string;
        for (;;) {
          c = next();
          if (!isAlphaNumeric(c)) {
            backup(c);
            break;
          }
        }
        const word = input.slice(start, pos);
        if (!atTerminator()) {
          error(`bad character ${describeRune(c || " ")}`);
          return items;
        }
        const kw = Object.prototype.hasOwnProperty.call(KEYWORDS, word) ? KEYWORDS[word]! : undefined;
        if (kw && kw !== "dot") emit(kw);
        else if (word === "true" || word === "false") emit("bool");
        else emit("identifier");
      } else if (r === "(") {
        emit("leftParen");
        parenDepth++;
      } else if (r === ")") {
        emit("rightParen");
        parenDepth--;
        if (parenDepth < 0) {
          error(`unexpected right paren ${describeRune(r)}`);
          return items;
        }
      } else if (r.codePointAt(0)! <= 0x7f && r.codePointAt(0)! >= 0x20 && r !== "\x7f") emit("char");
      else {
        error(`unrecognized character in action: ${describeRune(r)}`);
        return items;
      }
    }
  }
}

// ---------------------------------------------------------------- literals (strconv)

function underscoreOK(s0: string): boolean {
  let s = s0;
  let saw = "^";
  let i = 0;
  if (s[0] === "-" || s[0] === "+") s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1]!)) {
    i = 2;
    saw = "0";
    hex = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseUint(s, 0, 64), or undefined. */
function parseUint(s0: string): bigint | undefined {
  let s = s0;
  if (s === "") return undefined;
  let base = 10;
  if (s[0] === "0") {
    const c = s[1]?.toLowerCase();
    if (s.length >= 3 && c === "b") (base = 2), (s = s.slice(2));
    else if (s.length >= 3 && c === "o") (base = 8), (s = s.slice(2));
    else if (s.length >= 3 && c === "x") (base = 16), (s = s.slice(2));
    else (base = 8), (s = s.slice(1));
  }
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === "_") {
      underscores = true;
      continue;
    }
    const d = parseInt(c, 36);
    if (Number.isNaN(d) || d >= base) return undefined;
    n = n * BigInt(base) + BigInt(d);
  }
  if (underscores && !underscoreOK(s0)) return undefined;
  if (n > (1n << 64n) - 1n) return undefined;
  return n;
}

function parseInt64(s: string): bigint | undefined {
  let neg = false;
  let t = s;
  if (t[0] === "+" || t[0] === "-") {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  const u = parseUint(t);
  if (u === undefined) return undefined;
  if (!neg && u > (1n << 63n) - 1n) return undefined;
  if (neg && u > 1n << 63n) return undefined;
  return neg ? -u : u;
}

/** strconv.ParseFloat(s, 64), or undefined on a syntax or range error. */
export function parseFloat64(s: string): number | undefined {
  const m = /^([+-]?)(0[xX])([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/.exec(s);
  let v: number;
  if (m) {
    if (!underscoreOK(s)) return undefined;
    const int = m[3]!.replace(/_/g, "");
    const frac = (m[4] ?? "").replace(/_/g, "");
    if (int === "" && frac === "") return undefined;
    const mant = BigInt("0x" + (int + frac || "0"));
    const exp = Number(m[5]!.replace(/_/g, "")) - 4 * frac.length;
    v = Number(mant) * 2 ** exp;
    if (!Number.isFinite(v) && mant !== 0n) return undefined;
    return m[1] === "-" ? -v : v;
  }
  if (!/^[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?$/.test(s)) return undefined;
  if (s.includes("_") && !underscoreOK(s)) return undefined;
  const clean = s.replace(/_/g, "");
  if (!/[0-9]/.test(clean.replace(/[eE].*$/, ""))) return undefined;
  v = Number(clean);
  if (Number.isNaN(v) || !Number.isFinite(v)) return undefined;
  return v;
}

function hexVal(s: string): number {
  return /^[0-9a-fA-F]+$/.test(s) ? parseInt(s, 16) : NaN;
}

/** strconv.UnquoteChar: [value, isByte, rest] or undefined. */
function unquoteChar(s: string, quote: string): [number, boolean, string] | undefined {
  const c = s[0];
  if (c === undefined) return undefined;
  if (c === quote && (quote === "'" || quote === '"')) return undefined;
  if (c !== "\\") {
    const cp = s.codePointAt(0)!;
    return [cp, false, s.slice(cp > 0xffff ? 2 : 1)];
  }
  if (s.length <= 1) return undefined;
  const e = s[1]!;
  const rest = s.slice(2);
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
  if (e in simple) return [simple[e]!, false, rest];
  if (e === "x" || e === "u" || e === "U") {
    const len = e === "x" ? 2 : e === "u" ? 4 : 8;
    if (rest.length < len) return undefined;
    const v = hexVal(rest.slice(0, len));
    if (Number.isNaN(v)) return undefined;
    if (e === "x") return [v, true, rest.slice(len)];
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
    return [v, false, rest.slice(len)];
  }
  if (e >= "0" && e <= "7") {
    const oct = s.slice(1, 4);
    if (!/^[0-7]{3}$/.test(oct)) return undefined;
    const v = parseInt(oct, 8);
    if (v > 255) return undefined;
    return [v, true, s.slice(4)];
  }
  if (e === "'" || e === '"') {
    if (e !== quote) return undefined;
    return [e.charCodeAt(0), false, rest];
  }
  return undefined;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** strconv.Unquote of a "…" or `…` token. */
function unquote(tok: string, pos: number): string {
  if (tok[0] === "`") return tok.slice(1, -1).replace(/\r/g, "");
  let s = tok.slice(1, -1);
  if (!s.includes("\\")) return s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  while (s.length > 0) {
    const r = unquoteChar(s, '"');
    if (!r) throw new GoTemplateError("invalid syntax", pos);
    const [v, isByte, rest] = r;
    if (isByte) bytes.push(v);
    else bytes.push(...enc.encode(String.fromCodePoint(v)));
    s = rest;
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw new GoTemplateError("string constant is not valid UTF-8 (pvefleet renders only valid UTF-8)", pos);
  }
}

function newNumber(text: string, typ: ItemType, pos: number): NumberInfo {
  const n: NumberInfo = { text, isInt: false, isUint: false, isFloat: false, isComplex: false, int: 0n, float: 0, re: 0, im: 0 };
  const simplifyComplex = () => {
    if (n.im === 0) {
      n.isFloat = true;
      n.float = n.re;
      if (Number.isInteger(n.re) && Math.abs(n.re) < 2 ** 63) {
        n.isInt = true;
        n.int = BigInt(n.re);
      }
      if (Number.isInteger(n.re) && n.re >= 0 && n.re < 2 ** 64) n.isUint = true;
    }
  };
  if (typ === "charConstant") {
    const r = unquoteChar(text.slice(1), "'");
    if (!r) throw new GoTemplateError("invalid syntax", pos);
    if (r[2] !== "'") throw new GoTemplateError(`malformed character constant: ${text}`, pos);
    n.int = BigInt(r[0]);
    n.isInt = n.isUint = n.isFloat = true;
    n.float = r[0];
    return n;
  }
  if (typ === "complex") {
    const m = /^(.*[^eEpP])([+-].*)i$/.exec(text);
    const re = m ? parseFloat64(m[1]!) : undefined;
    const im = m ? parseFloat64(m[2]!) : undefined;
    if (re === undefined || im === undefined) throw new GoTemplateError(`illegal number syntax: ${JSON.stringify(text)}`, pos);
    n.isComplex = true;
    n.re = re;
    n.im = im;
    simplifyComplex();
    return n;
  }
  if (text.endsWith("i")) {
    const f = parseFloat64(text.slice(0, -1));
    if (f !== undefined) {
      n.isComplex = true;
      n.im = f;
      simplifyComplex();
      return n;
    }
  }
  const u = parseUint(text);
  if (u !== undefined) n.isUint = true;
  const i = parseInt64(text);
  if (i !== undefined) {
    n.isInt = true;
    n.int = i;
    if (i === 0n) n.isUint = true;
  }
  if (n.isInt) {
    n.isFloat = true;
    n.float = Number(n.int);
  } else if (n.isUint) {
    n.isFloat = true;
    n.float = Number(u);
  } else {
    const f = parseFloat64(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) throw new GoTemplateError(`integer overflow: ${JSON.stringify(text)}`, pos);
      n.isFloat = true;
      n.float = f;
      if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
        n.isInt = true;
        n.int = BigInt(f);
      }
    }
  }
  if (!n.isInt && !n.isUint && !n.isFloat) throw new GoTemplateError(`illegal number syntax: ${JSON.stringify(text)}`, pos);
  return n;
}

// ---------------------------------------------------------------- parser

const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

function isEmptyTree(list: Node[]): boolean {
  return list.every((n) => n.t === "text" && GO_SPACE.test(n.text));
}

function describe(item: Item): string {
  switch (item.typ) {
    case "eof":
      return "EOF";
    case "error":
      return item.val;
    case "leftDelim":
    case "rightDelim":
      return `"${item.val}"`;
    default:
      if (KEYWORDS[item.val] && item.typ !== "identifier") return `<${item.val}>`;
      return item.val.length > 10 ? `${JSON.stringify(item.val.slice(0, 10))}...` : JSON.stringify(item.val);
  }
}

class Parser {
  private i = 0;
  // per tree
  private vars: string[] = ["$"];
  private rangeDepth = 0;
  private depth = 0;
  private parenDepth = 0;

  constructor(
    private readonly items: Item[],
    private readonly trees: Map<string, Node[]>,
  ) {}

  private next(): Item {
    const it = this.items[this.i]!;
    if (this.i < this.items.length - 1 || it.typ !== "eof") this.i++;
    return it;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Item {
    return this.items[this.i]!;
  }
  private nextNonSpace(): Item {
    let it: Item;
    do it = this.next();
    while (it.typ === "space");
    return it;
  }
  private peekNonSpace(): Item {
    const save = this.i;
    const it = this.nextNonSpace();
    this.i = save;
    return it;
  }
  private fail(msg: string, pos: number): never {
    throw new GoTemplateError(msg, pos);
  }
  private unexpected(item: Item, context: string): never {
    if (item.typ === "error") this.fail(item.val, item.pos);
    this.fail(`unexpected ${describe(item)} in ${context}`, item.pos);
  }
  private expect(typ: ItemType, context: string): Item {
    const it = this.nextNonSpace();
    if (it.typ !== typ) this.unexpected(it, context);
    return it;
  }

  /** Adds a tree to the set the way Go's (*Tree).add does. */
  private add(name: string, root: Node[], pos: number): void {
    const old = this.trees.get(name);
    if (old === undefined || isEmptyTree(old)) {
      this.trees.set(name, root);
      return;
    }
    if (!isEmptyTree(root)) this.fail(`template: multiple definition of template ${JSON.stringify(name)}`, pos);
  }

  /** A subtree (define, block) with its own variables and range depth, sharing the token stream. */
  private subtree<T>(fn: () => T): T {
    const saved = [this.vars, this.rangeDepth] as const;
    this.vars = ["$"];
    this.rangeDepth = 0;
    try {
      return fn();
    } finally {
      [this.vars, this.rangeDepth] = saved;
    }
  }

  parseMain(name: string): void {
    const root: Node[] = [];
    while (this.peek().typ !== "eof") {
      if (this.peek().typ === "leftDelim") {
        const save = this.i;
        this.next();
        const t = this.nextNonSpace();
        if (t.typ === "define") {
          this.subtree(() => this.parseDefinition());
          continue;
        }
        this.i = save;
      }
      const n = this.textOrAction();
      if (n.t === "end" || n.t === "else") this.fail(`unexpected {{${n.t}}}`, n.pos);
      root.push(n as Node);
    }
    this.add(name, root, 0);
  }

  private parseDefinition(): void {
    const context = "define clause";
    const nameTok = this.nextNonSpace();
    if (nameTok.typ !== "string" && nameTok.typ !== "rawString") this.unexpected(nameTok, context);
    const name = unquote(nameTok.val, nameTok.pos);
    this.expect("rightDelim", context);
    const [root, end] = this.itemList();
    if (end.t !== "end") this.fail(`unexpected {{${end.t}}} in ${context}`, end.pos);
    this.add(name, root, nameTok.pos);
  }

  private itemList(): [Node[], { t: "end" | "else"; pos: number; elseIf?: boolean }] {
    const list: Node[] = [];
    while (this.peekNonSpace().typ !== "eof") {
      const n = this.textOrAction();
      if (n.t === "end" || n.t === "else") return [list, n];
      list.push(n as Node);
    }
    this.fail("unexpected EOF", this.peek().pos);
  }

  private textOrAction(): Node | { t: "end" | "else"; pos: number; elseIf?: boolean } {
    const tok = this.nextNonSpace();
    if (tok.typ === "text") return { t: "text", text: tok.val, pos: tok.pos };
    if (tok.typ === "leftDelim") return this.action();
    this.unexpected(tok, "input");
  }

  private action(): Node | { t: "end" | "else"; pos: number; elseIf?: boolean } {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case "block":
        return this.blockControl(tok);
      case "break":
      case "continue": {
        const t = this.nextNonSpace();
        if (t.typ !== "rightDelim") this.unexpected(t, `{{${tok.typ}}}`);
        if (this.rangeDepth === 0) this.fail(`{{${tok.typ}}} outside {{range}}`, tok.pos);
        return { t: tok.typ, pos: tok.pos };
      }
      case "else": {
        const peek = this.peekNonSpace();
        if (peek.typ === "if") return { t: "else", pos: peek.pos, elseIf: true };
        this.expect("rightDelim", "else");
        return { t: "else", pos: tok.pos };
      }
      case "end":
        this.expect("rightDelim", "end");
        return { t: "end", pos: tok.pos };
      case "if":
      case "range":
      case "with":
        return this.control(tok);
      case "template":
        return this.templateControl();
    }
    this.backup();
    const pos = this.peek().pos;
    return { t: "action", pipe: this.pipeline("command", "rightDelim"), pos };
  }

  private control(tok: Item): Node {
    const kind = tok.typ as "if" | "range" | "with";
    if (this.depth >= MAX_NESTING) this.fail(nestingMessage(), tok.pos);
    this.depth++;
    const nvars = this.vars.length;
    try {
      const pipe = this.pipeline(kind, "rightDelim");
      if (kind === "range") this.rangeDepth++;
      let [list, next] = this.itemList();
      if (kind === "range") this.rangeDepth--;
      let elseList: Node[] | null = null;
      if (next.t === "else") {
        if (kind === "if" && next.elseIf) {
          // `{{else if}}` is an {{if}} inside the else branch that the same {{end}} closes.
          const ifTok = this.nextNonSpace();
          elseList = [this.control(ifTok)];
        } else {
          if (next.elseIf) {
            // "else" followed by "if" in a range/with: the else clause takes `if …` as its text
            this.expect("rightDelim", "else");
          }
          [elseList, next] = this.itemList();
          if (next.t !== "end") this.fail(`expected end; found {{${next.t}}}`, next.pos);
        }
      }
      void list;
      return { t: kind, pipe, list, elseList, pos: tok.pos };
    } finally {
      this.vars.length = nvars;
      this.depth--;
    }
  }

  private parseTemplateName(tok: Item, context: string): string {
    if (tok.typ !== "string" && tok.typ !== "rawString") this.unexpected(tok, context);
    return unquote(tok.val, tok.pos);
  }

  private blockControl(kw: Item): Node {
    const context = "block clause";
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    const pipe = this.pipeline(context, "rightDelim");
    if (this.depth >= MAX_NESTING) this.fail(nestingMessage(), kw.pos);
    this.depth++;
    try {
      this.subtree(() => {
        const [root, end] = this.itemList();
        if (end.t !== "end") this.fail(`unexpected {{${end.t}}} in ${context}`, end.pos);
        this.add(name, root, tok.pos);
      });
    } finally {
      this.depth--;
    }
    return { t: "template", name, pipe, pos: tok.pos };
  }

  private templateControl(): Node {
    const context = "template clause";
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    let pipe: Pipe | null = null;
    if (this.nextNonSpace().typ !== "rightDelim") {
      this.backup();
      pipe = this.pipeline(context, "rightDelim");
    }
    return { t: "template", name, pipe, pos: tok.pos };
  }

  private pipeline(context: string, end: "rightDelim" | "rightParen"): Pipe {
    const first = this.peekNonSpace();
    const pipe: Pipe = { pos: first.pos, isAssign: false, decl: [], declPos: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== "variable") break;
      const save = this.i;
      this.nextNonSpace();
      const afterVar = this.peek();
      const next = this.peekNonSpace();
      if (next.typ === "assign" || next.typ === "declare") {
        pipe.isAssign = next.typ === "assign";
        this.nextNonSpace();
        pipe.decl.push(v.val);
        pipe.declPos.push(v.pos);
        this.vars.push(v.val);
      } else if (next.typ === "char" && next.val === ",") {
        this.nextNonSpace();
        pipe.decl.push(v.val);
        pipe.declPos.push(v.pos);
        this.vars.push(v.val);
        if (context === "range" && pipe.decl.length < 2) {
          const p = this.peekNonSpace().typ;
          if (p === "variable" || p === "rightDelim" || p === "rightParen") continue decls;
          this.fail("range can only initialize variables", next.pos);
        }
        this.fail(`too many declarations in ${context}`, next.pos);
      } else {
        void afterVar;
        this.i = save;
      }
      break;
    }
    for (;;) {
      const tok = this.nextNonSpace();
      if (tok.typ === end) {
        this.checkPipeline(pipe, context, tok.pos);
        return pipe;
      }
      switch (tok.typ) {
        case "bool": case "charConstant": case "complex": case "dot": case "field": case "identifier":
        case "number": case "nil": case "rawString": case "string": case "variable": case "leftParen":
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(tok, context);
      }
    }
  }

  private checkPipeline(pipe: Pipe, context: string, pos: number): void {
    if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`, pos);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]!.t;
      if (t === "bool" || t === "dot" || t === "nil" || t === "number" || t === "string") {
        this.fail(`non executable command in pipeline stage ${i + 2}`, c.pos);
      }
    });
  }

  private command(): Command {
    const cmd: Command = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      while (this.peek().typ === "space") this.next();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const tok = this.next();
      if (tok.typ === "space") continue;
      if (tok.typ === "rightDelim" || tok.typ === "rightParen") this.backup();
      else if (tok.typ !== "pipe") this.unexpected(tok, "operand");
      break;
    }
    if (cmd.args.length === 0) this.fail("empty command", cmd.pos);
    return cmd;
  }

  private operand(): Arg | undefined {
    let node = this.term();
    if (!node) return undefined;
    if (this.peek().typ === "field") {
      const fields: string[] = [];
      while (this.peek().typ === "field") fields.push(this.next().val.slice(1));
      switch (node.t) {
        case "field":
          node = { t: "field", ident: [...node.ident, ...fields], pos: node.pos };
          break;
        case "var":
          node = { t: "var", ident: [...node.ident, ...fields], pos: node.pos };
          break;
        case "bool": case "string": case "number": case "nil": case "dot":
          this.fail(`unexpected . after term ${JSON.stringify(termText(node))}`, node.pos);
        // falls through: fail never returns
        default:
          node = { t: "chain", node, fields, pos: node.pos };
      }
    }
    return node;
  }

  private term(): Arg | undefined {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case "identifier":
        if (!FUNCS.has(tok.val)) this.fail(`function ${JSON.stringify(tok.val)} not defined`, tok.pos);
        return { t: "ident", name: tok.val, pos: tok.pos };
      case "dot":
        return { t: "dot", pos: tok.pos };
      case "nil":
        return { t: "nil", pos: tok.pos };
      case "variable":
        if (!this.vars.includes(tok.val)) this.fail(`undefined variable ${JSON.stringify(tok.val)}`, tok.pos);
        return { t: "var", ident: [tok.val], pos: tok.pos };
      case "field":
        return { t: "field", ident: [tok.val.slice(1)], pos: tok.pos };
      case "bool":
        return { t: "bool", value: tok.val === "true", pos: tok.pos };
      case "charConstant":
      case "complex":
      case "number":
        return { t: "number", num: newNumber(tok.val, tok.typ, tok.pos), pos: tok.pos };
      case "leftParen": {
        if (this.parenDepth >= MAX_NESTING) this.fail(nestingMessage(), tok.pos);
        this.parenDepth++;
        try {
          return { t: "pipe", pipe: this.pipeline("parenthesized pipeline", "rightParen"), pos: tok.pos };
        } finally {
          this.parenDepth--;
        }
      }
      case "string":
      case "rawString":
        return { t: "string", text: unquote(tok.val, tok.pos), pos: tok.pos };
    }
    this.backup();
    return undefined;
  }
}

function termText(a: Arg): string {
  switch (a.t) {
    case "bool":
      return String(a.value);
    case "string":
      return JSON.stringify(a.text);
    case "number":
      return a.num.text;
    case "nil":
      return "nil";
    default:
      return ".";
  }
}

/** Parses a template as Go's `template.New(name).Parse(src)` does. Throws GoTemplateError. */
export function parseTemplateSet(src: string, name: string): TemplateSet {
  const items = lex(src);
  const trees = new Map<string, Node[]>();
  new Parser(items, trees).parseMain(name);
  return { name, trees };
}
