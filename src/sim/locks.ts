/**
 * File locks as PVE takes them: `flock` with a timeout. A per-VM config lock
 * (`/var/lock/qemu-server/lock-<vmid>.conf`, one holder) serialises config writes and power
 * operations on a VM. The storage lock (`/var/lock/pve-manager/pve-storage-<id>`, pve-storage
 * `cluster_lock_storage`, Storage/Plugin.pm:668-683) is **exclusive** and held only around a volume
 * allocation (`vdisk_alloc`/`vdisk_clone`, Storage.pm:986-992, 1066-1077), not the copy; its
 * timeout is 10 s (pve-common Tools.pm:207). Waiters beyond the timeout get PVE's `got timeout`.
 */
import { TaskError } from "./tasks.js";

interface Waiter {
  grant: () => void;
  timer?: NodeJS.Timeout;
}

export class Semaphore {
  private held = 0;
  private readonly waiters: Waiter[] = [];
  constructor(private readonly limit: number) {}

  /** Resolves to a release function, or rejects with `message` after `timeoutMs`. */
  acquire(timeoutMs: number, message: string): Promise<() => void> {
    const release = () => {
      this.held--;
      const next = this.waiters.shift();
      if (next) next.grant();
    };
    if (this.held < this.limit) {
      this.held++;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          if (waiter.timer) clearTimeout(waiter.timer);
          this.held++;
          resolve(release);
        },
      };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new TaskError(message));
      }, Math.max(0, timeoutMs));
      this.waiters.push(waiter);
    });
  }
}

export class LockTable {
  private readonly vmLocks = new Map<number, Semaphore>();
  private readonly storageLocks = new Map<string, Semaphore>();
  /** `allocMs`: how long an allocation holds the storage lock (the topology's override of the profile's). */
  constructor(readonly allocMs?: number) {}

  vm(vmid: number, timeoutMs: number): Promise<() => void> {
    let s = this.vmLocks.get(vmid);
    if (!s) this.vmLocks.set(vmid, (s = new Semaphore(1)));
    return s.acquire(timeoutMs, `can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`);
  }

  /** `scope` is the storage id, prefixed by the node for node-local storages. */
  storage(scope: string, storageId: string, timeoutMs: number): Promise<() => void> {
    let s = this.storageLocks.get(scope);
    if (!s) this.storageLocks.set(scope, (s = new Semaphore(1)));
    return s.acquire(timeoutMs, `can't lock file '/var/lock/pve-manager/pve-storage-${storageId}' - got timeout`);
  }
}
