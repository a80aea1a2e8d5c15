/**
 * The real file backend with hooks on get, put and delete, and a log of every call: the lease and
 * store suites use it to lose a race or fail a request at an exact point, with real I/O underneath.
 * Also a clock the tests move by hand (the lease lock's and the file writer lock's `clock` option).
 */
import { FileBackend } from "../../src/state/file-backend.js";
import type { ObjectBackend, Versioned } from "../../src/state/types.js";

export type PutCond = { ifNoneMatch: "*" } | { ifMatch: string };

export class HookedBackend implements ObjectBackend {
  readonly description = "hooked file backend";
  /** Every call, in order. */
  readonly calls: { op: "get" | "put" | "delete"; key: string; cond?: PutCond; body?: string }[] = [];
  /** What a read returns instead: an object, undefined (no object), or "pass" to read the real one. */
  onGet?: (key: string) => Versioned | undefined | "pass";
  onPut?: (key: string, cond: PutCond, body: Uint8Array) => void | Promise<void>;
  onDelete?: (key: string) => void | Promise<void>;
  constructor(readonly inner: FileBackend) {}
  async get(key: string): Promise<Versioned | undefined> {
    this.calls.push({ op: "get", key });
    const hooked = this.onGet ? this.onGet(key) : "pass";
    return hooked === "pass" ? this.inner.get(key) : hooked;
  }
  async put(key: string, body: Uint8Array, cond: PutCond): Promise<{ etag: string }> {
    this.calls.push({ op: "put", key, cond, body: new TextDecoder().decode(body) });
    await this.onPut?.(key, cond, body);
    return this.inner.put(key, body, cond);
  }
  async delete(key: string): Promise<void> {
    this.calls.push({ op: "delete", key });
    await this.onDelete?.(key);
    return this.inner.delete(key);
  }
}

/**
 * A clock that stands still until a test moves it; `sleep` records the pause, moves the clock by it
 * and yields once to real I/O. `onSleep` runs after each pause (to change the world mid-wait).
 * A loop that never stops waiting fails after `maxSleeps` pauses instead of hanging the suite.
 */
export class ManualClock {
  t = Date.parse("2030-01-01T00:00:00.000Z");
  readonly sleeps: number[] = [];
  onSleep?: (n: number) => void | Promise<void>;
  constructor(private readonly maxSleeps = 2_000) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    if (this.sleeps.length > this.maxSleeps) throw new Error(`still waiting after ${this.maxSleeps} pauses`);
    this.t += ms;
    await new Promise((r) => setImmediate(r));
    await this.onSleep?.(this.sleeps.length);
  }
  iso(offsetMs = 0): string {
    return new Date(this.t + offsetMs).toISOString();
  }
}
