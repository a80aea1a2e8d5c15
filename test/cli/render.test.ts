import { describe, expect, it } from "vitest";
import { renderPlanText, renderDriftText } from "../../src/cli/render/text.js";
import { GITHUB_COMMENT_LIMIT, planHash, renderDriftMarkdown, renderPlanMarkdown } from "../../src/cli/render/markdown.js";
import { planToJson, driftToJson, renderPlanJson } from "../../src/cli/render/json.js";
import { stripAnsi } from "../../src/cli/render/ansi.js";
import { basePlan, hugePlan, mixedPlan } from "./fixtures.js";
import { plan } from "../../src/planner/plan.js";
import { desired, group, live, member, planOptions, state } from "../planner/fixtures.js";

describe("text plan", () => {
  it("renders every kind of change, the drift block and the capacity table like Terraform", async () => {
    await expect(renderPlanText(mixedPlan())).toMatchFileSnapshot("__snapshots__/mixed-plan.txt");
  });

  it("says there is nothing to do when the plan is empty", () => {
    expect(renderPlanText(basePlan())).toContain("No changes. The cluster matches the shard file.");
  });

  it("counts a replacement once in add and once in destroy", () => {
    // A plan the planner made: one member whose replace hash changed, next to one in sync.
    const [a, b] = [member(1), member(2)];
    const api = member(3, { record: { group: "api" } });
    const p = plan(desired([group("web", 2, {}, { replace: "sha256:r2" })], { maxSurge: 1 }), state([a.record, b.record]), live([a.vm, b.vm]), planOptions({ targets: [a.record.instanceId] }));
    expect(p.changes.map((c) => c.kind)).toEqual(["replace"]);
    expect(renderPlanText(p)).toContain("Plan: 1 to add, 0 to change, 1 to destroy.");
    // Two replacements and an update (cores) elsewhere: 2 to add, 1 to change, 2 to destroy.
    const both = plan(
      desired([group("web", 2, {}, { replace: "sha256:r2" }), group("api", 1, { cores: 4 })], { maxSurge: 2 }),
      state([a.record, b.record, api.record]), live([a.vm, b.vm, api.vm]), planOptions(),
    );
    expect(both.changes.map((c) => c.kind).sort()).toEqual(["replace", "replace", "update"]);
    expect(renderPlanText(both)).toContain("Plan: 2 to add, 1 to change, 2 to destroy.");
  });

  it("renders the fixture's reasons exactly as the planner words them", () => {
    // The snapshot fixture must not document output real plans never show (reversed comparisons).
    const ms = [1, 2, 3, 4].map((n) => member(n, { record: { group: n <= 2 ? "web" : "batch" } }));
    const p = plan(desired([group("web", 3), group("batch", 1)]), state(ms.map((m) => m.record)), live(ms.map((m) => m.vm)), planOptions());
    const reasonOf = (kind: string) => p.changes.find((c) => c.kind === kind)!.reasons;
    const fixture = mixedPlan().changes;
    expect(fixture.find((c) => c.kind === "create")!.reasons).toEqual(reasonOf("create"));
    expect(fixture.find((c) => c.kind === "delete")!.reasons).toEqual(reasonOf("delete"));
    const text = renderPlanText(mixedPlan());
    expect(text).toContain(`(because ${reasonOf("create")[0]})`);
    expect(text).toContain(`(because ${reasonOf("delete")[0]})`);
  });

  it("marks attributes that force a replacement and shows userdata as a unified diff", () => {
    const text = renderPlanText(mixedPlan());
    expect(text).toMatch(/~ userdata: # forces replacement\n\s+@@ -1,3 \+1,4 @@/);
    expect(text).toContain("+  - postgresql");
  });

  it("draws a replacement that waits for its successor as +/-", () => {
    expect(renderPlanText(mixedPlan())).toContain('+/- vm "dbs06dx9xy919t3v9kzd2xdsyzb3k" {');
  });

  it("colours only when asked, and stripping the colour gives the plain text", () => {
    const coloured = renderPlanText(mixedPlan(), { color: true });
    expect(coloured).toContain("\u001b[32m");
    expect(renderPlanText(mixedPlan(), { color: false })).not.toContain("\u001b[");
    expect(stripAnsi(coloured)).toBe(renderPlanText(mixedPlan(), { color: false }));
  });

  it("tells how to apply a saved plan", () => {
    expect(renderPlanText(mixedPlan(), { savedTo: "tfplan.json" })).toContain('pvefleet apply "tfplan.json"');
  });

  it("lists drift findings with their fingerprints", async () => {
    await expect(renderDriftText({ clusterId: "my-cluster", shardId: "dev", findings: mixedPlan().drift, managed: 3 }))
      .toMatchFileSnapshot("__snapshots__/drift.txt");
  });
});

describe("markdown plan", () => {
  // No CI variables: the output must not depend on where the tests run.
  const env = {};

  it("renders header, severity callouts, counts, warnings, group sections and details from the plan data", async () => {
    await expect(renderPlanMarkdown(mixedPlan(), { env })).toMatchFileSnapshot("__snapshots__/mixed-plan.md");
  });

  it("carries the plan hash and the state lineage and serial in a hidden comment", () => {
    const plan = mixedPlan();
    const md = renderPlanMarkdown(plan, { env });
    expect(md.startsWith("<!-- pvefleet:plan my-cluster/dev -->\n")).toBe(true);
    expect(md).toContain(`"plan_hash":"${planHash(plan)}","lineage":"5d1c1e4e-7a39-4d0e-9a55-3f8e2f0c9b11","serial":7`);
  });

  it("has no destroy or replace callout when nothing is destroyed", () => {
    const plan = mixedPlan();
    plan.changes = plan.changes.filter((c) => c.kind !== "delete" && c.kind !== "replace");
    const md = renderPlanMarkdown(plan, { env });
    expect(md).not.toContain("[!CAUTION]");
    expect(md).not.toContain("will be replaced");
  });

  it("fits a 10,000-instance plan in GitHub's limit and keeps the header and summary", () => {
    const md = renderPlanMarkdown(hugePlan(10_000), { env });
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(md).toContain("## pvefleet plan for `my-cluster/dev`");
    expect(md).toContain("**Plan: 9000 to add, 0 to change, 1000 to destroy.**");
    expect(md).toContain("> [!CAUTION]\n> **This plan destroys 1,000 VMs**");
    expect(md).toMatch(/> \d+ of 10,000 changes shown as rows( to fit GitHub's 65,536-character comment limit| \(up to 100 rows per group\))\. The full plan: /);
    expect(md).toContain('"truncated":true');
    for (let g = 0; g < 7; g++) expect(md).toContain(`### acme.g${g}\n`);
  });

  it("keeps every row and drops details from the end first when only they overflow", () => {
    const full = renderPlanMarkdown(mixedPlan(), { env });
    const details = (md: string) => [...md.matchAll(/<summary>.*?<code>(.*?)<\/code>/g)].map((m) => m[1]);
    expect(details(full)).toEqual(["acme.web/tst06dx9xy919t3v9kzd2xdsyzb3g", "acme.db/dbs06dx9xy919t3v9kzd2xdsyzb3k", "acme.batch/tst06dx9xy919t3v9kzd2xdsyzb3m"]);
    const limit = Buffer.byteLength(full) - 100;
    const md = renderPlanMarkdown(mixedPlan(), { env, limit });
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(limit);
    for (const id of ["tst06dxa00000000000000000001", "tst06dx9xy919t3v9kzd2xdsyzb3g", "tst06dx9xy919t3v9kzd2xdsyzb3h", "dbs06dx9xy919t3v9kzd2xdsyzb3k", "tst06dx9xy919t3v9kzd2xdsyzb3m"]) {
      expect(md).toMatch(new RegExp(`^\\| .+ \\| \`${id}\` \\|`, "m"));
    }
    const kept = details(md);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(3);
    expect(kept).toEqual(details(full).slice(0, kept.length));
    expect(md).toContain(`> ${3 - kept.length} instance detail${kept.length === 2 ? "" : "s"} left out to fit GitHub's 65,536-character comment limit.`);
  });

  it("renders a drift issue body keyed by a marker", () => {
    const md = renderDriftMarkdown({ clusterId: "my-cluster", shardId: "dev", findings: mixedPlan().drift }, { env });
    expect(md.split("\n")[0]).toBe("<!-- pvefleet:drift my-cluster/dev -->");
    expect(md).toContain("| `bbbb000000000000` | attribute | `tst06dx9xy919t3v9kzd2xdsyzb3g` | 10001 | pve1 | cores | 4 | 2 |");
  });
});

describe("JSON plan", () => {
  it("follows the documented schema", async () => {
    const json = planToJson(mixedPlan());
    json.pvefleet_version = "0.0.0-test";
    await expect(`${JSON.stringify(json, null, 2)}\n`).toMatchFileSnapshot("__snapshots__/mixed-plan.json");
  });

  it("uses Terraform's action pairs", () => {
    const rc = planToJson(mixedPlan()).resource_changes;
    expect(rc.map((r) => r.change.actions)).toEqual([["create"], ["update"], ["update"], ["create", "delete"], ["delete"]]);
    expect(rc[3]!.action_reason).toBe("replace_because_cannot_update");
    expect(rc[0]!.placement?.node).toBe("pve2");
  });

  it("is valid JSON with a format version", () => {
    const parsed = JSON.parse(renderPlanJson(basePlan())) as { format_version: string; applyable: boolean };
    expect(parsed.format_version).toBe("2.0");
    expect(parsed.applyable).toBe(false);
  });

  it("summarises drift with counts and fingerprints", () => {
    const j = driftToJson({ clusterId: "c", shardId: "s", findings: mixedPlan().drift });
    expect(j.in_sync).toBe(false);
    expect(j.summary).toMatchObject({ total: 3, attribute: 1, stopped: 1, unmanaged: 1, missing: 0 });
    expect(j.findings.map((f) => f.fingerprint)).toEqual(["sha256:aaaa000000000000000000000000", "sha256:bbbb000000000000000000000000", "sha256:cccc000000000000000000000000"]);
  });
});
