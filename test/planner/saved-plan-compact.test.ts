/**
 * The compact saved-plan format (format 3): a group's spec, userdata and vars are written once, not
 * once per VM; the plan read back is the plan written; an edited placeholder is refused. Sizes are
 * counted here (bytes), never timed (bench/saved-plan.ts prints the timings).
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/planner/plan.js";
import { checkSameAsFresh, parseSavedPlan, planDifferences, savedPlanHash, serializePlan } from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, group, idSource, live, node, planOptions } from "./fixtures.js";

const USERDATA = `#cloud-config\nhostname: {{ .Instance.ID }}\n${"runcmd: [echo, a line of a big cloud-config]\n".repeat(60)}`;
const SECRET = "s3cr3t-db-password";

function fleet(perGroup: number, ids = idSource()): Plan {
  const nodes = Array.from({ length: 8 }, (_, i) => node(`pve${i + 1}`, 4096, 8));
  const groups = ["web", "api"].map((name) => group(name, perGroup, {
    userdata: { source: "inline", encoding: "plain", content: USERDATA }, vars: { db_password: SECRET, motd: name },
  }));
  return plan(desired(groups), undefined, live([], nodes), planOptions({ ignoreCapacity: true, newInstanceId: ids }));
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe("compact saved plans", () => {
  it("writes each group's userdata and vars once, however many VMs it creates", () => {
    const small = fleet(20);
    const big = fleet(200);
    expect(big.changes).toHaveLength(400);
    const a = serializePlan(small);
    const b = serializePlan(big);
    // The userdata body (JSON-escaped in the file) and the secret appear at most once per group
    // (equal parts of two groups are written once), not once per VM.
    const escaped = JSON.stringify(USERDATA).slice(1, -1);
    expect(count(b, escaped)).toBeGreaterThanOrEqual(1);
    expect(count(b, escaped)).toBeLessThanOrEqual(2);
    // The vars: in the group's change and its upload step, the same count for 20 VMs as for 200.
    expect(count(b, SECRET)).toBe(count(a, SECRET));
    expect(count(b, SECRET)).toBeLessThanOrEqual(4);
    // Each further create costs its row and tuple — its ID, node, VMID and a few indices — not its
    // spec: 360 more creates add less than 130 bytes each. Embedding each VM's userdata (~2.8 KB)
    // or its spec and steps (~3 KB) again would blow this.
    expect((b.length - a.length) / 360).toBeLessThan(130);
    expect(parseSavedPlan(b)).toEqual(big);
  });

  it("reads back exactly what it wrote, key order included", () => {
    const p = fleet(30);
    const back = parseSavedPlan(serializePlan(p));
    expect(back).toEqual(p);
    expect(JSON.stringify(back)).toBe(JSON.stringify(p));
  });

  it("a plan read back matches the plan made again at apply time (new IDs), and not one that creates more", () => {
    const saved = parseSavedPlan(serializePlan(fleet(25)));
    const fresh = fleet(25, idSource(5000));
    expect(fresh.changes[0]!.instanceId).not.toBe(saved.changes[0]!.instanceId);
    expect(planDifferences(saved, fresh)).toEqual([]);
    expect(() => checkSameAsFresh(saved, fresh)).not.toThrow();
    expect(planDifferences(saved, fleet(26, idSource(5000)))).toContain("the file creates 25 new VMs of acme.web, pvefleet would now create 26");
  });

  it("stores an entry holding U+0000 as it is (nothing to confuse with a placeholder)", () => {
    const p = fleet(3);
    p.changes[0]!.reasons = ["odd \u0000i text \u0000n"];
    p.warnings = ["\u0000v"];
    const back = parseSavedPlan(serializePlan(p));
    expect(back).toEqual(p);
    expect(back.changes[0]!.reasons).toEqual(["odd \u0000i text \u0000n"]);
  });

  it("refuses a row whose placeholder was moved or whose template or tuple does not exist, even with the hash recomputed", () => {
    const p = fleet(3);
    const edit = (f: (body: Record<string, any>) => void): string => {
      const file = JSON.parse(serializePlan(p));
      f(file.plan);
      file.seal.hash = savedPlanHash(JSON.stringify(file.plan), file.seal.options);
      return JSON.stringify(file);
    };
    // A node placeholder where no node goes (the kind) would let one row's node fill an enum.
    expect(() => parseSavedPlan(edit((b) => { b.templates.changes[0].kind = "\u0000n"; }), "p.json")).toThrow(/^p\.json was edited: changes\.0 has a placeholder its row does not fill/);
    expect(() => parseSavedPlan(edit((b) => { b.changes.rows[0][1] = 999; }), "p.json")).toThrow(/^p\.json was edited: changes\.0 names no template/);
    expect(() => parseSavedPlan(edit((b) => { b.actions.rows[1][0] = 999; }), "p.json")).toThrow(/^p\.json was edited: actions\.1 names no instance/);
    expect(() => parseSavedPlan(edit((b) => { b.tuples[0][0] = "ops-db"; }), "p.json")).toThrow(/^p\.json is not a valid pvefleet plan: tuples\.0/);
    expect(() => parseSavedPlan(edit((b) => { b.scores.entries[0].push(0, 999); }), "p.json")).toThrow(/^p\.json is not a valid pvefleet plan: scores\.entries\.0: names no key or value/);
    // Another row's ID in a template is caught by the plan's own consistency (the id names its instance).
    expect(() => parseSavedPlan(edit((b) => { b.changes.rows[1][0] = b.changes.rows[0][0]; }), "p.json")).toThrow(/^p\.json was edited/);
  });
});
