/**
 * The error codes are one union (src/errors.ts): every code a README promises exists, so a script
 * matching on a documented code never waits for one pvefleet cannot produce.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, UserError } from "../src/errors.js";

const ROOT = join(import.meta.dirname, "..");

function readmes(): string[] {
  const out = [join(ROOT, "README.md")];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "README.md") out.push(p);
    }
  };
  walk(join(ROOT, "src"));
  return out;
}

describe("error codes", () => {
  it("lists every code once", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it("documents only codes that exist", () => {
    const known = new Set<string>(ERROR_CODES);
    const documented = new Map<string, string>();
    for (const file of readmes()) {
      for (const m of readFileSync(file, "utf8").matchAll(/`((?:E|STATE|LOCK)_[A-Z_]+|NOT_OURS|VM_CHANGED|VMID_TAKEN|VM_LOCKED)`/g)) {
        documented.set(m[1]!, file.slice(ROOT.length + 1));
      }
    }
    expect(documented.size).toBeGreaterThan(5);
    const unknown = [...documented].filter(([code]) => !known.has(code)).map(([code, file]) => `${code} (${file})`);
    expect(unknown).toEqual([]);
  });

  it("keeps the code on the error the CLI prints", () => {
    const e = new UserError("NOT_OURS", "refusing to stop VM 500");
    expect(e.code).toBe("NOT_OURS");
    expect(e.line()).toBe("refusing to stop VM 500");
  });
});
