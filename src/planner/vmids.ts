/**
 * VMIDs for new VMs, assigned by the planner from one refresh snapshot (anchors.md §7.1): PVE
 * cannot reserve IDs, so parallel `nextid` calls collide; assigning them here, never reusing one
 * in the listing, in the state (a create whose clone has not run yet holds its VMID there) or
 * already handed out, makes collisions a sign of someone else's VM, which the provider handles.
 */
import { UserError } from "../errors.js";

export class VmidAllocator {
  private readonly used: Set<number>;
  private cursor: number;

  constructor(used: Iterable<number>, private readonly range: { min: number; max: number }) {
    this.used = new Set(used);
    this.cursor = Math.max(100, range.min);
  }

  isFree(vmid: number): boolean {
    return !this.used.has(vmid);
  }

  /** Marks a VMID taken (a resumed create keeping its recorded one). */
  claim(vmid: number): void {
    this.used.add(vmid);
  }

  /** The lowest free VMID in range; IDs are handed out in ascending order. */
  next(): number {
    while (this.used.has(this.cursor)) this.cursor++;
    if (this.cursor > this.range.max) {
      throw new UserError("E_VMID", `no free VMID left in the range ${this.range.min}–${this.range.max} (vmid_range)`);
    }
    this.used.add(this.cursor);
    return this.cursor;
  }
}
