/** `drift.ignore` in the shard file: JSONC and HCL give the same rules; a bad rule is one problem line. */
import { describe, expect, it } from "vitest";
import { BASE, clone, hclShard, load, loadObject, problemsOf } from "./helpers.js";

const HCL = hclShard({ after: `drift {
  ignore = [{ name = "pet-*" }, { vmid = 500 }, { tag = "backup" }]
}
` });

describe("drift.ignore in the shard file", () => {
  it("loads the same rules from JSONC and HCL", async () => {
    const file = { ...clone(BASE), drift: { ignore: [{ name: "pet-*" }, { vmid: 500 }, { tag: "backup" }] } };
    const jsonc = await loadObject(file);
    const hcl = await load(HCL, "t.hcl");
    expect(jsonc.shard.drift).toEqual({ ignore: [{ name: "pet-*" }, { vmid: 500 }, { tag: "backup" }] });
    expect(hcl.shard.drift).toEqual(jsonc.shard.drift);
  });

  it("has no drift settings when the file has none", async () => {
    expect((await loadObject(clone(BASE))).shard.drift).toBeUndefined();
  });

  it("refuses a rule with two matchers, and names an unknown key with a suggestion", async () => {
    const lines = await problemsOf({ ...clone(BASE), drift: { ignore: [{ name: "a", vmid: 500 }, { nmae: "b" }] } });
    expect(lines.join("\n")).toMatch(/drift\.ignore\[0\]: set exactly one of name, vmid or tag/);
    expect(lines.join("\n")).toMatch(/drift\.ignore\[1\]\.nmae: unknown key "nmae" \(did you mean "name"\?\)/);
  });
});
