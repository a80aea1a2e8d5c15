/**
 * The shard store's own refusals, on the file backend in a scratch directory: a shard ID that
 * could name objects outside the shard's folder, a document for another shard, a document it would
 * refuse to read back, and what a lost race says — created meanwhile vs changed meanwhile.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import path from "node:path";
import { FileBackend, ShardStateStore, stateKeys } from "../../src/state/index.js";
import { newStateDoc } from "../../src/state/document.js";
import { UserError } from "../../src/errors.js";
import type { ObjectBackend, StateDoc } from "../../src/state/types.js";
import { tempDir } from "./helpers.js";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir("store-edges");
});
afterEach(() => tmp.cleanup());

const refusal = async (p: Promise<unknown> | (() => unknown)): Promise<UserError> => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a refusal");
};

describe("the shard store", () => {
  it("refuses a shard ID that could name objects outside its folder", async () => {
    for (const id of ["../other", "a/b", "", ".hidden", "x y"]) {
      expect((await refusal(() => stateKeys(id))).code).toBe("E_SHARD_ID");
    }
    expect(stateKeys("dev-1.a_b")).toEqual({ stateKey: "shard/dev-1.a_b/state.json", lockKey: "shard/dev-1.a_b/state.lock" });
    // And the file backend itself never leaves its root, whatever key it is handed.
    // Rooted one level down, so an escape would land in this test's own folder, not in a shared one.
    const backend = new FileBackend(path.join(tmp.dir, "root"));
    for (const key of ["shard/../../escape.json", "shard//state.json", "../x"]) {
      await expect(backend.put(key, new Uint8Array([1]), { ifNoneMatch: "*" })).rejects.toThrow(/bad object key/);
    }
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it("never writes a document of another shard, nor one it would refuse to read back", async () => {
    const store = new ShardStateStore(new FileBackend(tmp.dir), "c1", "dev");
    const other = newStateDoc("c1", "prod");
    expect((await refusal(store.write(other, undefined))).code).toBe("STATE_MISMATCH");
    const invalid = { ...newStateDoc("c1", "dev"), instances: { bad: { phase: "exploded" } } } as unknown as StateDoc;
    await expect(store.write(invalid, undefined)).rejects.toThrow(/^refusing to write an invalid state document \(instances\.bad/);
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it("says whether a lost race was a create or an update, and where the state is now", async () => {
    const a = new ShardStateStore(new FileBackend(tmp.dir), "c1", "dev");
    const b = new ShardStateStore(new FileBackend(tmp.dir), "c1", "dev");
    const first = await a.write(newStateDoc("c1", "dev"), undefined);
    const lostCreate = await refusal(b.write(newStateDoc("c1", "dev"), undefined));
    expect(lostCreate.code).toBe("STATE_CONFLICT");
    expect(lostCreate.message).toMatch(/was created by another writer while this run was creating it; it is now at serial 1 \(write \S+\)\. Nothing was written/);
    const second = await a.write(first.doc, first.etag);
    const lostUpdate = await refusal(b.write(first.doc, first.etag));
    expect(lostUpdate.message).toMatch(new RegExp(`was changed by another writer since this run read it at serial 1; it is now at serial 2 \\(write ${second.doc.writeId}\\)`));
    expect((await a.read())!.doc.writeId).toBe(second.doc.writeId);
  });

  it("passes a store failure that is no lost race through unchanged", async () => {
    // A backend whose writes fail with an I/O error (a full disk): not a conflict, so no re-read.
    const files = new FileBackend(tmp.dir);
    const full: ObjectBackend = {
      description: files.description,
      get: (key) => files.get(key),
      delete: (key) => files.delete(key),
      put: async () => {
        throw new UserError("STATE_IO", "cannot write: ENOSPC");
      },
    };
    const e = await refusal(new ShardStateStore(full, "c1", "dev").write(newStateDoc("c1", "dev"), undefined));
    expect([e.code, e.message]).toEqual(["STATE_IO", "cannot write: ENOSPC"]);
  });
});
