/**
 * The state writer's promises, one by one, against the real file store: a write-ahead update is on
 * disk when it resolves; a batched one waits for the pause and rides the next write; mutations of
 * one record compose in order; a failing mutation costs only itself; `updatedAt` moves only when a
 * record changed; the caller's document is never touched; a lost race rejects everything queued.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateWriter } from "../../src/applier/state-writer.js";
import { openStateStore } from "../../src/state/index.js";
import type { InstanceRecord, StateStore } from "../../src/state/types.js";

const OLD = "2026-01-01T00:00:00.000Z";

function record(instanceId: string, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    instanceId, tenant: "t", group: "g", template: "web", kind: "tst", vmid: 10001, node: "pve1",
    replaceHash: "sha256:r", updateHash: "sha256:u", phase: "creating", stepsDone: [], createdAt: OLD, updatedAt: OLD, ...extra,
  };
}

/**
 * Nothing batched is written on its own for a minute after a write (only drain() or an urgent update
 * writes it): a mutant that loses an update's urgency hangs the test instead of passing it.
 */
const PATIENT = { batchDelayMs: { minMs: 60_000, perWrite: 0, maxMs: 60_000 } };

let dir: string;
let store: StateStore;
/** The state as a second reader sees it on disk. */
const onDisk = async () => (await (await openStateStore({ storage: "file", stateDir: dir, clusterId: "c1", shardId: "s1" })).read())!.doc;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "pvefleet-writer-edges-"));
  store = await openStateStore({ storage: "file", stateDir: dir, clusterId: "c1", shardId: "s1" });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("StateWriter: durability and cadence", () => {
  it("a write-ahead update is on disk, in a new serial, when its promise resolves", async () => {
    const serials: number[] = [];
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, { ...PATIENT, onWritten: (s) => serials.push(s) });
    await writer.update("a", () => record("a"));
    expect((await onDisk()).instances.a?.phase).toBe("creating");
    await writer.update("a", (r) => ({ ...r!, phase: "ready" }));
    const doc = await onDisk();
    expect(doc.instances.a?.phase).toBe("ready");
    expect(doc.serial).toBe(2);
    expect(serials).toEqual([1, 2]);
    expect(writer.current.serial).toBe(2);
    expect(writer.stats).toEqual({ writes: 2, mutations: 2 });
  });

  it("a batched update waits for the pause after a write; drain() writes it at once", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    let done = false;
    const batched = writer.update("b", () => record("b"), { batched: true }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    expect(Object.keys((await onDisk()).instances)).toEqual(["a"]);
    await writer.drain();
    await batched;
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b"]);
  });

  it("after a drain() the writer is patient again: the next batched update waits for the pause", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    const first = writer.update("b", () => record("b"), { batched: true });
    await writer.drain();
    await first;
    let done = false;
    const second = writer.update("c", () => record("c"), { batched: true }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b"]);
    await writer.drain();
    await second;
  });

  it("an urgent update takes the waiting batched ones along in the same write", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    const batched = writer.update("b", () => record("b"), { batched: true });
    await writer.update("c", () => record("c"));
    await batched;
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b", "c"]);
    expect(writer.stats).toEqual({ writes: 2, mutations: 3 });
  });

  it("an idle writer writes a batched update without waiting (no write yet to pause after)", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"), { batched: true });
    expect(Object.keys((await onDisk()).instances)).toEqual(["a"]);
  });

  it("the pause after a write is capped by maxMs: a batched update is then written on its own", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, { batchDelayMs: { minMs: 60_000, maxMs: 5 } });
    await writer.update("a", () => record("a"));
    await writer.update("b", () => record("b"), { batched: true }); // hangs if the minute were kept
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b"]);
  });

  it("the pause is perWrite × the last write's duration: one write's worth with perWrite 1", async () => {
    // With a one-minute cap, a pause computed from anything but the write's own duration (a few ms)
    // would hold the batched update for the whole minute.
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, { batchDelayMs: { minMs: 0, perWrite: 1, maxMs: 60_000 } });
    await writer.update("a", () => record("a"));
    await writer.update("b", () => record("b"), { batched: true });
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b"]);
  });

  it("an update that comes while a write is in flight waits for it: one write at a time, no conflict", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await Promise.all([writer.update("a", () => record("a")), writer.update("b", () => record("b")), writer.update("c", () => record("c"))]);
    expect(writer.failure).toBeUndefined();
    // The first write carries "a"; "b" and "c" came during it and share the next one.
    expect(writer.stats).toEqual({ writes: 2, mutations: 3 });
    expect((await onDisk()).serial).toBe(2);
  });

  it("the pause grows with perWrite: perWrite 100,000 × a write of any duration holds a batched update", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, { batchDelayMs: { minMs: 0, perWrite: 100_000, maxMs: 60_000 } });
    await writer.update("a", () => record("a"));
    let done = false;
    const batched = writer.update("b", () => record("b"), { batched: true }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    await writer.drain();
    await batched;
    expect(writer.stats).toEqual({ writes: 2, mutations: 2 });
  });

  it("takes the older form of its options, a bare onWritten callback", async () => {
    const serials: number[] = [];
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, (s) => serials.push(s));
    await writer.update("a", () => record("a"));
    await writer.update("b", () => record("b"));
    expect(serials).toEqual([1, 2]);
  });

  it("drain() with nothing pending returns at once and writes nothing", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined });
    await writer.drain();
    expect(writer.stats.writes).toBe(0);
    expect(await store.read()).toBeUndefined();
  });
});

describe("StateWriter: what a write holds", () => {
  it("mutations of one record in one write compose in the order they came; undefined removes it", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    await writer.update("gone", () => record("gone"));
    const seen: (string[] | undefined)[] = [];
    await Promise.all([
      writer.update("a", (r) => ({ ...r!, stepsDone: [...r!.stepsDone, "clone"] }), { batched: true }),
      writer.update("a", (r) => (seen.push(r?.stepsDone), { ...r!, stepsDone: [...r!.stepsDone, "upload-iso"] }), { batched: true }),
      writer.update("gone", () => undefined, { batched: true }),
      writer.update("never", (r) => (seen.push(r === undefined ? ["absent"] : ["present"]), undefined)),
    ]);
    const doc = await onDisk();
    expect(doc.instances.a?.stepsDone).toEqual(["clone", "upload-iso"]);
    expect(seen).toEqual([["clone"], ["absent"]]);
    expect(Object.keys(doc.instances)).toEqual(["a"]);
  });

  it("a mutation that throws rejects alone; the rest of its write is stored", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    const results = await Promise.allSettled([
      writer.update("b", () => record("b"), { batched: true }),
      writer.update("a", () => {
        throw new Error("bad mutation");
      }, { batched: true }),
      writer.update("c", () => record("c")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe("bad mutation");
    expect(Object.keys((await onDisk()).instances).sort()).toEqual(["a", "b", "c"]);
    expect(writer.failure).toBeUndefined();
    expect(writer.stats.mutations).toBe(3); // the failed mutation is not counted
  });

  it("updatedAt moves only for a record that changed; an unchanged one keeps its time", async () => {
    const initial = { ...StateWriter.emptyDoc("c1", "s1"), instances: { a: record("a"), b: record("b") } };
    const writer = new StateWriter(store, { doc: initial, etag: undefined }, PATIENT);
    await Promise.all([writer.update("a", (r) => ({ ...r!, phase: "ready" })), writer.update("b", (r) => ({ ...r! }))]);
    const doc = await onDisk();
    expect(doc.instances.a?.updatedAt).not.toBe(OLD);
    expect(Date.parse(doc.instances.a!.updatedAt)).toBeGreaterThan(Date.parse(OLD));
    expect(doc.instances.b?.updatedAt).toBe(OLD);
  });

  it("never changes the caller's document or the records a mutation returned", async () => {
    const initial = { ...StateWriter.emptyDoc("c1", "s1"), instances: { a: record("a") } };
    const snapshot = structuredClone(initial);
    const writer = new StateWriter(store, { doc: initial, etag: undefined }, PATIENT);
    const mine = record("b");
    await writer.update("a", (r) => {
      r!.phase = "ready"; // the copy it was given
      return r;
    });
    await writer.update("b", () => mine);
    expect(initial).toEqual(snapshot);
    expect(mine.updatedAt).toBe(OLD);
    expect(Object.isFrozen(writer.current.instances.a)).toBe(true);
    expect(writer.current.instances.a?.phase).toBe("ready");
  });

  it("emptyDoc: format 1, serial 0, its cluster and shard, a fresh lineage each time", () => {
    const a = StateWriter.emptyDoc("c1", "s1");
    const b = StateWriter.emptyDoc("c1", "s1");
    expect(a).toMatchObject({ formatVersion: 1, serial: 0, clusterId: "c1", shardId: "s1", instances: {} });
    expect(a.lineage).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.lineage).not.toBe(b.lineage);
    expect(a.writeId).not.toBe(b.writeId);
  });
});

describe("StateWriter: a lost race", () => {
  it("rejects the write's updates and those queued behind it, then every later one; drain() still returns", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined }, PATIENT);
    await writer.update("a", () => record("a"));
    const other = await store.read();
    await store.write(other!.doc, other!.etag);
    const queued = writer.update("q", () => record("q"), { batched: true });
    const results = await Promise.allSettled([writer.update("b", () => record("b")), queued]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as { code?: string }).code : "ok"))).toEqual(["STATE_CONFLICT", "STATE_CONFLICT"]);
    expect((writer.failure as { code?: string }).code).toBe("STATE_CONFLICT");
    await expect(writer.update("c", () => record("c"), { batched: true })).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    await writer.drain();
    expect(Object.keys((await onDisk()).instances)).toEqual(["a"]);
    expect(writer.stats.writes).toBe(1);
  });
});
