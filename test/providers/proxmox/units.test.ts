import { describe, expect, it } from "vitest";
import { parseUpid } from "../../../src/providers/proxmox/api/tasks.js";
import { privilegesFor, ALL_PRIVILEGES, missingEverywhere } from "../../../src/providers/proxmox/permissions.js";
import { ownershipOf, mapStatus, toVmDetail } from "../../../src/providers/proxmox/refresh.js";
import { VmidAllocator } from "../../../src/providers/proxmox/placement/vmid.js";
import { backoffMs, encodeParams, apiPath } from "../../../src/providers/proxmox/api/client.js";
import type { ActionType } from "../../../src/planner/types.js";

describe("parseUpid", () => {
  it("takes the node from the second field and decodes the hex fields", () => {
    const u = parseUpid("UPID:pve-2:002E096A:0E10F08E:6382D261:qmclone:9000:pvefleet@pve!ci:");
    expect(u).toMatchObject({ node: "pve-2", pid: 0x002e096a, pstart: 0x0e10f08e, starttime: 0x6382d261, type: "qmclone", id: "9000", user: "pvefleet@pve!ci" });
  });

  it("accepts a 9-digit pstart and an empty id (upload tasks)", () => {
    expect(parseUpid("UPID:pve1:00001234:1E10F08E0:6382D261:imgcopy::root@pam:").id).toBe("");
  });

  it("refuses a string without the trailing colon", () => {
    expect(() => parseUpid("UPID:pve1:00001234:0E10F08E:6382D261:qmstart:100:root@pam")).toThrow(/unparsable UPID/);
  });
});

describe("privilegesFor", () => {
  it("asks, per action type, only what every action of that type needs (the preflight adds the conditional ones on exact paths)", () => {
    const all: ActionType[] = ["clone", "configure", "resize", "upload-iso", "start", "stop", "delete-iso", "delete-vm", "record-state", "forget-state"];
    expect(privilegesFor(all)).toEqual(["VM.Allocate", "VM.Audit", "VM.Clone", "VM.PowerMgmt", "VM.Config.Disk", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate"]);
    expect(privilegesFor(["configure"])).toEqual(["VM.Audit"]);
    expect(ALL_PRIVILEGES).toHaveLength(17);
  });

  it("needs only the read and power privileges for a start", () => {
    expect(privilegesFor(["start"])).toEqual(["VM.Audit", "VM.PowerMgmt"]);
  });

  it("the apply-time backstop finds a privilege on any path of the effective tree, whatever its propagate flag", () => {
    const tree = { "/vms": { "VM.Audit": 1, "VM.Clone": 1 }, "/storage/local": { "Datastore.Allocate": 0 } };
    expect(missingEverywhere(tree, ["VM.Audit", "Datastore.Allocate", "VM.Config.CDROM"])).toEqual(["VM.Config.CDROM"]);
    expect(missingEverywhere({}, ["VM.Audit"])).toEqual(["VM.Audit"]);
  });
});

describe("ownershipOf", () => {
  const id = "tst06dx9xy919t3v9kzd2xdsyzb3g";
  it("is ours with all three tags and an instance-ID name", () => {
    expect(ownershipOf({ name: id, tags: ["dev-1", "example", "nstance", "operator-tag"] }, "example", "dev-1")).toBe("ours");
  });
  it("is suspicious with the name but a missing tag", () => {
    expect(ownershipOf({ name: id, tags: ["nstance", "example"] }, "example", "dev-1")).toBe("suspicious");
  });
  it("is suspicious with all tags but another name", () => {
    expect(ownershipOf({ name: "web01", tags: ["dev-1", "example", "nstance"] }, "example", "dev-1")).toBe("suspicious");
  });
  it("is unmanaged without ownership tags", () => {
    expect(ownershipOf({ name: "web01", tags: ["prod"] }, "example", "dev-1")).toBe("unmanaged");
  });

  it("leaves a sibling shard's VM of the same cluster unmanaged, not suspicious", () => {
    expect(ownershipOf({ name: id, tags: ["dev-2", "example", "nstance"] }, "example", "dev-1")).toBe("unmanaged");
  });
});

describe("mapStatus", () => {
  it("maps the guide's statuses, paused only through qmpstatus", () => {
    expect(mapStatus("running")).toBe("running");
    expect(mapStatus("stopped")).toBe("stopped");
    expect(mapStatus("running", "paused")).toBe("suspended");
    expect(mapStatus("unknown")).toBe("unknown");
  });
});

describe("toVmDetail", () => {
  it("reads memory in PVE 8's property-string form and normalises tags", () => {
    const d = toVmDetail({ node: "pve1", vmid: 100 }, { digest: "abc", memory: "current=4096", cores: 2, onboot: 1, tags: "b;A", net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0" });
    expect(d).toMatchObject({ memoryMiB: 4096, cores: 2, onboot: true, tags: ["a", "b"], net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0", description: "" });
  });
});

describe("VmidAllocator", () => {
  it("hands out VMIDs above the highest in range and never the same twice", () => {
    const a = new VmidAllocator([100, 9000, 10000, 10005], { min: 10000, max: 999999999 });
    expect([a.next(), a.next()]).toEqual([10006, 10007]);
  });
  it("wraps to the low end of the range and skips used ones", () => {
    const a = new VmidAllocator([10, 12], { min: 10, max: 12 });
    expect(a.next()).toBe(11);
    expect(() => a.next()).toThrow(/no free VMID/);
  });
});

describe("client helpers", () => {
  it("encodes booleans as 0/1 and drops undefined", () => {
    expect(encodeParams({ full: true, onboot: false, pool: undefined, name: "a b" })).toBe("full=1&onboot=0&name=a+b");
  });
  it("percent-encodes UPIDs and volume IDs in paths", () => {
    expect(apiPath`/nodes/${"pve1"}/storage/local/content/${"local:iso/a.iso"}`).toBe("/nodes/pve1/storage/local/content/local%3Aiso%2Fa.iso");
  });
  it("keeps backoff within half and all of the doubled base, capped", () => {
    for (let i = 0; i < 50; i++) {
      const d = backoffMs({ attempts: 5, baseDelayMs: 100, maxDelayMs: 300 }, 3);
      expect(d).toBeGreaterThanOrEqual(150);
      expect(d).toBeLessThanOrEqual(300);
    }
  });
});
