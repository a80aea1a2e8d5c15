import { describe, it, expect } from "vitest";
import {
  OWNERSHIP_TAGS, TAG_PATTERN, formatTags, hasOwnershipTags, invalidTags, normaliseTags, sameTags, splitTagList, withOwnershipTags,
} from "../../../src/providers/proxmox/codecs/tags.js";
import {
  NOTES_END, NOTES_START, NSTANCE_NOTES_END, NSTANCE_NOTES_START, composeDescription, parseNotesBlock, pveRightTrim, renderNotesBlock, sameDescription,
} from "../../../src/providers/proxmox/codecs/notes-block.js";
import { formatNet0, parseNet0, sameNetwork } from "../../../src/providers/proxmox/codecs/net0.js";
import {
  EMPTY_CDROM, attachedIso, bootOrderWithIso, bootOrderWithoutIso, formatIde2Iso, isoVolumeId, parseBootOrder, parseDrive,
} from "../../../src/providers/proxmox/codecs/drives.js";
import { bytesToMiB, formatSize, mibToBytes, parseSize } from "../../../src/providers/proxmox/codecs/sizes.js";
import { UserError } from "../../../src/errors.js";

describe("tags", () => {
  it("normalises like PVE's get_unique_tags: split, lower-case, sort, dedupe", () => {
    expect(normaliseTags("Prod,web web")).toEqual(["prod", "web"]);
    expect(normaliseTags("b;A, c  a")).toEqual(["a", "b", "c"]);
    expect(normaliseTags(["Zeta", "alpha;beta", "ALPHA"])).toEqual(["alpha", "beta", "zeta"]);
    expect(normaliseTags("")).toEqual([]);
  });

  it("splits on commas, semicolons and whitespace, dropping empty entries", () => {
    expect(splitTagList(" nstance ; ;dev ")).toEqual(["nstance", "dev"]);
  });

  it("formats the stored value joined with semicolons", () => {
    expect(formatTags(["web", "Prod", "web"])).toBe("prod;web");
    expect(formatTags([])).toBe("");
  });

  it("names the three ownership tags in Nstance's order", () => {
    expect(OWNERSHIP_TAGS("example-cluster", "dev")).toEqual(["nstance", "example-cluster", "dev"]);
  });

  it("recognises ownership only when all three tags are present", () => {
    expect(hasOwnershipTags("nstance;example-cluster;dev", "example-cluster", "dev")).toBe(true);
    expect(hasOwnershipTags("dev;Example-Cluster;NSTANCE;team-a", "example-cluster", "dev")).toBe(true);
    expect(hasOwnershipTags("nstance;example-cluster", "example-cluster", "dev")).toBe(false);
    expect(hasOwnershipTags("example-cluster;dev", "example-cluster", "dev")).toBe(false);
  });

  it("keeps operator tags when adding ownership tags", () => {
    expect(withOwnershipTags("team-a;backup", "c1", "dev")).toEqual(["backup", "c1", "dev", "nstance", "team-a"]);
  });

  it("validates tags with PVE's pattern", () => {
    expect(TAG_PATTERN.test("go-proxmox+cloud-init")).toBe(true);
    expect(TAG_PATTERN.test("_x.1")).toBe(true);
    expect(invalidTags(["ok", "-bad", "also bad!", ".no"])).toEqual(["-bad", "bad!", ".no"]);
  });

  it("compares tag lists as PVE stores them", () => {
    expect(sameTags("dev;nstance", ["Nstance", "dev", "dev"])).toBe(true);
    expect(sameTags("dev", "dev;x")).toBe(false);
  });
});

describe("managed notes block", () => {
  const block = renderNotesBlock({ group: "test", kind: "tst", created: "2026-01-20T12:00:00Z" });

  it("renders the guide's form", () => {
    expect(block).toBe([NOTES_START, "group: test", "kind: tst", "created: 2026-01-20T12:00:00Z", NOTES_END].join("\n"));
  });

  it("omits empty fields and writes created in UTC with seconds precision", () => {
    expect(renderNotesBlock({ kind: "tst", group: "", created: new Date("2026-01-20T14:00:00.123+02:00") }))
      .toBe([NOTES_START, "kind: tst", "created: 2026-01-20T12:00:00Z", NOTES_END].join("\n"));
  });

  it("writes extra fields after the known ones and refuses multi-line values", () => {
    const text = renderNotesBlock({ group: "g", created: "2026-01-20T12:00:00Z", extra: { tenant: "acme", app: "web" } });
    expect(text.split("\n").slice(1, -1)).toEqual(["group: g", "created: 2026-01-20T12:00:00Z", "app: web", "tenant: acme"]);
    expect(() => renderNotesBlock({ group: "a\nb", created: "2026-01-20T12:00:00Z" })).toThrow(/one line/);
  });

  it("writes other string fields as lines and omits an empty created", () => {
    expect(renderNotesBlock({ group: "t.g", created: "", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g" }))
      .toBe([NOTES_START, "group: t.g", "instanceId: tst06dx9xy919t3v9kzd2xdsyzb3g", NOTES_END].join("\n"));
    expect(() => renderNotesBlock({ created: "2026-01-20T12:00:00Z", shard: { id: "x" } })).toThrow(/must be a string/);
  });

  it("appends the block after operator text", () => {
    expect(composeDescription("Owned by team A.\n", block)).toBe(`Owned by team A.\n\n${block}`);
    expect(composeDescription("", block)).toBe(block);
    expect(composeDescription(undefined, block)).toBe(block);
  });

  it("keeps operator text around the managed notes block when replacing it", () => {
    const before = `intro\n${renderNotesBlock({ group: "old", created: "2025-01-01T00:00:00Z" })}\noutro text`;
    expect(composeDescription(before, block)).toBe(`intro\n${block}\noutro text`);
  });

  it("replaces Nstance's bold-marker block in place", () => {
    const nstance = [NSTANCE_NOTES_START, "group: workers", "kind: tst", "template: default", "created: 2026-01-20T12:00:00Z", NSTANCE_NOTES_END].join("  \n");
    expect(composeDescription(`operator\n${nstance}\nafter`, block)).toBe(`operator\n${block}\nafter`);
  });

  it("refuses a description longer than 8192 characters", () => {
    const e = (() => {
      try {
        composeDescription("x".repeat(8150), block);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("E_NOTES_TOO_LONG");
    expect(composeDescription("é".repeat(8192 - block.length - 2), block)).toHaveLength(8192);
  });

  it("parses its own block", () => {
    expect(parseNotesBlock(`hello\n${block}\n`)).toEqual({ group: "test", kind: "tst", created: "2026-01-20T12:00:00Z", extra: {} });
  });

  it("parses Nstance's block with two-space line breaks and operator text around it", () => {
    const nstance = [NSTANCE_NOTES_START, "group: workers", "kind: tst", "template: default", "created: 2026-01-20T12:00:00Z", NSTANCE_NOTES_END].join("  \n");
    expect(parseNotesBlock(`operator text\n${nstance}\nmore text`))
      .toEqual({ group: "workers", kind: "tst", template: "default", created: "2026-01-20T12:00:00Z", extra: {} });
  });

  it("converts created to UTC and ignores an unparsable one", () => {
    const text = (created: string) => [NOTES_START, "group: g", `created: ${created}`, NOTES_END].join("\n");
    expect(parseNotesBlock(text("2026-01-20T14:00:00+02:00"))?.created).toBe("2026-01-20T12:00:00Z");
    expect(parseNotesBlock(text("yesterday"))).toEqual({ group: "g", extra: {} });
  });

  it("finds no block without markers, with the end before the start, or with only a template line", () => {
    expect(parseNotesBlock("just text")).toBeUndefined();
    expect(parseNotesBlock(`${NOTES_END}\ngroup: g\n${NOTES_START}`)).toBeUndefined();
    expect(parseNotesBlock([NSTANCE_NOTES_START, "template: x", NSTANCE_NOTES_END].join("  \n"))).toBeUndefined();
    expect(parseNotesBlock(undefined)).toBeUndefined();
  });

  it("compares descriptions after PVE's right-trim", () => {
    expect(pveRightTrim("hello\n \n")).toBe("hello");
    expect(sameDescription(`${block}\n`, block)).toBe(true);
    expect(sameDescription(`x ${block}`, block)).toBe(false);
  });
});

describe("net0", () => {
  it("formats the bridge, with the VLAN tag only when set and non-zero", () => {
    expect(formatNet0({ bridge: "vmbr0" })).toBe("virtio,bridge=vmbr0");
    expect(formatNet0({ bridge: "vmbr0", vlan: 100 })).toBe("virtio,bridge=vmbr0,tag=100");
    expect(formatNet0({ bridge: "vmbr0", vlan: 0 })).toBe("virtio,bridge=vmbr0");
  });

  it("keeps a MAC in PVE's model=MAC form", () => {
    expect(formatNet0({ bridge: "vmbr1", mac: "bc:24:11:2e:c5:4a", vlan: 10 })).toBe("virtio=BC:24:11:2E:C5:4A,bridge=vmbr1,tag=10");
  });

  it("refuses a VLAN outside 1–4094 and a multicast MAC", () => {
    expect(() => formatNet0({ bridge: "vmbr0", vlan: 4095 })).toThrow(/1–4094/);
    expect(() => formatNet0({ bridge: "vmbr0", mac: "01:00:5E:00:00:01" })).toThrow(/unicast/);
  });

  it("parses PVE's canonical stored form", () => {
    expect(parseNet0("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=1,tag=10")).toEqual({
      model: "virtio", mac: "BC:24:11:2E:C5:4A", bridge: "vmbr0", vlan: 10, firewall: true, linkDown: false, options: {},
    });
  });

  it("parses the model= and macaddr= forms and other options", () => {
    const n = parseNet0("model=e1000,macaddr=bc:24:11:00:00:01,bridge=vmbr2,mtu=9000,queues=4,link_down=1,custom=x");
    expect(n).toMatchObject({ model: "e1000", mac: "BC:24:11:00:00:01", bridge: "vmbr2", mtu: 9000, queues: 4, linkDown: true });
    expect(n.options).toEqual({ custom: "x" });
  });

  it("treats two NICs that differ only by MAC as the same network", () => {
    expect(sameNetwork("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,tag=10", "virtio,bridge=vmbr0,tag=10")).toBe(true);
    expect(sameNetwork("virtio=BC:24:11:2E:C5:4A,bridge=vmbr0,firewall=0", "virtio=BC:24:11:00:00:02,bridge=vmbr0")).toBe(true);
  });

  it("sees a different bridge, VLAN, model or firewall as a different network", () => {
    expect(sameNetwork("virtio,bridge=vmbr0,tag=10", "virtio,bridge=vmbr0")).toBe(false);
    expect(sameNetwork("virtio,bridge=vmbr0", "virtio,bridge=vmbr1")).toBe(false);
    expect(sameNetwork("e1000,bridge=vmbr0", "virtio,bridge=vmbr0")).toBe(false);
    expect(sameNetwork("virtio,bridge=vmbr0,firewall=1", "virtio,bridge=vmbr0")).toBe(false);
  });

  it("refuses a string without a model", () => {
    expect(() => parseNet0("bridge=vmbr0")).toThrow(/names no model/);
  });
});

describe("ide2, drives and boot order", () => {
  it("builds the ISO volume and the ide2 value", () => {
    const volume = isoVolumeId("local", "tst06dx9xy919t3v9kzd2xdsyzb3g-cidata.iso");
    expect(volume).toBe("local:iso/tst06dx9xy919t3v9kzd2xdsyzb3g-cidata.iso");
    expect(formatIde2Iso(volume)).toBe("local:iso/tst06dx9xy919t3v9kzd2xdsyzb3g-cidata.iso,media=cdrom");
    expect(() => formatIde2Iso("no-storage")).toThrow(/not a volume ID/);
    expect(() => isoVolumeId("local", "a/b.iso")).toThrow(/not a valid ISO volume ID/);
  });

  it("parses a disk with its size in bytes", () => {
    expect(parseDrive("local-lvm:vm-100-disk-0,size=4G")).toEqual({
      volume: "local-lvm:vm-100-disk-0", storage: "local-lvm", media: "disk", sizeBytes: 4 * 1024 ** 3, options: { size: "4G" },
    });
    expect(parseDrive("ceph:vm-100-disk-0,discard=on,iothread=1,size=32768M").sizeBytes).toBe(32 * 1024 ** 3);
  });

  it("parses a CD-ROM with an ISO, an empty one and a host drive", () => {
    expect(parseDrive("local:iso/x.iso,media=cdrom")).toMatchObject({ volume: "local:iso/x.iso", storage: "local", media: "cdrom" });
    expect(attachedIso("local:iso/x.iso,media=cdrom")).toBe("local:iso/x.iso");
    expect(attachedIso(EMPTY_CDROM)).toBeUndefined();
    expect(attachedIso("cdrom,media=cdrom")).toBeUndefined();
    expect(attachedIso("local-lvm:vm-100-cloudinit,media=cdrom")).toBe("local-lvm:vm-100-cloudinit");
    expect(attachedIso(undefined)).toBeUndefined();
  });

  it("puts the disk first and ide2 second, keeping other boot devices", () => {
    expect(bootOrderWithIso("order=scsi0")).toBe("order=scsi0;ide2");
    expect(bootOrderWithIso("order=ide2;net0;scsi0")).toBe("order=scsi0;ide2;net0");
    expect(bootOrderWithIso(undefined)).toBe("order=scsi0;ide2");
    expect(bootOrderWithIso("cdn")).toBe("order=scsi0;ide2");
    expect(bootOrderWithoutIso("order=scsi0;ide2;net0")).toBe("order=scsi0;net0");
    expect(parseBootOrder("legacy=cdn,order=virtio0;net0")).toEqual(["virtio0", "net0"]);
  });
});

describe("sizes", () => {
  it("parses PVE sizes in binary units, bare numbers as bytes", () => {
    expect(parseSize("20G")).toBe(21474836480);
    expect(parseSize("512M")).toBe(536870912);
    expect(parseSize("1.5G")).toBe(1610612736);
    expect(parseSize("1T")).toBe(1024 ** 4);
    expect(parseSize("4096")).toBe(4096);
    expect(() => parseSize("20GB")).toThrow(/not a Proxmox size/);
  });

  it("prints the largest exact unit as PVE does", () => {
    expect(formatSize(42 * 1024 ** 3)).toBe("42G");
    expect(formatSize(1536 * 1024 ** 2)).toBe("1536M");
    expect(formatSize(1536)).toBe("1536");
    expect(formatSize(0)).toBe("0");
    expect(() => formatSize(1.5)).toThrow();
  });

  it("converts memory MiB and bytes", () => {
    expect(mibToBytes(2048)).toBe(2147483648);
    expect(bytesToMiB(2147483648)).toBe(2048);
  });
});
