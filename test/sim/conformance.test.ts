/**
 * Conformance table: invalid requests drawn from the PVE 8.4 schema (wrong types, unknown and
 * missing parameters, bad formats and property strings, out-of-range values, enums, patterns),
 * each answered as PVE answers it: 400 `Parameter verification failed.` with an `errors` object
 * holding pve-common JSONSchema.pm's texts (pve-api.md §2.10).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";

let c: Client;
beforeAll(async () => {
  c = await startClient({ latency: "instant" });
});
afterAll(async () => {
  await c.close();
});

const V = "/nodes/pve1/qemu/9000";
const UNKNOWN = "property is not defined in schema and the schema does not allow additional properties";
const MISSING = "property is missing and it is not optional";
const int = (v: string) => `type check ('integer') failed - got '${v}'`;
const bool = (v: string) => `type check ('boolean') failed - got '${v}'`;
const BAD_VMID = "invalid format - value does not look like a valid VM ID\n";
const BAD_DNS = "invalid format - value does not look like a valid DNS name\n";
const RESIZE_DISKS = [
  "ide0", "ide1", "ide2", "ide3", ...Array.from({ length: 31 }, (_, i) => `scsi${i}`), ...Array.from({ length: 16 }, (_, i) => `virtio${i}`),
  ...Array.from({ length: 6 }, (_, i) => `sata${i}`), "efidisk0", "tpmstate0",
].join(", ");

type Row = [method: string, path: string, params: Record<string, string>, errors: Record<string, string>];

const TABLE: Row[] = [
  // cluster
  ["GET", "/cluster/resources", { type: "vms" }, { type: "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'" }],
  ["GET", "/cluster/resources", { type: "vm", extra: "1" }, { extra: UNKNOWN }],
  ["GET", "/cluster/nextid", { vmid: "abc" }, { vmid: int("abc") }],
  ["GET", "/cluster/nextid", { vmid: "99" }, { vmid: BAD_VMID }],
  ["GET", "/cluster/nextid", { vmid: "1000000000" }, { vmid: BAD_VMID }],
  ["GET", "/cluster/nextid", { vmid: "1.5" }, { vmid: int("1.5") }],
  ["GET", "/cluster/nextid", { foo: "1" }, { foo: UNKNOWN }],
  ["GET", "/access/permissions", { userid: "nobody" }, { userid: "value does not match the regex pattern" }],
  // listing and config reads
  ["GET", "/nodes/pve1/qemu", { full: "yes" }, { full: bool("yes") }],
  ["GET", "/nodes/pve1/qemu/abc/config", {}, { vmid: int("abc") }],
  ["GET", "/nodes/pve1/qemu/99/config", {}, { vmid: BAD_VMID }],
  ["GET", `${V}/config`, { current: "2" }, { current: bool("2") }],
  ["GET", `${V}/config`, { snapshot: "1snap" }, { snapshot: "invalid format - invalid configuration ID '1snap'\n" }],
  ["GET", `${V}/config`, { snapshot: `s${"x".repeat(40)}` }, { snapshot: "value may only be 40 characters long" }],
  ["GET", "/nodes/pve1/storage/local/content", { vmid: "x1" }, { vmid: int("x1") }],
  ["GET", "/nodes/pve1/storage", { enabled: "on" }, { enabled: bool("on") }],
  // config updates: plain options
  ["PUT", `${V}/config`, { cores: "0" }, { cores: "value must have a minimum value of 1" }],
  ["PUT", `${V}/config`, { cores: "two" }, { cores: int("two") }],
  ["PUT", `${V}/config`, { sockets: "0" }, { sockets: "value must have a minimum value of 1" }],
  ["PUT", `${V}/config`, { vcpus: "x" }, { vcpus: int("x") }],
  ["PUT", `${V}/config`, { cpulimit: "200" }, { cpulimit: "value must have a maximum value of 128" }],
  ["PUT", `${V}/config`, { cpulimit: "fast" }, { cpulimit: "type check ('number') failed - got 'fast'" }],
  ["PUT", `${V}/config`, { cpuunits: "262145" }, { cpuunits: "value must have a maximum value of 262144" }],
  ["PUT", `${V}/config`, { balloon: "-1" }, { balloon: "value must have a minimum value of 0" }],
  ["PUT", `${V}/config`, { name: "web_1" }, { name: BAD_DNS }],
  ["PUT", `${V}/config`, { name: "-web" }, { name: BAD_DNS }],
  ["PUT", `${V}/config`, { description: "x".repeat(8193) }, { description: "value may only be 8192 characters long" }],
  ["PUT", `${V}/config`, { tags: "ok;-bad" }, { tags: "invalid format - invalid characters in tag\n" }],
  ["PUT", `${V}/config`, { tags: "has space,ok!" }, { tags: "invalid format - invalid characters in tag\n" }],
  ["PUT", `${V}/config`, { onboot: "true" }, { onboot: bool("true") }],
  ["PUT", `${V}/config`, { protection: "yes" }, { protection: bool("yes") }],
  ["PUT", `${V}/config`, { ostype: "dos" }, { ostype: "value 'dos' does not have a value in the enumeration 'other, wxp, w2k, w2k3, w2k8, wvista, win7, win8, win10, win11, l24, l26, solaris'" }],
  ["PUT", `${V}/config`, { scsihw: "virtio" }, { scsihw: "value 'virtio' does not have a value in the enumeration 'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi'" }],
  ["PUT", `${V}/config`, { digest: "0".repeat(41) }, { digest: "value may only be 40 characters long" }],
  ["PUT", `${V}/config`, { delete: "cores,1bad" }, { delete: "invalid format - invalid configuration ID '1bad'\n" }],
  ["PUT", `${V}/config`, { net32: "virtio,bridge=vmbr0" }, { net32: UNKNOWN }],
  ["PUT", `${V}/config`, { scsi31: "local-lvm:1" }, { scsi31: UNKNOWN }],
  ["PUT", `${V}/config`, { ide4: "none,media=cdrom" }, { ide4: UNKNOWN }],
  ["PUT", `${V}/config`, { cores: "0", memory: "8", bogus: "1" }, {
    cores: "value must have a minimum value of 1",
    memory: "invalid format - format error\nmemory.current: value must have a minimum value of 16\n",
    bogus: UNKNOWN,
  }],
  // config updates: property strings
  ["PUT", `${V}/config`, { memory: "lots" }, { memory: `invalid format - format error\nmemory.current: ${int("lots")}\n` }],
  ["PUT", `${V}/config`, { net0: "virtio,bridge=vmbr0,tag=5000" }, { net0: "invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n" }],
  ["PUT", `${V}/config`, { net0: "virtio,bridge=vmbr0,mtu=0" }, { net0: "invalid format - format error\nnet0.mtu: value must have a minimum value of 1\n" }],
  ["PUT", `${V}/config`, { net0: "virtio,firewall=maybe" }, { net0: `invalid format - format error\nnet0.firewall: ${bool("maybe")}\n` }],
  ["PUT", `${V}/config`, { net0: "bridge=vmbr0" }, { net0: `invalid format - format error\nnet0.model: ${MISSING}\n` }],
  ["PUT", `${V}/config`, { net0: "virtio,speed=10" }, { net0: "invalid format - invalid key in comma-separated list property: speed\n" }],
  ["PUT", `${V}/config`, { net0: "virtio,model=e1000" }, { net0: "invalid format - duplicate key in comma-separated list property: model\n" }],
  ["PUT", `${V}/config`, { net0: "virtio,e1000=BC:24:11:00:00:01" }, { net0: "invalid format - key alias 'model' is already defined\n" }],
  ["PUT", `${V}/config`, { net0: "virtio=01:00:5E:00:00:01,bridge=vmbr0" }, { net0: "invalid format - format error\nnet0.macaddr: invalid format - value does not look like a valid unicast MAC address\n\n" }],
  ["PUT", `${V}/config`, { net0: "virtio,bridge=vm br0" }, { net0: "invalid format - format error\nnet0.bridge: invalid format - invalid bridge ID 'vm br0'\n\n" }],
  ["PUT", `${V}/config`, { net0: "virtio9,bridge=vmbr0" }, { net0: "invalid format - format error\nnet0.model: value 'virtio9' does not have a value in the enumeration 'e1000, e1000-82540em, e1000-82544gc, e1000-82545em, e1000e, i82551, i82557b, i82559er, ne2k_isa, ne2k_pci, pcnet, rtl8139, virtio, vmxnet3'\n" }],
  ["PUT", `${V}/config`, { scsi1: "local-lvm:4,cache=fast" }, { scsi1: "invalid format - format error\nscsi1.cache: value 'fast' does not have a value in the enumeration 'none, writethrough, writeback, unsafe, directsync'\n" }],
  ["PUT", `${V}/config`, { scsi1: "nocolon" }, { scsi1: "invalid format - format error\nscsi1.file: invalid format - unable to parse volume ID 'nocolon'\n\n" }],
  ["PUT", `${V}/config`, { scsi1: "local-lvm:4,size=huge" }, { scsi1: "invalid format - format error\nscsi1.size: invalid format - value 'huge' is not a valid disk size\n\n" }],
  ["PUT", `${V}/config`, { agent: "enabled=2" }, { agent: `invalid format - format error\nagent.enabled: ${bool("2")}\n` }],
  ["PUT", `${V}/config`, { boot: "order=scsi0;floppy0" }, { boot: "invalid format - format error\nboot.order: invalid format - invalid boot device 'floppy0'\n" }],
  ["PUT", `${V}/config`, { node: "pve2", cores: "2" }, { node: "duplicate parameter (already defined in URI) with conflicting values!" }],
  // create
  ["POST", "/nodes/pve1/qemu", {}, { vmid: MISSING }],
  ["POST", "/nodes/pve1/qemu", { vmid: "150", cores: "0", start: "maybe" }, { cores: "value must have a minimum value of 1", start: bool("maybe") }],
  ["POST", "/nodes/pve1/qemu", { vmid: "150", unknownopt: "1" }, { unknownopt: UNKNOWN }],
  // clone
  ["POST", `${V}/clone`, { newid: "abc" }, { newid: int("abc") }],
  ["POST", `${V}/clone`, { newid: "50" }, { newid: BAD_VMID }],
  ["POST", `${V}/clone`, { newid: "150", name: "a_b" }, { name: BAD_DNS }],
  ["POST", `${V}/clone`, { newid: "150", format: "vhd" }, { format: "value 'vhd' does not have a value in the enumeration 'raw, qcow2, vmdk'" }],
  ["POST", `${V}/clone`, { newid: "150", storage: "1bad" }, { storage: "invalid format - storage ID '1bad' contains illegal characters\n" }],
  ["POST", `${V}/clone`, { newid: "150", target: "bad_node" }, { target: "invalid format - value does not look like a valid node name\n" }],
  ["POST", `${V}/clone`, { newid: "150", full: "2" }, { full: bool("2") }],
  ["POST", `${V}/clone`, { newid: "150", bwlimit: "-5" }, { bwlimit: "value must have a minimum value of 0" }],
  // resize, power, destroy
  ["PUT", `${V}/resize`, { disk: "scsi0", size: "10X" }, { size: "value does not match the regex pattern" }],
  ["PUT", `${V}/resize`, { disk: "scsi99", size: "1G" }, { disk: `value 'scsi99' does not have a value in the enumeration '${RESIZE_DISKS}'` }],
  ["PUT", `${V}/resize`, { size: "1G" }, { disk: MISSING }],
  ["POST", `${V}/status/start`, { timeout: "-1" }, { timeout: "value must have a minimum value of 0" }],
  ["POST", `${V}/status/start`, { machine: "pc-i440fx-x" }, { machine: "invalid format - format error\nmachine.type: value does not match the regex pattern\n" }],
  ["POST", `${V}/status/shutdown`, { timeout: "soon" }, { timeout: int("soon") }],
  ["POST", `${V}/status/stop`, { "overrule-shutdown": "x" }, { "overrule-shutdown": bool("x") }],
  ["DELETE", V, { purge: "x" }, { purge: bool("x") }],
  // upload (form-encoded: the schema is checked all the same)
  ["POST", "/nodes/pve1/storage/local/upload", { content: "iso" }, { filename: MISSING }],
  ["POST", "/nodes/pve1/storage/local/upload", { content: "rootdir", filename: "x.iso" }, { content: "value 'rootdir' does not have a value in the enumeration 'iso, vztmpl, import'" }],
  ["POST", "/nodes/pve1/storage/local/upload", { content: "iso", filename: "x.iso", checksum: "ab" }, { "checksum-algorithm": "missing property - 'checksum' requires this property" }],
  ["POST", "/nodes/pve1/storage/local/upload", { content: "iso", filename: "x".repeat(256) }, { filename: "value may only be 255 characters long" }],
];

describe("conformance with PVE's parameter verification", () => {
  it.each(TABLE.map((row, i) => [i + 1, ...row] as const))("#%i %s %s %j", async (_n, method, path, params, errors) => {
    const r = await c.call(method, path, params);
    expect(r.status).toBe(400);
    expect(r.reason).toBe("Parameter verification failed.");
    expect(r.body).toEqual({ data: null, errors, message: "Parameter verification failed.\n" });
  });

  it("records every refusal in stats().rejected", () => {
    const rejected = c.sim.stats().rejected;
    // Every row refused by the schema check was recorded with its errors, in order. A parameter
    // that contradicts the URI is refused earlier, before the schema check (PVE's order), and is not.
    const beforeSchema = (errors: Record<string, string>) => Object.values(errors).some((m) => m.startsWith("duplicate parameter (already defined in URI)"));
    const expected = TABLE.filter(([, , , errors]) => !beforeSchema(errors));
    expect(expected.length).toBe(TABLE.length - 1);
    expect(rejected.map((r) => [r.status, r.errors])).toEqual(expected.map(([, , , errors]) => [400, errors]));
    expect(rejected[0]).toMatchObject({ method: "GET", path: "/api2/json/cluster/resources", status: 400 });
  });
});
