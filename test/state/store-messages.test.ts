/**
 * What the shard store says, word for word, on the file backend in a scratch directory: a bad
 * shard ID, another shard's document, a lost race whose state then vanished or cannot be read, a
 * backend without its own `where`; and the stored lock as `state` commands show it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileBackend, ShardStateStore, stateKeys } from "../../src/state/index.js";
import { canonicalJson, newStateDoc } from "../../src/state/document.js";
import { UserError } from "../../src/errors.js";
import { tempDir } from "./helpers.js";
import { HookedBackend } from "./hooked-backend.js";

const enc = (s: string) => new TextEncoder().encode(s);
let tmp: ReturnType<typeof tempDir>;
let store: ShardStateStore;
beforeEach(() => {
  tmp = tempDir("store-messages");
  store = new ShardStateStore(new FileBackend(tmp.dir), "c1", "dev");
});
afterEach(() => tmp.cleanup());

async function refusal(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

describe("the shard store's messages", () => {
  it("says which characters a shard ID may use", () => {
    expect(() => stateKeys("../x")).toThrow(new UserError("E_SHARD_ID", `shard ID "../x" cannot name state objects (letters, digits, ".", "_" and "-" only)`));
  });

  it("names a backend's objects by its description when it has no `where`", () => {
    const hooked = new ShardStateStore(new HookedBackend(new FileBackend(tmp.dir)), "c1", "dev");
    expect([hooked.location, hooked.lockLocation]).toEqual(["hooked file backend shard/dev/state.json", "hooked file backend shard/dev/state.lock"]);
    expect(store.location).toBe(`${tmp.dir}/shard/dev/state.json`);
  });

  it("names both owners when a document belongs to another cluster or shard", async () => {
    const e = await refusal(store.write(newStateDoc("c2", "prod"), undefined));
    expect([e.code, e.message]).toEqual(["STATE_MISMATCH", `state ${store.location} belongs to cluster "c2" shard "prod", not cluster "c1" shard "dev"`]);
    expect((await refusal(store.write(newStateDoc("c2", "dev"), undefined))).code).toBe("STATE_MISMATCH"); // the cluster alone
  });

  it("says the state no longer exists, or that re-reading it failed, after a lost race", async () => {
    const first = await store.write(newStateDoc("c1", "dev"), undefined);
    await store.backend.delete(store.stateKey);
    const gone = await refusal(store.write(first.doc, first.etag));
    expect(gone.cause).toMatchObject({ name: "StoreConflictError", reason: "gone" });
    expect(gone.message).toBe(
      `state ${store.location} was changed by another writer since this run read it at serial 1; it no longer exists. Nothing was written: re-run plan to work from the current state`,
    );
    await store.backend.put(store.stateKey, enc("{not json"), { ifNoneMatch: "*" });
    const unreadable = await refusal(store.write(first.doc, first.etag));
    expect(unreadable.code).toBe("STATE_CONFLICT");
    expect(unreadable.message).toMatch(/; re-reading it failed: .+\. Nothing was written: re-run plan to work from the current state$/);
  });

  it("shows the stored lock, or nothing when there is none or it is not JSON", async () => {
    expect(await store.currentLock()).toBeUndefined();
    const lock = await store.lock("apply");
    expect(await store.currentLock()).toMatchObject({ ...lock.info });
    await lock.release();
    await store.backend.put(store.lockKey, enc("{not json"), { ifNoneMatch: "*" });
    expect(await store.currentLock()).toBeUndefined();
    await store.backend.delete(store.lockKey);
    await store.backend.put(store.lockKey, enc(canonicalJson({ id: "x" })), { ifNoneMatch: "*" });
    expect(await store.currentLock()).toEqual({ id: "x" });
  });
});
