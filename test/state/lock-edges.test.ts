/**
 * The lease lock's and the file backend's rarer paths, on the real file backend in a temp dir:
 * a lock object that is not a pvefleet lock (LOCK_CORRUPT), a lease removed between a refused
 * create and the read that follows, a force-unlock that keeps losing its race (LOCK_CHANGED),
 * renewals that stop for good, and file writer locks left behind by a live-looking process
 * (broken by age) or by a breaker that died (removed by age), with the one-second notice.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FileBackend, ShardStateStore, StoreConflictError } from "../../src/state/index.js";
import type { WriterLockWait } from "../../src/state/file-backend.js";
import { UserError } from "../../src/errors.js";
import { tempDir } from "./helpers.js";
import { HookedBackend } from "./hooked-backend.js";

const enc = (s: string) => new TextEncoder().encode(s);
const LOCK_KEY = "shard/dev/state.lock";

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  return (e as UserError).code;
}

describe("lease lock edges", () => {
  let tmp: { dir: string; cleanup: () => void };
  let backend: HookedBackend;
  let store: ShardStateStore;
  beforeEach(() => {
    tmp = tempDir("lock-edges");
    backend = new HookedBackend(new FileBackend(tmp.dir));
    // A release deletes the lock only within half this grace of its released write: keep it wide under load.
    store = new ShardStateStore(backend, "c1", "dev", { backoffInitialMs: 10, backoffMaxMs: 20, releaseGraceMs: 2_000 });
  });
  afterEach(() => tmp.cleanup());

  it("refuses to acquire over, or force-unlock, an object that is not a pvefleet lock", async () => {
    await backend.inner.put(LOCK_KEY, enc("not json at all"), { ifNoneMatch: "*" });
    expect(await codeOf(store.lock("apply"))).toBe("LOCK_CORRUPT");
    expect(await codeOf(store.forceUnlock("anything"))).toBe("LOCK_CORRUPT");
    expect(existsSync(path.join(tmp.dir, LOCK_KEY))).toBe(true); // left for a person to inspect
  });

  it("creates the lock again when the holder's lease vanished between the refused create and the read", async () => {
    const holder = await store.lock("apply");
    let hidden = false;
    // The first read after the refused create finds nothing (released and deleted in between).
    backend.onGet = (key) => (key === LOCK_KEY && !hidden ? ((hidden = true), undefined) : "pass");
    setTimeout(() => void holder.release(), 50);
    const lock = await store.lock("apply", { timeoutMs: 5_000 });
    expect(hidden).toBe(true);
    lock.assertHeld();
    await lock.release();
  });

  it("gives up a force-unlock with LOCK_CHANGED when the lock changes under every attempt", async () => {
    const lock = await store.lock("apply");
    let attempts = 0;
    // Every read returns the holder's lock with a version that is already gone: each If-Match loses.
    backend.onGet = (key) => {
      if (key !== LOCK_KEY) return "pass";
      attempts++;
      return { body: enc(JSON.stringify({ ...lock.info, nonce: String(attempts) })), etag: `stale-${attempts}` };
    };
    const e = await store.forceUnlock(lock.info.id).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: "LOCK_CHANGED", message: `the state lock on ${store.lockLocation} kept changing while unlocking it; check it again` });
    expect(attempts).toBe(5);
    backend.onGet = undefined;
    lock.assertHeld(); // nothing was changed
    await lock.release();
  });

  it("stays lost after renewals failed past the expiry, and release then leaves a replaced lease alone", async () => {
    const lock = await store.lock("apply", { ttlMs: 150 });
    backend.onPut = (key) => {
      if (key === LOCK_KEY) throw new Error("503 (injected)");
    };
    await sleep(400);
    expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST", message: expect.stringContaining("renewal failed until the lease expired") }));
    backend.onPut = undefined;
    // Someone takes the expired lease over; our release must not touch it.
    const other = await new ShardStateStore(new FileBackend(tmp.dir), "c1", "dev").lock("apply");
    await lock.release();
    expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
    expect(JSON.parse(new TextDecoder().decode((await backend.inner.get(LOCK_KEY))!.body)).id).toBe(other.info.id);
    other.assertHeld();
    await other.release();
  });

  it("keeps the lease through one failed renewal while it is still valid", async () => {
    const lock = await store.lock("apply", { ttlMs: 600 });
    let failed = 0;
    backend.onPut = (key, cond) => {
      if (key === LOCK_KEY && "ifMatch" in cond && failed === 0) {
        failed++;
        throw new Error("503 (injected)");
      }
    };
    await sleep(700); // past the first expiry: only a later renewal that worked keeps it
    expect(failed).toBe(1);
    lock.assertHeld();
    await lock.release();
    expect(await backend.inner.get(LOCK_KEY)).toBeUndefined();
  });

  it("never throws from releasing a lost lease, even when the store keeps failing", async () => {
    const lock = await store.lock("apply", { ttlMs: 150 });
    backend.onPut = (key) => {
      if (key === LOCK_KEY) throw new Error("503 (injected)");
    };
    await sleep(400);
    expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
    await expect(lock.release()).resolves.toBeUndefined();
  });

  it("marks a lease that expired unseen as released, so the next run takes it at once", async () => {
    const lock = await store.lock("apply", { ttlMs: 150 });
    let released = false;
    backend.onPut = (key, cond) => {
      if (key === LOCK_KEY && "ifMatch" in cond && !released) throw new Error("503 (injected)");
    };
    await sleep(400);
    expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
    released = true;
    await lock.release();
    expect(await backend.inner.get(LOCK_KEY)).toBeUndefined();
    const next = await store.lock("apply", { timeoutMs: 0 });
    await next.release();
  });
});

describe("file backend writer locks", () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeEach(() => {
    tmp = tempDir("wlock");
  });
  afterEach(() => tmp.cleanup());

  it("breaks a writer lock held by a live-looking process once it is older than 30 s", async () => {
    const backend = new FileBackend(tmp.dir);
    await backend.put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    const file = path.join(tmp.dir, "k", "obj");
    // Our own pid (alive) on this host, taken 40 s ago: only its age makes it stale.
    writeFileSync(`${file}.wlock`, `${process.pid} ${hostname()} old-nonce ${Date.now() - 40_000}\n`);
    const v1 = (await backend.get("k/obj"))!;
    await backend.put("k/obj", enc("v2"), { ifMatch: v1.etag });
    expect(new TextDecoder().decode((await backend.get("k/obj"))!.body)).toBe("v2");
    expect(existsSync(`${file}.wlock`)).toBe(false);
  });

  it("removes a breaker file left by a process that died mid-break, then proceeds", async () => {
    const backend = new FileBackend(tmp.dir);
    const file = path.join(tmp.dir, "k", "obj");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.wlock`, `999999999 ${hostname()} dead ${Date.now()}\n`);
    writeFileSync(`${file}.wlock.break`, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.wlock.break`, old, old);
    await backend.put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(existsSync(`${file}.wlock.break`)).toBe(false);
    expect(existsSync(`${file}.wlock`)).toBe(false);
  });

  it("says who holds a writer lock it has waited for over a second, once", async () => {
    const waits: WriterLockWait[] = [];
    const backend = new FileBackend(tmp.dir, { onWriterLockWait: (w) => waits.push(w) });
    const file = path.join(tmp.dir, "k", "obj");
    mkdirSync(path.dirname(file), { recursive: true });
    // Alive and fresh: not stale, so the write waits until the holder lets go.
    writeFileSync(`${file}.wlock`, `${process.pid} ${hostname()} holder ${Date.now()}\n`);
    const { rmSync } = await import("node:fs");
    setTimeout(() => rmSync(`${file}.wlock`, { force: true }), 1_500);
    await backend.put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ lockPath: `${file}.wlock`, pid: process.pid, host: hostname(), staleAfterMs: 30_000 });
  });

  it("reports a lost conditional write as StoreConflictError for both conditions", async () => {
    const backend = new FileBackend(tmp.dir);
    await backend.put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    await expect(backend.put("k/obj", enc("v2"), { ifNoneMatch: "*" })).rejects.toBeInstanceOf(StoreConflictError);
    await expect(backend.put("k/none", enc("v2"), { ifMatch: "nope" })).rejects.toMatchObject({ reason: "gone" });
  });
});
