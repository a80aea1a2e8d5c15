/**
 * The state writer's cost per write is the records that changed, not the fleet: counted with the
 * document's work counters (records serialised, records validated), never with a clock. If a
 * write went back to re-serialising or re-validating the whole document, these counts would grow
 * with the fleet and the tests would fail.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateWriter } from "../../src/applier/state-writer.js";
import { canonicalJson, documentWork } from "../../src/state/document.js";
import { openStateStore } from "../../src/state/index.js";
import type { InstanceRecord, StateDoc, StateStore } from "../../src/state/types.js";

const FLEET = 2000;

function record(instanceId: string, vmid: number): InstanceRecord {
  return {
    instanceId, tenant: "t", group: "g", template: "web", kind: "tst", vmid, node: "pve1",
    replaceHash: "sha256:r", updateHash: "sha256:u", phase: "creating", stepsDone: [], createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z",
  };
}

function work(): { serialized: number; validated: number } {
  return { serialized: documentWork.recordsSerialized, validated: documentWork.recordsValidated };
}

function since(before: { serialized: number; validated: number }): { serialized: number; validated: number } {
  const now = work();
  return { serialized: now.serialized - before.serialized, validated: now.validated - before.validated };
}

const ids = Array.from({ length: FLEET }, (_, i) => `tst${String(i).padStart(5, "0")}`);

describe("StateWriter at fleet scale", () => {
  let dir: string;
  let store: StateStore;
  let stateFile: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "pvefleet-writer-scale-"));
    store = await openStateStore({ storage: "file", stateDir: dir, clusterId: "c1", shardId: "s1" });
    stateFile = path.join(dir, "shard", "s1", "state.json");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function fleetWriter(options: ConstructorParameters<typeof StateWriter>[2] = {}): Promise<StateWriter> {
    const seed = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined });
    await Promise.all(ids.map((id, i) => seed.update(id, () => record(id, 10000 + i))));
    const read = await store.read();
    return new StateWriter(store, { doc: read!.doc, etag: read!.etag }, options);
  }

  it("serialises and validates only the records a write changed, whatever the fleet's size", async () => {
    const writer = await fleetWriter();
    // The first write of a writer learns every record once.
    await writer.update(ids[0]!, (rec) => ({ ...rec!, stepsDone: ["clone"] }));
    for (let i = 1; i <= 20; i++) {
      const before = work();
      await writer.update(ids[i]!, (rec) => ({ ...rec!, stepsDone: ["clone"], vmid: 20000 + i }));
      expect(since(before)).toEqual({ serialized: 1, validated: 1 });
    }
    const before = work();
    await Promise.all(ids.slice(100, 150).map((id) => writer.update(id, (rec) => ({ ...rec!, phase: "ready" }), { batched: true })));
    expect(since(before).serialized).toBe(50);
    expect(since(before).validated).toBe(50);
  });

  it("writes the canonical document byte for byte, with updatedAt moved only on the records that changed", async () => {
    const writer = await fleetWriter();
    const stamp = writer.current.instances[ids[8]!]!.updatedAt;
    await new Promise((r) => setTimeout(r, 5)); // a later millisecond for the changed record
    await writer.update(ids[7]!, (rec) => ({ ...rec!, isoVolume: "local:iso/x.iso" }));
    await writer.update(ids[8]!, (rec) => rec); // no change
    await writer.update(ids[9]!, () => undefined); // removed
    const text = readFileSync(stateFile, "utf8");
    const doc = JSON.parse(text) as StateDoc;
    expect(text).toBe(canonicalJson(doc));
    expect(doc.instances[ids[7]!]!.isoVolume).toBe("local:iso/x.iso");
    expect(doc.instances[ids[7]!]!.updatedAt > stamp).toBe(true);
    expect(doc.instances[ids[8]!]!.updatedAt).toBe(stamp);
    expect(doc.instances[ids[9]!]).toBeUndefined();
    expect(Object.keys(doc.instances)).toHaveLength(FLEET - 1);
  });

  it("holds batched updates for the pause after a write and writes them with the next write-ahead update, in order", async () => {
    const writer = await fleetWriter({ batchDelayMs: { minMs: 600_000, maxMs: 600_000 } });
    await writer.update(ids[0]!, (rec) => ({ ...rec!, phase: "ready" })); // a write just ended: the pause starts
    const serial = writer.current.serial;
    let batchedDone = false;
    const batched = writer.update(ids[1]!, (rec) => ({ ...rec!, stepsDone: ["clone"] }), { batched: true }).then(() => (batchedDone = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(batchedDone).toBe(false);
    expect(writer.current.serial).toBe(serial);
    await writer.update(ids[1]!, (rec) => ({ ...rec!, stepsDone: [...rec!.stepsDone, "upload-iso"] }));
    await batched;
    expect(writer.current.serial).toBe(serial + 1);
    expect(writer.current.instances[ids[1]!]!.stepsDone).toEqual(["clone", "upload-iso"]);
  });

  it("drain() writes batched updates at once instead of waiting for the pause", async () => {
    const writer = await fleetWriter({ batchDelayMs: { minMs: 600_000, maxMs: 600_000 } });
    await writer.update(ids[99]!, (rec) => ({ ...rec!, phase: "ready" }));
    const serial = writer.current.serial;
    const updates = ids.slice(0, 30).map((id) => writer.update(id, (rec) => ({ ...rec!, phase: "ready" }), { batched: true }));
    await writer.drain();
    await Promise.all(updates);
    expect(writer.current.serial).toBe(serial + 1);
    const doc = (await store.read())!.doc;
    expect(ids.slice(0, 30).every((id) => doc.instances[id]!.phase === "ready")).toBe(true);
  });

  it("keeps the caller's document and the records a mutation returns out of its frozen state", async () => {
    const read = (await store.read()) ?? { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined };
    const writer = new StateWriter(store, read);
    const mine = record("tst-own", 1);
    await writer.update("tst-own", () => mine);
    expect(Object.isFrozen(mine)).toBe(false);
    expect(Object.isFrozen(read.doc.instances)).toBe(false);
    expect(Object.isFrozen(writer.current.instances["tst-own"])).toBe(true);
  });
});
