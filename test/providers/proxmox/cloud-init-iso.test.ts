/**
 * The cloud-init ISO read back by the two tools an operator would use: isoinfo (genisoimage) and
 * xorriso. Both must be installed (`apt-get install genisoimage xorriso`); a missing tool fails
 * the suite with that advice instead of skipping it.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { buildCloudInitIso, cloudInitFiles, isoFileName, type CloudInitSeed } from "../../../src/providers/proxmox/cloud-init/cloud-init.js";
import { buildIso9660 } from "../../../src/providers/proxmox/cloud-init/iso9660.js";

let dir: string;
let counter = 0;

function requireTool(tool: string, probe: string[]): void {
  const r = spawnSync(tool, probe, { encoding: "utf8" });
  if (r.error) throw new Error(`${tool} is not installed; install it with: apt-get install genisoimage xorriso`);
}

beforeAll(() => {
  requireTool("isoinfo", ["--version"]);
  requireTool("xorriso", ["-version"]);
  dir = mkdtempSync(join(tmpdir(), "pvefleet-iso-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeIso(bytes: Uint8Array): string {
  const path = join(dir, `seed-${++counter}.iso`);
  writeFileSync(path, bytes);
  return path;
}

function isoinfo(args: string[]): Buffer {
  return execFileSync("isoinfo", args, { maxBuffer: 64 * 1024 * 1024 });
}

/** xorriso exits 0 even on a non-ISO: make warnings fail and hand back the text too. */
function xorriso(args: string[]): { status: number; text: string } {
  const r = spawnSync("xorriso", ["-return_with", "WARNING", "32", ...args], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return { status: r.status ?? -1, text: `${r.stdout}${r.stderr}` };
}

function bytesOf(v: string | Uint8Array): Buffer {
  return Buffer.from(typeof v === "string" ? new TextEncoder().encode(v) : v);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Reads every file back through isoinfo (Rock Ridge, Joliet) and xorriso and compares bytes. */
function expectReadsBack(seed: CloudInitSeed): void {
  const iso = writeIso(buildCloudInitIso(seed));
  const expected: Record<string, Buffer> = { "user-data": bytesOf(seed.userData), "meta-data": bytesOf(seed.metaData) };
  if (seed.networkConfig !== undefined) expected["network-config"] = bytesOf(seed.networkConfig);
  const names = Object.keys(expected).sort();

  const d = isoinfo(["-d", "-i", iso]).toString();
  expect(d).toContain("Volume id: cidata");
  expect(d).toContain("Joliet with UCS level 3 found");
  expect(d).toContain("Rock Ridge signatures version 1 found");

  expect(isoinfo(["-R", "-f", "-i", iso]).toString().trim().split("\n").sort()).toEqual(names.map((n) => `/${n}`));
  expect(isoinfo(["-J", "-f", "-i", iso]).toString().trim().split("\n").sort()).toEqual(names.map((n) => `/${n}`));
  const long = isoinfo(["-l", "-R", "-i", iso]).toString();
  for (const name of names) {
    expect(long).toMatch(new RegExp(`-r--r--r-- .*\\s${expected[name].length} .* ${name} `));
    expect(sha(isoinfo(["-R", "-x", `/${name}`, "-i", iso]))).toBe(sha(expected[name]));
    expect(sha(isoinfo(["-J", "-x", `/${name}`, "-i", iso]))).toBe(sha(expected[name]));
  }

  const listing = xorriso(["-indev", iso, "-pvd_info", "-toc", "-find", "/", "-exec", "lsdl"]);
  expect(listing.status, listing.text).toBe(0);
  expect(listing.text).toContain("Volume Id    : cidata");
  expect(listing.text).toContain("ISO offers   : Rock_Ridge Joliet");
  for (const name of names) expect(listing.text).toMatch(new RegExp(`\\s${expected[name].length} .*'/${name}'`));

  // `-read_fs norock` makes xorriso load the Joliet tree instead of Rock Ridge.
  const joliet = xorriso(["-read_fs", "norock", "-indev", iso, "-toc", "-find", "/", "-exec", "lsdl"]);
  expect(joliet.status, joliet.text).toBe(0);
  expect(joliet.text).toContain("ISO loaded   : Joliet");
  for (const name of names) expect(joliet.text).toContain(`'/${name}'`);

  const out = join(dir, `out-${counter}`);
  const extractArgs = names.flatMap((n) => ["-extract", `/${n}`, join(out, n)]);
  const extracted = xorriso(["-osirrox", "on", "-indev", iso, ...extractArgs]);
  expect(extracted.status, extracted.text).toBe(0);
  for (const name of names) expect(sha(readFileSync(join(out, name)))).toBe(sha(expected[name]));
}

describe("cloud-init ISO", () => {
  it("holds user-data and meta-data under their real names with label cidata", () => {
    expectReadsBack(cloudInitFiles("tst06dx9xy919t3v9kzd2xdsyzb3g", "#cloud-config\npackages: [curl]\n"));
  });

  it("falls back to plain ISO 9660 names for readers without Rock Ridge or Joliet", () => {
    const iso = writeIso(buildCloudInitIso({ userData: "u", metaData: "m", networkConfig: "n" }));
    expect(isoinfo(["-f", "-i", iso]).toString().trim().split("\n").sort()).toEqual(["/META_DAT.;1", "/NETWORK_.;1", "/USER_DAT.;1"]);
    expect(isoinfo(["-x", "/USER_DAT.;1", "-i", iso]).toString()).toBe("u");
  });

  it("adds network-config when given, even an empty one", () => {
    expectReadsBack({ userData: "#!/bin/sh\necho hi\n", metaData: "instance-id: a\n", networkConfig: "" });
    expectReadsBack({ userData: "x", metaData: "y", networkConfig: "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n" });
  });

  it("reads back empty files and a one-byte file", () => {
    expectReadsBack({ userData: "", metaData: "" });
    expectReadsBack({ userData: "a", metaData: new Uint8Array([0]) });
  });

  it("reads back files whose sizes straddle sector boundaries", () => {
    const sized = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) % 251);
    expectReadsBack({ userData: sized(2047), metaData: sized(2049), networkConfig: sized(4097) });
    expectReadsBack({ userData: sized(2048), metaData: sized(1), networkConfig: sized(12345) });
  });

  it("reads back a 3 MiB user-data byte for byte", () => {
    const big = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 131 + (i >> 11)) & 0xff);
    expectReadsBack({ userData: big, metaData: "instance-id: big\n" });
  });

  it("keeps non-ASCII UTF-8 text intact", () => {
    expectReadsBack({ userData: "#cloud-config\nwrite_files:\n- content: \"héllo wörld ✓ 日本語 🚀\"\n", metaData: "instance-id: ü\n" });
  });

  it("produces byte-identical images for the same input", () => {
    const seed = cloudInitFiles("abc06dx9xy919t3v9kzd2xdsyzb3g", "echo hi", "version: 2\n");
    const a = buildCloudInitIso(seed);
    const b = buildCloudInitIso(cloudInitFiles("abc06dx9xy919t3v9kzd2xdsyzb3g", "echo hi", "version: 2\n"));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(buildCloudInitIso(cloudInitFiles("abc06dx9xy919t3v9kzd2xdsyzb3g", "echo bye"))).equals(Buffer.from(a))).toBe(false);
  });

  it("writes a 2048-byte sector image with the primary descriptor at sector 16", () => {
    const iso = buildCloudInitIso({ userData: "u", metaData: "m" });
    expect(iso.length % 2048).toBe(0);
    expect(Buffer.from(iso.subarray(16 * 2048 + 1, 16 * 2048 + 6)).toString("latin1")).toBe("CD001");
    expect(iso[16 * 2048]).toBe(1);
    expect(iso[17 * 2048]).toBe(2);
    expect(iso[18 * 2048]).toBe(255);
  });

  it("gives distinct plain ISO names to files that shorten to the same one", () => {
    const iso = writeIso(buildIso9660({ volumeId: "cidata", files: [
      { name: "user-data-one", data: new Uint8Array([1]) },
      { name: "user-data-two", data: new Uint8Array([2]) },
    ] }));
    const plain = isoinfo(["-f", "-i", iso]).toString().trim().split("\n").sort();
    expect(new Set(plain).size).toBe(2);
    expect(isoinfo(["-R", "-x", "/user-data-two", "-i", iso])).toEqual(Buffer.from([2]));
  });

  it("carries non-ASCII file names in Rock Ridge and Joliet", () => {
    const iso = writeIso(buildIso9660({ volumeId: "cidata", files: [{ name: "résumé-日本.txt", data: new TextEncoder().encode("ok") }] }));
    expect(isoinfo(["-R", "-f", "-i", iso]).toString()).toBe("/résumé-日本.txt\n");
    expect(isoinfo(["-R", "-x", "/résumé-日本.txt", "-i", iso]).toString()).toBe("ok");
    // isoinfo prints Joliet names in ISO 8859-1 (CJK becomes "_"); xorriso reads them as UTF-8.
    expect(isoinfo(["-J", "-f", "-i", iso])).toEqual(Buffer.from("/r\u00e9sum\u00e9-__.txt\n", "latin1"));
    const joliet = xorriso(["-read_fs", "norock", "-indev", iso, "-toc", "-find", "/"]);
    expect(joliet.text).toContain("ISO loaded   : Joliet");
    expect(joliet.text).toContain("'/résumé-日本.txt'");
    const plain = xorriso(["-read_fs", "ecma119", "-indev", iso, "-find", "/"]);
    expect(plain.text).toContain("'/R_SUM___.TXT'");
  });

  it("spreads a directory with many files over several sectors", () => {
    const files = Array.from({ length: 80 }, (_, i) => ({ name: `file-number-${String(i).padStart(3, "0")}`, data: Uint8Array.of(i) }));
    const iso = writeIso(buildIso9660({ volumeId: "cidata", files }));
    const names = isoinfo(["-R", "-f", "-i", iso]).toString().trim().split("\n").sort();
    expect(names).toEqual(files.map((f) => `/${f.name}`));
    expect(isoinfo(["-R", "-x", "/file-number-079", "-i", iso])).toEqual(Buffer.from([79]));
    const listing = xorriso(["-indev", iso, "-find", "/", "-exec", "lsdl"]);
    expect(listing.status, listing.text).toBe(0);
    expect(listing.text.match(/'\/file-number-\d{3}'/g)).toHaveLength(80);
  });

  it("refuses a file name with a slash", () => {
    expect(() => buildIso9660({ volumeId: "cidata", files: [{ name: "a/b", data: new Uint8Array() }] })).toThrow(/not a plain file name/);
  });
});

describe("cloud-init seed files", () => {
  it("prepends #!/bin/bash to user-data that is neither a script nor cloud-config", () => {
    expect(cloudInitFiles("i", "echo hi").userData).toBe("#!/bin/bash\necho hi");
    expect(cloudInitFiles("i", "").userData).toBe("#!/bin/bash\n");
  });

  it("keeps user-data that already starts with #! or #cloud-config, after leading whitespace", () => {
    expect(cloudInitFiles("i", "  #!/bin/sh\necho").userData).toBe("  #!/bin/sh\necho");
    expect(cloudInitFiles("i", "#cloud-config\n{}").userData).toBe("#cloud-config\n{}");
  });

  it("writes meta-data with the instance ID as instance-id and local-hostname", () => {
    const seed = cloudInitFiles("tst06dx9xy919t3v9kzd2xdsyzb3g", "x");
    expect(seed.metaData).toBe("instance-id: tst06dx9xy919t3v9kzd2xdsyzb3g\nlocal-hostname: tst06dx9xy919t3v9kzd2xdsyzb3g\n");
    expect(seed.networkConfig).toBeUndefined();
    expect(cloudInitFiles("i", "x", "version: 2\n").networkConfig).toBe("version: 2\n");
  });

  it("names the ISO after the instance ID", () => {
    expect(isoFileName("tst06dx9xy919t3v9kzd2xdsyzb3g")).toBe("tst06dx9xy919t3v9kzd2xdsyzb3g-cidata.iso");
    expect(() => isoFileName("../etc")).toThrow(/cannot name an ISO file/);
  });
});
