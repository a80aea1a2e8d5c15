/** Sizes and the guide's resource spec (`instance_type`), parsed strictly. */

const UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `"20G"` → 21474836480. Proxmox size units are binary (K = 1024). Throws an Error with a one-line message. */
export function parseSize(text: string): number {
  const m = /^([1-9][0-9]*)([KMGT])$/.exec(text);
  if (!m) throw new Error(`size ${JSON.stringify(text)} must be a whole number followed by K, M, G or T (e.g. "20G")`);
  const bytes = Number(m[1]) * UNITS[m[2]!]!;
  if (!Number.isSafeInteger(bytes)) throw new Error(`size ${JSON.stringify(text)} is too large`);
  return bytes;
}

/** The Proxmox spelling of a byte count: the largest unit that divides it ("21474836480" → "20G"). */
export function formatSize(bytes: number): string {
  for (const unit of ["T", "G", "M", "K"]) {
    const n = bytes / UNITS[unit]!;
    if (Number.isInteger(n) && n > 0) return `${n}${unit}`;
  }
  return String(bytes);
}

export interface InstanceType {
  cores?: number;
  memoryMiB?: number;
  /** From `disk:<GiB>`. */
  diskBytes?: number;
}

const INSTANCE_TYPE_KEYS = ["cpu", "memory", "disk"] as const;

/**
 * The integration guide's resource spec: `"cpu:4,memory:8192,disk:50"` — cores, MiB, GiB; any subset,
 * any order, each key once. Throws an Error with a one-line message.
 */
export function parseInstanceType(text: string): InstanceType {
  const out: InstanceType = {};
  const seen = new Set<string>();
  const parts = text.split(",").map((p) => p.trim());
  if (text.trim() === "") throw new Error(`instance_type is empty; expected e.g. "cpu:4,memory:8192,disk:50"`);
  for (const part of parts) {
    const m = /^([a-z]+)\s*:\s*([0-9]+)$/.exec(part);
    if (!m) throw new Error(`instance_type ${JSON.stringify(text)}: ${JSON.stringify(part)} is not key:number (expected e.g. "cpu:4,memory:8192,disk:50")`);
    const key = m[1]!;
    const value = Number(m[2]);
    if (!(INSTANCE_TYPE_KEYS as readonly string[]).includes(key)) {
      throw new Error(`instance_type ${JSON.stringify(text)}: unknown key ${JSON.stringify(key)} (known: cpu, memory, disk)`);
    }
    if (seen.has(key)) throw new Error(`instance_type ${JSON.stringify(text)}: ${key} is given twice`);
    seen.add(key);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`instance_type ${JSON.stringify(text)}: ${key} must be a positive whole number`);
    if (key === "cpu") out.cores = value;
    else if (key === "memory") out.memoryMiB = value;
    else out.diskBytes = value * UNITS.G!;
  }
  return out;
}
