/**
 * PVE property strings (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=10`): parsing with the schema's
 * `default_key`, `alias` and `keyAlias` entries as pve-common's parse_property_string does, and the
 * simulator's own printers for the values it stores. Written for the simulator only: it must not
 * share code with the client it checks.
 */
import type { SchemaProp } from "./schema.js";
import { checkObject, type Errors } from "./validate.js";

/** Nested errors of a property string; stringifies like PVE::Exception with an errors hash. */
export class PropertyStringError extends Error {
  constructor(readonly errors: Errors) {
    super("format error");
  }
  text(): string {
    return `format error\n${Object.entries(this.errors).map(([k, v]) => `${k}: ${v}\n`).join("")}`;
  }
}

function parseBoolean(v: string): string {
  if (/^(1|on|yes|true)$/i.test(v)) return "1";
  if (/^(0|off|no|false)$/i.test(v)) return "0";
  return v;
}

/** Parses and checks; throws a `die` text (string) or a PropertyStringError. */
export function parsePropertyString(format: Record<string, SchemaProp>, data: string, path: string): Record<string, string> {
  const res: Record<string, string> = {};
  const defaultKey = Object.entries(format).find(([, p]) => p.default_key)?.[0];
  for (const part of data.split(",")) {
    if (/^\s*$/.test(part)) continue;
    const m = /^([^=]+)=(.+)$/s.exec(part);
    if (m) {
      let key = m[1]!;
      let value = m[2]!;
      if (res[key] !== undefined) throw `duplicate key in comma-separated list property: ${key}\n`;
      let schema = format[key];
      if (schema?.alias) {
        if (schema.keyAlias) {
          if (res[schema.keyAlias] !== undefined) throw `key alias '${schema.keyAlias}' is already defined\n`;
          res[schema.keyAlias] = key;
        }
        key = schema.alias;
        schema = format[key];
      }
      if (!schema) throw `invalid key in comma-separated list property: ${key}\n`;
      if (schema.type === "boolean") value = parseBoolean(value);
      res[key] = value;
    } else if (!part.includes("=")) {
      if (!defaultKey) throw "value without key, but schema does not define a default key\n";
      if (res[defaultKey] !== undefined) throw `duplicate key in comma-separated list property: ${defaultKey}\n`;
      res[defaultKey] = part;
    } else {
      throw "missing key in comma-separated list property\n";
    }
  }
  const errors = checkObject(format, res, `${path}.`);
  if (Object.keys(errors).length > 0) throw new PropertyStringError(errors);
  return res;
}

/** Lenient split for values the simulator itself stored (already validated). */
export function splitPropertyString(data: string, defaultKey: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of data.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    out.push(eq < 0 ? [defaultKey, part] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}

const NET_MODELS = new Set([
  "e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er",
  "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3",
]);

export interface NetDevice {
  model: string;
  macaddr?: string;
  rest: Array<[string, string]>;
}

export function parseNet(value: string): NetDevice {
  const dev: NetDevice = { model: "virtio", rest: [] };
  for (const [k, v] of splitPropertyString(value, "model")) {
    if (k === "model") dev.model = v;
    else if (k === "macaddr") dev.macaddr = v;
    else if (NET_MODELS.has(k)) {
      dev.model = k;
      dev.macaddr = v;
    } else dev.rest.push([k, v]);
  }
  return dev;
}

/** PVE's canonical netN form: `model=MAC` first, then the other keys in alphabetical order. */
export function printNet(dev: NetDevice): string {
  const rest = [...dev.rest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return [`${dev.model}=${dev.macaddr ?? ""}`, ...rest].join(",");
}

export interface Drive {
  file: string;
  opts: Array<[string, string]>;
}

export function parseDrive(value: string): Drive {
  const drive: Drive = { file: "", opts: [] };
  for (const [k, v] of splitPropertyString(value, "file")) {
    if (k === "file" || k === "volume") drive.file = v;
    else drive.opts.push([k, v]);
  }
  return drive;
}

export function driveOpt(drive: Drive, key: string): string | undefined {
  return drive.opts.find(([k]) => k === key)?.[1];
}

export function setDriveOpt(drive: Drive, key: string, value: string | undefined): void {
  drive.opts = drive.opts.filter(([k]) => k !== key);
  if (value !== undefined) drive.opts.push([key, value]);
}

/** `file,key=value,…` with keys sorted as PVE prints drives (print_drive sorts by key). */
export function printDrive(drive: Drive): string {
  const opts = [...drive.opts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return [drive.file, ...opts].join(",");
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `2G`, `512M`, `+1.5G`, `1073741824` → bytes (binary units). */
export function parseSizeBytes(text: string): number {
  const m = /^\+?(\d+(?:\.\d+)?)([KMGT]?)(?:iB)?$/.exec(text);
  if (!m) return NaN;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/** PVE's format_size: the largest unit that divides exactly, e.g. 34359738368 → `32G`. */
export function formatSize(bytes: number): string {
  for (const unit of ["T", "G", "M", "K"]) {
    const mul = UNITS[unit]!;
    if (bytes >= mul && bytes % mul === 0) return `${bytes / mul}${unit}`;
  }
  return String(bytes);
}
