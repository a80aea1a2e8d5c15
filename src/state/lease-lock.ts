/**
 * The lease lock: one writer per shard. The lock object is JSON LockInfo plus a nonce.
 *
 * - Acquire: create-only write (`If-None-Match: *`). If a lease is there and has expired, take it
 *   over with `If-Match` on the expired lease's ETag, so of several contenders exactly one wins.
 * - Renew: an `If-Match` write every third of the TTL while held (unref'd timer). A refused renewal
 *   means someone else may hold it now: the lock is marked lost and `assertHeld()` throws LOCK_LOST.
 * - Release: an `If-Match` write marking it released, then a delete. RGW ignores conditions on
 *   DELETE, so the delete is sent only within a short window after our released write, and a
 *   contender takes over a *released* lease only after seeing the same released version for the
 *   whole release grace — it can never delete a newer holder's lease unless the releaser stalls
 *   for longer than that grace. Correctness of the state itself never rests on the lock: every
 *   state write is compare-and-swap.
 */
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { UserError } from "../errors.js";
import { VERSION } from "../version.js";
import { canonicalJson } from "./document.js";
import { isStoreConflict } from "./store-conflict.js";
import type { LeaseLock, LockInfo, ObjectBackend } from "./types.js";

export const DEFAULT_LEASE_TTL_MS = 60_000;
export const DEFAULT_RELEASE_GRACE_MS = 5_000;

/**
 * Time as the lock sees it: expiries, the release grace, the wait deadline and the backoff pauses.
 * Production uses the wall clock; tests pass a clock they move by hand, to check each threshold at
 * its exact edge without waiting for it. (The renewal timer is a real interval either way.)
 */
export interface LockClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const wallClock: LockClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

export interface LockOptions {
  timeoutMs?: number;
  ttlMs?: number;
  onWait?: (holder: LockInfo) => void;
  /** Terraform's backoff: 1 s doubling to 16 s. Tests scale it down. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How long a released lease must stay unchanged before a contender takes it over. */
  releaseGraceMs?: number;
  clock?: LockClock;
}

interface StoredLock extends LockInfo {
  nonce: string;
  releasedAt?: string;
}

function who(): string {
  let user = process.env.USER ?? process.env.LOGNAME ?? "";
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  return `${user}@${hostname()}`;
}

function encode(lock: StoredLock): Uint8Array {
  return new TextEncoder().encode(canonicalJson(lock));
}

function decode(body: Uint8Array): StoredLock | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(body)) as StoredLock;
    return typeof v?.id === "string" && typeof v.expires === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Terraform's human form of a lock. */
export function formatLockInfo(info: LockInfo): string {
  return [
    "Lock Info:",
    `  ID:        ${info.id}`,
    `  Path:      ${info.path}`,
    `  Operation: ${info.operation}`,
    `  Who:       ${info.who}`,
    `  Version:   ${info.version}`,
    `  Created:   ${info.created}`,
    `  Expires:   ${info.expires}`,
  ].join("\n");
}

function publicInfo(lock: StoredLock): LockInfo {
  const { nonce: _nonce, releasedAt: _releasedAt, ...info } = lock;
  return info;
}

export async function acquireLease(backend: ObjectBackend, key: string, location: string, operation: string, options: LockOptions = {}): Promise<LeaseLock> {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const timeoutMs = options.timeoutMs ?? 0;
  const releaseGraceMs = options.releaseGraceMs ?? DEFAULT_RELEASE_GRACE_MS;
  const maxBackoff = options.backoffMaxMs ?? 16_000;
  let backoff = options.backoffInitialMs ?? 1_000;
  const clock = options.clock ?? wallClock;
  const started = clock.now();
  const id = randomUUID();
  const created = new Date(clock.now()).toISOString();
  const fresh = (): StoredLock => ({
    id,
    operation,
    who: who(),
    version: VERSION,
    created,
    expires: new Date(clock.now() + ttlMs).toISOString(),
    path: key,
    nonce: randomUUID(),
  });
  // A released lease seen first at this local time, by ETag: the grace is measured on our clock.
  let releasedSeen: { etag: string; at: number } | undefined;

  for (;;) {
    const mine = fresh();
    try {
      const { etag } = await backend.put(key, encode(mine), { ifNoneMatch: "*" });
      return new HeldLease(backend, key, mine, etag, ttlMs, releaseGraceMs, clock);
    } catch (e) {
      if (!isStoreConflict(e)) throw e;
    }
    const current = await backend.get(key);
    if (!current) continue; // released and deleted in between: try the create again
    const holder = decode(current.body);
    let takeOver = false;
    if (!holder) {
      throw new UserError("LOCK_CORRUPT", `the lock object ${location} (${key}) is not a pvefleet lock; inspect it and remove it with force-unlock or by hand`);
    } else if (holder.released) {
      if (releasedSeen?.etag !== current.etag) releasedSeen = { etag: current.etag, at: clock.now() };
      takeOver = clock.now() - releasedSeen.at >= releaseGraceMs;
      if (!takeOver) {
        // The releaser is about to delete it: look again soon rather than backing off.
        await clock.sleep(Math.min(100, releaseGraceMs / 4));
        continue;
      }
    } else {
      takeOver = Date.parse(holder.expires) <= clock.now();
    }
    if (takeOver) {
      const taken = fresh();
      try {
        const { etag } = await backend.put(key, encode(taken), { ifMatch: current.etag });
        return new HeldLease(backend, key, taken, etag, ttlMs, releaseGraceMs, clock);
      } catch (e) {
        if (!isStoreConflict(e)) throw e;
        continue; // another contender took it over first; look again
      }
    }
    const waited = clock.now() - started;
    if (waited >= timeoutMs) {
      throw new UserError(
        "STATE_LOCKED",
        `Error acquiring the state lock: ${location} is locked${timeoutMs > 0 ? ` (waited ${Math.round(timeoutMs / 1000)}s)` : ""}\n${formatLockInfo(publicInfo(holder))}\n` +
          `pvefleet acquires a lock to protect the state from being written by multiple users at once. ` +
          `Wait for that run to finish, or if it is gone, run: pvefleet force-unlock ${holder.id}`,
      );
    }
    options.onWait?.(publicInfo(holder));
    // The last step is cut to the deadline, so the final attempt happens right at it.
    await clock.sleep(Math.min(backoff, timeoutMs - waited));
    backoff = Math.min(backoff * 2, maxBackoff);
  }
}

class HeldLease implements LeaseLock {
  private lost: string | undefined;
  private takenOver = false;
  private released = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly backend: ObjectBackend,
    private readonly key: string,
    private current: StoredLock,
    private etag: string,
    private readonly ttlMs: number,
    private readonly releaseGraceMs: number,
    private readonly clock: LockClock,
  ) {
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => {
        this.renewing = undefined;
      });
    }, Math.max(1, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  get info(): LockInfo {
    return publicInfo(this.current);
  }

  assertHeld(): void {
    if (this.released) throw new UserError("LOCK_LOST", `the state lock ${this.current.id} was already released`);
    if (this.lost) throw new UserError("LOCK_LOST", `lost the state lock ${this.current.id}: ${this.lost}; stop and re-run plan`);
    if (this.expired()) {
      // Sticky: a renewal that lands late must not make an apply that was told "lost" carry on.
      this.markLost(`it expired at ${this.current.expires} without being renewed`, false);
      throw new UserError("LOCK_LOST", `the state lock ${this.current.id} expired at ${this.current.expires} without being renewed; stop and re-run plan`);
    }
  }

  /** Past its expiry by our clock: a contender may take it over now (acquireLease's rule). */
  private expired(): boolean {
    return Date.parse(this.current.expires) <= this.clock.now();
  }

  private async renew(): Promise<void> {
    if (this.lost || this.released) return;
    const next: StoredLock = { ...this.current, expires: new Date(this.clock.now() + this.ttlMs).toISOString(), nonce: randomUUID() };
    try {
      const { etag } = await this.backend.put(this.key, encode(next), { ifMatch: this.etag });
      this.current = next;
      this.etag = etag;
    } catch (e) {
      if (isStoreConflict(e)) this.markLost(`the lease was ${e.reason === "gone" ? "removed" : "replaced"} by someone else (force-unlock or an expired-lease takeover)`, true);
      // A transient error is retried at the next tick while our lease is still valid.
      else if (this.expired()) this.markLost(`renewal failed until the lease expired: ${(e as Error).message}`, false);
    }
  }

  /** `takenOver`: the object is someone else's now, so release must not touch it. */
  private markLost(why: string, takenOver: boolean): void {
    this.lost ??= why;
    this.takenOver ||= takenOver;
    clearInterval(this.timer);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    // A renewal that hangs (a black-holed endpoint, no request timeout) must not hang the run that
    // releases: after a TTL the lease has expired anyway, so give up on it and leave the object to
    // expire (its If-Match would decide a late race either way).
    if (this.renewing) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.ttlMs);
        timer.unref();
      });
      const settled = await Promise.race([this.renewing.then(() => true), gaveUp]);
      clearTimeout(timer);
      if (!settled) return;
    }
    // Expired but not taken over: still try to mark it released, so the next run need not wait.
    // The If-Match write fails (and nothing is deleted) if anyone wrote the lock since.
    if (this.takenOver) return;
    const marked: StoredLock = { ...this.current, released: true, releasedAt: new Date(this.clock.now()).toISOString(), nonce: randomUUID() };
    // Measured from before the write: contenders start their grace only once they see it landed.
    const markedAt = this.clock.now();
    try {
      await this.backend.put(this.key, encode(marked), { ifMatch: this.etag });
    } catch (e) {
      if (isStoreConflict(e)) return; // someone took it over: not ours to delete
      if (this.lost) return; // best effort: the run already failed with LOCK_LOST, keep that error
      throw e;
    }
    // Delete only well inside the grace contenders wait before taking over a released lease.
    if (this.clock.now() - markedAt < this.releaseGraceMs / 2) await this.backend.delete(this.key).catch(() => undefined);
  }
}

/**
 * Removes a lock by ID: an If-Match write marking it released, then a delete. A live holder may
 * renew between our read and our write; the lock still has the ID the user named, so try again.
 */
export async function forceUnlock(backend: ObjectBackend, key: string, location: string, lockId: string): Promise<LockInfo> {
  for (let attempt = 1; ; attempt++) {
    const current = await backend.get(key);
    if (!current) throw new UserError("LOCK_NOT_FOUND", `no state lock is held on ${location}`);
    const holder = decode(current.body);
    if (!holder) throw new UserError("LOCK_CORRUPT", `the lock object ${key} on ${location} is not a pvefleet lock; remove it by hand`);
    if (holder.id !== lockId) {
      throw new UserError("LOCK_ID_MISMATCH", `the state lock on ${location} has ID ${holder.id}, not ${lockId}; nothing was changed\n${formatLockInfo(publicInfo(holder))}`);
    }
    const marked: StoredLock = { ...holder, released: true, releasedAt: new Date().toISOString(), nonce: randomUUID() };
    try {
      await backend.put(key, encode(marked), { ifMatch: current.etag });
    } catch (e) {
      if (!isStoreConflict(e)) throw e;
      if (attempt < 5) continue;
      throw new UserError("LOCK_CHANGED", `the state lock on ${location} kept changing while unlocking it; check it again`);
    }
    await backend.delete(key).catch(() => undefined);
    return publicInfo(holder);
  }
}
