/**
 * Executes a parsed template (go-template-parse.ts) over Go values (go-template-value.ts) the way
 * Go 1.19's text/template does with `missingkey=zero`: variables and their scopes, `if`/`with`/
 * `range` (maps in key order, `else`, `break`/`continue`), `template`/`block`, the built-in
 * functions with Go's argument typing, and the same execution errors. Bounded: rendered text (and
 * every intermediate string) at MAX_USERDATA_BYTES, template calls MAX_NESTING deep.
 */
import { GoTemplateError } from "./go-template-error.js";
import { htmlEscape, jsEscape, sprint, sprintf, sprintln, urlQueryEscape } from "./go-template-fmt.js";
import type { Arg, Command, ControlNode, Node, NumberInfo, Pipe, TemplateSet } from "./go-template-parse.js";
import {
  INVALID, NIL, compareStrings, decodeUtf8Slice, float, isTrue, sortedKeys, typeName, uint8, utf8Bytes, utf8Length, type GoValue,
} from "./go-template-value.js";
import { MAX_NESTING, MAX_USERDATA_BYTES } from "./limits.js";

/** "No final argument" (Go's missingVal). */
const MISSING = Symbol("missing");
type Final = GoValue | typeof MISSING;

/** How a built-in takes an argument: Go's reflect.Value (as is), `any` (nil-able), or `string`. */
type ArgType = "value" | "any" | "string";

const BREAK = Symbol("break");
const CONTINUE = Symbol("continue");

export function tooLongMessage(): string {
  return `rendered text is longer than ${MAX_USERDATA_BYTES / 1024 / 1024} MiB`;
}

const isInvalid = (v: GoValue): boolean => typeof v === "object" && v.k === "invalid";

function argText(a: Arg): string {
  switch (a.t) {
    case "field":
      return "." + a.ident.join(".");
    case "var":
      return a.ident.join(".");
    case "chain":
      return `${argText(a.node)}.${a.fields.join(".")}`;
    case "ident":
      return a.name;
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "bool":
      return String(a.value);
    case "number":
      return a.num.text;
    case "string":
      return JSON.stringify(a.text);
    case "pipe":
      return "(" + a.pipe.cmds.map((c) => c.args.map(argText).join(" ")).join(" | ") + ")";
  }
}

interface Variable {
  name: string;
  value: GoValue;
}

class State {
  out = "";
  vars: Variable[];
  depth = 0;
  constructor(
    readonly set: TemplateSet,
    dot: GoValue,
  ) {
    this.vars = [{ name: "$", value: dot }];
  }

  fail(msg: string, pos: number): never {
    throw new GoTemplateError(msg, pos);
  }

  write(s: string, pos: number): void {
    this.out += s;
    if (this.out.length > MAX_USERDATA_BYTES) this.fail(tooLongMessage(), pos);
  }

  mark(): number {
    return this.vars.length;
  }
  pop(mark: number): void {
    this.vars.length = mark;
  }
  setVar(name: string, value: GoValue, pos: number): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.fail(`undefined variable: ${name}`, pos);
  }
  setTopVar(n: number, value: GoValue): void {
    this.vars[this.vars.length - n]!.value = value;
  }
  varValue(name: string, pos: number): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.fail(`undefined variable: ${name}`, pos);
  }

  // ---------------------------------------------------------------- walking

  walkList(dot: GoValue, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  walk(dot: GoValue, node: Node): void {
    switch (node.t) {
      case "text":
        this.write(node.text, node.pos ?? 0);
        return;
      case "action": {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.write(isInvalid(val) ? "<no value>" : sprint([val]), node.pos);
        return;
      }
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
      case "if":
      case "with": {
        const mark = this.mark();
        try {
          const val = this.evalPipeline(dot, node.pipe);
          if (isTrue(val)) this.walkList(node.t === "with" ? val : dot, node.list);
          else if (node.elseList) this.walkList(dot, node.elseList);
        } finally {
          this.pop(mark);
        }
        return;
      }
      case "range":
        return this.walkRange(dot, node);
      case "template":
        return this.walkTemplate(dot, node);
    }
  }

  walkRange(dot: GoValue, r: ControlNode): void {
    const outer = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const oneIteration = (index: GoValue, elem: GoValue): void => {
        if (r.pipe.decl.length > 0) this.setTopVar(1, elem);
        if (r.pipe.decl.length > 1) this.setTopVar(2, index);
        try {
          this.walkList(elem, r.list);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.pop(mark);
        }
      };
      if (typeof val === "object" && val.k === "map") {
        if (val.entries && val.entries.size > 0) {
          for (const key of sortedKeys(val.entries)) oneIteration(key, val.entries.get(key)!);
          return;
        }
      } else if (!isInvalid(val)) {
        this.fail(`range can't iterate over ${sprint([val])}`, r.pos);
      }
      if (r.elseList) this.walkList(dot, r.elseList);
    } catch (e) {
      if (e !== BREAK) throw e;
    } finally {
      this.pop(outer);
    }
  }

  walkTemplate(dot: GoValue, t: Extract<Node, { t: "template" }>): void {
    const tree = this.set.trees.get(t.name);
    if (!tree) this.fail(`template ${JSON.stringify(t.name)} not defined`, t.pos);
    // Go allows 100,000 nested template calls; pvefleet bounds them like any other nesting.
    if (this.depth >= MAX_NESTING) this.fail(`exceeded maximum template depth (${MAX_NESTING})`, t.pos);
    const newDot = t.pipe ? this.evalPipeline(dot, t.pipe) : INVALID;
    const savedVars = this.vars;
    this.vars = [{ name: "$", value: newDot }];
    this.depth++;
    try {
      this.walkList(newDot, tree);
    } finally {
      this.depth--;
      this.vars = savedVars;
    }
  }

  // ---------------------------------------------------------------- pipelines

  evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value as GoValue;
    pipe.decl.forEach((name, i) => {
      if (pipe.isAssign) this.setVar(name, v, pipe.declPos[i]!);
      else this.vars.push({ name, value: v });
    });
    return v;
  }

  notAFunction(args: Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.fail(`can't give argument to non-function ${argText(args[0]!)}`, args[0]!.pos);
  }

  evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    const first = cmd.args[0]!;
    switch (first.t) {
      case "field":
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case "chain":
        return this.evalChain(dot, first, cmd.args, final);
      case "ident":
        return this.evalFunction(dot, first, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case "var":
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case "bool":
        return first.value;
      case "dot":
        return dot;
      case "nil":
        this.fail("nil is not a command", first.pos);
      // falls through: fail never returns
      case "number":
        return this.idealConstant(first.num, first.pos);
      case "string":
        return first.text;
    }
  }

  idealConstant(n: NumberInfo, pos: number): GoValue {
    if (n.isComplex) return { k: "complex", re: n.re, im: n.im };
    const hexInt = n.text.length > 2 && n.text[0] === "0" && (n.text[1] === "x" || n.text[1] === "X") && !/[pP]/.test(n.text);
    const runeInt = n.text[0] === "'";
    if (n.isFloat && !hexInt && !runeInt && /[.eEpP]/.test(n.text)) return float(n.float);
    if (n.isInt) return n.int;
    if (n.isUint) this.fail(`${n.text} overflows int`, pos);
    return INVALID;
  }

  evalChain(dot: GoValue, chain: Extract<Arg, { t: "chain" }>, args: Arg[], final: Final): GoValue {
    if (chain.node.t === "nil") this.fail(`indirection through explicit nil in ${argText(chain)}`, chain.pos);
    const recv = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(dot, recv, chain, chain.fields, args, final);
  }

  evalVariable(dot: GoValue, v: Extract<Arg, { t: "var" }>, args: Arg[], final: Final): GoValue {
    const value = this.varValue(v.ident[0]!, v.pos);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  evalFieldChain(dot: GoValue, receiver: GoValue, node: Arg, ident: string[], args: Arg[] | null, final: Final): GoValue {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(ident[i]!, node, null, MISSING, receiver);
    return this.evalField(ident[n - 1]!, node, args, final, receiver);
  }

  evalField(name: string, node: Arg, args: Arg[] | null, final: Final, receiver: GoValue): GoValue {
    if (isInvalid(receiver)) return INVALID;
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    if (typeof receiver === "object") {
      if (receiver.k === "struct") {
        const i = receiver.type.fields.indexOf(name);
        if (i >= 0) {
          if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`, node.pos);
          return receiver.fields[i]!;
        }
      } else if (receiver.k === "map") {
        if (hasArgs) this.fail(`${name} is not a method but has arguments`, node.pos);
        return receiver.entries?.get(name) ?? "";
      }
    }
    this.fail(`can't evaluate field ${name} in type ${typeName(receiver)}`, node.pos);
  }

  // ---------------------------------------------------------------- arguments

  validateType(value: GoValue, typ: ArgType | null, pos: number): GoValue {
    if (isInvalid(value)) {
      if (typ === null || typ === "value") return INVALID;
      if (typ === "any") return NIL;
      this.fail("invalid value; expected string", pos);
    }
    if (typ === "string" && typeof value !== "string") this.fail(`wrong type for value; expected string; got ${typeName(value)}`, pos);
    return value;
  }

  evalArg(dot: GoValue, typ: ArgType | null, n: Arg): GoValue {
    switch (n.t) {
      case "dot":
        return this.validateType(dot, typ, n.pos);
      case "nil":
        if (typ === "any") return NIL;
        if (typ === "value") return INVALID;
        this.fail(`cannot assign nil to ${typ ?? "<nil>"}`, n.pos);
      // falls through: fail never returns
      case "field":
        return this.validateType(this.evalFieldChain(dot, dot, n, n.ident, [n], MISSING), typ, n.pos);
      case "var":
        return this.validateType(this.evalVariable(dot, n, [n], MISSING), typ, n.pos);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, n.pipe), typ, n.pos);
      case "ident":
        return this.validateType(this.evalFunction(dot, n, [n], MISSING), typ, n.pos);
      case "chain":
        return this.validateType(this.evalChain(dot, n, [n], MISSING), typ, n.pos);
    }
    if (typ === "string") {
      if (n.t === "string") return n.text;
      this.fail(`expected string; found ${argText(n)}`, n.pos);
    }
    switch (n.t) {
      case "bool":
        return n.value;
      case "number":
        return this.idealConstant(n.num, n.pos);
      case "string":
        return n.text;
    }
  }

  // ---------------------------------------------------------------- functions

  evalFunction(dot: GoValue, node: Extract<Arg, { t: "ident" }>, cmdArgs: Arg[], final: Final): GoValue {
    const name = node.name;
    const args = cmdArgs.slice(1);
    const sig = SIGNATURES[name]!;
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    if (sig.variadic) {
      if (numIn < sig.fixed.length) this.fail(`wrong number of args for ${name}: want at least ${sig.fixed.length} got ${args.length}`, node.pos);
    } else if (numIn !== sig.fixed.length) {
      this.fail(`wrong number of args for ${name}: want ${sig.fixed.length} got ${numIn}`, node.pos);
    }
    if (name === "and" || name === "or") {
      let v: GoValue = INVALID;
      for (const arg of args) {
        v = this.evalArg(dot, "value", arg);
        if (isTrue(v) === (name === "or")) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: GoValue[] = [];
    let i = 0;
    for (; i < sig.fixed.length && i < args.length; i++) argv.push(this.evalArg(dot, sig.fixed[i]!, args[i]!));
    if (sig.variadic) for (; i < args.length; i++) argv.push(this.evalArg(dot, sig.variadic, args[i]!));
    if (final !== MISSING) {
      const t = sig.variadic && numIn - 1 >= sig.fixed.length ? sig.variadic : sig.fixed[numIn - 1]!;
      argv.push(this.validateType(final, t, node.pos));
    }
    let result: GoValue;
    try {
      result = sig.fn(argv, node.pos);
    } catch (e) {
      if (e instanceof CallError) this.fail(`error calling ${name}: ${e.message}`, node.pos);
      throw e;
    }
    if (typeof result === "string" && result.length > MAX_USERDATA_BYTES) this.fail(tooLongMessage(), node.pos);
    return result;
  }
}

/** An error a built-in returns (Go: "error calling NAME: …"). */
class CallError extends Error {}

interface Signature {
  fixed: ArgType[];
  variadic?: ArgType;
  fn: (args: GoValue[], pos: number) => GoValue;
}

// ---------------------------------------------------------------- built-ins

type Kind = "invalid" | "bool" | "complex" | "int" | "float" | "string" | "uint";

function basicKind(v: GoValue): Kind {
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "string":
      return "string";
  }
  switch (v.k) {
    case "uint8":
      return "uint";
    case "float":
      return "float";
    case "complex":
      return "complex";
    default:
      return "invalid";
  }
}

const BAD_COMPARISON_TYPE = "invalid type for comparison";
const BAD_COMPARISON = "incompatible types for comparison";

const num = (v: GoValue): number => (typeof v === "object" && (v.k === "float" || v.k === "uint8") ? v.v : 0);
const bigOf = (v: GoValue): bigint => (typeof v === "bigint" ? v : typeof v === "object" && v.k === "uint8" ? BigInt(v.v) : 0n);

function eq(args: GoValue[]): GoValue {
  const arg1 = args[0]!;
  if (args.length < 2) throw new CallError("missing argument for comparison");
  const k1 = basicKind(arg1);
  for (const arg of args.slice(1)) {
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === "int" && k2 === "uint") || (k1 === "uint" && k2 === "int")) truth = bigOf(arg1) === bigOf(arg);
      else if (!isInvalid(arg1) && !isInvalid(arg)) throw new CallError(BAD_COMPARISON);
    } else {
      switch (k1) {
        case "bool":
        case "string":
        case "int":
          truth = arg1 === arg;
          break;
        case "float":
        case "uint":
          truth = num(arg1) === num(arg);
          break;
        case "complex": {
          const a = arg1 as { re: number; im: number };
          const b = arg as { re: number; im: number };
          truth = a.re === b.re && a.im === b.im;
          break;
        }
        default: {
          // maps, structs, invalid values
          const nil1 = isInvalid(arg1) || (typeof arg1 === "object" && arg1.k === "map" && arg1.entries === null);
          const nil2 = isInvalid(arg) || (typeof arg === "object" && arg.k === "map" && arg.entries === null);
          const kind = (v: GoValue) => (isInvalid(v) ? "invalid" : typeof v === "object" ? v.k : typeof v);
          if (kind(arg1) !== kind(arg) && !isInvalid(arg1) && !isInvalid(arg)) throw new CallError(`non-comparable types ${sprint([arg1])}: ${typeName(arg1)}, ${typeName(arg)}: ${sprint([arg])}`);
          if (nil1 || nil2) truth = nil1 === nil2;
          else if (!comparable(arg)) throw new CallError(`non-comparable type ${sprint([arg])}: ${typeName(arg)}`);
          else truth = structEqual(arg1, arg);
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

/** Go's Type.Comparable for these types: maps are not, nor structs holding one. */
function comparable(v: GoValue): boolean {
  if (typeof v !== "object") return true;
  if (v.k === "map") return false;
  if (v.k === "struct") return v.fields.every(comparable);
  return true;
}

function structEqual(a: GoValue, b: GoValue): boolean {
  if (typeof a !== "object" || typeof b !== "object" || a.k !== "struct" || b.k !== "struct") return a === b;
  if (a.type.name !== b.type.name || a.type.fields.length !== b.type.fields.length) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i]!;
    if (typeof f === "object" && f.k === "map") throw new CallError(`comparing uncomparable type ${typeName(a)}`);
    return typeof f === "object" ? structEqual(f, g) : f === g;
  });
}

function lt(args: GoValue[]): boolean {
  const [a, b] = args as [GoValue, GoValue];
  const k1 = basicKind(a);
  if (k1 === "invalid") throw new CallError(BAD_COMPARISON_TYPE);
  const k2 = basicKind(b);
  if (k2 === "invalid") throw new CallError(BAD_COMPARISON_TYPE);
  if (k1 !== k2) {
    if (k1 === "int" && k2 === "uint") return bigOf(a) < bigOf(b);
    if (k1 === "uint" && k2 === "int") return bigOf(a) < bigOf(b);
    throw new CallError(BAD_COMPARISON);
  }
  switch (k1) {
    case "bool":
    case "complex":
      throw new CallError(BAD_COMPARISON_TYPE);
    case "float":
    case "uint":
      return num(a) < num(b);
    case "int":
      return (a as bigint) < (b as bigint);
    default:
      return compareStrings(a as string, b as string) < 0;
  }
}

function le(args: GoValue[]): boolean {
  return lt(args) || (eq(args) as boolean);
}

function indexArg(index: GoValue, cap: number): number {
  let x: bigint;
  if (typeof index === "bigint") x = index;
  else if (typeof index === "object" && index.k === "uint8") x = BigInt(index.v);
  else if (isInvalid(index)) throw new CallError("cannot index slice/array with nil");
  else throw new CallError(`cannot index slice/array with type ${typeName(index)}`);
  if (x < 0n || x > BigInt(cap)) throw new CallError(`index out of range: ${x}`);
  return Number(x);
}

function index(args: GoValue[]): GoValue {
  let item = args[0]!;
  if (isInvalid(item)) throw new CallError("index of untyped nil");
  for (const ix of args.slice(1)) {
    if (typeof item === "string") {
      const bytes = utf8Bytes(item);
      const x = indexArg(ix, bytes.length);
      if (x === bytes.length) throw new CallError(`reflect: string index out of range`);
      item = uint8(bytes[x]!);
    } else if (typeof item === "object" && item.k === "map") {
      if (isInvalid(ix)) throw new CallError("value is nil; should be of type string");
      if (typeof ix !== "string") throw new CallError(`value has type ${typeName(ix)}; should be string`);
      item = item.entries?.get(ix) ?? "";
    } else throw new CallError(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice(args: GoValue[], pos: number): GoValue {
  const item = args[0]!;
  if (isInvalid(item)) throw new CallError("slice of untyped nil");
  const indexes = args.slice(1);
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  if (typeof item !== "string") throw new CallError(`can't slice item of type ${typeName(item)}`);
  if (indexes.length === 3) throw new CallError("cannot 3-index slice a string");
  const bytes = utf8Bytes(item);
  const idx = [0, bytes.length];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, bytes.length)));
  if (idx[0]! > idx[1]!) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (idx[0] === 0 && idx[1] === bytes.length) return item;
  return decodeUtf8Slice(bytes.subarray(idx[0], idx[1]), pos);
}

function length(args: GoValue[]): GoValue {
  const item = args[0]!;
  if (typeof item === "string") return BigInt(utf8Length(item));
  if (typeof item === "object" && item.k === "map") return BigInt(item.entries?.size ?? 0);
  if (isInvalid(item)) throw new CallError("reflect: call of reflect.Value.Type on zero Value");
  throw new CallError(`len of type ${typeName(item)}`);
}

/** Arguments of html/js/urlquery as one string (text/template's evalArgs). */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return sprint(args.map((a) => (typeof a === "object" && (a.k === "nil" || a.k === "invalid") ? "<no value>" : a)));
}

const SIGNATURES: Record<string, Signature> = {
  and: { fixed: ["value"], variadic: "value", fn: () => INVALID },
  or: { fixed: ["value"], variadic: "value", fn: () => INVALID },
  not: { fixed: ["value"], fn: (a) => !isTrue(a[0]!) },
  call: {
    fixed: ["value"],
    variadic: "value",
    fn: (a) => {
      if (isInvalid(a[0]!)) throw new CallError("call of nil");
      throw new CallError(`non-function of type ${typeName(a[0]!)}`);
    },
  },
  html: { fixed: [], variadic: "any", fn: (a) => htmlEscape(evalArgs(a)) },
  js: { fixed: [], variadic: "any", fn: (a) => jsEscape(evalArgs(a)) },
  urlquery: { fixed: [], variadic: "any", fn: (a) => urlQueryEscape(evalArgs(a)) },
  print: { fixed: [], variadic: "any", fn: (a) => sprint(a) },
  println: { fixed: [], variadic: "any", fn: (a) => sprintln(a) },
  printf: { fixed: ["string"], variadic: "any", fn: (a) => sprintf(a[0] as string, a.slice(1)) },
  index: { fixed: ["value"], variadic: "value", fn: index },
  slice: { fixed: ["value"], variadic: "value", fn: slice },
  len: { fixed: ["value"], fn: length },
  eq: { fixed: ["value"], variadic: "value", fn: eq },
  ne: { fixed: ["value", "value"], fn: (a) => !eq(a) },
  lt: { fixed: ["value", "value"], fn: lt },
  le: { fixed: ["value", "value"], fn: le },
  gt: { fixed: ["value", "value"], fn: (a) => !le(a) },
  ge: { fixed: ["value", "value"], fn: (a) => !lt(a) },
};

/** Runs the set's own template over `dot`. Throws GoTemplateError. */
export function executeSet(set: TemplateSet, dot: GoValue): string {
  const root = set.trees.get(set.name) ?? [];
  const s = new State(set, dot);
  try {
    s.walkList(dot, root);
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new GoTemplateError("template execution nests too deeply", 0);
    throw e;
  }
  return s.out;
}
