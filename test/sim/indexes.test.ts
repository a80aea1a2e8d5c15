/**
 * The simulator's indexes that keep a 10,000-VM cluster's per-request cost flat: the lowest free
 * VMID remembered across calls (and lowered by a delete), volumes indexed by storage and node.
 * They must answer exactly what a scan of everything would.
 */
import { describe, expect, it } from "vitest";
import { VmTable, VolumeTable, type SimVm, type Volume } from "../../src/sim/cluster.js";

const vm = (vmid: number): SimVm => ({ vmid, node: "pve1", config: {}, pending: {}, pendingDelete: [], status: "stopped", paused: false });
const vol = (volid: string, storage: string, node: string, sizeBytes = 1): Volume => ({ volid, storage, node, content: "images", format: "raw", sizeBytes, ctime: 0 });

describe("VmTable.lowestFree", () => {
  it("answers the lowest free VMID like a scan from the lower bound, across sets and deletes", () => {
    const t = new VmTable();
    const scan = (lower: number) => {
      for (let id = lower; id < 1_000_000; id++) if (!t.has(id)) return id;
      return undefined;
    };
    for (let id = 100; id < 150; id++) t.set(id, vm(id));
    t.set(9000, vm(9000));
    expect(t.lowestFree(100, 1_000_000)).toBe(150);
    t.set(150, vm(150));
    expect(t.lowestFree(100, 1_000_000)).toBe(151);
    t.delete(120);
    expect(t.lowestFree(100, 1_000_000)).toBe(120);
    expect(t.lowestFree(130, 1_000_000)).toBe(151);
    t.set(120, vm(120));
    t.delete(100);
    t.delete(140);
    for (const lower of [1, 50, 100, 101, 139, 140, 141, 151, 8999, 9000]) expect(t.lowestFree(lower, 1_000_000)).toBe(scan(lower));
    expect(t.lowestFree(9000, 9001)).toBeUndefined();
    t.clear();
    expect(t.lowestFree(100, 1_000_000)).toBe(100);
  });
});

describe("VolumeTable.on", () => {
  it("lists a storage's volumes on one node, following replacements and deletes", () => {
    const t = new VolumeTable();
    t.set("pve1|local-lvm:vm-100-disk-0", vol("local-lvm:vm-100-disk-0", "local-lvm", "pve1", 5));
    t.set("pve2|local-lvm:vm-101-disk-0", vol("local-lvm:vm-101-disk-0", "local-lvm", "pve2"));
    t.set("pve1|local:iso/a.iso", vol("local:iso/a.iso", "local", "pve1"));
    t.set("|shared:vm-102-disk-0", vol("shared:vm-102-disk-0", "shared", ""));
    const ids = (storage: string, node: string) => [...t.on(storage, node)].map((v) => `${v.volid}:${v.sizeBytes}`);
    expect(ids("local-lvm", "pve1")).toEqual(["local-lvm:vm-100-disk-0:5"]);
    expect(ids("local", "pve1")).toEqual(["local:iso/a.iso:1"]);
    expect(ids("shared", "")).toEqual(["shared:vm-102-disk-0:1"]);
    expect(ids("local", "pve2")).toEqual([]);
    t.set("pve1|local-lvm:vm-100-disk-0", vol("local-lvm:vm-100-disk-0", "local-lvm", "pve1", 7));
    expect(ids("local-lvm", "pve1")).toEqual(["local-lvm:vm-100-disk-0:7"]);
    t.delete("pve2|local-lvm:vm-101-disk-0");
    expect(ids("local-lvm", "pve2")).toEqual([]);
    expect(t.size).toBe(3);
    t.clear();
    expect(ids("local-lvm", "pve1")).toEqual([]);
  });
});
