/**
 * Sizes in Proxmox's units (reference/pve-api.md §2.13): `\d+(\.\d+)?[KMGT]?`, binary (K = 1024),
 * no unit = bytes; PVE prints the largest exact unit (`size=42G`). Memory is configured in MiB.
 */

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `"4G"` → 4294967296; `"512"` → 512 bytes; `"1.5G"` → 1610612736. Throws on anything else. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(value.trim());
  if (!m) throw new Error(`size ${JSON.stringify(value)} is not a Proxmox size (e.g. 32G, 512M)`);
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

/** Bytes in the largest unit that divides them exactly, as PVE prints them: 4294967296 → `"4G"`, 1536 → `"1536"`. */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`size ${bytes} is not a whole number of bytes`);
  for (const unit of ["T", "G", "M", "K"]) {
    if (bytes !== 0 && bytes % UNITS[unit] === 0) return `${bytes / UNITS[unit]}${unit}`;
  }
  return String(bytes);
}

export function mibToBytes(mib: number): number {
  return mib * UNITS.M;
}

export function bytesToMiB(bytes: number): number {
  return bytes / UNITS.M;
}
