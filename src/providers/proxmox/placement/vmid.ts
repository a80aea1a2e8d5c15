/**
 * VMID choice. VMIDs are handles, not identity (ARCHITECTURE rule 1), but reusing a freshly freed
 * one makes logs and humans confuse two VMs, so new VMIDs go above the highest one in use inside
 * the configured range (as Nstance's counter does) and only wrap to the low end when the top is
 * exhausted. The allocator works on the refresh snapshot, so parallel creates in one run never
 * collide; `/cluster/nextid?vmid=N` then checks each candidate against the live cluster (it does
 * not reserve — a concurrent actor can still take it, which clone() handles).
 */
import type { ProxmoxClient } from "../api/client.js";
import { ProxmoxError, isProxmoxError } from "../api/errors.js";
import { UserError } from "../../../errors.js";

export interface VmidRange {
  min: number;
  max: number;
}

export const DEFAULT_VMID_RANGE: VmidRange = { min: 10000, max: 999_999_999 };

export class VmidAllocator {
  private readonly used: Set<number>;
  private cursor: number;

  constructor(
    used: Iterable<number>,
    readonly range: VmidRange = DEFAULT_VMID_RANGE,
  ) {
    this.used = new Set(used);
    let highest = range.min - 1;
    for (const v of this.used) if (v >= range.min && v <= range.max && v > highest) highest = v;
    this.cursor = highest + 1;
  }

  /** Marks a VMID as used (e.g. one the provider moved to). */
  reserve(vmid: number): void {
    this.used.add(vmid);
  }

  /** The next candidate not in the snapshot and not handed out before. */
  next(): number {
    const span = this.range.max - this.range.min + 1;
    for (let i = 0; i < span; i++) {
      if (this.cursor > this.range.max) this.cursor = this.range.min;
      const candidate = this.cursor++;
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        return candidate;
      }
    }
    throw new UserError("E_VMID", `no free VMID left in the range ${this.range.min}–${this.range.max} (vmid_range)`);
  }
}

/** True when PVE says the VMID is free right now (`/cluster/nextid?vmid=N` answers N, pve-api.md §2.8). */
export async function isVmidFree(client: ProxmoxClient, vmid: number): Promise<boolean> {
  try {
    await client.get<string | number>("/cluster/nextid", { vmid });
    return true;
  } catch (e) {
    if (isProxmoxError(e, "VMID_TAKEN")) return false;
    throw e;
  }
}

/** Asks the allocator for candidates until PVE confirms one is free (at most `attempts`). */
export async function findFreeVmid(client: ProxmoxClient, allocator: VmidAllocator, attempts = 100): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const candidate = allocator.next();
    if (await isVmidFree(client, candidate)) return candidate;
  }
  throw new ProxmoxError("VMID_TAKEN", `no free VMID found after ${attempts} attempts`);
}
