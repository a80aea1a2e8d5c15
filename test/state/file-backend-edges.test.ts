/**
 * The file backend's per-object writer lock at the edges of its rules, on a clock the test moves
 * by hand (the backend's `clock` option) over real files: a lock exactly 30 s old is not stale yet,
 * a breaker file exactly 30 s old is not removed yet, the notice comes after more than 1 s (once per
 * holder), the wait gives up after more than 60 s, the jittered pauses double up to 20 ms; and its
 * one-line errors, its key checks, and a lock it only removes when it is still its own.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { FileBackend, setWriterLockWaitListener, type WriterLockWait } from "../../src/state/file-backend.js";
import { contentHash } from "../../src/state/document.js";
import { UserError } from "../../src/errors.js";
import { tempDir } from "./helpers.js";
import { ManualClock } from "./hooked-backend.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let tmp: { dir: string; cleanup: () => void };
let clock: ManualClock;
let file: string;
const waits: WriterLockWait[] = [];

beforeEach(() => {
  tmp = tempDir("file-edges");
  clock = new ManualClock();
  file = path.join(tmp.dir, "k", "obj");
  mkdirSync(path.dirname(file), { recursive: true });
  waits.length = 0;
  // Pauses of exactly 1.5 × the current step, so the sequence can be checked.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});
afterEach(() => {
  vi.restoreAllMocks();
  setWriterLockWaitListener(undefined);
  tmp.cleanup();
});

const backend = () => new FileBackend(tmp.dir, { clock, onWriterLockWait: (w) => waits.push(w) });
/** A writer lock as another writer leaves it: `pid host nonce time`. */
const holdLock = (pid: number, host: string, time: number) => writeFileSync(`${file}.wlock`, `${pid} ${host} their-nonce ${time}\n`);
const DEAD_PID = 999_999_999;

async function stateIo(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  expect((e as UserError).code).toBe("STATE_IO");
  return (e as UserError).message;
}

describe("the writer lock's thresholds", () => {
  it("waits for a live process's lock exactly 30 s old, and breaks it once it is older", async () => {
    holdLock(process.pid, hostname(), clock.t - 30_000);
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    // Not stale at exactly 30 s: a pause; then 30.0015 s old, broken; a pause; then taken.
    expect(clock.sleeps).toEqual([1.5, 3]);
    expect(existsSync(`${file}.wlock`)).toBe(false);
    expect(dec((await backend().get("k/obj"))!.body)).toBe("v1");
  });

  it("breaks a lock whose process is gone on this host at once, but never one from another host that looks fresh", async () => {
    holdLock(DEAD_PID, hostname(), clock.t);
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(clock.sleeps).toEqual([1.5]); // broken at the first look, taken after one pause
    clock.sleeps.length = 0;

    holdLock(DEAD_PID, "another-host", clock.t);
    clock.onSleep = (n) => {
      if (n === 3) {
        expect(readFileSync(`${file}.wlock`, "utf8")).toBe(`${DEAD_PID} another-host their-nonce ${clock.t - 1.5 - 3 - 6}\n`);
        rmSync(`${file}.wlock`);
      }
    };
    const v1 = (await backend().get("k/obj"))!;
    await backend().put("k/obj", enc("v2"), { ifMatch: v1.etag });
    expect(clock.sleeps).toEqual([1.5, 3, 6]);
  });

  it("never takes a negative pid on this host for a process that is gone (kill(-pid) would ask about a process group)", async () => {
    holdLock(-999_999, hostname(), clock.t);
    clock.onSleep = (n) => {
      if (n === 2) rmSync(`${file}.wlock`);
    };
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(clock.sleeps).toEqual([1.5, 3]); // waited until its holder let go
  });

  it("pauses 1.5 × a step that doubles from 1 ms up to 20 ms while it waits", async () => {
    holdLock(process.pid, hostname(), clock.t);
    clock.onSleep = (n) => {
      if (n === 8) rmSync(`${file}.wlock`);
    };
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(clock.sleeps).toEqual([1.5, 3, 6, 12, 24, 30, 30, 30]);
  });

  it("ages an empty lock file (caught between create and write) by its mtime", async () => {
    writeFileSync(`${file}.wlock`, "");
    const mtime = statSync(`${file}.wlock`).mtimeMs;
    clock.t = mtime + 30_000;
    clock.onSleep = (n) => {
      if (n === 1) expect(existsSync(`${file}.wlock`)).toBe(true); // exactly 30 s: still waited for
    };
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(clock.sleeps).toEqual([1.5, 3]);
  });

  it("removes a breaker file left by a dead breaker only once it is more than 30 s old", async () => {
    holdLock(DEAD_PID, hostname(), clock.t);
    writeFileSync(`${file}.wlock.break`, "");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(`${file}.wlock.break`, old, old);
    clock.t = statSync(`${file}.wlock.break`).mtimeMs + 30_000;
    holdLock(DEAD_PID, hostname(), clock.t);
    clock.onSleep = (n) => {
      if (n === 1) expect(existsSync(`${file}.wlock.break`)).toBe(true);
    };
    await backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    // Pause 1 at exactly 30 s; then the breaker is removed, pause 2; the lock is broken, pause 3.
    expect(clock.sleeps).toEqual([1.5, 3, 6]);
    expect(readdirSync(path.dirname(file))).toEqual(["obj"]);
  });

  it("says who holds the lock after more than 1 s of waiting, once per holder, through the backend's listener or else the process-wide one", async () => {
    const start = clock.t;
    holdLock(process.pid, hostname(), start);
    const seenAt: number[] = [];
    const listen = (w: WriterLockWait) => {
      waits.push(w);
      seenAt.push(clock.sleeps.length);
    };
    clock.onSleep = (n) => {
      if (n === 1) clock.t = start + 1_000;
      if (n === 2) clock.t = start + 1_001;
      if (n === 4) holdLock(4242, "other-host", start + 5);
      if (n === 6) rmSync(`${file}.wlock`);
    };
    setWriterLockWaitListener(listen);
    await new FileBackend(tmp.dir, { clock }).put("k/obj", enc("v1"), { ifNoneMatch: "*" });
    expect(seenAt).toEqual([2, 4]);
    expect(waits).toEqual([
      { lockPath: `${file}.wlock`, pid: process.pid, host: hostname(), since: new Date(start), staleAfterMs: 30_000 },
      { lockPath: `${file}.wlock`, pid: 4242, host: "other-host", since: new Date(start + 5), staleAfterMs: 30_000 },
    ]);

    // A backend's own listener wins over the process-wide one.
    const own: WriterLockWait[] = [];
    waits.length = 0;
    holdLock(process.pid, hostname(), clock.t);
    clock.onSleep = (n) => {
      if (n === 7) clock.t += 2_000;
      if (n === 8) rmSync(`${file}.wlock`);
    };
    const v1 = (await backend().get("k/obj"))!;
    await new FileBackend(tmp.dir, { clock, onWriterLockWait: (w) => own.push(w) }).put("k/obj", enc("v2"), { ifMatch: v1.etag });
    expect(own).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("gives up with STATE_IO after more than 60 s, not at 60 s", async () => {
    const start = clock.t;
    holdLock(4242, "other-host", start + 3_600_000); // never stale
    clock.onSleep = (n) => {
      if (n === 1) clock.t = start + 60_000;
      if (n === 2) clock.t = start + 60_001;
    };
    const message = await stateIo(backend().put("k/obj", enc("v1"), { ifNoneMatch: "*" }));
    expect(message).toBe(`timed out waiting for the writer lock ${file}.wlock; if no pvefleet is running, remove it`);
    expect(clock.sleeps).toHaveLength(2);
    expect(waits).toHaveLength(1);
    expect(readFileSync(`${file}.wlock`, "utf8")).toContain("4242 other-host"); // left alone
  });
});

/** A file backend whose reads inside a conditional write wait for the test: the writer lock stays held. */
class GatedFileBackend extends FileBackend {
  gate: Promise<void> | undefined;
  override async get(key: string) {
    if (this.gate) await this.gate;
    return super.get(key);
  }
}

describe("the writer lock while it is held", () => {
  it("holds `pid host nonce time` in the lock file, and removes only its own lock afterwards", async () => {
    for (const replaced of [false, true]) {
      const b = new GatedFileBackend(tmp.dir, { clock });
      let open!: () => void;
      b.gate = new Promise((r) => (open = r));
      const writing = b.put(`k/obj${replaced ? "2" : ""}`, enc("v1"), { ifNoneMatch: "*" });
      const lockFile = `${file}${replaced ? "2" : ""}.wlock`;
      for (let i = 0; i < 500 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 5));
      expect(readFileSync(lockFile, "utf8")).toMatch(new RegExp(`^${process.pid} ${hostname()} [0-9a-f-]{36} ${clock.t}\\n$`));
      // Someone broke it as stale while we stalled and took it: theirs must survive our finish.
      if (replaced) writeFileSync(lockFile, `4242 other-host theirs ${clock.t}\n`);
      b.gate = undefined;
      open();
      await writing;
      expect(existsSync(lockFile)).toBe(replaced);
    }
  });
});

describe("the file backend's answers", () => {
  it("names itself and its objects by absolute path, whatever root it was given", () => {
    const rel = path.relative(process.cwd(), tmp.dir);
    const b = new FileBackend(rel);
    expect(b.description).toBe(`file ${tmp.dir}`);
    expect(b.where("shard/dev/state.json")).toBe(path.join(tmp.dir, "shard", "dev", "state.json"));
  });

  it("refuses a key with an empty or parent segment, naming it", async () => {
    for (const key of ["a//b", "/a", "a/", "..", "a/../b"]) {
      expect(() => backend().where(key)).toThrow(`bad object key ${key}`);
    }
  });

  it("stores an object readable by its owner only, with the sha256 of its bytes as the ETag", async () => {
    const { etag } = await backend().put("k/obj", enc("body"), { ifNoneMatch: "*" });
    expect(etag).toBe(contentHash(enc("body")));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(["obj"]); // no temp file, no lock left
  });

  it("deletes nothing and takes no lock for a key that does not exist, even in a folder that does not", async () => {
    await backend().delete("nowhere/at/all");
    await backend().delete("k/missing");
    expect(readdirSync(tmp.dir)).toEqual(["k"]);
    expect(readdirSync(path.dirname(file))).toEqual([]);
  });

  it("reports each I/O failure as one STATE_IO line naming the path and the error code", async () => {
    const b = backend();
    await b.put("k/obj", enc("x"), { ifNoneMatch: "*" });
    expect(await stateIo(b.get("k"))).toBe(`cannot read ${path.join(tmp.dir, "k")}: EISDIR`);
    expect((await b.get("k").catch((e: unknown) => e)) as Error).toHaveProperty("cause.code", "EISDIR"); // the system error kept as the cause
    expect(await stateIo(b.put("k/obj/inner", enc("x"), { ifNoneMatch: "*" }))).toBe(`cannot create ${file}: EEXIST`);
    const long = "x".repeat(250);
    expect(await stateIo(b.put(`k/${long}`, enc("x"), { ifNoneMatch: "*" }))).toBe(`cannot create ${path.join(tmp.dir, "k", long)}.wlock: ENAMETOOLONG`);
    // A write that fails half-way leaves neither its temp file nor its lock behind.
    expect(await stateIo(b.put("k/bad", 42 as unknown as Uint8Array, { ifNoneMatch: "*" }))).toBe(`cannot write ${path.join(tmp.dir, "k", "bad")}: ERR_INVALID_ARG_TYPE`);
    expect(readdirSync(path.dirname(file))).toEqual(["obj"]);
  });
});
