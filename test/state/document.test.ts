import { describe, expect, it } from "vitest";
import { canonicalJson, newStateDoc, parseStateDoc, serializeStateDoc } from "../../src/state/document.js";
import { UserError } from "../../src/errors.js";

const record = {
  instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g",
  tenant: "t",
  group: "web",
  template: "web",
  kind: "tst",
  vmid: 10001,
  node: "pve1",
  replaceHash: "sha256:a",
  updateHash: "sha256:b",
  phase: "ready",
  stepsDone: [],
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:00Z",
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).code;
  }
  return undefined;
}

describe("state document", () => {
  it("creates a new document with a UUID lineage and serial 0", () => {
    const a = newStateDoc("c1", "dev");
    const b = newStateDoc("c1", "dev");
    expect(a.lineage).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.lineage).not.toBe(b.lineage);
    expect(a).toMatchObject({ formatVersion: 1, serial: 0, clusterId: "c1", shardId: "dev", instances: {} });
  });

  it("serialises canonically: the same document gives the same bytes whatever the key order", () => {
    const doc = { ...newStateDoc("c1", "dev"), instances: { [record.instanceId]: record } } as never;
    const reverse = (v: unknown): unknown =>
      v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v;
    const shuffled = reverse(doc);
    expect(Object.keys(shuffled as object)[0]).toBe("instances");
    expect(canonicalJson(shuffled)).toBe(canonicalJson(doc));
    expect(canonicalJson(doc).endsWith("}\n")).toBe(true);
  });

  it("round-trips a document through bytes", () => {
    const doc = { ...newStateDoc("c1", "dev"), instances: { [record.instanceId]: record } } as never;
    expect(parseStateDoc(serializeStateDoc(doc), "x")).toEqual(doc);
  });

  it("keeps fields it does not know yet, so another area's extension survives a write", () => {
    const doc = { ...newStateDoc("c1", "dev"), instances: { [record.instanceId]: { ...record, lastError: "boom" } } };
    const back = parseStateDoc(canonicalJson(doc), "x");
    expect((back.instances[record.instanceId] as unknown as { lastError: string }).lastError).toBe("boom");
  });

  it("rejects invalid JSON, a wrong phase, a missing lineage and a mis-keyed record as STATE_CORRUPT", () => {
    const good = { ...newStateDoc("c1", "dev"), instances: { [record.instanceId]: record } };
    expect(codeOf(() => parseStateDoc("{not json", "f.json"))).toBe("STATE_CORRUPT");
    expect(codeOf(() => parseStateDoc(JSON.stringify({ ...good, instances: { [record.instanceId]: { ...record, phase: "done" } } }), "f"))).toBe("STATE_CORRUPT");
    expect(codeOf(() => parseStateDoc(JSON.stringify({ ...good, lineage: undefined }), "f"))).toBe("STATE_CORRUPT");
    expect(codeOf(() => parseStateDoc(JSON.stringify({ ...good, instances: { other: record } }), "f"))).toBe("STATE_CORRUPT");
  });

  it("names the place and the field in the error", () => {
    const bad = { ...newStateDoc("c1", "dev"), serial: -1 };
    expect(() => parseStateDoc(JSON.stringify(bad), "s3://b/shard/dev/state.json")).toThrowError(/s3:\/\/b\/shard\/dev\/state\.json is invalid at serial/);
  });

  it("refuses a newer format version with an upgrade hint", () => {
    const newer = { ...newStateDoc("c1", "dev"), formatVersion: 2 };
    expect(codeOf(() => parseStateDoc(JSON.stringify(newer), "f"))).toBe("STATE_VERSION");
  });
});

describe("state document serialisation from cached record texts", () => {
  it("gives canonicalJson's bytes for frozen and unfrozen records, integer-like IDs, extra fields and an empty fleet", async () => {
    const { freezeRecord, stateDocJson, stateDocIssue, StateDocSchema } = await import("../../src/state/document.js");
    const base = newStateDoc("c1", "dev");
    const weird = { ...record, instanceId: "42", extra: { z: [1, { b: 2, a: undefined }], a: "x\ny" } };
    const docs = [
      base,
      { ...base, instances: { [record.instanceId]: record } },
      { ...base, zeta: { b: 1, a: [] }, "7": 1, instances: { b: { ...record, instanceId: "b" }, "42": weird, a: freezeRecord(structuredClone({ ...record, instanceId: "a" }) as never), "10": { ...record, instanceId: "10" } } },
    ] as never[];
    for (const doc of docs) {
      expect(stateDocJson(doc)).toBe(canonicalJson(doc));
      expect(stateDocJson(doc)).toBe(canonicalJson(doc)); // second time from the cache
      expect(stateDocIssue(doc) === undefined).toBe(StateDocSchema.safeParse(doc).success);
    }
  });

  it("validates before a write as the read schema does, naming the record and field", async () => {
    const { freezeRecord, stateDocIssue } = await import("../../src/state/document.js");
    const good = { ...newStateDoc("c1", "dev"), instances: { [record.instanceId]: freezeRecord(structuredClone(record) as never) } };
    expect(stateDocIssue(good as never)).toBeUndefined();
    expect(stateDocIssue(good as never)).toBeUndefined();
    expect(stateDocIssue({ ...good, instances: { [record.instanceId]: { ...record, phase: "done" } } } as never)?.path).toEqual(["instances", record.instanceId, "phase"]);
    expect(stateDocIssue({ ...good, instances: { other: good.instances[record.instanceId] } } as never)?.path).toEqual(["instances", "other", "instanceId"]);
    expect(stateDocIssue({ ...good, serial: -1 } as never)?.path).toEqual(["serial"]);
    expect(stateDocIssue({ ...good, instances: [] } as never)?.path).toEqual(["instances"]);
  });
});
