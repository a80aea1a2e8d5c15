/**
 * One conformance suite, run against every backend over its real I/O: the file backend in a temp
 * directory, the S3 backend against Ceph RGW (scripts/s3-test-server.sh) and the GCS backend
 * against the strict GCS JSON-API test server (test/state/gcs-server/; or PVEFLEET_TEST_GCS_ENDPOINT).
 * Covers conditional writes, the state store's compare-and-swap, the lease lock, and
 * multi-process races.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fork, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { canonicalJson, FileBackend, newStateDoc, openStateStore, StoreConflictError, type OpenStateStoreOptions } from "../../src/state/index.js";
import type { ShardStateStore } from "../../src/state/store.js";
import { UserError } from "../../src/errors.js";
import { gcsTestBucket, makeBucket, s3Env, tempDir } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface BackendUnderTest {
  name: "file" | "s3" | "gcs";
  setup(): Promise<Omit<OpenStateStoreOptions, "clusterId" | "shardId">>;
  teardown(): void | Promise<void>;
}

let fileDir: { dir: string; cleanup: () => void } | undefined;
let gcs: Awaited<ReturnType<typeof gcsTestBucket>> | undefined;
const backends: BackendUnderTest[] = [
  {
    name: "file",
    async setup() {
      fileDir = tempDir("state");
      return { storage: "file", stateDir: fileDir.dir };
    },
    teardown: () => fileDir?.cleanup(),
  },
  {
    name: "s3",
    async setup() {
      const env = s3Env(); // throws, failing the suite, when no server was started
      return { storage: "s3", bucket: await makeBucket(), prefix: "pvefleet/", env };
    },
    teardown: () => undefined,
  },
  {
    name: "gcs",
    async setup() {
      gcs = await gcsTestBucket();
      return { storage: "gcs", bucket: gcs.bucket, prefix: "pvefleet/", env: gcs.env };
    },
    teardown: () => gcs?.close(),
  },
];

const fastLocks = { backoffInitialMs: 20, backoffMaxMs: 80, releaseGraceMs: 300 };

async function expectUserError(p: Promise<unknown>, code: string): Promise<UserError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  expect((e as UserError).code).toBe(code);
  return e as UserError;
}

describe.each(backends)("state store conformance: $name backend", (b) => {
  let base: Omit<OpenStateStoreOptions, "clusterId" | "shardId">;
  const open = (shardId = `s-${randomUUID().slice(0, 8)}`): Promise<ShardStateStore> =>
    openStateStore({ ...base, clusterId: "c1", shardId, lockDefaults: fastLocks });

  beforeAll(async () => {
    base = await b.setup();
  });
  afterAll(() => b.teardown());

  describe("conditional writes", () => {
    it("creates an object only once with If-None-Match: *", async () => {
      const { backend } = await open();
      await backend.put("k/create", enc("one"), { ifNoneMatch: "*" });
      const second = await backend.put("k/create", enc("two"), { ifNoneMatch: "*" }).catch((e) => e);
      expect(second).toBeInstanceOf(StoreConflictError);
      expect((second as StoreConflictError).reason).toBe("exists");
      expect(dec((await backend.get("k/create"))!.body)).toBe("one");
    });

    it("replaces an object with If-Match on its current ETag", async () => {
      const { backend } = await open();
      const v1 = await backend.put("k/cas", enc("v1"), { ifNoneMatch: "*" });
      const got = await backend.get("k/cas");
      expect(got!.etag).toBe(v1.etag);
      expect(got!.etag).not.toMatch(/"/);
      const v2 = await backend.put("k/cas", enc("v2"), { ifMatch: v1.etag });
      expect(v2.etag).not.toBe(v1.etag);
      expect(dec((await backend.get("k/cas"))!.body)).toBe("v2");
    });

    it("refuses a write on a stale ETag and keeps the newer content", async () => {
      const { backend } = await open();
      const v1 = await backend.put("k/stale", enc("v1"), { ifNoneMatch: "*" });
      await backend.put("k/stale", enc("v2"), { ifMatch: v1.etag });
      const lost = await backend.put("k/stale", enc("v3"), { ifMatch: v1.etag }).catch((e) => e);
      expect(lost).toBeInstanceOf(StoreConflictError);
      expect((lost as StoreConflictError).reason).toBe("changed");
      expect(dec((await backend.get("k/stale"))!.body)).toBe("v2");
    });

    it("reports a missing key as undefined and an If-Match write on it as gone", async () => {
      const { backend } = await open();
      expect(await backend.get("k/missing")).toBeUndefined();
      const gone = await backend.put("k/missing", enc("x"), { ifMatch: "0123456789abcdef0123456789abcdef" }).catch((e) => e);
      expect(gone).toBeInstanceOf(StoreConflictError);
      expect((gone as StoreConflictError).reason).toBe("gone");
      expect(await backend.get("k/missing")).toBeUndefined();
    });

    it("deletes an object so that it can be created again", async () => {
      const { backend } = await open();
      await backend.put("k/del", enc("x"), { ifNoneMatch: "*" });
      await backend.delete("k/del");
      expect(await backend.get("k/del")).toBeUndefined();
      await backend.delete("k/del"); // deleting a missing object is not an error
      await backend.put("k/del", enc("y"), { ifNoneMatch: "*" });
      expect(dec((await backend.get("k/del"))!.body)).toBe("y");
    });

    it("passes the conditional-write probe (or, for files, survives a stale writer lock)", async () => {
      const store = await open();
      if (b.name === "s3") {
        const s3 = store.backend as import("../../src/state/s3-backend.js").S3Backend;
        await expect(s3.ensureProbed()).resolves.toBeUndefined();
      } else if (b.name === "gcs") {
        const backend = store.backend as import("../../src/state/gcs-backend.js").GcsBackend;
        await expect(backend.ensureProbed()).resolves.toBeUndefined();
        // The probe object is removed again; nothing else was written.
        if (gcs?.server) expect(gcs.server.objectNames(gcs.bucket).filter((n) => n.includes(".pvefleet-probe"))).toEqual([]);
      } else {
        // A writer lock left by a crashed process (dead pid) must not block writes forever.
        const file = (store.backend as FileBackend).where("k/probe");
        await store.backend.put("k/probe", enc("x"), { ifNoneMatch: "*" });
        writeFileSync(`${file}.wlock`, `999999999 ${(await import("node:os")).hostname()} dead ${Date.now()}\n`);
        const v = await store.backend.get("k/probe");
        await store.backend.put("k/probe", enc("y"), { ifMatch: v!.etag });
        expect(dec((await store.backend.get("k/probe"))!.body)).toBe("y");
      }
    });
  });

  describe("state document", () => {
    it("reads undefined before the first write, then creates serial 1 with a lineage", async () => {
      const store = await open();
      expect(await store.read()).toBeUndefined();
      const fresh = newStateDoc("c1", store.shardId);
      const w = await store.write(fresh, undefined);
      expect(w.doc.serial).toBe(1);
      const r = await store.read();
      expect(r!.doc.lineage).toBe(fresh.lineage);
      expect(r!.etag).toBe(w.etag);
    });

    it("bumps the serial and the write ID on every compare-and-swap write", async () => {
      const store = await open();
      const w1 = await store.write(newStateDoc("c1", store.shardId), undefined);
      const w2 = await store.write(w1.doc, w1.etag);
      expect(w2.doc.serial).toBe(2);
      expect(w2.doc.writeId).not.toBe(w1.doc.writeId);
      expect(w2.doc.lineage).toBe(w1.doc.lineage);
    });

    it("gives two writes of the same content different ETags", async () => {
      const store = await open();
      const w1 = await store.write(newStateDoc("c1", store.shardId), undefined);
      const w2 = await store.write({ ...w1.doc, serial: w1.doc.serial - 1 }, w1.etag); // same serial, same records
      expect(w2.doc.serial).toBe(w1.doc.serial);
      expect(w2.etag).not.toBe(w1.etag);
    });

    it("stops with STATE_CONFLICT when another writer moved the state", async () => {
      const store = await open();
      const w1 = await store.write(newStateDoc("c1", store.shardId), undefined);
      await store.write(w1.doc, w1.etag);
      const e = await expectUserError(store.write(w1.doc, w1.etag), "STATE_CONFLICT");
      expect(e.message).toMatch(/changed by another writer .* serial 1; it is now at serial 2/);
      expect((await store.read())!.doc.serial).toBe(2);
      await expectUserError(store.write(newStateDoc("c1", store.shardId), undefined), "STATE_CONFLICT");
    });

    it("refuses a corrupt document with a clear error and leaves it in place", async () => {
      const store = await open();
      await store.backend.put(store.stateKey, enc('{"formatVersion": 1, "serial": "x"}'), { ifNoneMatch: "*" });
      const e = await expectUserError(store.read(), "STATE_CORRUPT");
      expect(e.message).toContain(store.stateKey);
      expect(e.message.split("\n")).toHaveLength(1);
      expect(dec((await store.backend.get(store.stateKey))!.body)).toContain('"serial": "x"');
    });

    it("refuses a document that belongs to another shard", async () => {
      const store = await open();
      const other = { ...newStateDoc("c1", "elsewhere") };
      await store.backend.put(store.stateKey, enc(canonicalJson(other)), { ifNoneMatch: "*" });
      await expectUserError(store.read(), "STATE_MISMATCH");
    });
  });

  describe("lease lock", () => {
    it("acquires a lock and refuses a second one with Terraform-style Lock Info", async () => {
      const store = await open();
      const lock = await store.lock("apply");
      expect(lock.info).toMatchObject({ operation: "apply", path: store.lockKey });
      expect(lock.info.who).toMatch(/.+@.+/);
      const e = await expectUserError(store.lock("destroy"), "STATE_LOCKED");
      expect(e.message).toContain("Error acquiring the state lock");
      for (const field of ["Lock Info:", `ID:        ${lock.info.id}`, "Path:", "Operation: apply", "Who:", "Version:", "Created:", "Expires:"]) {
        expect(e.message).toContain(field);
      }
      await lock.release();
    });

    it("renews a held lease every third of its TTL", async () => {
      const store = await open();
      const ttlMs = 600;
      const lock = await store.lock("apply", { ttlMs });
      // Watch the stored lease for one and a half TTLs: renewals every TTL/3 write 4 new expiries
      // in that time; one renewal per TTL would write 1. At least 3 leaves room for a slow timer.
      const seen = new Set<string>([JSON.parse(dec((await store.backend.get(store.lockKey))!.body)).expires as string]);
      const until = Date.now() + ttlMs * 1.5;
      while (Date.now() < until) {
        await sleep(20);
        seen.add(JSON.parse(dec((await store.backend.get(store.lockKey))!.body)).expires as string);
      }
      expect(seen.size - 1).toBeGreaterThanOrEqual(3);
      const expiries = [...seen].map((e) => Date.parse(e));
      expect(expiries).toEqual([...expiries].sort((a, b) => a - b)); // each renewal moves it later
      lock.assertHeld();
      await expectUserError(store.lock("apply"), "STATE_LOCKED");
      await lock.release();
    });

    it("takes over an expired lease with If-Match on its ETag", async () => {
      const store = await open();
      const past = new Date(Date.now() - 1000).toISOString();
      const dead = { id: "dead-lock", operation: "apply", who: "gone@host", version: "0", created: past, expires: past, path: store.lockKey, nonce: "n" };
      await store.backend.put(store.lockKey, enc(JSON.stringify(dead)), { ifNoneMatch: "*" });
      const lock = await store.lock("apply");
      expect(lock.info.id).not.toBe("dead-lock");
      expect(JSON.parse(dec((await store.backend.get(store.lockKey))!.body)).id).toBe(lock.info.id);
      await lock.release();
    });

    it("takes over a released lease that was never deleted, after the release grace", async () => {
      const store = await open();
      const future = new Date(Date.now() + 60_000).toISOString();
      const stuck = { id: "released-lock", operation: "apply", who: "a@b", version: "0", created: future, expires: future, path: store.lockKey, nonce: "n", released: true };
      await store.backend.put(store.lockKey, enc(JSON.stringify(stuck)), { ifNoneMatch: "*" });
      const started = Date.now();
      const lock = await store.lock("apply");
      expect(Date.now() - started).toBeGreaterThanOrEqual(fastLocks.releaseGraceMs);
      expect(lock.info.id).not.toBe("released-lock");
      await lock.release();
    });

    it("marks the lock lost when a renewal finds it replaced", async () => {
      const store = await open();
      // The first renewal comes after 200 ms, well after the replacement below.
      const lock = await store.lock("apply", { ttlMs: 600 });
      const cur = await store.backend.get(store.lockKey);
      await store.backend.put(store.lockKey, enc(JSON.stringify({ ...lock.info, id: "thief", nonce: "x" })), { ifMatch: cur!.etag });
      await sleep(350);
      expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
      await lock.release(); // must not delete the thief's lease
      expect(JSON.parse(dec((await store.backend.get(store.lockKey))!.body)).id).toBe("thief");
    });

    it("releases: the lock object is gone, a new lock can be taken, release is idempotent", async () => {
      const store = await open();
      const lock = await store.lock("apply");
      await lock.release();
      await lock.release();
      expect(await store.backend.get(store.lockKey)).toBeUndefined();
      expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST", message: `the state lock ${lock.info.id} was already released` }));
      const again = await store.lock("apply");
      await again.release();
    });

    it("waits with backoff for a held lock, reporting the holder, and gets it when released", async () => {
      const store = await open();
      const holder = await store.lock("apply");
      const waits: string[] = [];
      setTimeout(() => void holder.release(), 150);
      const lock = await store.lock("apply", { timeoutMs: 5_000, onWait: (h) => waits.push(h.id) });
      expect(waits.length).toBeGreaterThan(0);
      expect(waits[0]).toBe(holder.info.id);
      await lock.release();
    });

    it("gives up after --lock-timeout and names the holder", async () => {
      const store = await open();
      const holder = await store.lock("apply");
      const started = Date.now();
      const e = await expectUserError(store.lock("apply", { timeoutMs: 200 }), "STATE_LOCKED");
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(e.message).toContain(holder.info.id);
      expect(e.message).toContain("is locked (waited 0s)");
      expect(e.message).toContain(`run: pvefleet force-unlock ${holder.info.id}`);
      await holder.release();
    });

    it("force-unlocks by ID only, and the old holder then finds its lock lost", async () => {
      const store = await open();
      const lock = await store.lock("apply", { ttlMs: 300 });
      const mismatch = await expectUserError(store.forceUnlock("not-the-id"), "LOCK_ID_MISMATCH");
      expect(mismatch.message).toContain(`has ID ${lock.info.id}, not not-the-id; nothing was changed`);
      await store.forceUnlock(lock.info.id);
      expect(await store.backend.get(store.lockKey)).toBeUndefined();
      await sleep(250);
      expect(() => lock.assertHeld()).toThrowError(expect.objectContaining({ code: "LOCK_LOST" }));
      expect((await expectUserError(store.forceUnlock(lock.info.id), "LOCK_NOT_FOUND")).message).toMatch(/^no state lock is held on /);
    });
  });

  describe("races between processes", () => {
    const WORKERS = 8;
    const ROUNDS = 50;

    it(`${WORKERS} processes × ${ROUNDS} rounds: one lock winner and one CAS winner per round, no lost update`, async () => {
      const store = await open();
      await store.write(newStateDoc("c1", store.shardId), undefined);
      const workers: Worker[] = [];
      try {
        for (let i = 0; i < WORKERS; i++) workers.push(new Worker(path.join(here, "race-worker.ts")));
        await Promise.all(workers.map((w, i) => w.call({ type: "init", ...base, clusterId: "c1", shardId: store.shardId, workerId: i })));
        const expected = new Set<string>();
        let serial = 1;
        for (let round = 0; round < ROUNDS; round++) {
          const locks = (await Promise.all(workers.map((w) => w.call({ type: "lock", round })))) as { won: boolean; serial?: number }[];
          const lockWinners = locks.map((r, i) => (r.won ? i : -1)).filter((i) => i >= 0);
          expect(lockWinners, `lock round ${round}`).toHaveLength(1);
          expect(locks[lockWinners[0]!]!.serial).toBe(++serial);
          expected.add(`lock-r${round}-w${lockWinners[0]}`);
          await workers[lockWinners[0]!]!.call({ type: "unlock", round });

          await Promise.all(workers.map((w) => w.call({ type: "read", round })));
          const writes = (await Promise.all(workers.map((w) => w.call({ type: "write", round })))) as { won: boolean; serial?: number }[];
          const casWinners = writes.map((r, i) => (r.won ? i : -1)).filter((i) => i >= 0);
          expect(casWinners, `CAS round ${round}`).toHaveLength(1);
          expect(writes[casWinners[0]!]!.serial).toBe(++serial);
          expected.add(`cas-r${round}-w${casWinners[0]}`);
        }
        const final = (await store.read())!.doc;
        expect(final.serial).toBe(1 + 2 * ROUNDS);
        expect(new Set(Object.keys(final.instances))).toEqual(expected);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    });
  });
});

/** A race contender in its own process, called like a function over IPC. */
class Worker {
  private readonly child: ChildProcess;
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;

  constructor(script: string) {
    this.child = fork(script, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m: { ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending;
      this.pending = undefined;
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`worker: ${m.error}`));
    });
    this.child.on("exit", (code) => this.pending?.reject(new Error(`worker exited with ${code}`)));
  }

  call(msg: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(msg);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}
