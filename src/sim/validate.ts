/**
 * Parameter verification as pve-common's JSONSchema.pm does it: every schema property is checked
 * (missing, type, format, pattern, maxLength, minLength, maximum, minimum, enum — first failure
 * wins per value), then unknown parameters are reported; all problems are collected into one
 * `errors` object, which the server answers with 400 `Parameter verification failed.`.
 *
 * Messages of registered formats end in "\n" because they are Perl `die` texts; schema-level
 * messages do not (pve-api.md §2.10).
 */
import type { SchemaProp } from "./schema.js";
import { parsePropertyString, PropertyStringError } from "./property-string.js";

export type Params = Record<string, string>;
export type Errors = Record<string, string>;

/** Turns a Perl regex from the dump into a JS one, anchored as PVE anchors patterns. */
const regexCache = new Map<string, RegExp>();
function perlPattern(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    let flags = "";
    let src = pattern.replace(/\(\?\^([a-z]*):/g, (_m, f: string) => {
      if (f.includes("i")) flags = "i";
      return "(?:";
    });
    src = src.replace(/\\A/g, "^").replace(/\\z/g, "$").replace(/\\Z/g, "$");
    re = new RegExp(`^(?:${src})$`, flags);
    regexCache.set(pattern, re);
  }
  return re;
}

const RE = {
  node: /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/,
  vmid: /^[1-9][0-9]{2,8}$/,
  storageId: /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i,
  dnsName: /^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/,
  configId: /^[a-z][a-z0-9_-]+$/i,
  tag: /^[a-z0-9_][a-z0-9_\-+.]*$/i,
  mac: /^[a-f0-9][02468ace](:[a-f0-9]{2}){5}$/i,
  bridge: /^[-_.\w\d]+$/,
  volumeId: /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i,
  diskSize: /^(\d+(\.\d+)?)([KMGT](iB)?)?$/,
  integer: /^-?\d+$/,
  number: /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/,
  bootLegacy: /^[acdn]{1,4}$/,
  bootDevice: /^(ide\d+|sata\d+|scsi\d+|virtio\d+|net\d+|usb\d+|hostpci\d+)$/,
};

/** pve-common Tools::split_list: `,` and `;` are separators too; empty lists are allowed. */
export function splitList(value: string): string[] {
  if (value.includes("\0")) return value.split("\0").filter(Boolean);
  return value.replace(/[,;]/g, " ").trim().split(/\s+/).filter(Boolean);
}

/** Registered formats PVE checks with a Perl function; each throws the `die` text. */
const NAMED_FORMATS: Record<string, (v: string) => void> = {
  "pve-node": (v) => { if (!RE.node.test(v)) throw "value does not look like a valid node name\n"; },
  "pve-vmid": (v) => { if (!RE.vmid.test(v)) throw "value does not look like a valid VM ID\n"; },
  "pve-storage-id": (v) => { if (!RE.storageId.test(v)) throw `storage ID '${v}' contains illegal characters\n`; },
  "dns-name": (v) => { if (!RE.dnsName.test(v)) throw "value does not look like a valid DNS name\n"; },
  "pve-configid": (v) => { if (!RE.configId.test(v)) throw `invalid configuration ID '${v}'\n`; },
  "pve-tag": (v) => { if (!RE.tag.test(v)) throw "invalid characters in tag\n"; },
  "mac-addr": (v) => { if (!RE.mac.test(v)) throw "value does not look like a valid unicast MAC address\n"; },
  "pve-bridge-id": (v) => { if (!RE.bridge.test(v)) throw `invalid bridge ID '${v}'\n`; },
  "pve-volume-id": (v) => { if (!RE.volumeId.test(v)) throw `unable to parse volume ID '${v}'\n`; },
  "pve-volume-id-or-qm-path": (v) => {
    if (v === "none" || v === "cdrom" || v.startsWith("/")) return;
    if (!RE.volumeId.test(v)) throw `unable to parse volume ID '${v}'\n`;
  },
  "pve-volume-id-or-absolute-path": (v) => {
    if (v.startsWith("/")) return;
    if (!RE.volumeId.test(v)) throw `unable to parse volume ID '${v}'\n`;
  },
  "disk-size": (v) => { if (!RE.diskSize.test(v)) throw `value '${v}' is not a valid disk size\n`; },
  "pve-qm-boot": (v) => {
    for (const part of v.split(",").filter(Boolean)) {
      const eq = part.indexOf("=");
      const key = eq < 0 ? "legacy" : part.slice(0, eq);
      const val = eq < 0 ? part : part.slice(eq + 1);
      if (key === "legacy") {
        if (!RE.bootLegacy.test(val)) throw `format error\nboot.legacy: value does not match the regex pattern\n`;
      } else if (key === "order") {
        for (const dev of val.split(";").filter(Boolean)) {
          if (!RE.bootDevice.test(dev)) throw `format error\nboot.order: invalid format - invalid boot device '${dev}'\n`;
        }
      } else {
        throw `format error\nboot.${key}: property is not defined in schema and the schema does not allow additional properties\n`;
      }
    }
  },
};

function checkNamedFormat(format: string, value: string): void {
  const list = /^(.*)-list$/.exec(format);
  if (list && !NAMED_FORMATS[format]) {
    const each = NAMED_FORMATS[list[1]!];
    if (each) for (const item of splitList(value)) each(item);
    return;
  }
  NAMED_FORMATS[format]?.(value);
}

/** check_type: form values are strings; booleans must be exactly 0/1. */
function checkType(type: string | undefined, value: string): string | undefined {
  if (type === "integer" && !RE.integer.test(value)) return `type check ('integer') failed - got '${value}'`;
  if (type === "number" && !RE.number.test(value)) return `type check ('number') failed - got '${value}'`;
  if (type === "boolean" && value !== "0" && value !== "1") return `type check ('boolean') failed - got '${value}'`;
  return undefined;
}

/** check_prop for one present value; returns the first problem or undefined. */
export function checkValue(path: string, prop: SchemaProp, value: string): string | undefined {
  const typeError = checkType(prop.type, value);
  if (typeError) return typeError;
  if (prop.format !== undefined) {
    try {
      if (typeof prop.format === "string") checkNamedFormat(prop.format, value);
      else if (value !== "") parsePropertyString(prop.format, value, path);
    } catch (e) {
      const text = e instanceof PropertyStringError ? e.text() : typeof e === "string" ? e : String(e);
      return `invalid format - ${text}`;
    }
  }
  if (prop.pattern !== undefined && !perlPattern(prop.pattern).test(value)) return "value does not match the regex pattern";
  if (prop.maxLength !== undefined && value.length > prop.maxLength) return `value may only be ${prop.maxLength} characters long`;
  if (prop.minLength !== undefined && value.length < prop.minLength) return `value must be at least ${prop.minLength} characters long`;
  if (RE.number.test(value)) {
    const n = Number(value);
    if (prop.maximum !== undefined && n > prop.maximum) return `value must have a maximum value of ${prop.maximum}`;
    if (prop.minimum !== undefined && n < prop.minimum) return `value must have a minimum value of ${prop.minimum}`;
  }
  if (prop.enum && !prop.enum.includes(value)) {
    return `value '${value}' does not have a value in the enumeration '${prop.enum.join(", ")}'`;
  }
  return undefined;
}

/** check_object: every schema property, then the unknown ones. `prefix` is "net0." for nested. */
export function checkObject(
  properties: Record<string, SchemaProp>,
  values: Params,
  prefix = "",
  allowAdditional = false,
): Errors {
  const errors: Errors = {};
  const add = (key: string, msg: string) => {
    errors[key] = errors[key] === undefined ? msg : `${errors[key]}\\n${msg}`;
  };
  for (const [key, prop] of Object.entries(properties)) {
    if (prop.alias) continue;
    const value = values[key];
    const path = prefix + key;
    if (value === undefined) {
      if (!prop.optional) add(path, "property is missing and it is not optional");
      continue;
    }
    const problem = checkValue(path, prop, value);
    if (problem) add(path, problem);
    if (prop.requires && values[prop.requires] === undefined) {
      add(prefix + prop.requires, `missing property - '${path}' requires this property`);
    }
  }
  if (!allowAdditional) {
    for (const key of Object.keys(values)) {
      if (!properties[key]) add(prefix + key, "property is not defined in schema and the schema does not allow additional properties");
    }
  }
  return errors;
}
