import { describe, expect, it } from "vitest";
import { parseSize, formatSize, parseInstanceType } from "../../src/config/size.js";
import { identifierProblem } from "../../src/config/identifiers.js";
import { canonicalJson, hashOf } from "../../src/config/hash.js";
import { didYouMean } from "../../src/config/did-you-mean.js";
import { parseDurationSec } from "../../src/config/options.js";

describe("sizes and instance types", () => {
  it("parses Proxmox sizes in binary units and formats them back", () => {
    expect(parseSize("20G")).toBe(20 * 1024 ** 3);
    expect(parseSize("512M")).toBe(512 * 1024 ** 2);
    expect(parseSize("1T")).toBe(1024 ** 4);
    expect(formatSize(parseSize("20G"))).toBe("20G");
    expect(formatSize(1536 * 1024 ** 2)).toBe("1536M");
    for (const bad of ["20", "20GB", "0G", "1.5G", "-1G", " 20G"]) expect(() => parseSize(bad)).toThrow(/must be a whole number followed by K, M, G or T/);
  });

  it("parses the guide's resource spec", () => {
    expect(parseInstanceType("cpu:4,memory:8192,disk:50")).toEqual({ cores: 4, memoryMiB: 8192, diskBytes: 50 * 1024 ** 3 });
    expect(parseInstanceType(" memory : 1024 , cpu:1 ")).toEqual({ cores: 1, memoryMiB: 1024 });
    expect(() => parseInstanceType("cpu:4,gpu:1")).toThrow(/unknown key "gpu"/);
    expect(() => parseInstanceType("cpu:4,cpu:2")).toThrow(/cpu is given twice/);
    expect(() => parseInstanceType("cpu:0")).toThrow(/positive whole number/);
    expect(() => parseInstanceType("t3.large")).toThrow(/is not key:number/);
  });
});

describe("identifiers (Nstance's test vectors)", () => {
  it.each(["dev", "dev-1", "us-west-2a", "0", "a", "a1-b2-c3", "abcdefghijklmnopqrstuvwxyzabcdef"])("accepts %s", (id) => {
    expect(identifierProblem("shard ID", id)).toBeUndefined();
  });

  it("rejects with Nstance's messages", () => {
    expect(identifierProblem("shard ID", "")).toBe("shard ID cannot be empty");
    expect(identifierProblem("shard ID", "abcdefghijklmnopqrstuvwxyzabcdefg")).toBe('shard ID "abcdefghijklmnopqrstuvwxyzabcdefg" exceeds maximum length of 32 characters');
    for (const bad of ["-dev", "dev-", "dev--1", "Dev", "dev_1", "dev 1"]) {
      expect(identifierProblem("shard ID", bad)).toMatch(/must contain only lowercase alphanumeric characters and hyphens, with no leading\/trailing\/consecutive hyphens$/);
    }
  });
});

describe("small helpers", () => {
  it("hashes canonical JSON with sorted keys", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: undefined, b: null }] })).toBe('{"a":[{"b":null,"d":1}],"b":1}');
    expect(hashOf({ a: 1, b: 2 })).toBe(hashOf({ b: 2, a: 1 }));
    expect(hashOf({})).toBe("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });

  it("suggests only plausible typos", () => {
    expect(didYouMean("StoragPool", ["StoragePool", "Pool"])).toBe(' (did you mean "StoragePool"?)');
    expect(didYouMean("zzzzzz", ["StoragePool", "Pool"])).toBe("");
  });

  it("parses Go durations", () => {
    expect(parseDurationSec("1h30m")).toBe(5400);
    expect(parseDurationSec("500ms")).toBe(0.5);
    expect(() => parseDurationSec("60")).toThrow(/must look like/);
  });
});
