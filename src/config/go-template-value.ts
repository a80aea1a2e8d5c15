/**
 * The values a Go template computes with, modelled on the Go types Nstance's template data has
 * (`instances.UserdataTemplateData`: structs of strings, `map[string]string` for `.Vars` and
 * `.Image`, a string `.Nonce`) and the few types the built-in functions and literals add: `int`
 * (64-bit, as a bigint), `float64`, `complex128`, `uint8` (a byte from `index` of a string), and
 * `bool`. `INVALID` is Go's zero `reflect.Value` (prints `<no value>`); `NIL` is a nil `any`
 * (prints `<nil>`), which only exists as an argument of `print`/`printf`/`html`/… .
 */
import { GoTemplateError } from "./go-template-error.js";

export interface GoFloat { readonly k: "float"; readonly v: number }
export interface GoComplex { readonly k: "complex"; readonly re: number; readonly im: number }
export interface GoUint8 { readonly k: "uint8"; readonly v: number }
/** `map[string]string`; `entries` null is a nil map. */
export interface GoMap { readonly k: "map"; readonly entries: ReadonlyMap<string, string> | null }
export interface StructType { readonly name: string; readonly fields: readonly string[] }
export interface GoStruct { readonly k: "struct"; readonly type: StructType; readonly fields: readonly GoValue[] }
export interface GoInvalid { readonly k: "invalid" }
export interface GoNil { readonly k: "nil" }

export type GoValue = string | boolean | bigint | GoFloat | GoComplex | GoUint8 | GoMap | GoStruct | GoInvalid | GoNil;

export const INVALID: GoInvalid = { k: "invalid" };
export const NIL: GoNil = { k: "nil" };

export const float = (v: number): GoFloat => ({ k: "float", v });
export const uint8 = (v: number): GoUint8 => ({ k: "uint8", v });

export const INT_MIN = -(1n << 63n);
export const INT_MAX = (1n << 63n) - 1n;

export function typeName(v: GoValue): string {
  switch (typeof v) {
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
  }
  switch (v.k) {
    case "float":
      return "float64";
    case "complex":
      return "complex128";
    case "uint8":
      return "uint8";
    case "map":
      return "map[string]string";
    case "struct":
      return v.type.name;
    default:
      return "<nil>";
  }
}

/** Go's `isTrue`: [truth, ok]; ok is false for values if/with cannot test (never, for these types). */
export function isTrue(v: GoValue): boolean {
  switch (typeof v) {
    case "string":
      return v.length > 0;
    case "boolean":
      return v;
    case "bigint":
      return v !== 0n;
  }
  switch (v.k) {
    case "float":
    case "uint8":
      return v.v !== 0;
    case "complex":
      return v.re !== 0 || v.im !== 0;
    case "map":
      return (v.entries?.size ?? 0) > 0;
    case "struct":
      return true;
    default:
      return false;
  }
}

/** Byte-wise (UTF-8) order of two strings, which is code-point order — Go's string `<`. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a surrogate (astral code point) sorts after any BMP unit
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export function sortedKeys(m: ReadonlyMap<string, string>): string[] {
  return [...m.keys()].sort(compareStrings);
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Go strings are bytes; JavaScript strings are UTF-16. Slicing inside a multi-byte character
 * would make bytes that are not UTF-8, which a JavaScript string cannot hold: refused (a
 * documented difference) rather than rendered differently.
 */
export function decodeUtf8Slice(bytes: Uint8Array, offset: number): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new GoTemplateError("slice splits a multi-byte UTF-8 character (pvefleet renders only valid UTF-8)", offset);
  }
}

// ---------------------------------------------------------------- Nstance's template data

const t = (name: string, fields: string[]): StructType => ({ name, fields });
const CLUSTER = t("instances.ClusterData", ["ID", "CACert"]);
const SERVER = t("instances.ServerData", ["Shard", "RegistrationAddr", "AgentAddr", "OperatorAddr"]);
const PROVIDER = t("instances.ProviderData", ["Kind", "Region", "Zone"]);
const INSTANCE = t("instances.InstanceData", ["ID", "Kind", "Arch", "Type"]);
const INSTANCE_WITH_HOSTNAME = t("instances.InstanceData", ["ID", "Kind", "Arch", "Type", "Hostname"]);
const ROOT = t("instances.UserdataTemplateData", ["Cluster", "Server", "Provider", "Instance", "Vars", "Image", "Nonce"]);

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));

function struct(type: StructType, v: unknown): GoStruct {
  const o = obj(v);
  return { k: "struct", type, fields: type.fields.map((f) => str(o[f])) };
}

function stringMap(v: unknown): GoMap {
  if (v === undefined || v === null || typeof v !== "object") return { k: "map", entries: null };
  return { k: "map", entries: new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, str(x)])) };
}

/**
 * The Go value of template data, typed like Nstance's `UserdataTemplateData`; absent parts are
 * Go's zero values (empty strings, nil maps). `.Instance.Hostname` is pvefleet's addition and
 * exists only when the data has it (Nstance's `InstanceData` has no such field).
 */
export function toGoData(data: unknown): GoValue {
  if (data === undefined || data === null) return INVALID;
  const o = obj(data);
  const inst = obj(o.Instance);
  return {
    k: "struct",
    type: ROOT,
    fields: [
      struct(CLUSTER, o.Cluster),
      struct(SERVER, o.Server),
      struct(PROVIDER, o.Provider),
      struct("Hostname" in inst ? INSTANCE_WITH_HOSTNAME : INSTANCE, inst),
      stringMap(o.Vars),
      stringMap(o.Image),
      str(o.Nonce),
    ],
  };
}
