/**
 * The lease lock at the exact edges of its rules, with a clock the test moves by hand (the lock's
 * `clock` option) over the real file backend: expiry at the instant it is due, the release grace
 * measured per released version, Terraform's backoff and deadline, who/when/what a lease records,
 * the release's single write and delete (and when it must not delete), renewals that move the expiry
 * and chain their ETags, and force-unlock's answers. Renewals still run on a real interval.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hostname, userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { FileBackend } from "../../src/state/file-backend.js";
import { acquireLease, forceUnlock, formatLockInfo, type LockOptions } from "../../src/state/lease-lock.js";
import { contentHash } from "../../src/state/document.js";
import type { LeaseLock, LockInfo } from "../../src/state/types.js";
import { VERSION } from "../../src/version.js";
import { UserError } from "../../src/errors.js";
import { tempDir } from "./helpers.js";
import { HookedBackend, ManualClock } from "./hooked-backend.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const KEY = "shard/dev/state.lock";
const LOC = "file /somewhere/shard/dev/state.lock";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let tmp: { dir: string; cleanup: () => void };
let backend: HookedBackend;
let clock: ManualClock;
const held: LeaseLock[] = [];

beforeEach(() => {
  tmp = tempDir("lease-edges");
  backend = new HookedBackend(new FileBackend(tmp.dir));
  clock = new ManualClock();
});
afterEach(async () => {
  backend.onGet = backend.onPut = backend.onDelete = undefined;
  for (const lock of held.splice(0)) await lock.release().catch(() => undefined);
  tmp.cleanup();
});

async function acquire(options: LockOptions = {}): Promise<LeaseLock> {
  const lock = await acquireLease(backend, KEY, LOC, "apply", { clock, ...options });
  held.push(lock);
  return lock;
}

async function refusal(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

/** The lock object as stored. */
async function stored(): Promise<Record<string, unknown> | undefined> {
  const got = await backend.inner.get(KEY);
  return got && (JSON.parse(dec(got.body)) as Record<string, unknown>);
}

/** Someone else's lease, stored directly: valid for an hour on the test clock unless overridden. */
function otherLease(fields: Record<string, unknown> = {}): Record<string, unknown> & LockInfo {
  return { id: "other-id", operation: "destroy", who: "bob@elsewhere", version: "0.0.1", created: clock.iso(), expires: clock.iso(3_600_000), path: KEY, nonce: "n1", ...fields };
}
async function storeLease(lease: Record<string, unknown>): Promise<void> {
  const cur = await backend.inner.get(KEY);
  await backend.inner.put(KEY, enc(JSON.stringify(lease)), cur ? { ifMatch: cur.etag } : { ifNoneMatch: "*" });
}
const publicPart = ({ nonce: _n, releasedAt: _r, ...info }: Record<string, unknown>) => info;

/** Polls (real time) until `cond` holds; fails the test rather than hanging it. */
async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1_500; i++) {
    if (await cond()) return;
    await sleep(10);
  }
  throw new Error(`never happened: ${what}`);
}
const isLost = (lock: LeaseLock) => () => {
  try {
    lock.assertHeld();
    return false;
  } catch {
    return true;
  }
};
const releasedPuts = () => backend.calls.filter((c) => c.op === "put" && c.body && JSON.parse(c.body).released === true);

describe("what a lease records", () => {
  it("records USER (else LOGNAME, else the OS account) at this host, created now, expiring one TTL later, and keeps its nonce out of the info", async () => {
    const saved = { USER: process.env.USER, LOGNAME: process.env.LOGNAME };
    const restore = (name: "USER" | "LOGNAME") => (saved[name] === undefined ? delete process.env[name] : (process.env[name] = saved[name]));
    try {
      process.env.USER = "alice";
      process.env.LOGNAME = "not-this";
      const a = await acquire();
      expect(a.info).toEqual({ id: expect.stringMatching(UUID), operation: "apply", who: `alice@${hostname()}`, version: VERSION, created: clock.iso(), expires: clock.iso(60_000), path: KEY });
      const raw = (await stored())!;
      expect(raw).toEqual({ ...a.info, nonce: expect.stringMatching(UUID) });
      expect(raw.nonce).not.toBe(a.info.id);
      await a.release();

      delete process.env.USER;
      process.env.LOGNAME = "bob";
      const b = await acquire({ ttlMs: 1_234 });
      expect(b.info).toMatchObject({ who: `bob@${hostname()}`, expires: clock.iso(1_234) });
      expect(b.info.id).not.toBe(a.info.id);
      await b.release();

      delete process.env.LOGNAME;
      const c = await acquire();
      expect(c.info.who).toBe(`${userInfo().username}@${hostname()}`);
      await c.release();
    } finally {
      restore("USER");
      restore("LOGNAME");
    }
  });

  it("prints Terraform's Lock Info block, one field a line", () => {
    const info = otherLease() as LockInfo;
    expect(formatLockInfo(info)).toBe(
      [
        "Lock Info:",
        "  ID:        other-id",
        `  Path:      ${KEY}`,
        "  Operation: destroy",
        "  Who:       bob@elsewhere",
        "  Version:   0.0.1",
        `  Created:   ${clock.iso()}`,
        `  Expires:   ${clock.iso(3_600_000)}`,
      ].join("\n"),
    );
  });
});

describe("acquiring", () => {
  const lockedMessage = (holder: LockInfo, waited = "") =>
    `Error acquiring the state lock: ${LOC} is locked${waited}\n${formatLockInfo(holder)}\n` +
    `pvefleet acquires a lock to protect the state from being written by multiple users at once. ` +
    `Wait for that run to finish, or if it is gone, run: pvefleet force-unlock ${holder.id}`;

  it("refuses at once (no wait by default) a lease that expires a millisecond from now, and takes over one that expires now", async () => {
    const lease = otherLease({ expires: clock.iso(1) });
    await storeLease(lease);
    const e = await refusal(acquire());
    expect(e.code).toBe("STATE_LOCKED");
    expect(e.message).toBe(lockedMessage(publicPart(lease) as unknown as LockInfo));
    expect(clock.sleeps).toEqual([]);

    clock.t += 1;
    const lock = await acquire();
    expect(lock.info.id).not.toBe("other-id");
    expect((await stored())!.id).toBe(lock.info.id);
    // The takeover was an If-Match write on the expired lease's version.
    const takeover = backend.calls.filter((c) => c.op === "put").at(-1)!;
    expect(takeover.cond).toEqual({ ifMatch: contentHash(enc(JSON.stringify(lease))) });
  });

  it("waits with Terraform's backoff (1 s doubling to 16 s, the last pause cut to the deadline), reporting the holder each time", async () => {
    const lease = otherLease();
    await storeLease(lease);
    const waits: LockInfo[] = [];
    const e = await refusal(acquire({ timeoutMs: 40_000, onWait: (h) => waits.push(h) }));
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 9_000]);
    expect(waits).toEqual(Array(6).fill(publicPart(lease)));
    expect(e.message).toBe(lockedMessage(publicPart(lease) as unknown as LockInfo, " (waited 40s)"));
  });

  it("uses the backoff it is given and rounds the wait it reports to whole seconds", async () => {
    await storeLease(otherLease());
    const e = await refusal(acquire({ timeoutMs: 2_500, backoffInitialMs: 300, backoffMaxMs: 1_000 }));
    expect(clock.sleeps).toEqual([300, 600, 1_000, 600]);
    expect(e.message).toContain(" is locked (waited 3s)\n");
  });

  it("gets the lock when the holder lets go during the wait", async () => {
    await storeLease(otherLease());
    clock.onSleep = async (n) => {
      if (n === 2) await backend.inner.delete(KEY);
    };
    const lock = await acquire({ timeoutMs: 60_000 });
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    expect((await stored())!.id).toBe(lock.info.id);
  });

  it("takes over a released lease only after the grace, counted from when it first saw that version", async () => {
    await storeLease(otherLease({ released: true }));
    await acquire({ releaseGraceMs: 200 });
    expect(clock.sleeps).toEqual([50, 50, 50, 50]); // a quarter of the grace, at most 100 ms each
  });

  it("waits the default 5 s release grace in steps of 100 ms", async () => {
    await storeLease(otherLease({ released: true }));
    await acquire();
    expect(clock.sleeps).toEqual(Array(50).fill(100));
  });

  it("starts the grace again when a different released version appears", async () => {
    await storeLease(otherLease({ released: true }));
    clock.onSleep = async (n) => {
      if (n === 2) await storeLease(otherLease({ released: true, nonce: "n2" }));
    };
    await acquire({ releaseGraceMs: 200 });
    expect(clock.sleeps).toEqual([50, 50, 50, 50, 50, 50]);
  });

  it("refuses an object that is not a pvefleet lock, naming its location and key", async () => {
    for (const body of ["null", "[]", '{"id": 7, "expires": "2030-01-01T00:00:00Z"}', '{"id": "x"}', '{"expires": "2030-01-01T00:00:00Z"}']) {
      await storeLease(JSON.parse(body));
      const e = await refusal(acquire());
      expect(e.code, body).toBe("LOCK_CORRUPT");
      expect(e.message).toBe(`the lock object ${LOC} (${KEY}) is not a pvefleet lock; inspect it and remove it with force-unlock or by hand`);
    }
  });

  it("passes through a failed create or takeover that is not a lost race", async () => {
    backend.onPut = () => {
      throw new Error("disk on fire");
    };
    await expect(acquire()).rejects.toThrow("disk on fire");
    backend.onPut = undefined;
    await storeLease(otherLease({ expires: clock.iso(-1) }));
    backend.onPut = (_key, cond) => {
      if ("ifMatch" in cond) throw new Error("disk on fire again");
    };
    await expect(acquire()).rejects.toThrow("disk on fire again");
  });

  it("looks again after losing a takeover to another contender, then names the winner", async () => {
    await storeLease(otherLease({ expires: clock.iso(-1) }));
    const winner = otherLease({ id: "winner-id", nonce: "w" });
    backend.onPut = async (_key, cond) => {
      if ("ifMatch" in cond) {
        backend.onPut = undefined;
        await storeLease(winner); // lands between our read and our If-Match write
      }
    };
    const e = await refusal(acquire());
    expect(e.code).toBe("STATE_LOCKED");
    expect(e.message).toContain("force-unlock winner-id");
    expect((await stored())!.id).toBe("winner-id");
  });
});

describe("holding", () => {
  it("is lost at the instant its lease expires, and stays lost when the clock goes back", async () => {
    const lock = await acquire({ ttlMs: 600_000 });
    const { id, expires } = lock.info;
    clock.t += 600_000 - 1;
    lock.assertHeld();
    clock.t += 1;
    expect(() => lock.assertHeld()).toThrow(new UserError("LOCK_LOST", `the state lock ${id} expired at ${expires} without being renewed; stop and re-run plan`));
    clock.t -= 10_000;
    expect(() => lock.assertHeld()).toThrow(`lost the state lock ${id}: it expired at ${expires} without being renewed; stop and re-run plan`);
    // Expired, not taken over: the release still marks it released and removes it.
    await lock.release();
    expect(await stored()).toBeUndefined();
    expect(() => lock.assertHeld()).toThrow(`the state lock ${id} was already released`);
  });

  it("renews on its timer: each renewal moves the expiry one TTL past the clock and chains the ETag of the last", async () => {
    const lock = await acquire({ ttlMs: 90 }); // renewed every 30 ms of real time
    for (let step = 1; step <= 3; step++) {
      clock.t += 60; // past the expiry before last renewal, inside the current one
      await until(`renewal ${step}`, () => lock.info.expires === clock.iso(90));
      lock.assertHeld();
      expect((await stored())!.expires).toBe(clock.iso(90));
    }
    const renewals = backend.calls.filter((c) => c.op === "put" && "ifMatch" in c.cond!);
    for (let i = 1; i < renewals.length; i++) expect(renewals[i]!.cond).toEqual({ ifMatch: contentHash(enc(renewals[i - 1]!.body!)) });
    expect(new Set(renewals.map((r) => JSON.parse(r.body!).nonce)).size).toBe(renewals.length);
  });

  it("does not renew before a third of its TTL has passed", async () => {
    await acquire({ ttlMs: 3_000 }); // the first renewal is due after 1 s of real time
    const puts = backend.calls.filter((c) => c.op === "put").length;
    await sleep(200);
    expect(backend.calls.filter((c) => c.op === "put").length).toBe(puts);
  });

  for (const [how, change, word] of [
    ["removed", () => backend.inner.delete(KEY), "removed"],
    ["replaced", () => storeLease(otherLease({ id: "thief" })), "replaced"],
  ] as const) {
    it(`says the lease was ${word} when a renewal finds it ${how}, and then releases nothing`, async () => {
      const lock = await acquire({ ttlMs: 60 });
      await change();
      await until("the renewal notices", isLost(lock));
      expect(() => lock.assertHeld()).toThrow(
        `lost the state lock ${lock.info.id}: the lease was ${word} by someone else (force-unlock or an expired-lease takeover); stop and re-run plan`,
      );
      const before = await stored();
      const calls = backend.calls.length;
      await lock.release();
      expect(backend.calls.slice(calls)).toEqual([]); // not ours: no write, no delete
      expect(await stored()).toEqual(before);
    });
  }
});

describe("releasing", () => {
  it("sends one released write on the held version and one delete; a second release sends nothing", async () => {
    const lock = await acquire();
    const version = (await backend.inner.get(KEY))!.etag;
    clock.t += 1_000;
    const from = backend.calls.length;
    await lock.release();
    await lock.release();
    const calls = backend.calls.slice(from);
    expect(calls.map((c) => c.op)).toEqual(["put", "delete"]);
    expect(calls[0]!.cond).toEqual({ ifMatch: version });
    expect(JSON.parse(calls[0]!.body!)).toEqual({ ...lock.info, released: true, releasedAt: clock.iso(), nonce: expect.stringMatching(UUID) });
    expect(await stored()).toBeUndefined();
  });

  it("deletes only when the released write landed within half the grace; later it leaves the released lease for contenders to age", async () => {
    for (const [took, deleted] of [
      [499, true],
      [500, false],
    ] as const) {
      const lock = await acquire({ releaseGraceMs: 1_000 });
      backend.onPut = (_key, _cond, body) => {
        if (JSON.parse(dec(body)).released) clock.t += took;
      };
      await lock.release();
      backend.onPut = undefined;
      const now = await stored();
      expect(now === undefined, `released write took ${took} ms`).toBe(deleted);
      if (now) {
        expect(now).toMatchObject({ id: lock.info.id, released: true });
        await backend.inner.delete(KEY);
      }
    }
  });

  it("leaves a lease replaced since the last renewal to its new holder, without an error", async () => {
    const lock = await acquire();
    await storeLease(otherLease({ id: "thief" }));
    await expect(lock.release()).resolves.toBeUndefined();
    expect(await stored()).toMatchObject({ id: "thief" });
    expect(releasedPuts()).toHaveLength(1); // tried once, lost the If-Match, deleted nothing
    expect(backend.calls.filter((c) => c.op === "delete")).toEqual([]);
  });

  it("fails when the released write fails while the lease is still held", async () => {
    const lock = await acquire();
    backend.onPut = () => {
      throw new Error("503 (injected)");
    };
    await expect(lock.release()).rejects.toThrow("503 (injected)");
  });

  it("ignores a failing delete after the released write", async () => {
    const lock = await acquire();
    backend.onDelete = () => {
      throw new Error("delete refused (injected)");
    };
    await expect(lock.release()).resolves.toBeUndefined();
    expect(await stored()).toMatchObject({ id: lock.info.id, released: true });
  });

  it("waits for a renewal in flight and releases the version that renewal wrote", async () => {
    const lock = await acquire({ ttlMs: 3_000 });
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    backend.onPut = async (_key, cond) => {
      if ("ifMatch" in cond) {
        backend.onPut = undefined;
        entered();
        await gate;
      }
    };
    await inFlight;
    const releasing = lock.release();
    letGo();
    await releasing;
    const [renewal, released] = backend.calls.filter((c) => c.op === "put" && "ifMatch" in c.cond!);
    expect(JSON.parse(renewal!.body!).released).toBeUndefined();
    expect(released!.cond).toEqual({ ifMatch: contentHash(enc(renewal!.body!)) });
    expect(await stored()).toBeUndefined();
  });

  it("gives up on a renewal that never answers after one TTL and leaves the lease to expire", async () => {
    const lock = await acquire({ ttlMs: 300 });
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    backend.onPut = async (_key, cond) => {
      if ("ifMatch" in cond) {
        entered();
        await new Promise(() => undefined); // a black-holed request
      }
    };
    await inFlight;
    await lock.release();
    expect(releasedPuts()).toEqual([]);
    expect(await stored()).toMatchObject({ id: lock.info.id });
    expect((await stored())!.released).toBeUndefined();
  });
});

describe("force-unlock", () => {
  it("marks the named lock released, deletes it and returns its info", async () => {
    const lock = await acquire();
    const version = (await backend.inner.get(KEY))!.etag;
    const from = backend.calls.length;
    expect(await forceUnlock(backend, KEY, LOC, lock.info.id)).toEqual(lock.info);
    const calls = backend.calls.slice(from);
    expect(calls.map((c) => c.op)).toEqual(["get", "put", "delete"]);
    expect(calls[1]!.cond).toEqual({ ifMatch: version });
    expect(JSON.parse(calls[1]!.body!)).toMatchObject({ id: lock.info.id, released: true, releasedAt: expect.any(String) });
    expect(await stored()).toBeUndefined();
  });

  it("says what it found when there is no lock, not a pvefleet lock, or another lock", async () => {
    expect((await refusal(forceUnlock(backend, KEY, LOC, "x"))).message).toBe(`no state lock is held on ${LOC}`);
    await storeLease({ id: 3 });
    const corrupt = await refusal(forceUnlock(backend, KEY, LOC, "x"));
    expect([corrupt.code, corrupt.message]).toEqual(["LOCK_CORRUPT", `the lock object ${KEY} on ${LOC} is not a pvefleet lock; remove it by hand`]);
    const lease = otherLease();
    await storeLease(lease);
    const other = await refusal(forceUnlock(backend, KEY, LOC, "x"));
    expect([other.code, other.message]).toEqual([
      "LOCK_ID_MISMATCH",
      `the state lock on ${LOC} has ID other-id, not x; nothing was changed\n${formatLockInfo(publicPart(lease) as unknown as LockInfo)}`,
    ]);
    expect(await stored()).toEqual(lease);
  });

  it("tries again while the holder keeps renewing between its read and its write, up to five times", async () => {
    const lock = await acquire();
    let stale = 4;
    backend.onGet = (key) => {
      if (stale-- <= 0) return "pass";
      return { body: enc(JSON.stringify({ ...lock.info, nonce: `r${stale}` })), etag: `renewed-${stale}` };
    };
    await forceUnlock(backend, KEY, LOC, lock.info.id);
    expect(backend.calls.filter((c) => c.op === "put" && c.key === KEY).length).toBe(1 + 5); // the acquire, then five tries
    expect(await stored()).toBeUndefined();
  });

  it("passes through a failed released write that is not a lost race, and ignores a failed delete", async () => {
    const lock = await acquire();
    backend.onPut = () => {
      throw new Error("disk on fire");
    };
    await expect(forceUnlock(backend, KEY, LOC, lock.info.id)).rejects.toThrow("disk on fire");
    backend.onPut = undefined;
    backend.onDelete = () => {
      throw new Error("delete refused (injected)");
    };
    await expect(forceUnlock(backend, KEY, LOC, lock.info.id)).resolves.toEqual(lock.info);
    expect(await stored()).toMatchObject({ id: lock.info.id, released: true });
  });
});
