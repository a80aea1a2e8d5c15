/**
 * The privilege checks qemu-server makes *inside* its handlers, beyond the schema's
 * `permissions.check` (which for a config write only asks for any one VM.Config.* privilege).
 * Sources: qemu-server stable-bookworm (8.4.10) src/PVE/API2/Qemu.pm, pve-guest-common
 * src/PVE/GuestHelpers.pm (58ad183, PVE 8).
 */
import type { Acl } from "./acl.js";
import { fail, PveError } from "./context.js";
import { TaskError } from "./tasks.js";
import { parseDrive, parseNet } from "./property-string.js";

// Qemu.pm:744-820: which privilege each plain option needs.
const CPU = new Set(["cores", "cpu", "runningcpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus"]);
const MEMORY = new Set(["memory", "balloon", "shares"]);
const HWTYPE = new Set(["acpi", "hotplug", "kvm", "machine", "runningmachine", "scsihw", "smbios1", "tablet", "vga", "watchdog", "audio0", "rng0"]);
const GENERAL = new Set(["agent", "autostart", "bios", "description", "keyboard", "localtime", "migrate_downtime", "migrate_speed", "name", "onboot",
  "ostype", "protection", "reboot", "startdate", "startup", "tdf", "template"]);
const DISK = new Set(["boot", "bootdisk", "vmstatestorage"]);
const CLOUDINIT = new Set(["cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys"]);
const DRIVE_KEY = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;

/**
 * `$check_vm_modify_config_perm` (Qemu.pm:949-996), run before the worker for the deleted keys
 * and then the set ones (Qemu.pm:2104-2106): drives, tags and a few more are checked elsewhere.
 */
export function checkModifyConfigPerm(acl: Acl, vmid: number, keys: readonly string[]): void {
  const path = `/vms/${vmid}`;
  for (const opt of keys) {
    if (DRIVE_KEY.test(opt) || opt === "cdrom" || /^(?:unused|serial|usb|hostpci|virtiofs)\d+$/.test(opt) || opt === "tags") continue;
    if (CPU.has(opt) || /^numa\d+$/.test(opt)) acl.check(path, ["VM.Config.CPU"]);
    else if (MEMORY.has(opt)) acl.check(path, ["VM.Config.Memory"]);
    else if (HWTYPE.has(opt)) acl.check(path, ["VM.Config.HWType"]);
    else if (GENERAL.has(opt)) acl.check(path, ["VM.Config.Options"]);
    else if (opt === "freeze") acl.check(path, ["VM.PowerMgmt"]);
    else if (DISK.has(opt)) acl.check(path, ["VM.Config.Disk"]);
    else if (/^net\d+$/.test(opt)) acl.check(path, ["VM.Config.Network"]);
    else if (CLOUDINIT.has(opt) || /^ipconfig\d+$/.test(opt)) acl.checkAny(path, ["VM.Config.Cloudinit", "VM.Config.Network"]);
    else if (opt === "vmstate") acl.check(path, ["VM.Config.Disk", "VM.PowerMgmt"]);
    else throw fail(`only root can set '${opt}' config`);
  }
}

/** `drive_is_cloudinit` (qemu-server src/PVE/QemuServer/Drive.pm): `…:vm-N-cloudinit` or `…/cloudinit`. */
export function isCloudinitDrive(value: string): boolean {
  return /[:/](?:vm-\d+-)?cloudinit(?:\.(?:raw|qcow2|vmdk))?$/.test(parseDrive(value).file);
}

/**
 * `$check_drive_perms` (Qemu.pm:2174-2189), inside the worker: a cloud-init drive needs
 * VM.Config.Cloudinit and VM.Config.CDROM, a CD-ROM VM.Config.CDROM, any other drive
 * VM.Config.Disk. Called for a deleted drive (2253), the drive a new value replaces (2308) and
 * the new value (2314).
 */
export function checkDrivePerms(acl: Acl, vmid: number, value: string): void {
  const path = `/vms/${vmid}`;
  if (isCloudinitDrive(value)) acl.check(path, ["VM.Config.Cloudinit", "VM.Config.CDROM"]);
  else if (/(?:^|,)media=cdrom(?:,|$)/.test(value)) acl.check(path, ["VM.Config.CDROM"]);
  else acl.check(path, ["VM.Config.Disk"]);
}

/** The drives a config change touches, with the values to check (old and new). */
export function drivePermValues(current: Record<string, string>, set: Record<string, string>, del: readonly string[]): string[] {
  const out: string[] = [];
  for (const k of del) if (DRIVE_KEY.test(k) && current[k] !== undefined) out.push(current[k]!);
  for (const [k, v] of Object.entries(set)) {
    if (!DRIVE_KEY.test(k)) continue;
    if (current[k] !== undefined) out.push(current[k]!);
    out.push(v);
  }
  return out;
}

/**
 * `check_bridge_access` → `check_vnet_access` (GuestHelpers.pm:393-417): SDN.Use on
 * `/sdn/zones/localnetwork/<bridge>/<tag>` when the NIC has a VLAN tag, else on
 * `/sdn/zones/localnetwork/<bridge>` (a plain Linux bridge is in the `localnetwork` zone).
 */
export function checkBridgeAccess(acl: Acl, config: Record<string, string>): void {
  for (const key of Object.keys(config).sort()) {
    if (!/^net\d+$/.test(key)) continue;
    const net = parseNet(config[key]!);
    const bridge = net.rest.find(([k]) => k === "bridge")?.[1];
    if (bridge === undefined) continue;
    const tag = net.rest.find(([k]) => k === "tag")?.[1];
    acl.check(tag ? `/sdn/zones/localnetwork/${bridge}/${tag}` : `/sdn/zones/localnetwork/${bridge}`, ["SDN.Use"]);
  }
}

/** Runs a check inside a worker: a permission exception ends the task with its text (raise_perm_exc). */
export function inWorker<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PveError) throw new TaskError(e.message);
    throw e;
  }
}
