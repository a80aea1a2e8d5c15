/**
 * The embedded `file` backend: the same semantics as S3 on one host. ETag = sha256 of the bytes.
 * A conditional write holds a per-key writer lock (a file created with O_EXCL), checks the
 * condition against the current bytes, writes a temp file, fsyncs it, renames it over the object
 * and fsyncs the directory, so readers see the old or the new bytes and never a torn file, and two
 * processes can never both pass the same condition.
 */
import { promises as fs, constants as fsc } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UserError } from "../errors.js";
import { contentHash } from "./document.js";
import { StoreConflictError } from "./store-conflict.js";
import type { ObjectBackend, Versioned } from "./types.js";

/** A writer lock older than this is stale even if its pid looks alive (pid reuse, another host on NFS). */
const STALE_WRITER_LOCK_MS = 30_000;
/** The writer lock is held for a few ms (one small write + fsyncs); give up after this long. */
const WRITER_LOCK_WAIT_MS = 60_000;
/** A wait longer than this is not contention but a leftover lock: say so (once per lock seen). */
const WRITER_LOCK_NOTICE_MS = 1_000;

/** A writer lock someone else holds while this process waits for it. */
export interface WriterLockWait {
  lockPath: string;
  pid: number;
  host: string;
  /** When the holder took it (from the lock file). */
  since: Date;
  /** It is broken as stale this long after `since`, even if its pid looks alive. */
  staleAfterMs: number;
}

/**
 * Time as the writer lock sees it (its age, the wait, the pauses). Production uses the wall clock;
 * tests pass a clock they move by hand to check the 1 s / 30 s / 60 s thresholds at their edges.
 */
export interface WriterLockClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const wallClock: WriterLockClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

let defaultWaitListener: ((wait: WriterLockWait) => void) | undefined;

/**
 * Receives a notice when a write has waited over a second for a writer lock (e.g. a leftover
 * `state.json.wlock` whose pid was reused: the write stalls until the lock is 30 s old). Used by
 * every FileBackend created without its own `onWriterLockWait`; the CLI prints it.
 */
export function setWriterLockWaitListener(listener: ((wait: WriterLockWait) => void) | undefined): void {
  defaultWaitListener = listener;
}

export class FileBackend implements ObjectBackend {
  readonly description: string;

  constructor(
    readonly root: string,
    private readonly options: { onWriterLockWait?: (wait: WriterLockWait) => void; clock?: WriterLockClock } = {},
  ) {
    this.description = `file ${path.resolve(root)}`;
  }

  /** Human-readable location of one object. */
  where(key: string): string {
    return path.resolve(this.pathOf(key));
  }

  private pathOf(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === "")) throw new Error(`bad object key ${key}`);
    return path.join(this.root, ...key.split("/"));
  }

  async get(key: string): Promise<Versioned | undefined> {
    const file = this.pathOf(key);
    let body: Buffer;
    try {
      body = await fs.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(`read ${file}`, e);
    }
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return { body: bytes, etag: contentHash(bytes) };
  }

  async put(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }> {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true }).catch((e) => { throw ioError(`create ${dir}`, e); });
    return this.withWriterLock(file, async () => {
      const current = await this.get(key);
      if ("ifNoneMatch" in cond) {
        if (current) throw new StoreConflictError(key, "exists");
      } else if (!current) {
        throw new StoreConflictError(key, "gone");
      } else if (current.etag !== cond.ifMatch) {
        throw new StoreConflictError(key, "changed");
      }
      const tmp = `${file}.tmp-${process.pid}-${randomUUID()}`;
      try {
        const fh = await fs.open(tmp, "wx", 0o600);
        try {
          await fh.writeFile(body);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fs.rename(tmp, file);
      } catch (e) {
        await fs.rm(tmp, { force: true });
        throw ioError(`write ${file}`, e);
      }
      await fsyncDir(dir);
      return { etag: contentHash(body) };
    });
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await fs.access(file);
    } catch {
      return;
    }
    await this.withWriterLock(file, async () => {
      await fs.rm(file, { force: true });
      await fsyncDir(path.dirname(file));
    });
  }

  /**
   * Mutual exclusion between processes for one object: `<file>.wlock` created with O_EXCL holds
   * `pid host nonce time`. A stale lock (dead pid on this host, or older than 30 s) is broken only
   * under a second O_EXCL file (`.wlock.break`) after re-reading it, so two processes that both saw
   * the same stale lock cannot each remove the other's fresh one.
   */
  private async withWriterLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const clock = this.options.clock ?? wallClock;
    const lockPath = `${file}.wlock`;
    const nonce = randomUUID();
    const content = `${process.pid} ${hostname()} ${nonce} ${clock.now()}\n`;
    const started = clock.now();
    const now = () => clock.now();
    let pauseMs = 1;
    let reported = "";
    for (;;) {
      try {
        const fh = await fs.open(lockPath, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
        try {
          await fh.writeFile(content);
        } finally {
          await fh.close();
        }
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`create ${lockPath}`, e);
      }
      await breakIfStale(lockPath, now);
      if (clock.now() - started > WRITER_LOCK_NOTICE_MS) {
        const held = await readLock(lockPath, now);
        const listener = this.options.onWriterLockWait ?? defaultWaitListener;
        if (held && held.raw !== reported && listener) {
          reported = held.raw;
          listener({ lockPath, pid: held.pid, host: held.host, since: new Date(held.time), staleAfterMs: STALE_WRITER_LOCK_MS });
        }
      }
      if (clock.now() - started > WRITER_LOCK_WAIT_MS) {
        throw new UserError("STATE_IO", `timed out waiting for the writer lock ${lockPath}; if no pvefleet is running, remove it`);
      }
      // Jittered short pauses: the lock is held for a few milliseconds.
      await clock.sleep(pauseMs + Math.random() * pauseMs);
      pauseMs = Math.min(pauseMs * 2, 20);
    }
    try {
      return await fn();
    } finally {
      // Remove only our own lock: if it was broken as stale (we stalled > 30 s), leave the new one.
      const now = await fs.readFile(lockPath, "utf8").catch(() => "");
      if (now === content) await fs.rm(lockPath, { force: true });
    }
  }
}

async function breakIfStale(lockPath: string, now: () => number): Promise<void> {
  const seen = await readLock(lockPath, now);
  if (!seen || !isStale(seen, now)) return;
  const breaker = `${lockPath}.break`;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(breaker, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return;
    // A breaker that died mid-break leaves this file; it is only ever held for a moment.
    const st = await fs.stat(breaker).catch(() => undefined);
    if (st && now() - st.mtimeMs > STALE_WRITER_LOCK_MS) await fs.rm(breaker, { force: true });
    return;
  }
  try {
    await fh.close();
    const again = await readLock(lockPath, now);
    if (again && again.raw === seen.raw && isStale(again, now)) await fs.rm(lockPath, { force: true });
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

interface WriterLock {
  raw: string;
  pid: number;
  host: string;
  time: number;
}

async function readLock(lockPath: string, now: () => number): Promise<WriterLock | undefined> {
  const raw = await fs.readFile(lockPath, "utf8").catch(() => undefined);
  if (raw === undefined) return undefined;
  const [pid, host, , time] = raw.trim().split(" ");
  // A lock file caught between create and write is empty: treat it as fresh until it ages.
  const st = await fs.stat(lockPath).catch(() => undefined);
  return { raw, pid: Number(pid), host: host ?? "", time: Number(time) || (st?.mtimeMs ?? now()) };
}

function isStale(lock: WriterLock, now: () => number): boolean {
  if (now() - lock.time > STALE_WRITER_LOCK_MS) return true;
  if (lock.host !== hostname() || !Number.isInteger(lock.pid) || lock.pid <= 0) return false;
  try {
    process.kill(lock.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // fsync of the directory makes the rename durable; some filesystems refuse it (EINVAL/EISDIR): harmless.
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, "r");
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh?.close();
  }
}

function ioError(what: string, e: unknown): UserError {
  const err = e as NodeJS.ErrnoException;
  return new UserError("STATE_IO", `cannot ${what}: ${err.code ?? err.message}`, undefined, { cause: e });
}
