/**
 * A small ECMA-119 (ISO 9660) image writer for flat, single-directory images such as cloud-init
 * NoCloud seeds. No maintained JavaScript writer exists on npm, so this is ours.
 *
 * What it writes, sector by sector (2048 bytes each):
 *   0–15  system area (zeros)
 *   16    Primary Volume Descriptor (plain ISO 9660 names, level 1 style `USER_DAT.;1`)
 *   17    Joliet Supplementary Volume Descriptor (UCS-2 names, escape `%/E` = level 3)
 *   18    Volume Descriptor Set Terminator
 *   19–22 path tables: primary L, primary M, Joliet L, Joliet M (one entry each: the root)
 *   23    SUSP continuation area holding the Rock Ridge `ER` entry (too big for a directory record)
 *   24…   primary root directory (with Rock Ridge SP/RR/PX/TF/NM/CE entries), Joliet root directory,
 *         then each file's data, sector aligned
 *
 * The plain ISO names are only a fallback: cloud-init (and Linux's isofs) read the real names
 * (`user-data`, `meta-data`) from Rock Ridge `NM` entries or from the Joliet tree. Every timestamp
 * is a fixed constant unless the caller passes one, so the same files give the same bytes and a
 * plan can hash the image.
 */

export const SECTOR_BYTES = 2048;

/** The date written everywhere when the caller gives none (deterministic output). */
export const FIXED_ISO_TIMESTAMP = new Date(Date.UTC(2020, 0, 1, 0, 0, 0));

export interface IsoFile {
  /** The real file name (Rock Ridge and Joliet); no `/`, at most 135 UTF-8 bytes. */
  name: string;
  data: Uint8Array;
}

export interface IsoImageOptions {
  /** Volume label, d-characters in spirit; cloud-init wants `cidata`. At most 32 bytes. */
  volumeId: string;
  files: IsoFile[];
  /** Recording date of every record and descriptor; defaults to FIXED_ISO_TIMESTAMP. */
  timestamp?: Date;
  applicationId?: string;
}

// Rock Ridge modes: read-only medium, "rational" permissions as `genisoimage -r` writes them.
const MODE_FILE = 0o100444;
const MODE_DIR = 0o040555;

const RR_ER_ID = "RRIP_1991A";
const RR_ER_DESCRIPTOR = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RR_ER_SOURCE =
  "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

const MAX_RR_NAME_BYTES = 135; // keeps every file's directory record within 255 bytes without a CE
const MAX_JOLIET_UNITS = 64;

/** Writes a flat ISO 9660 image with Rock Ridge and Joliet names. */
export function buildIso9660(options: IsoImageOptions): Uint8Array {
  const when = options.timestamp ?? FIXED_ISO_TIMESTAMP;
  const files = prepareFiles(options.files);

  const ceSector = 23;
  const ceBytes = erEntry().length;

  const primaryRecords = (rootSector: number, rootBytes: number, extents: number[]) => {
    const self = dirRecord({
      extent: rootSector, size: rootBytes, dir: true, id: Uint8Array.of(0), when,
      systemUse: concat(spEntry(), rrEntry(0x81), pxEntry(MODE_DIR, 2), tfEntry(when), ceEntry(ceSector, 0, ceBytes)),
    });
    const parent = dirRecord({
      extent: rootSector, size: rootBytes, dir: true, id: Uint8Array.of(1), when,
      systemUse: concat(rrEntry(0x81), pxEntry(MODE_DIR, 2), tfEntry(when)),
    });
    const byName = [...files].sort((a, b) => comparePrimary(a.isoName, b.isoName));
    const children = byName.map((f) =>
      dirRecord({
        extent: extents[f.index], size: f.data.length, dir: false, id: ascii(f.isoName), when,
        systemUse: concat(rrEntry(0x89), pxEntry(MODE_FILE, 1), tfEntry(when), nmEntry(f.rrName)),
      }),
    );
    return [self, parent, ...children];
  };
  const jolietRecords = (rootSector: number, rootBytes: number, extents: number[]) => {
    const self = dirRecord({ extent: rootSector, size: rootBytes, dir: true, id: Uint8Array.of(0), when });
    const parent = dirRecord({ extent: rootSector, size: rootBytes, dir: true, id: Uint8Array.of(1), when });
    const byName = [...files].sort((a, b) => compareUnits(a.jolietName, b.jolietName));
    const children = byName.map((f) =>
      dirRecord({ extent: extents[f.index], size: f.data.length, dir: false, id: ucs2(f.jolietName), when }),
    );
    return [self, parent, ...children];
  };

  // Directory sizes do not depend on extents, so lay the directories out with placeholders first.
  const zeros = files.map(() => 0);
  const primarySectors = directorySectors(primaryRecords(0, 0, zeros));
  const jolietSectors = directorySectors(jolietRecords(0, 0, zeros));
  const primaryRoot = ceSector + 1;
  const jolietRoot = primaryRoot + primarySectors;
  let next = jolietRoot + jolietSectors;
  const starts = files.map((f) => {
    const at = next;
    next += Math.ceil(f.data.length / SECTOR_BYTES);
    return at;
  });
  const totalSectors = next;
  // An empty file owns no sector; it still points inside the image (length 0) so no reader
  // sees an extent beyond the volume's end.
  const extents = starts.map((at) => Math.min(at, totalSectors - 1));

  const image = new Uint8Array(totalSectors * SECTOR_BYTES);
  const primaryDir = layoutDirectory(primaryRecords(primaryRoot, primarySectors * SECTOR_BYTES, extents));
  const jolietDir = layoutDirectory(jolietRecords(jolietRoot, jolietSectors * SECTOR_BYTES, extents));
  image.set(primaryDir, primaryRoot * SECTOR_BYTES);
  image.set(jolietDir, jolietRoot * SECTOR_BYTES);

  const pathTableBytes = 10;
  const pvdRoot = dirRecord({ extent: primaryRoot, size: primarySectors * SECTOR_BYTES, dir: true, id: Uint8Array.of(0), when });
  const svdRoot = dirRecord({ extent: jolietRoot, size: jolietSectors * SECTOR_BYTES, dir: true, id: Uint8Array.of(0), when });
  const common = { totalSectors, pathTableBytes, when, applicationId: options.applicationId ?? "PVEFLEET" };
  image.set(volumeDescriptor({ ...common, type: 1, volumeId: options.volumeId, root: pvdRoot, lPath: 19, mPath: 20 }), 16 * SECTOR_BYTES);
  image.set(volumeDescriptor({ ...common, type: 2, volumeId: options.volumeId, root: svdRoot, lPath: 21, mPath: 22 }), 17 * SECTOR_BYTES);
  image.set(terminator(), 18 * SECTOR_BYTES);
  image.set(pathTable(primaryRoot, "L"), 19 * SECTOR_BYTES);
  image.set(pathTable(primaryRoot, "M"), 20 * SECTOR_BYTES);
  image.set(pathTable(jolietRoot, "L"), 21 * SECTOR_BYTES);
  image.set(pathTable(jolietRoot, "M"), 22 * SECTOR_BYTES);
  image.set(erEntry(), ceSector * SECTOR_BYTES);
  files.forEach((f) => image.set(f.data, extents[f.index] * SECTOR_BYTES));
  return image;
}

interface PreparedFile {
  index: number;
  rrName: Uint8Array;
  jolietName: string;
  isoName: string;
  data: Uint8Array;
}

function prepareFiles(input: IsoFile[]): PreparedFile[] {
  const rrSeen = new Set<string>();
  const isoSeen = new Set<string>();
  return input.map((f, index) => {
    if (f.name === "" || f.name === "." || f.name === ".." || f.name.includes("/") || f.name.includes("\0")) {
      throw new Error(`ISO file name ${JSON.stringify(f.name)} is not a plain file name`);
    }
    if (rrSeen.has(f.name)) throw new Error(`ISO file name ${JSON.stringify(f.name)} appears twice`);
    rrSeen.add(f.name);
    const rrName = new TextEncoder().encode(f.name);
    if (rrName.length > MAX_RR_NAME_BYTES) throw new Error(`ISO file name ${JSON.stringify(f.name)} is longer than ${MAX_RR_NAME_BYTES} bytes`);
    if (f.data.length > 0xffffffff) throw new Error(`ISO file ${f.name} is larger than 4 GiB`);
    return { index, rrName, jolietName: jolietName(f.name), isoName: uniqueIsoName(f.name, isoSeen), data: f.data };
  });
}

/** Joliet forbids `* / : ; ? \` and control characters; names longer than 64 UCS-2 units are cut. */
function jolietName(name: string): string {
  let out = "";
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    // Outside the BMP there is no UCS-2 form; a replacement keeps the name readable and unique enough.
    out += code < 0x20 || code > 0xffff || "*/:;?\\".includes(ch) ? "_" : ch;
  }
  return out.slice(0, MAX_JOLIET_UNITS);
}

/** Level-1 style `NAME8.EXT;1` from d-characters; a clash gets a numeric tail. */
function uniqueIsoName(name: string, seen: Set<string>): string {
  const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  const dot = name.lastIndexOf(".");
  const base = clean(dot > 0 ? name.slice(0, dot) : name).slice(0, 8) || "_";
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : "";
  let candidate = base;
  for (let n = 1; seen.has(`${candidate}.${ext}`); n++) {
    const tail = String(n);
    candidate = base.slice(0, 8 - tail.length) + tail;
  }
  seen.add(`${candidate}.${ext}`);
  return `${candidate}.${ext};1`;
}

/** ECMA-119 9.3: order by name, then extension, each padded with spaces. */
function comparePrimary(a: string, b: string): number {
  const split = (s: string) => {
    const [nameExt] = s.split(";");
    const dot = nameExt.indexOf(".");
    return [nameExt.slice(0, dot), nameExt.slice(dot + 1)];
  };
  const [an, ae] = split(a);
  const [bn, be] = split(b);
  return compareUnits(an.padEnd(8, " "), bn.padEnd(8, " ")) || compareUnits(ae.padEnd(3, " "), be.padEnd(3, " "));
}

function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface RecordSpec {
  extent: number;
  size: number;
  dir: boolean;
  id: Uint8Array;
  when: Date;
  systemUse?: Uint8Array;
}

/** ECMA-119 9.1 directory record; the total length is kept even (a pad byte after odd parts). */
function dirRecord(spec: RecordSpec): Uint8Array {
  const idPad = spec.id.length % 2 === 0 ? 1 : 0;
  const su = spec.systemUse ?? new Uint8Array(0);
  let length = 33 + spec.id.length + idPad + su.length;
  if (length % 2 === 1) length += 1;
  if (length > 255) throw new Error("ISO directory record longer than 255 bytes");
  const rec = new Uint8Array(length);
  const view = new DataView(rec.buffer);
  rec[0] = length;
  rec[1] = 0;
  both32(view, 2, spec.extent);
  both32(view, 10, spec.size);
  rec.set(recordDate(spec.when), 18);
  rec[25] = spec.dir ? 0x02 : 0x00;
  both16(view, 28, 1);
  rec[32] = spec.id.length;
  rec.set(spec.id, 33);
  rec.set(su, 33 + spec.id.length + idPad);
  return rec;
}

/** Records may not cross a sector boundary (ECMA-119 6.8.1.1). */
function directorySectors(records: Uint8Array[]): number {
  let sectors = 1;
  let used = 0;
  for (const r of records) {
    if (used + r.length > SECTOR_BYTES) {
      sectors += 1;
      used = 0;
    }
    used += r.length;
  }
  return sectors;
}

function layoutDirectory(records: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(directorySectors(records) * SECTOR_BYTES);
  let sector = 0;
  let used = 0;
  for (const r of records) {
    if (used + r.length > SECTOR_BYTES) {
      sector += 1;
      used = 0;
    }
    out.set(r, sector * SECTOR_BYTES + used);
    used += r.length;
  }
  return out;
}

interface DescriptorSpec {
  type: 1 | 2;
  volumeId: string;
  totalSectors: number;
  pathTableBytes: number;
  lPath: number;
  mPath: number;
  root: Uint8Array;
  when: Date;
  applicationId: string;
}

/** ECMA-119 8.4 (PVD) and 8.5 (SVD); the Joliet SVD spells its text fields in UCS-2 big-endian. */
function volumeDescriptor(d: DescriptorSpec): Uint8Array {
  const out = new Uint8Array(SECTOR_BYTES);
  const view = new DataView(out.buffer);
  const joliet = d.type === 2;
  const text = (offset: number, length: number, value: string) => {
    if (joliet) {
      const units = ucs2(value.slice(0, length / 2));
      out.set(units, offset);
      for (let i = units.length; i + 1 < length; i += 2) {
        out[offset + i] = 0x00;
        out[offset + i + 1] = 0x20;
      }
    } else {
      out.set(ascii(value.slice(0, length).padEnd(length, " ")), offset);
    }
  };
  out[0] = d.type;
  out.set(ascii("CD001"), 1);
  out[6] = 1;
  text(8, 32, "");
  text(40, 32, d.volumeId);
  both32(view, 80, d.totalSectors);
  if (joliet) out.set([0x25, 0x2f, 0x45], 88); // "%/E": UCS-2 level 3
  both16(view, 120, 1);
  both16(view, 124, 1);
  both16(view, 128, SECTOR_BYTES);
  both32(view, 132, d.pathTableBytes);
  view.setUint32(140, d.lPath, true);
  view.setUint32(148, d.mPath, false);
  out.set(d.root, 156);
  text(190, 128, "");
  text(318, 128, "");
  text(446, 128, "");
  text(574, 128, d.applicationId);
  text(702, 37, "");
  text(739, 37, "");
  text(776, 37, "");
  out.set(descriptorDate(d.when), 813);
  out.set(descriptorDate(d.when), 830);
  out.set(descriptorDate(undefined), 847);
  out.set(descriptorDate(d.when), 864);
  out[881] = 1;
  return out;
}

function terminator(): Uint8Array {
  const out = new Uint8Array(SECTOR_BYTES);
  out[0] = 255;
  out.set(ascii("CD001"), 1);
  out[6] = 1;
  return out;
}

/** ECMA-119 9.4: one entry, the root (identifier 0x00, parent 1). */
function pathTable(rootSector: number, order: "L" | "M"): Uint8Array {
  const out = new Uint8Array(SECTOR_BYTES);
  const view = new DataView(out.buffer);
  out[0] = 1;
  out[1] = 0;
  view.setUint32(2, rootSector, order === "L");
  view.setUint16(6, 1, order === "L");
  out[8] = 0;
  return out;
}

// --- System Use Sharing Protocol / Rock Ridge entries -------------------------------------------

function suEntry(sig: string, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  const out = new Uint8Array(4 + b.length);
  out.set(ascii(sig), 0);
  out[2] = out.length;
  out[3] = 1;
  out.set(b, 4);
  return out;
}

/** SUSP "SP": marks the image as using SUSP (only in the root's "." record). */
function spEntry(): Uint8Array {
  return suEntry("SP", [0xbe, 0xef, 0]);
}

/** RRIP 1.09 "RR": which RR entries follow (PX=1, NM=8, TF=128); old readers look for it. */
function rrEntry(flags: number): Uint8Array {
  return suEntry("RR", [flags]);
}

/** RRIP "PX" (RRIP_1991A form: mode, links, uid, gid). */
function pxEntry(mode: number, links: number): Uint8Array {
  const body = new Uint8Array(32);
  const view = new DataView(body.buffer);
  both32(view, 0, mode);
  both32(view, 8, links);
  both32(view, 16, 0);
  both32(view, 24, 0);
  return suEntry("PX", body);
}

/** RRIP "TF": modify, access and attribute-change times, short (7-byte) form. */
function tfEntry(when: Date): Uint8Array {
  const date = recordDate(when);
  return suEntry("TF", concat(Uint8Array.of(0x0e), date, date, date));
}

function nmEntry(name: Uint8Array): Uint8Array {
  return suEntry("NM", concat(Uint8Array.of(0), name));
}

/** SUSP "CE": where the rest of the root's system use area (the ER entry) lives. */
function ceEntry(sector: number, offset: number, length: number): Uint8Array {
  const body = new Uint8Array(24);
  const view = new DataView(body.buffer);
  both32(view, 0, sector);
  both32(view, 8, offset);
  both32(view, 16, length);
  return suEntry("CE", body);
}

/** SUSP "ER": declares the Rock Ridge extension, as genisoimage writes it. */
function erEntry(): Uint8Array {
  const id = ascii(RR_ER_ID);
  const des = ascii(RR_ER_DESCRIPTOR);
  const src = ascii(RR_ER_SOURCE);
  return suEntry("ER", concat(Uint8Array.of(id.length, des.length, src.length, 1), id, des, src));
}

// --- encodings -----------------------------------------------------------------------------------

function both32(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value, true);
  view.setUint32(offset + 4, value, false);
}

function both16(view: DataView, offset: number, value: number): void {
  view.setUint16(offset, value, true);
  view.setUint16(offset + 2, value, false);
}

/** ECMA-119 9.1.5: years since 1900, month, day, hour, minute, second, GMT offset (UTC here). */
function recordDate(when: Date): Uint8Array {
  return Uint8Array.of(
    when.getUTCFullYear() - 1900, when.getUTCMonth() + 1, when.getUTCDate(),
    when.getUTCHours(), when.getUTCMinutes(), when.getUTCSeconds(), 0,
  );
}

/** ECMA-119 8.4.26.1: 16 ASCII digits + GMT offset; "unspecified" is all '0' digits and offset 0. */
function descriptorDate(when: Date | undefined): Uint8Array {
  const out = new Uint8Array(17);
  if (!when) {
    out.set(ascii("0".repeat(16)), 0);
    return out;
  }
  const p = (n: number, w: number) => String(n).padStart(w, "0");
  const digits =
    p(when.getUTCFullYear(), 4) + p(when.getUTCMonth() + 1, 2) + p(when.getUTCDate(), 2) +
    p(when.getUTCHours(), 2) + p(when.getUTCMinutes(), 2) + p(when.getUTCSeconds(), 2) + "00";
  out.set(ascii(digits), 0);
  return out;
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

function ucs2(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
