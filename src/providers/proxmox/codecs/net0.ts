/**
 * The `net[n]` property string (reference/pve-api.md §2.4). We write
 * `virtio,bridge=<Bridge>[,tag=<VLANTag>]` (with `virtio=<MAC>` first when keeping a MAC); PVE
 * stores `virtio=BC:24:11:…,bridge=vmbr0,tag=10`, generating the MAC when none is given. Two NICs
 * are "the same network" when everything but the MAC matches, so a generated MAC is never drift.
 */

export const NET_MODELS = [
  "e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b",
  "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3",
] as const;

/** PVE's `mac-addr`: unicast only (second hex digit even). */
export const MAC_PATTERN = /^[a-f0-9][02468ace](:[a-f0-9]{2}){5}$/i;
const BRIDGE_PATTERN = /^[-_.\w\d]+$/;

export interface Net0Spec {
  bridge: string;
  /** 1–4094; 0 or undefined means untagged (Nstance sends no tag for 0). */
  vlan?: number;
  /** Keep this MAC (upper-cased); undefined lets PVE generate one. */
  mac?: string;
  model?: string;
}

export interface ParsedNet {
  model: string;
  mac?: string;
  bridge?: string;
  vlan?: number;
  firewall: boolean;
  linkDown: boolean;
  mtu?: number;
  queues?: number;
  rate?: number;
  trunks?: string;
  /** Any other `key=value` the string carried (kept for comparison). */
  options: Record<string, string>;
}

export function formatNet0(spec: Net0Spec): string {
  const model = spec.model ?? "virtio";
  if (!(NET_MODELS as readonly string[]).includes(model)) throw new Error(`unknown network model ${JSON.stringify(model)}`);
  if (!BRIDGE_PATTERN.test(spec.bridge)) throw new Error(`bridge ${JSON.stringify(spec.bridge)} is not a valid bridge name`);
  const parts = [spec.mac === undefined ? model : `${model}=${checkMac(spec.mac)}`, `bridge=${spec.bridge}`];
  if (spec.vlan !== undefined && spec.vlan !== 0) {
    if (!Number.isInteger(spec.vlan) || spec.vlan < 1 || spec.vlan > 4094) throw new Error(`VLAN tag ${spec.vlan} is outside 1–4094`);
    parts.push(`tag=${spec.vlan}`);
  }
  return parts.join(",");
}

/**
 * The VM's own NIC with only its bridge and VLAN tag changed: the model, MAC and every other
 * option the template's NIC carries (`firewall=1`, which the web UI's NIC dialog sets by default —
 * pve-manager `www/manager6/qemu/NetworkEdit.js`; `mtu`, `queues`, `rate`, `link_down`, `trunks`)
 * are kept in place. A clone copies all of them (qemu-server `PVE/API2/Qemu.pm` clone_vm only
 * draws a new MAC), and PVE stores a net update exactly as sent, so writing a bare
 * `virtio,bridge=…` would silently drop them. Returns `current` unchanged when bridge and tag
 * already match, so callers can skip the write (and keep the guest's DHCP lease).
 */
export function retargetNet0(current: string, spec: { bridge: string; vlan?: number }): string {
  if (!BRIDGE_PATTERN.test(spec.bridge)) throw new Error(`bridge ${JSON.stringify(spec.bridge)} is not a valid bridge name`);
  const tagged = spec.vlan !== undefined && spec.vlan !== 0;
  if (tagged && (!Number.isInteger(spec.vlan) || spec.vlan! < 1 || spec.vlan! > 4094)) throw new Error(`VLAN tag ${spec.vlan} is outside 1–4094`);
  parseNet0(current); // refuses a value that names no model before anything is written
  const parts = current.split(",").filter((p) => p !== "");
  const keyOf = (p: string) => (p.includes("=") ? p.slice(0, p.indexOf("=")) : p);
  const out: string[] = [];
  let bridgeSeen = false;
  let tagSeen = false;
  for (const part of parts) {
    const key = keyOf(part);
    if (key === "bridge") {
      out.push(`bridge=${spec.bridge}`);
      bridgeSeen = true;
    } else if (key === "tag") {
      if (tagged) out.push(`tag=${spec.vlan}`);
      tagSeen = true;
    } else out.push(part);
  }
  if (!bridgeSeen) {
    // No bridge (a NIC without one is valid: user-mode networking): add it after the model.
    const at = out.findIndex((p) => (NET_MODELS as readonly string[]).includes(keyOf(p)) || keyOf(p) === "model" || keyOf(p) === "macaddr");
    out.splice(at + 1, 0, `bridge=${spec.bridge}`);
  }
  if (tagged && !tagSeen) out.push(`tag=${spec.vlan}`);
  const next = out.join(",");
  return next === parts.join(",") ? current : next;
}

/** Parses `virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1,tag=10` (and `model=…`/`macaddr=…` forms). */
export function parseNet0(value: string): ParsedNet {
  const parsed: ParsedNet = { model: "", firewall: false, linkDown: false, options: {} };
  for (const part of value.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const val = eq < 0 ? undefined : part.slice(eq + 1);
    if ((NET_MODELS as readonly string[]).includes(key)) {
      parsed.model = key;
      if (val !== undefined && val !== "") parsed.mac = val.toUpperCase();
    } else if (val === undefined) {
      throw new Error(`network device ${JSON.stringify(value)}: ${JSON.stringify(part)} is not a model or key=value`);
    } else if (key === "model") parsed.model = val;
    else if (key === "macaddr") parsed.mac = val.toUpperCase();
    else if (key === "bridge") parsed.bridge = val;
    else if (key === "tag") parsed.vlan = intOf(value, key, val);
    else if (key === "firewall") parsed.firewall = val === "1";
    else if (key === "link_down") parsed.linkDown = val === "1";
    else if (key === "mtu") parsed.mtu = intOf(value, key, val);
    else if (key === "queues") parsed.queues = intOf(value, key, val);
    else if (key === "rate") parsed.rate = Number(val);
    else if (key === "trunks") parsed.trunks = val;
    else parsed.options[key] = val;
  }
  if (parsed.model === "") throw new Error(`network device ${JSON.stringify(value)} names no model`);
  return parsed;
}

/** Same model, bridge, VLAN and options; the MAC is ignored. */
export function sameNetwork(a: string | ParsedNet, b: string | ParsedNet): boolean {
  const strip = (n: string | ParsedNet) => {
    const { mac: _mac, ...rest } = typeof n === "string" ? parseNet0(n) : n;
    return JSON.stringify(rest, Object.keys(rest).sort()) + JSON.stringify(sortedEntries(rest.options));
  };
  return strip(a) === strip(b);
}

function sortedEntries(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

function checkMac(mac: string): string {
  if (!MAC_PATTERN.test(mac)) throw new Error(`MAC address ${JSON.stringify(mac)} is not a unicast MAC`);
  return mac.toUpperCase();
}

function intOf(whole: string, key: string, val: string): number {
  const n = Number(val);
  if (!/^\d+$/.test(val) || !Number.isSafeInteger(n)) throw new Error(`network device ${JSON.stringify(whole)}: ${key}=${val} is not a whole number`);
  return n;
}
