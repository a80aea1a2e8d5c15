/**
 * Go's `fmt.Sprint`, `Sprintln` and `Sprintf` over template values (go-template-value.ts), and the
 * escapers behind `html`, `js` and `urlquery`: the same verbs, flags (`#0+- `), width, precision,
 * explicit argument indexes (`%[2]d`, `*`) and the same error strings (`%!d(string=x)`,
 * `%!d(MISSING)`, `%!(EXTRA …)`) as Go 1.19, written from the behaviour Go documents and does.
 * Floats are formatted from their exact decimal value, rounded half to even like strconv.
 */
import { INT_MAX, sortedKeys, typeName, utf8Bytes, type GoValue } from "./go-template-value.js";

interface Flags {
  sharp: boolean;
  zero: boolean;
  plus: boolean;
  minus: boolean;
  space: boolean;
  sharpV: boolean;
  plusV: boolean;
  wid: number;
  widPresent: boolean;
  prec: number;
  precPresent: boolean;
}

const clearFlags = (): Flags => ({ sharp: false, zero: false, plus: false, minus: false, space: false, sharpV: false, plusV: false, wid: 0, widPresent: false, prec: 0, precPresent: false });

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
export function isPrint(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return false;
  if (cp < 0x7f) return true;
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

function runeCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

const hex4 = (n: number, width: number, upper = false): string => {
  const h = n.toString(16).padStart(width, "0");
  return upper ? h.toUpperCase() : h;
};

function escapeRune(cp: number, quote: number, asciiOnly: boolean): string {
  if (cp === quote || cp === 0x5c) return "\\" + String.fromCodePoint(cp);
  if (asciiOnly ? cp < 0x80 && isPrint(cp) : isPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7: return "\\a";
    case 8: return "\\b";
    case 12: return "\\f";
    case 10: return "\\n";
    case 13: return "\\r";
    case 9: return "\\t";
    case 11: return "\\v";
  }
  if (cp < 0x20 || cp === 0x7f) return "\\x" + hex4(cp, 2);
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  if (cp < 0x10000) return "\\u" + hex4(cp, 4);
  return "\\U" + hex4(cp, 8);
}

/** strconv.Quote / QuoteToASCII. */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, 0x22, asciiOnly);
  return out + '"';
}

function quoteRune(cp: number, asciiOnly: boolean): string {
  if (cp > 0x10ffff || cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27, asciiOnly) + "'";
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0xfeff || c === 0x60) return false;
    if ((c < 0x20 && c !== 9) || c === 0x7f) return false;
    if (c >= 0xd800 && c <= 0xdfff) return false;
  }
  return true;
}

// ---------------------------------------------------------------- floats

interface Decimal {
  d: string; // digits, no leading or trailing zeros ("" for zero)
  dp: number; // value = 0.d × 10^dp
}

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

function bitsOf(v: number): { neg: boolean; exp: number; mant: bigint } {
  F64[0] = v;
  const bits = U64[0]!;
  return { neg: bits >> 63n === 1n, exp: Number((bits >> 52n) & 0x7ffn), mant: bits & ((1n << 52n) - 1n) };
}

/** The exact decimal value of a finite, non-negative double. */
function exactDecimal(v: number): Decimal {
  if (v === 0) return { d: "", dp: 0 };
  const { exp, mant } = bitsOf(v);
  let m = exp === 0 ? mant : mant | (1n << 52n);
  let e = (exp === 0 ? 1 : exp) - 1075;
  let digits: string;
  let dp: number;
  if (e >= 0) {
    digits = (m << BigInt(e)).toString();
    dp = digits.length;
  } else {
    // m / 2^-e = m·5^-e / 10^-e
    const n = -e;
    digits = (m * 5n ** BigInt(n)).toString();
    dp = digits.length - n;
  }
  return trimDecimal(digits, dp);
}

function trimDecimal(digits: string, dp: number): Decimal {
  let start = 0;
  while (start < digits.length && digits[start] === "0") {
    start++;
    dp--;
  }
  let end = digits.length;
  while (end > start && digits[end - 1] === "0") end--;
  const d = digits.slice(start, end);
  return d === "" ? { d: "", dp: 0 } : { d, dp };
}

function shortestDecimal(v: number): Decimal {
  if (v === 0) return { d: "", dp: 0 };
  const s = v.toExponential(); // shortest digits that read back as v
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)!;
  return trimDecimal(m[1]! + (m[2] ?? ""), Number(m[3]) + 1);
}

/** Keeps `nd` digits, rounding half to even on the exact value (strconv's decimal.Round). */
function roundDecimal(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return a;
  const c = a.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (c === 5 && nd + 1 === a.d.length) up = nd > 0 && (a.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = c >= 5;
  if (!up) return trimDecimal(a.d.slice(0, nd), a.dp);
  let i = nd - 1;
  while (i >= 0 && a.d[i] === "9") i--;
  if (i < 0) return { d: "1", dp: a.dp + 1 };
  return trimDecimal(a.d.slice(0, i) + String.fromCharCode(a.d.charCodeAt(i) + 1), a.dp);
}

function fmtE(neg: boolean, a: Decimal, prec: number, e: string): string {
  let s = neg ? "-" : "";
  s += a.d.length ? a.d[0] : "0";
  if (prec > 0) {
    s += ".";
    let i = 1;
    const m = Math.min(a.d.length, prec + 1);
    if (i < m) {
      s += a.d.slice(i, m);
      i = m;
    }
    for (; i <= prec; i++) s += "0";
  }
  s += e;
  let exp = a.d.length ? a.dp - 1 : 0;
  if (exp < 0) {
    s += "-";
    exp = -exp;
  } else s += "+";
  return s + (exp < 10 ? "0" + exp : String(exp));
}

function fmtF(neg: boolean, a: Decimal, prec: number): string {
  let s = neg ? "-" : "";
  if (a.dp > 0) {
    const m = Math.min(a.d.length, a.dp);
    s += a.d.slice(0, m) + "0".repeat(a.dp - m);
  } else s += "0";
  if (prec > 0) {
    s += ".";
    for (let i = 1; i <= prec; i++) {
      const j = a.dp + i - 1;
      s += j >= 0 && j < a.d.length ? a.d[j] : "0";
    }
  }
  return s;
}

function fmtB(v: number): string {
  const { neg, exp, mant } = bitsOf(v);
  const m = exp === 0 ? mant : mant | (1n << 52n);
  const e = (exp === 0 ? 1 : exp) - 1075;
  return (neg ? "-" : "") + m.toString() + "p" + (e >= 0 ? "+" : "") + e;
}

function fmtX(v: number, prec: number, verb: string): string {
  const { neg, exp: be, mant: m0 } = bitsOf(v);
  let mant = be === 0 ? m0 : m0 | (1n << 52n);
  let exp = (be === 0 ? 1 : be) - 1023;
  if (mant === 0n) exp = 0;
  mant <<= 8n;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant <<= 1n;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant <<= 60n - shift;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const digits = verb === "X" ? "0123456789ABCDEF" : "0123456789abcdef";
  let s = (neg ? "-" : "") + "0" + verb + String(Number((mant >> 60n) & 1n));
  mant = (mant << 4n) & ((1n << 64n) - 1n);
  if (prec < 0 && mant !== 0n) {
    s += ".";
    while (mant !== 0n) {
      s += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & ((1n << 64n) - 1n);
    }
  } else if (prec > 0) {
    s += ".";
    for (let i = 0; i < prec; i++) {
      s += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & ((1n << 64n) - 1n);
    }
  }
  s += verb === "X" ? "P" : "p";
  if (exp < 0) {
    s += "-";
    exp = -exp;
  } else s += "+";
  return s + (exp < 10 ? "0" + exp : String(exp));
}

/** strconv.FormatFloat(v, verb, prec, 64). */
export function formatFloat(v: number, verb: string, prec: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (verb === "b") return fmtB(v);
  if (verb === "x" || verb === "X") return fmtX(v, prec, verb);
  const neg = v < 0 || Object.is(v, -0);
  const av = Math.abs(v);
  const shortest = prec < 0;
  let digs: Decimal;
  if (shortest) {
    digs = shortestDecimal(av);
    if (verb === "e" || verb === "E") prec = Math.max(digs.d.length - 1, 0);
    else if (verb === "f") prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = exactDecimal(av);
    if (verb === "e" || verb === "E") digs = roundDecimal(exact, prec + 1);
    else if (verb === "f") digs = roundDecimal(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDecimal(exact, prec);
    }
  }
  const nd = digs.d.length;
  switch (verb) {
    case "e":
    case "E":
      return fmtE(neg, digs, prec, verb);
    case "f":
      return fmtF(neg, digs, prec);
    default: {
      let eprec = prec;
      if (eprec > nd && nd >= digs.dp) eprec = nd;
      if (shortest) eprec = 6;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > nd) prec = nd;
        return fmtE(neg, digs, prec - 1, verb === "G" ? "E" : "e");
      }
      if (prec > digs.dp) prec = nd;
      return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
    }
  }
}

// ---------------------------------------------------------------- the printer

class Printer {
  buf = "";
  f: Flags = clearFlags();

  writePadding(n: number): void {
    if (n > 0) this.buf += (this.f.zero ? "0" : " ").repeat(n);
  }

  padString(s: string): void {
    const f = this.f;
    if (!f.widPresent || f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = f.wid - runeCount(s);
    if (!f.minus) {
      this.writePadding(width);
      this.buf += s;
    } else {
      this.buf += s;
      this.writePadding(width);
    }
  }

  truncate(s: string): string {
    if (this.f.precPresent) {
      let n = this.f.prec;
      let i = 0;
      for (const ch of s) {
        if (--n < 0) return s.slice(0, i);
        i += ch.length;
      }
    }
    return s;
  }

  fmtS(s: string): void {
    this.padString(this.truncate(s));
  }

  fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.f.sharp && canBackquote(s)) this.padString("`" + s + "`");
    else this.padString(quote(s, this.f.plus));
  }

  fmtSx(s: string, upper: boolean): void {
    const f = this.f;
    const b = utf8Bytes(s);
    const digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
    let length = b.length;
    if (f.precPresent && f.prec < length) length = f.prec;
    let width = 2 * length;
    if (width > 0) {
      if (f.space) {
        if (f.sharp) width *= 2;
        width += length - 1;
      } else if (f.sharp) width += 2;
    } else {
      if (f.widPresent) this.writePadding(f.wid);
      return;
    }
    if (f.widPresent && f.wid > width && !f.minus) this.writePadding(f.wid - width);
    let out = "";
    if (f.sharp) out += "0" + digits[16];
    for (let i = 0; i < length; i++) {
      if (f.space && i > 0) {
        out += " ";
        if (f.sharp) out += "0" + digits[16];
      }
      const c = b[i]!;
      out += digits[c >> 4]! + digits[c & 15]!;
    }
    this.buf += out;
    if (f.widPresent && f.wid > width && f.minus) this.writePadding(f.wid - width);
  }

  fmtInteger(u: bigint, base: number, signed: boolean, verb: string, upper: boolean): void {
    const f = this.f;
    const negative = signed && u < 0n;
    if (negative) u = -u;
    let prec = 0;
    if (f.precPresent) {
      prec = f.prec;
      if (prec === 0 && u === 0n) {
        const oldZero = f.zero;
        f.zero = false;
        this.writePadding(f.wid);
        f.zero = oldZero;
        return;
      }
    } else if (f.zero && f.widPresent) {
      prec = f.wid;
      if (negative || f.plus || f.space) prec--;
    }
    let s = u.toString(base);
    if (upper) s = s.toUpperCase();
    if (prec > s.length) s = "0".repeat(prec - s.length) + s;
    if (f.sharp) {
      if (base === 2) s = "0b" + s;
      else if (base === 8) {
        if (s[0] !== "0") s = "0" + s;
      } else if (base === 16) s = (upper ? "0X" : "0x") + s;
    }
    if (verb === "O") s = "0o" + s;
    if (negative) s = "-" + s;
    else if (f.plus) s = "+" + s;
    else if (f.space) s = " " + s;
    const oldZero = f.zero;
    f.zero = false;
    this.padString(s);
    f.zero = oldZero;
  }

  fmtUnicode(u: bigint): void {
    const f = this.f;
    let prec = 4;
    if (f.precPresent && f.prec > 4) prec = f.prec;
    let s = "U+" + u.toString(16).toUpperCase().padStart(prec, "0");
    if (f.sharp && u <= 0x10ffffn && isPrint(Number(u))) s += " '" + String.fromCodePoint(Number(u)) + "'";
    const oldZero = f.zero;
    f.zero = false;
    this.padString(s);
    f.zero = oldZero;
  }

  fmtC(u: bigint): void {
    let cp = u > 0x10ffffn ? 0xfffd : Number(u);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    this.padString(String.fromCodePoint(cp));
  }

  integer(v: bigint, signed: boolean, verb: string, arg: GoValue): void {
    const u = signed ? v : BigInt.asUintN(64, v);
    switch (verb) {
      case "v":
        if (this.f.sharpV && !signed) {
          const sharp = this.f.sharp;
          this.f.sharp = true;
          this.fmtInteger(u, 16, false, "v", false);
          this.f.sharp = sharp;
        } else this.fmtInteger(u, 10, signed, verb, false);
        return;
      case "d":
        return this.fmtInteger(u, 10, signed, verb, false);
      case "b":
        return this.fmtInteger(u, 2, signed, verb, false);
      case "o":
      case "O":
        return this.fmtInteger(u, 8, signed, verb, false);
      case "x":
        return this.fmtInteger(u, 16, signed, verb, false);
      case "X":
        return this.fmtInteger(u, 16, signed, verb, true);
      case "c":
        return this.fmtC(BigInt.asUintN(64, v));
      case "q": {
        const r = BigInt.asUintN(64, v);
        this.padString(quoteRune(r > 0x10ffffn ? 0xfffd : Number(r), this.f.plus));
        return;
      }
      case "U":
        return this.fmtUnicode(BigInt.asUintN(64, v));
      default:
        return this.badVerb(verb, arg);
    }
  }

  fmtFloatWith(v: number, verb: string, prec: number): void {
    const f = this.f;
    if (f.precPresent) prec = f.prec;
    let num = formatFloat(v, verb, prec);
    if (num[0] !== "-" && num[0] !== "+") num = "+" + num;
    if (f.space && num[0] === "+" && !f.plus) num = " " + num.slice(1);
    if (num[1] === "I" || num[1] === "N") {
      const oldZero = f.zero;
      f.zero = false;
      if (num[1] === "N" && !f.space && !f.plus) num = num.slice(1);
      this.padString(num);
      f.zero = oldZero;
      return;
    }
    if (f.sharp && verb !== "b") {
      let digits = 0;
      if (verb === "v" || verb === "g" || verb === "G" || verb === "x") {
        digits = prec;
        if (digits === -1) digits = 6;
      }
      let tail = "";
      let hasDecimalPoint = false;
      let sawNonzeroDigit = false;
      for (let i = 1; i < num.length; i++) {
        const c = num[i]!;
        if (c === ".") hasDecimalPoint = true;
        else if (c === "p" || c === "P" || ((c === "e" || c === "E") && verb !== "x" && verb !== "X")) {
          tail = num.slice(i);
          num = num.slice(0, i);
          break;
        } else {
          if (c !== "0") sawNonzeroDigit = true;
          if (sawNonzeroDigit) digits--;
        }
      }
      if (!hasDecimalPoint) {
        if (num.length === 2 && num[1] === "0") digits--;
        num += ".";
      }
      while (digits > 0) {
        num += "0";
        digits--;
      }
      num += tail;
    }
    if (f.plus || num[0] !== "+") {
      if (f.zero && f.widPresent && f.wid > num.length) {
        this.buf += num[0];
        this.writePadding(f.wid - num.length);
        this.buf += num.slice(1);
        return;
      }
      this.padString(num);
      return;
    }
    this.padString(num.slice(1));
  }

  float(v: number, verb: string, arg: GoValue): void {
    switch (verb) {
      case "v":
        return this.fmtFloatWith(v, "g", -1);
      case "b":
      case "g":
      case "G":
      case "x":
      case "X":
        return this.fmtFloatWith(v, verb, -1);
      case "f":
      case "e":
      case "E":
        return this.fmtFloatWith(v, verb, 6);
      case "F":
        return this.fmtFloatWith(v, "f", 6);
      default:
        return this.badVerb(verb, arg);
    }
  }

  string(s: string, verb: string, arg: GoValue): void {
    switch (verb) {
      case "v":
        if (this.f.sharpV) this.fmtQ(s);
        else this.fmtS(s);
        return;
      case "s":
        return this.fmtS(s);
      case "x":
        return this.fmtSx(s, false);
      case "X":
        return this.fmtSx(s, true);
      case "q":
        return this.fmtQ(s);
      default:
        return this.badVerb(verb, arg);
    }
  }

  badVerb(verb: string, arg: GoValue): void {
    this.buf += "%!" + verb + "(";
    if (typeof arg === "object" && (arg.k === "nil" || arg.k === "invalid")) this.buf += "<nil>";
    else {
      this.buf += typeName(arg) + "=";
      this.printArg(arg, "v");
    }
    this.buf += ")";
  }

  printArg(arg: GoValue, verb: string): void {
    if (typeof arg === "object" && (arg.k === "nil" || arg.k === "invalid")) {
      if (verb === "T" || verb === "v") this.padString("<nil>");
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === "T") return this.fmtS(typeName(arg));
    if (verb === "p") return this.badVerb(verb, arg);
    this.printValue(arg, verb);
  }

  printValue(arg: GoValue, verb: string): void {
    switch (typeof arg) {
      case "boolean":
        if (verb === "t" || verb === "v") this.padString(arg ? "true" : "false");
        else this.badVerb(verb, arg);
        return;
      case "bigint":
        return this.integer(arg, true, verb, arg);
      case "string":
        return this.string(arg, verb, arg);
    }
    switch (arg.k) {
      case "uint8":
        return this.integer(BigInt(arg.v), false, verb, arg);
      case "float":
        return this.float(arg.v, verb, arg);
      case "complex": {
        if (!"vbgGxXfFeE".includes(verb)) return this.badVerb(verb, arg);
        const oldPlus = this.f.plus;
        this.buf += "(";
        this.float(arg.re, verb, arg);
        this.f.plus = true;
        this.float(arg.im, verb, arg);
        this.buf += "i)";
        this.f.plus = oldPlus;
        return;
      }
      case "map": {
        if (this.f.sharpV) {
          this.buf += "map[string]string";
          if (arg.entries === null) {
            this.buf += "(nil)";
            return;
          }
          this.buf += "{";
        } else this.buf += "map[";
        const keys = arg.entries ? sortedKeys(arg.entries) : [];
        keys.forEach((key, i) => {
          if (i > 0) this.buf += this.f.sharpV ? ", " : " ";
          this.printValue(key, verb);
          this.buf += ":";
          this.printValue(arg.entries!.get(key)!, verb);
        });
        this.buf += this.f.sharpV ? "}" : "]";
        return;
      }
      case "struct": {
        if (this.f.sharpV) this.buf += arg.type.name;
        this.buf += "{";
        arg.fields.forEach((field, i) => {
          if (i > 0) this.buf += this.f.sharpV ? ", " : " ";
          if (this.f.plusV || this.f.sharpV) this.buf += arg.type.fields[i] + ":";
          this.printValue(field, verb);
        });
        this.buf += "}";
        return;
      }
      default:
        this.buf += "<invalid reflect.Value>";
    }
  }
}

const isStringArg = (a: GoValue): boolean => typeof a === "string";

export function sprint(args: readonly GoValue[]): string {
  const p = new Printer();
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = isStringArg(arg);
    if (i > 0 && !isString && !prevString) p.buf += " ";
    p.printArg(arg, "v");
    prevString = isString;
  });
  return p.buf;
}

export function sprintln(args: readonly GoValue[]): string {
  const p = new Printer();
  args.forEach((arg, i) => {
    if (i > 0) p.buf += " ";
    p.printArg(arg, "v");
  });
  return p.buf + "\n";
}

const TOO_LARGE = 1e6;

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57; i++) {
    if (num > TOO_LARGE || num < -TOO_LARGE) return [0, false, end];
    num = num * 10 + (s.charCodeAt(i) - 48);
    isnum = true;
  }
  return [num, isnum, i];
}

function intFromArg(a: readonly GoValue[], argNum: number): [number, boolean, number] {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const v = a[argNum]!;
    if (typeof v === "bigint") {
      if (v >= -INT_MAX - 1n && v <= INT_MAX) {
        isInt = true;
        num = v > 2n ** 40n ? 2 ** 40 : v < -(2n ** 40n) ? -(2 ** 40) : Number(v);
      }
    } else if (typeof v === "object" && v.k === "uint8") {
      num = v.v;
      isInt = true;
    }
    newArgNum = argNum + 1;
    if (num > TOO_LARGE || num < -TOO_LARGE) {
      num = 0;
      isInt = false;
    }
  }
  return [num, isInt, newArgNum];
}

export function sprintf(format: string, a: readonly GoValue[]): string {
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;

  const argNumber = (argN: number, i: number): [number, number, boolean] => {
    if (end <= i || format[i] !== "[") return [argN, i, false];
    reordered = true;
    // parseArgNumber
    let index = 0;
    let wid = 1;
    let ok = false;
    if (end - i >= 3) {
      for (let j = i + 1; j < end; j++) {
        if (format[j] === "]") {
          const [width, isnum, newi] = parsenum(format, i + 1, j);
          if (!isnum || newi !== j) {
            wid = j - i + 1;
            ok = false;
          } else {
            index = width - 1;
            wid = j - i + 1;
            ok = true;
          }
          break;
        }
      }
    }
    if (ok && index >= 0 && index < a.length) return [index, i + wid, true];
    goodArgNum = false;
    return [argN, i + wid, ok];
  };

  let i = 0;
  formatLoop: while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== "%") i++;
    if (i > lasti) p.buf += format.slice(lasti, i);
    if (i >= end) break;
    i++;
    p.f = clearFlags();
    const f = p.f;
    simple: for (; i < end; i++) {
      const c = format[i]!;
      switch (c) {
        case "#":
          f.sharp = true;
          break;
        case "0":
          f.zero = !f.minus;
          break;
        case "+":
          f.plus = true;
          break;
        case "-":
          f.minus = true;
          f.zero = false;
          break;
        case " ":
          f.space = true;
          break;
        default:
          if (c >= "a" && c <= "z" && argNum < a.length) {
            if (c === "v") {
              f.sharpV = f.sharp;
              f.sharp = false;
              f.plusV = f.plus;
              f.plus = false;
            }
            p.printArg(a[argNum]!, c);
            argNum++;
            i++;
            continue formatLoop;
          }
          break simple;
      }
    }
    [argNum, i, afterIndex] = argNumber(argNum, i);
    if (i < end && format[i] === "*") {
      i++;
      [f.wid, f.widPresent, argNum] = intFromArg(a, argNum);
      if (!f.widPresent) p.buf += "%!(BADWIDTH)";
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      afterIndex = false;
    } else {
      [f.wid, f.widPresent, i] = parsenum(format, i, end);
      if (afterIndex && f.widPresent) goodArgNum = false;
    }
    if (i + 1 < end && format[i] === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      [argNum, i, afterIndex] = argNumber(argNum, i);
      if (i < end && format[i] === "*") {
        i++;
        [f.prec, f.precPresent, argNum] = intFromArg(a, argNum);
        if (f.prec < 0) {
          f.prec = 0;
          f.precPresent = false;
        }
        if (!f.precPresent) p.buf += "%!(BADPREC)";
        afterIndex = false;
      } else {
        [f.prec, f.precPresent, i] = parsenum(format, i, end);
        if (!f.precPresent) {
          f.prec = 0;
          f.precPresent = true;
        }
      }
    }
    if (!afterIndex) [argNum, i, afterIndex] = argNumber(argNum, i);
    if (i >= end) {
      p.buf += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === "%") p.buf += "%";
    else if (!goodArgNum) p.buf += "%!" + verb + "(BADINDEX)";
    else if (argNum >= a.length) p.buf += "%!" + verb + "(MISSING)";
    else {
      if (verb === "v") {
        f.sharpV = f.sharp;
        f.sharp = false;
        f.plusV = f.plus;
        f.plus = false;
      }
      p.printArg(a[argNum]!, verb);
      argNum++;
    }
  }
  if (!reordered && argNum < a.length) {
    p.f = clearFlags();
    p.buf += "%!(EXTRA ";
    a.slice(argNum).forEach((arg, j) => {
      if (j > 0) p.buf += ", ";
      if (typeof arg === "object" && (arg.k === "nil" || arg.k === "invalid")) p.buf += "<nil>";
      else {
        p.buf += typeName(arg) + "=";
        p.printArg(arg, "v");
      }
    });
    p.buf += ")";
  }
  return p.buf;
}

// ---------------------------------------------------------------- html, js, urlquery

export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ "\0": "\uFFFD", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

export function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) {
      out += isPrint(c) ? ch : "\\u" + c.toString(16).toUpperCase().padStart(4, "0");
      continue;
    }
    switch (ch) {
      case "\\": out += "\\\\"; break;
      case "'": out += "\\'"; break;
      case '"': out += '\\"'; break;
      case "<": out += "\\u003C"; break;
      case ">": out += "\\u003E"; break;
      case "&": out += "\\u0026"; break;
      case "=": out += "\\u003D"; break;
      default:
        out += c < 0x20 ? "\\u00" + c.toString(16).toUpperCase().padStart(2, "0") : ch;
    }
  }
  return out;
}

export function urlQueryEscape(s: string): string {
  let out = "";
  for (const b of utf8Bytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (b === 0x20) out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}
