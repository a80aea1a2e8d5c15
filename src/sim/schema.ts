/**
 * The PVE 8.4 API schema (data/pve8-apischema.json), loaded once and indexed for routing and
 * validation. Nothing here knows what an endpoint does; it only knows what PVE accepts.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** One property as the api-viewer dump writes it (Perl 0/1 for booleans). */
export interface SchemaProp {
  type?: string;
  format?: string | Record<string, SchemaProp>;
  optional?: number;
  pattern?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
  requires?: string;
  default?: unknown;
  default_key?: number;
  alias?: string;
  keyAlias?: string;
  description?: string;
}

export interface MethodInfo {
  method: string;
  name: string;
  parameters?: { additionalProperties?: number; properties?: Record<string, SchemaProp> };
  permissions?: { check?: unknown[]; user?: string };
  proxyto?: string;
  allowtoken?: number;
  protected?: number;
}

interface SchemaNode {
  path: string;
  leaf?: number;
  children?: SchemaNode[];
  info?: Record<string, MethodInfo>;
}

/** A matched route: the schema path template, its URI parameters and the method's info. */
export interface RouteMatch {
  template: string;
  uriParams: Record<string, string>;
  info: MethodInfo;
}

/** Ranges of indexed options (`net[n]` → net0..net31) that the description does not state. */
const INDEX_RANGES: Record<string, number> = {
  net: 31, ipconfig: 31, ide: 3, sata: 5, scsi: 30, virtio: 15, unused: 255, serial: 3, parallel: 2,
  hostpci: 15, usb: 13, numa: 7, virtiofs: 9, mp: 255, dev: 255,
};

function schemaFile(): string {
  // src/sim/schema.ts and dist/sim/schema.js both sit two levels below the package root.
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "data", "pve8-apischema.json");
}

/** Expands the dumper's collapsed `name[n]` properties back into name0..nameN. */
function expandIndexed(props: Record<string, SchemaProp>): Record<string, SchemaProp> {
  const out: Record<string, SchemaProp> = {};
  for (const [key, prop] of Object.entries(props)) {
    const m = /^(.*)\[n\]$/.exec(key);
    if (!m) {
      out[key] = prop;
      continue;
    }
    const base = m[1]!;
    const stated = /\(n is 0 to (\d+)/.exec(prop.description ?? "");
    const max = stated ? Number(stated[1]) : (INDEX_RANGES[base] ?? 9);
    for (let i = 0; i <= max; i++) out[`${base}${i}`] = prop;
  }
  return out;
}

interface TrieNode {
  literal: Map<string, TrieNode>;
  variable?: { name: string; node: TrieNode };
  template?: string;
  methods?: Record<string, MethodInfo>;
}

export class ApiSchema {
  private readonly root: TrieNode = { literal: new Map() };
  private readonly expanded = new WeakMap<MethodInfo, Record<string, SchemaProp>>();

  constructor(nodes: SchemaNode[]) {
    const visit = (list: SchemaNode[]) => {
      for (const n of list) {
        if (n.info) this.insert(n.path, n.info);
        if (n.children) visit(n.children);
      }
    };
    visit(nodes);
  }

  static load(file = schemaFile()): ApiSchema {
    return new ApiSchema(JSON.parse(readFileSync(file, "utf8")) as SchemaNode[]);
  }

  private insert(path: string, info: Record<string, MethodInfo>): void {
    let node = this.root;
    for (const seg of path.split("/").filter(Boolean)) {
      const v = /^\{(.+)\}$/.exec(seg);
      if (v) {
        node.variable ??= { name: v[1]!, node: { literal: new Map() } };
        node = node.variable.node;
      } else {
        let next = node.literal.get(seg);
        if (!next) node.literal.set(seg, (next = { literal: new Map() }));
        node = next;
      }
    }
    node.template = path;
    node.methods = info;
  }

  /** Finds the schema method for a request path relative to /api2/json, or undefined (PVE's 501). */
  match(method: string, relPath: string): RouteMatch | undefined {
    let node: TrieNode | undefined = this.root;
    const uriParams: Record<string, string> = {};
    for (const raw of relPath.split("/").filter(Boolean)) {
      const seg = decodeURIComponent(raw);
      const lit: TrieNode | undefined = node.literal.get(seg);
      if (lit) node = lit;
      else if (node.variable) {
        uriParams[node.variable.name] = seg;
        node = node.variable.node;
      } else return undefined;
    }
    const info = node.methods?.[method];
    if (!info || !node.template) return undefined;
    return { template: node.template, uriParams, info };
  }

  /** The method's parameter properties with indexed options expanded. */
  properties(info: MethodInfo): Record<string, SchemaProp> {
    let props = this.expanded.get(info);
    if (!props) {
      props = expandIndexed(info.parameters?.properties ?? {});
      this.expanded.set(info, props);
    }
    return props;
  }
}
