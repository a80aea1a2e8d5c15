import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { loadShardBytes } from "../../src/config/load.js";
import { isUserError, UserErrors } from "../../src/errors.js";

/** Small seeded PRNG (mulberry32) so a failing mutation can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SWAPS: [RegExp, string][] = [
  [/: (\d+)/, ': "$1"'],
  [/: "([^"]*)"/, ": 7"],
  [/: true/, ': "true"'],
  [/: \{/, ": [{"],
  [/ = (\d+)/, ' = "$1"'],
  [/ = "([^"]*)"/, " = 7"],
  [/ = true/, " = \"yes\""],
  [/: \[/, ": {"],
  [/"kind": "[a-z]+"/, '"kind": "toolong"'],
  [/"template": "[a-z]+"/, '"template": "nope"'],
];
const FLIP_CHARS = ['"', "{", "}", "[", "]", ",", ":", "=", "\n", "a", "0", "-", "\\", "{{", "}}", "\u00ff", "$", "<"];

function mutate(text: string, r: () => number): { kind: string; text: string } {
  const at = Math.floor(r() * text.length);
  switch (Math.floor(r() * 4)) {
    case 0:
      return { kind: `truncate@${at}`, text: text.slice(0, at) };
    case 1: {
      const ch = FLIP_CHARS[Math.floor(r() * FLIP_CHARS.length)]!;
      return { kind: `flip@${at}=${JSON.stringify(ch)}`, text: text.slice(0, at) + ch + text.slice(at + 1) };
    }
    case 2: {
      const [re, to] = SWAPS[Math.floor(r() * SWAPS.length)]!;
      // apply the swap at a random occurrence
      const tail = text.slice(at);
      const replaced = tail.replace(re, to);
      return { kind: `swap ${re}@${at}`, text: text.slice(0, at) + replaced };
    }
    default: {
      const lines = text.split("\n");
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 1 + Math.floor(r() * 2));
      return { kind: `delete line ${i + 1}`, text: lines.join("\n") };
    }
  }
}

const POSITIONED = /^[^\n]+:\d+:\d+: \S.*$/;

async function fuzz(files: string[], count: number, seed: number): Promise<{ failures: number; valid: number }> {
  const r = rng(seed);
  let failures = 0;
  let valid = 0;
  for (let n = 0; n < count; n++) {
    const file = files[n % files.length]!;
    const { kind, text } = mutate(readFileSync(file, "utf8"), r);
    try {
      await loadShardBytes(file, Buffer.from(text, "utf8"));
      valid++;
    } catch (err) {
      if (!isUserError(err)) throw new Error(`${file} ${kind}: not a UserError: ${(err as Error)?.stack ?? String(err)}`);
      const lines = err instanceof UserErrors ? err.problems.map((p) => p.line()) : [err.line()];
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        if (!POSITIONED.test(line) || !line.startsWith(`${file}:`)) throw new Error(`${file} ${kind}: unpositioned problem line: ${JSON.stringify(line)}`);
      }
      failures++;
    }
  }
  return { failures, valid };
}

describe("fuzzing the validate path with mutated examples", () => {
  it("answers 900 mutated JSONC files with a valid model or positioned one-line problems", async () => {
    const { failures, valid } = await fuzz(["examples/quickstart.jsonc", "examples/multi-node.jsonc", "examples/tenants.jsonc", "examples/nstance-proxmox.jsonc"], 900, 20260126);
    expect(failures + valid).toBe(900);
    expect(failures).toBeGreaterThan(300);
  });

  it("answers 150 mutated HCL files the same way", async () => {
    const { failures, valid } = await fuzz(["examples/quickstart.hcl", "examples/multi-node.hcl", "examples/tenants.hcl"], 150, 7);
    expect(failures + valid).toBe(150);
    expect(failures).toBeGreaterThan(40);
  });
});
