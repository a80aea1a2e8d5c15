import { describe, expect, it } from "vitest";
import { decodeInstanceId, encodeInstanceId, INSTANCE_ID_RE, newInstanceId } from "../../src/config/instance-id.js";

const VECTORS: [string, string][] = [
  ["tst06dx9xy919t3v9kzd2xdsyzb3g", "019bd4f7-c90a-743d-a67f-68badcfbeb1c"],
  ["acc06bgm7733st2576nx5jht4ecjw", "01970a1c-e31e-7422-9cd5-e9651d11cc97"],
  ["abc06awcb4f5hzmfey7qwt7s8a6q4", "0195c62c-8f2c-7f47-bbc7-bf347ca146b9"],
];

describe("instance IDs", () => {
  it.each(VECTORS)("encodes and decodes %s ⇔ %s", (id, uuid) => {
    expect(encodeInstanceId(id.slice(0, 3), uuid)).toBe(id);
    const decoded = decodeInstanceId(id);
    expect(decoded.kind).toBe(id.slice(0, 3));
    expect(decoded.uuid).toBe(uuid);
    expect(INSTANCE_ID_RE.test(id)).toBe(true);
  });

  it("reads the UUIDv7 creation time", () => {
    expect(new Date(decodeInstanceId("tst06dx9xy919t3v9kzd2xdsyzb3g").timestampMs).toISOString()).toBe("2026-01-19T06:36:07.306Z");
  });

  it("decodes leniently: upper case, hyphens, i/l as 1 and o as 0", () => {
    expect(decodeInstanceId("TST06DX9XY919T3V9KZD2XDSYZB3G").uuid).toBe("019bd4f7-c90a-743d-a67f-68badcfbeb1c");
    expect(decodeInstanceId("tst-06dx9xy919t3v9kzd2xdsyzb3g").uuid).toBe("019bd4f7-c90a-743d-a67f-68badcfbeb1c");
    expect(decodeInstanceId("tsto6dx9xy919t3v9kzd2xdsyzb3g").uuid).toBe("019bd4f7-c90a-743d-a67f-68badcfbeb1c");
  });

  it("rejects malformed IDs and kinds", () => {
    expect(() => decodeInstanceId("short")).toThrow(/invalid instance ID/);
    expect(() => decodeInstanceId("tst06dx9xy919t3v9kzd2xdsyzb3u")).toThrow(/invalid instance ID/);
    expect(() => encodeInstanceId("Tst", "019bd4f7-c90a-743d-a67f-68badcfbeb1c")).toThrow(/invalid prefix/);
    expect(() => encodeInstanceId("tst", "not-a-uuid")).toThrow(/not a UUID/);
  });

  it("makes a UUIDv7 with the given time and random bits", () => {
    const random = new Uint8Array(16).fill(0xab);
    const id = newInstanceId("tst", Date.parse("2026-01-19T06:36:07.306Z"), random);
    const { uuid, timestampMs } = decodeInstanceId(id);
    expect(timestampMs).toBe(Date.parse("2026-01-19T06:36:07.306Z"));
    expect(uuid[14]).toBe("7"); // version
    expect("89ab").toContain(uuid[19]); // RFC variant
    expect(INSTANCE_ID_RE.test(id)).toBe(true);
    expect("048cgmrw").toContain(id[id.length - 1]); // 2 zero pad bits in the last character
  });

  it("sorts IDs created in one process in creation order, even within one millisecond", () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => newInstanceId("tst", now));
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("stays ordered when the clock steps backwards", () => {
    const a = newInstanceId("tst", 2_000_000_000_000);
    const b = newInstanceId("tst", 1_000_000_000_000);
    expect(a < b).toBe(true);
  });
});
