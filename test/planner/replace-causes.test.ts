/**
 * What forces a replacement, attribute by attribute (issue 13 #6), from the replace-forcing spec the
 * state recorded for a record's hash: every field the hash covers is named, sensitive ones without
 * their values, and a saved plan never carries the userdata diff.
 */
import { describe, expect, it } from "vitest";
import { hashes } from "../../src/config/resolve.js";
import type { DesiredGroup, VmSpec } from "../../src/config/model.js";
import { plan } from "../../src/planner/plan.js";
import { replaceSpecOf, withReplaceSpecs } from "../../src/planner/replace-causes.js";
import { checkSameAsFresh, readSavedPlan, serializePlan } from "../../src/planner/saved-plan.js";
import type { StateDoc } from "../../src/state/types.js";
import { parseStateDoc, stateDocIssue } from "../../src/state/document.js";
import { desired, live, member, planOptions, spec, state } from "./fixtures.js";

const USERDATA = "#cloud-config\npackages:\n  - nginx\nhostname: {{ .Vars.host }}\nruncmd:\n  - echo {{ .Vars.token }}\n";

function groupOf(over: Partial<VmSpec> = {}, templateName = "web"): DesiredGroup {
  const s = spec({ userdata: { source: "inline", encoding: "plain", content: USERDATA }, vars: { host: "a", token: "s3cret-one" }, ...over });
  return { ref: { tenant: "acme", group: "web" }, templateName, size: 1, spec: s, ...hashes(s) };
}

/** One healthy member built from `old`, planned against `now`. */
function replaceOf(old: DesiredGroup, now: DesiredGroup, recorded = true) {
  const m = member(1, { record: { replaceHash: old.replaceHash, updateHash: now.updateHash, template: old.templateName } });
  let doc: StateDoc = state([m.record]);
  if (recorded) doc = withReplaceSpecs(doc, desired([old]));
  const p = plan(desired([now]), doc, live([m.vm]), planOptions());
  const change = p.changes.find((c) => c.kind === "replace");
  return { p, change: change!, doc };
}

describe("replace causes", () => {
  it("names each replace-forcing field of the spec that changed, with old and new values", () => {
    const cases: [Partial<VmSpec>, string, unknown, unknown][] = [
      [{ template: { name: "debian-13" } }, "template", "debian", "debian-13"],
      [{ template: { vmid: 9000 } }, "template", "debian", "VMID 9000"],
      [{ kind: "api" }, "kind", "web", "api"],
      [{ arch: "arm64" }, "arch", "amd64", "arm64"],
      [{ storage: "ceph" }, "storage", "local-lvm", "ceph"],
      [{ bridge: "vmbr1" }, "bridge", "vmbr0", "vmbr1"],
      [{ vlan: 20 }, "vlan", undefined, 20],
      [{ pool: "prod" }, "pool", undefined, "prod"],
    ];
    for (const [over, attribute, before, after] of cases) {
      const { change } = replaceOf(groupOf(), groupOf(over));
      expect(change.forcedBy, attribute).toEqual([{ attribute, sensitive: false, message: expect.stringContaining(attribute), ...(before === undefined ? {} : { before }), after }]);
      expect(change.attributes).toContainEqual({ attribute, before, after, forcesReplacement: true });
      expect(change.reasons.join("\n")).not.toMatch(/sha256/);
    }
  });

  it("shows a userdata edit as a diff of the changed line, counted, and never as a value", () => {
    const { change } = replaceOf(groupOf(), groupOf({ userdata: { source: "inline", encoding: "plain", content: USERDATA.replace("nginx", "caddy") } }));
    const cause = change.forcedBy!.find((f) => f.attribute === "userdata")!;
    expect(cause).toMatchObject({ sensitive: true, linesChanged: 2, message: "userdata changed (sensitive, 2 lines changed)" });
    expect(cause.diff).toContain("-  - nginx");
    expect(cause.diff).toContain("+  - caddy");
    expect(cause.before).toBeUndefined();
    expect(change.attributes).toContainEqual({ attribute: "userdata", before: "(sensitive value)", after: "(sensitive value)", forcesReplacement: true, sensitive: true });
    expect(change.reasons).toContain("userdata changed (sensitive, 2 lines changed)");
  });

  it("diffs base64 userdata as the text it encodes", () => {
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    const { change } = replaceOf(groupOf({ userdata: { source: "inline", encoding: "base64", content: b64(USERDATA) } }),
      groupOf({ userdata: { source: "inline", encoding: "base64", content: b64(`${USERDATA}timezone: UTC\n`) } }));
    expect(change.forcedBy![0]).toMatchObject({ attribute: "userdata", linesChanged: 1 });
    expect(change.forcedBy![0]!.diff).toContain("+timezone: UTC");
  });

  it("names a changed var without its value, before or after", () => {
    const { change, doc } = replaceOf(groupOf(), groupOf({ vars: { host: "a", token: "s3cret-two" } }));
    expect(change.forcedBy).toEqual([{ attribute: "vars.token", sensitive: true, message: "vars.token changed (sensitive)" }]);
    expect(JSON.stringify([change.forcedBy, change.attributes, change.reasons])).not.toContain("s3cret");
    expect(JSON.stringify(doc)).not.toContain("s3cret"); // the state keeps only a hash per var
  });

  it("names the shard file's template when the group moved to another one", () => {
    const { change } = replaceOf(groupOf(), groupOf({ template: { name: "debian-13" } }, "web2"));
    expect(change.forcedBy!.map((f) => f.attribute)).toEqual(["templateKey", "template"]);
    expect(change.reasons[0]).toBe("shard-file template web → web2");
  });

  it("plans a record written before the attributes were recorded, saying only that the spec changed", () => {
    const old = groupOf();
    const now = groupOf({ storage: "ceph" });
    const { change } = replaceOf(old, now, false);
    expect(change.forcedBy).toEqual([{ attribute: "spec", before: old.replaceHash, after: now.replaceHash, sensitive: false, message: expect.stringMatching(/^replace-forcing spec changed \(recorded by an older pvefleet/) }]);
  });

  it("adds a disk shrink to the causes", () => {
    const m = member(1, { vm: { diskBytes: 20 * 1024 ** 3 } });
    const g = { ...groupOf({ diskBytes: 10 * 1024 ** 3 }), replaceHash: "sha256:r1" };
    const p = plan(desired([g]), state([m.record]), live([m.vm]), planOptions());
    expect(p.changes[0]!.forcedBy).toEqual([{ attribute: "diskBytes", before: 20 * 1024 ** 3, after: 10 * 1024 ** 3, sensitive: false, message: "disk cannot shrink" }]);
  });

  it("leaves the userdata diff out of a saved plan, which still matches the fresh one", () => {
    const { p } = replaceOf(groupOf(), groupOf({ userdata: { source: "inline", encoding: "plain", content: USERDATA.replace("nginx", "caddy") } }));
    const text = serializePlan(p);
    expect(text).not.toContain("nginx");
    expect(text).toContain("userdata changed (sensitive, 2 lines changed)");
    const saved = readSavedPlan(text, "p.json", { strict: false });
    expect(saved.plan.changes.find((c) => c.kind === "replace")!.forcedBy![0]!.diff).toBeUndefined();
    expect(() => checkSameAsFresh(saved.plan, p)).not.toThrow();
  });
});

describe("the state's replaceSpecs", () => {
  it("holds one entry per group spec in use, and loads and validates as format 1", () => {
    const a = groupOf();
    const b = groupOf({ storage: "ceph" });
    const m1 = member(1, { record: { replaceHash: a.replaceHash } });
    const m2 = member(2, { record: { replaceHash: "sha256:gone" } });
    const before = { ...state([m1.record, m2.record]), lineage: "0b6c1f4e-2a1d-4c3b-9e8f-7a6b5c4d3e2f", replaceSpecs: { [a.replaceHash]: replaceSpecOf(a.spec), "sha256:unused": replaceSpecOf(b.spec) } };
    const doc = withReplaceSpecs(before, desired([b]));
    expect(Object.keys(doc.replaceSpecs!).sort()).toEqual([a.replaceHash, b.replaceHash].sort());
    expect(stateDocIssue(doc)).toBeUndefined();
    expect(parseStateDoc(JSON.stringify(doc), "s.json").replaceSpecs).toEqual(doc.replaceSpecs);
    const { replaceSpecs: _none, ...old } = doc;
    expect(parseStateDoc(JSON.stringify(old), "s.json").replaceSpecs).toBeUndefined();
  });
});
