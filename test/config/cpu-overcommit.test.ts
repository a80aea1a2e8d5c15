/** `cpu_overcommit` in the shard file: default 4, JSONC and HCL give the same value, a bad value is one file:line:col line. */
import { describe, expect, it } from "vitest";
import { BASE, clone, hclShard, load, loadObject, problems } from "./helpers.js";

const hcl = (options: string) => hclShard({ options });

const withOption = (value: unknown) => {
  const file = clone(BASE) as { shard: { infra: Record<string, unknown> } };
  file.shard.infra.options = { cpu_overcommit: value };
  return file;
};

describe("cpu_overcommit", () => {
  it("defaults to 4 vCPUs per CPU", async () => {
    expect((await loadObject(clone(BASE))).shard.provider.options.cpuOvercommit).toBe(4);
  });

  it("loads the same ratio from JSONC and HCL", async () => {
    const jsonc = await loadObject(withOption(2.5));
    const fromHcl = await load(hcl("      cpu_overcommit = 2.5"), "t.hcl");
    expect(jsonc.shard.provider.options.cpuOvercommit).toBe(2.5);
    expect(fromHcl.shard.provider.options).toEqual(jsonc.shard.provider.options);
  });

  it("refuses a ratio that is not above 0, at its line and column", async () => {
    const text = JSON.stringify(withOption(0), null, 2);
    const lines = await problems(text, "t.jsonc");
    const line = text.split("\n").findIndex((l) => l.includes('"cpu_overcommit"')) + 1;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^t\\.jsonc:${line}:\\d+: .*cpu_overcommit.*`));
  });

  it("refuses a ratio given as text in HCL, at its line", async () => {
    const lines = await problems(hcl(`      cpu_overcommit = "lots"`), "t.hcl");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^t\.hcl:10:\d+: .*cpu_overcommit.*/);
  });
});
