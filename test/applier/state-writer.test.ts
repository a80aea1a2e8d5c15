import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateWriter } from "../../src/applier/state-writer.js";
import { openStateStore } from "../../src/state/index.js";
import type { InstanceRecord, StateStore } from "../../src/state/types.js";

function record(instanceId: string): InstanceRecord {
  const now = new Date().toISOString();
  return {
    instanceId, tenant: "t", group: "g", template: "web", kind: "tst", vmid: 10001, node: "pve1",
    replaceHash: "sha256:r", updateHash: "sha256:u", phase: "creating", stepsDone: [], createdAt: now, updatedAt: now,
  };
}

describe("StateWriter", () => {
  let dir: string;
  let store: StateStore;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "pvefleet-writer-"));
    store = await openStateStore({ storage: "file", stateDir: dir, clusterId: "c1", shardId: "s1" });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the state on first write and folds concurrent updates into fewer writes without losing any", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined });
    const ids = Array.from({ length: 50 }, (_, i) => `tst${String(i).padStart(3, "0")}`);
    await Promise.all(ids.map((id) => writer.update(id, () => record(id))));
    const back = await store.read();
    expect(Object.keys(back!.doc.instances).sort()).toEqual(ids);
    expect(writer.stats.mutations).toBe(50);
    expect(writer.stats.writes).toBeLessThan(50);
    expect(back!.doc.serial).toBe(writer.stats.writes);
  });

  it("stops with STATE_CONFLICT when someone else wrote the state, rejecting every later update", async () => {
    const writer = new StateWriter(store, { doc: StateWriter.emptyDoc("c1", "s1"), etag: undefined });
    await writer.update("a", () => record("a"));
    const other = await store.read();
    await store.write(other!.doc, other!.etag);
    await expect(writer.update("b", () => record("b"))).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    await expect(writer.update("c", () => record("c"))).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    expect(Object.keys((await store.read())!.doc.instances)).toEqual(["a"]);
  });
});
