/**
 * Drive strings and the boot order (reference/pve-api.md §2.5, §2.6): `ide2` carrying the
 * cloud-init ISO as a CD-ROM, `scsi0` with its `size=`, and `boot: order=…` with the disk first
 * so an attached seed ISO never becomes the boot device.
 */
import { parseSize } from "./sizes.js";

/** PVE volume ID: `<storage>:<path>`. */
export const VOLUME_PATTERN = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;

export interface ParsedDrive {
  /** `local-lvm:vm-100-disk-0`, `local:iso/x.iso`, or `none` / `cdrom` for an empty or host CD-ROM. */
  volume: string;
  /** Storage part of the volume ID, when it has one. */
  storage?: string;
  media: "cdrom" | "disk";
  sizeBytes?: number;
  /** Every `key=value` option as written (including `media` and `size`). */
  options: Record<string, string>;
}

/** `<storage>:iso/<fileName>`: where an uploaded ISO lives. */
export function isoVolumeId(storage: string, fileName: string): string {
  const volume = `${storage}:iso/${fileName}`;
  if (!VOLUME_PATTERN.test(volume) || fileName.includes("/")) throw new Error(`${JSON.stringify(volume)} is not a valid ISO volume ID`);
  return volume;
}

/** `ide2` value attaching an ISO: `local:iso/x.iso,media=cdrom`. */
export function formatIde2Iso(volume: string): string {
  if (!VOLUME_PATTERN.test(volume)) throw new Error(`${JSON.stringify(volume)} is not a volume ID (<storage>:<path>)`);
  return `${volume},media=cdrom`;
}

/** `ide2` value of an empty CD-ROM drive (what detaching leaves behind). */
export const EMPTY_CDROM = "none,media=cdrom";

/** Parses `local-lvm:vm-100-disk-0,size=4G` or `local:iso/x.iso,media=cdrom`. */
export function parseDrive(value: string): ParsedDrive {
  const [first, ...rest] = value.split(",");
  let volume = first;
  const options: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new Error(`drive ${JSON.stringify(value)}: ${JSON.stringify(part)} is not key=value`);
    options[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (volume.startsWith("file=")) volume = volume.slice(5);
  if (volume === "") throw new Error(`drive ${JSON.stringify(value)} names no volume`);
  const storage = VOLUME_PATTERN.exec(volume)?.[1];
  const drive: ParsedDrive = { volume, media: options.media === "cdrom" ? "cdrom" : "disk", options };
  if (storage !== undefined) drive.storage = storage;
  if (options.size !== undefined) drive.sizeBytes = parseSize(options.size);
  return drive;
}

/** The ISO volume an `ide2` string attaches, or undefined for none / host drive / a disk. */
export function attachedIso(ide2: string | undefined): string | undefined {
  if (!ide2) return undefined;
  const drive = parseDrive(ide2);
  return drive.media === "cdrom" && drive.storage !== undefined ? drive.volume : undefined;
}

/** The devices of a `boot` value's `order=` (empty for a legacy-only or missing value). */
export function parseBootOrder(boot: string | undefined): string[] {
  if (!boot) return [];
  for (const part of boot.split(",")) {
    const eq = part.indexOf("=");
    if (eq >= 0 && part.slice(0, eq) === "order") return part.slice(eq + 1).split(";").filter((d) => d !== "");
  }
  return [];
}

export function formatBootOrder(devices: string[]): string {
  return `order=${devices.join(";")}`;
}

/**
 * Boot order with the disk first, then `ide2`, then whatever else the VM booted from before
 * (e.g. `net0`). Nstance appends `;ide2` to the template's value, which breaks on a legacy or
 * empty boot string; this always yields a modern `order=`.
 */
export function bootOrderWithIso(existingBoot: string | undefined, disk = "scsi0"): string {
  const others = parseBootOrder(existingBoot).filter((d) => d !== disk && d !== "ide2");
  return formatBootOrder([disk, "ide2", ...others]);
}

/** Boot order without `ide2` (after detaching the seed ISO), disk first. */
export function bootOrderWithoutIso(existingBoot: string | undefined, disk = "scsi0"): string {
  const others = parseBootOrder(existingBoot).filter((d) => d !== disk && d !== "ide2");
  return formatBootOrder([disk, ...others]);
}

/**
 * The drive keys a VM disk can sit on (qemu-server Drive.pm: ide0-3, sata0-5, scsi0-30,
 * virtio0-15) — the values `PUT …/resize` accepts for `disk`.
 */
export const DISK_BUS_PATTERN = /^(?:ide[0-3]|sata[0-5]|scsi(?:[0-9]|[12][0-9]|30)|virtio(?:[0-9]|1[0-5]))$/;

/** A config's drive keys (disks and CD-ROMs), in PVE's bus order: ide, sata, scsi, virtio, each by number. */
export function driveKeys(config: Record<string, string | undefined>): string[] {
  const bus = ["ide", "sata", "scsi", "virtio"];
  const rank = (k: string) => bus.indexOf(/^[a-z]+/.exec(k)![0]) * 100 + Number(/\d+$/.exec(k)![0]);
  return Object.keys(config).filter((k) => DISK_BUS_PATTERN.test(k) && config[k] !== undefined).sort((a, b) => rank(a) - rank(b));
}

/** `drive_is_cloudinit` (qemu-server Drive.pm): the volume is `…:vm-<id>-cloudinit[.fmt]` or `…/cloudinit`. */
export function isCloudinitDrive(value: string): boolean {
  return /[:/](?:vm-\d+-)?cloudinit(?:\.(?:raw|qcow2|vmdk))?$/.test(parseDrive(value).volume);
}

/** The keys of PVE's own cloud-init drives in a config (a template made with "Add → CloudInit Drive"). */
export function cloudinitDrives(config: Record<string, string | undefined>): string[] {
  return driveKeys(config).filter((k) => isCloudinitDrive(config[k]!));
}

function isDisk(config: Record<string, string | undefined>, key: string): boolean {
  const value = config[key];
  if (value === undefined || !DISK_BUS_PATTERN.test(key)) return false;
  const d = parseDrive(value);
  return d.media !== "cdrom" && d.volume !== "none" && !isCloudinitDrive(value);
}

/**
 * The VM's boot disk: the first disk of its `boot: order=…`, else the legacy `bootdisk`, else its
 * first disk in bus order (what PVE boots when neither is set). Undefined for a VM without a disk.
 */
export function bootDiskOf(config: Record<string, string | undefined>): string | undefined {
  const ordered = parseBootOrder(config.boot).find((dev) => isDisk(config, dev));
  if (ordered) return ordered;
  if (config.bootdisk && isDisk(config, config.bootdisk)) return config.bootdisk;
  return driveKeys(config).find((k) => isDisk(config, k));
}
