/**
 * The PR comment's size budget, as properties that hold at every limit: the body fits, the summary
 * and the destroy/replace callouts stay, every change is a row or counted in its group's
 * "… and N more" line (or its group is counted as "without a section"), the counts table adds up,
 * and a cut is announced with the numbers actually left out. Destroys and replacements are never
 * hidden by quieter changes that come first in the plan.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMIT, renderPlanMarkdown } from "../../src/cli/render/markdown.js";
import type { ChangeKind, InstanceChange, Plan } from "../../src/planner/types.js";
import { groupName } from "../../src/cli/render/vocabulary.js";
import { warningCallouts } from "../../src/cli/render/markdown-warnings.js";
import { basePlan, live, mixedPlan } from "./fixtures.js";
import { creates, mixed2050 } from "./markdown-fixtures.js";

const ICONS: Record<string, ChangeKind> = { "➕": "create", "🔄": "update", "▶️": "start", "🗑️": "delete", "♻️": "replace", "📥": "adopt", "📤": "forget", "📝": "record" };
const WORDS: Record<string, ChangeKind> = {
  "to create": "create", "to update": "update", "to start": "start", "to replace": "replace", "to destroy": "delete", "to adopt": "adopt", "to forget": "forget", "to record": "record",
};
const bytes = (s: string) => Buffer.byteLength(s);
const int = (s: string) => Number(s.replace(/,/g, ""));

/** Each group's section (`### name` up to the next one), keyed by name. */
function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of md.split(/^### /m).slice(1)) out.set(p.slice(0, p.indexOf("\n")), p);
  return out;
}

/** What one section accounts for, by kind: its rows plus its "… and N more (…)" line. */
function accounted(section: string): { rows: Map<ChangeKind, number>; more: Map<ChangeKind, number>; moreTotal: number } {
  const rows = new Map<ChangeKind, number>();
  for (const m of section.matchAll(/^\| (\S+) \| `/gm)) {
    const kind = ICONS[m[1]!];
    expect(kind, m[0]).toBeDefined();
    rows.set(kind!, (rows.get(kind!) ?? 0) + 1);
  }
  const more = new Map<ChangeKind, number>();
  const line = /^_… and ([\d,]+) more in .+ \((.+)\)\._$/m.exec(section);
  for (const part of line ? line[2]!.split(", ") : []) {
    const m = /^([\d,]+) (to \w+)$/.exec(part)!;
    more.set(WORDS[m[2]!]!, int(m[1]!));
  }
  return { rows, more, moreTotal: line ? int(line[1]!) : 0 };
}

function countsByGroup(plan: Plan): Map<string, Map<ChangeKind, number>> {
  const out = new Map<string, Map<ChangeKind, number>>();
  for (const c of plan.changes) {
    const g = out.get(groupName(c)) ?? out.set(groupName(c), new Map()).get(groupName(c))!;
    g.set(c.kind, (g.get(c.kind) ?? 0) + 1);
  }
  return out;
}

/**
 * Checks every change is accounted for: a row, or in its group's "more" line, or its group counted
 * among those without a section; and that the closing note states the rows and sections left out.
 */
function expectEveryChangeAccountedFor(md: string, plan: Plan): { rowsShown: number; sectionsLeftOut: number } {
  const found = sections(md);
  let rowsShown = 0;
  let sectionsLeftOut = 0;
  for (const [name, counts] of countsByGroup(plan)) {
    const s = found.get(name);
    if (!s) {
      sectionsLeftOut++;
      continue;
    }
    const { rows, more, moreTotal } = accounted(s);
    for (const kind of new Set<ChangeKind>([...counts.keys(), ...rows.keys(), ...more.keys()])) {
      expect((rows.get(kind) ?? 0) + (more.get(kind) ?? 0), `${name} ${kind}`).toBe(counts.get(kind) ?? 0);
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const shown = [...rows.values()].reduce((a, b) => a + b, 0);
    expect(moreTotal, name).toBe(total - shown);
    rowsShown += shown;
  }
  if (rowsShown < plan.changes.length) {
    expect(md).toContain(`> ${rowsShown.toLocaleString("en-US")} of ${plan.changes.length.toLocaleString("en-US")} changes shown as rows`);
    expect(md).toContain('"truncated":true');
  } else {
    expect(md).not.toContain("shown as rows");
  }
  if (sectionsLeftOut) expect(md).toMatch(new RegExp(`, ${sectionsLeftOut.toLocaleString("en-US")} groups? without a section[ ,]`));
  else expect(md).not.toContain("without a section");
  return { rowsShown, sectionsLeftOut };
}

/** The counts table as [label, numbers]; checks the group rows (and "… N more groups") add up to "all groups" and to the plan. */
function expectTableAddsUp(md: string, plan: Plan): void {
  const header = md.split("\n").find((l) => l.startsWith("| group |"))!;
  const titles = header.split(" | ").slice(1).map((t) => t.replace(/ \|$/, ""));
  const kindsOf: Record<string, ChangeKind[]> = { "➕ create": ["create"], "🔄 update": ["update", "start"], "♻️ replace": ["replace"], "🗑️ destroy": ["delete"], "📥 adopt": ["adopt"], "📤 forget": ["forget"], "📝 record": ["record"] };
  const table = md.slice(md.indexOf(header)).split("\n\n")[0]!.split("\n").slice(2).map((l) => l.split(" | "));
  const numbers = (r: string[]) => r.slice(1).map((c) => int(c.replace(/ \|$/, "")));
  const total = table.find((r) => r[0] === "| **all groups**");
  const parts = table.filter((r) => r[0] !== "| **all groups**");
  expect(parts.length).toBeGreaterThan(0);
  titles.forEach((t, i) => {
    const want = plan.changes.filter((c) => kindsOf[t]!.includes(c.kind)).length;
    expect(parts.reduce((s, r) => s + numbers(r)[i]!, 0), t).toBe(want);
    if (total) expect(numbers(total)[i], t).toBe(want);
  });
}

/** `n` deletes in one group, for appending to another plan. */
function deletes(n: number, group = { tenant: "zeta", group: "old" }): InstanceChange[] {
  return Array.from({ length: n }, (_, i) => ({
    instanceId: `old${String(i).padStart(26, "0")}`, group, kind: "delete" as const, reason: "delete_because_scale_down" as const, reasons: [`size ${n} > 0`], attributes: [],
    before: live({ vmid: 500 + i, name: `old${String(i).padStart(26, "0")}` }),
  }));
}

/** A replacement (destroy first) in its own group. */
function replacement(i: number, group = { tenant: "zeta", group: "rebuilt" }): InstanceChange {
  const iid = `rpl${String(i).padStart(26, "0")}`;
  return {
    instanceId: iid, group, kind: "replace", reason: "replace_because_cannot_update", replaceOrder: "delete-first", reasons: ["template changed"],
    attributes: [{ attribute: "template", before: "debian-12", after: "debian-13", forcesReplacement: true }],
    before: live({ vmid: 700 + i, name: iid }), after: mixedPlan().changes[0]!.after, placement: { node: "pve1", vmid: 700 + i, scores: {} },
  };
}

/**
 * 600 creates over 200 groups, then a group destroying 7 VMs and one replacing 2: the loud groups
 * come last, and their sections (long names) are larger than the room a quieter section leaves.
 */
const OLD = { tenant: "zeta", group: `old-${"o".repeat(100)}` };
const REBUILT = { tenant: "zeta", group: `rebuilt-${"r".repeat(100)}` };
function loudLast(): Plan {
  const plan = creates(600, 200);
  plan.changes.push(...deletes(7, OLD), replacement(0, REBUILT), replacement(1, REBUILT));
  plan.summary = { add: 602, change: 0, destroy: 9 };
  return plan;
}

const LIMITS = [1_500, 3_000, 8_000, 20_000, DEFAULT_LIMIT];

describe("plan markdown budget", () => {
  it.each([
    ["the 2,050-instance mixed plan", mixed2050],
    ["200 groups of creates before a group of destroys and one of replacements", loudLast],
  ] as [string, () => Plan][])("accounts for every change at every limit, within the limit: %s", (_name, make) => {
    const plan = make();
    const destroyed = plan.changes.filter((c) => c.kind === "delete").length;
    const replaced = plan.changes.filter((c) => c.kind === "replace").length;
    for (const limit of LIMITS) {
      const md = renderPlanMarkdown(plan, { env: {}, limit });
      expect(bytes(md), `limit ${limit}`).toBeLessThanOrEqual(limit);
      expect(md).toContain(`**Plan: ${plan.summary.add} to add, ${plan.summary.change} to change, ${plan.summary.destroy} to destroy.**`);
      expect(md).toContain(`> [!CAUTION]\n> **This plan destroys ${destroyed} VMs**`);
      expect(md).toContain(`> [!WARNING]\n> **${replaced} VMs will be replaced**`);
      expectEveryChangeAccountedFor(md, plan);
      expectTableAddsUp(md, plan);
    }
  });

  it("holds at every limit from the callouts' size up to the whole body: nothing over, nothing unannounced, no empty details heading", () => {
    const plan = mixedPlan();
    const full = renderPlanMarkdown(plan, { env: {} });
    const callout = warningCallouts(plan.warnings, () => undefined)[0]!.join("\n");
    for (let limit = bytes(full) + 1; limit >= 1_200; limit -= 9) {
      const md = renderPlanMarkdown(plan, { env: {}, limit });
      const at = `limit ${limit}`;
      expect(bytes(md), at).toBeLessThanOrEqual(limit);
      expect(md, at).toContain("> [!CAUTION]\n> **This plan destroys 1 VM** (acme.batch 1)");
      expect(md, at).toContain("> [!WARNING]\n> **1 VM will be replaced** (acme.db 1)");
      const { rowsShown } = expectEveryChangeAccountedFor(md, plan);
      // Details: one per shown update, replacement or destroy, each shown or counted as left out.
      const details = (md.match(/^<details>/gm) ?? []).length;
      const detailsLeftOut = Number(/(\d+) instance details? left out/.exec(md)?.[1] ?? 0);
      expect(details + detailsLeftOut, at).toBe((md.match(/^\| (🔄|♻️|🗑️) \|/gm) ?? []).length);
      expect(md.includes("#### Changes by instance"), at).toBe(details > 0);
      // The warning: shown whole, or counted as left out.
      expect(md.includes(callout), at).toBe(!md.includes("1 kind of warning left out"));
      const cut = rowsShown < 5 || detailsLeftOut > 0 || !md.includes(callout);
      expect(md.includes('"truncated":true'), at).toBe(cut);
      expect(md.includes("to fit GitHub's 65,536-character comment limit. The full plan:"), at).toBe(cut);
      if (limit > bytes(full)) expect(md).toBe(full);
    }
  });

  it("gives the groups that destroy or replace VMs their sections and rows before quieter groups earlier in the plan", () => {
    const plan = loudLast();
    const md = renderPlanMarkdown(plan, { env: {} });
    const found = sections(md);
    const { sectionsLeftOut } = expectEveryChangeAccountedFor(md, plan);
    expect(sectionsLeftOut).toBeGreaterThan(0);
    // Room for one row per section only: the rest is counted in the "… and N more" line.
    expect(accounted(found.get(groupName({ group: OLD }))!)).toEqual({ rows: new Map([["delete", 1]]), more: new Map([["delete", 6]]), moreTotal: 6 });
    expect(accounted(found.get(groupName({ group: REBUILT }))!)).toEqual({ rows: new Map([["replace", 1]]), more: new Map([["replace", 1]]), moreTotal: 1 });
    // Sections still follow the plan's order.
    const names = [...found.keys()];
    expect(names.slice(-2)).toEqual([groupName({ group: OLD }), groupName({ group: REBUILT })]);
    expect(names[0]).toBe("tenant.g0");
  });

  it("keeps everything when the limit holds the whole body, and cuts and says so one byte under it", () => {
    const full = renderPlanMarkdown(mixedPlan(), { env: {} });
    expect(full).toContain('"truncated":false');
    expect(full).not.toContain("left out");
    // A body is counted with a final newline (what a CI wrapper appends): it needs its size plus one.
    expect(renderPlanMarkdown(mixedPlan(), { env: {}, limit: bytes(full) + 1 })).toBe(full);
    const cut = renderPlanMarkdown(mixedPlan(), { env: {}, limit: bytes(full) - 1 });
    expect(bytes(cut)).toBeLessThan(bytes(full));
    expect(cut).toContain('"truncated":true');
    expect(cut).toContain("left out to fit GitHub's 65,536-character comment limit. The full plan: save it with `pvefleet plan --out PLANFILE`");
  });

  it("keeps the forced parts and the closing note when they come to exactly the limit; one byte less leaves only markers and summary", () => {
    const forced = renderPlanMarkdown(mixedPlan(), { env: {}, limit: 1_050 });
    expect(forced).toContain("**This plan destroys 1 VM**");
    expect(forced).not.toContain("### ");
    expect(renderPlanMarkdown(mixedPlan(), { env: {}, limit: bytes(forced) })).toBe(forced);
    expect(renderPlanMarkdown(mixedPlan(), { env: {}, limit: bytes(forced) - 1 }).split("\n").slice(3)).toEqual(["## pvefleet plan for `my-cluster/dev`", "", "**Plan: 2 to add, 2 to change, 2 to destroy.**", ""]);
  });

  it("fills the room: what is left under the limit is less than one more section or row (plus the closing note's slack)", () => {
    const withBig = (plan: Plan) => {
      plan.changes.push(...creates(400, 1).changes.map((c, i) => ({ ...c, group: { tenant: "big", group: "one" }, instanceId: `big${String(i).padStart(26, "0")}` })));
      return plan;
    };
    // One change per group (sections only), small groups that complete before a big one takes the rest, and groups that never complete.
    for (const [plan, limit] of [[withBig(creates(300, 300)), DEFAULT_LIMIT], [withBig(creates(100, 50)), 30_000], [creates(600, 200), DEFAULT_LIMIT]] as const) {
      const md = renderPlanMarkdown(plan, { env: {}, limit });
      expect(md).toContain("to fit GitHub's 65,536-character comment limit");
      expect(limit - bytes(md)).toBeLessThan(400);
    }
  });

  it("keeps room in the closing note for a long PVEFLEET_PLAN_URL", () => {
    const url = `https://ci.example.com/${"p".repeat(385)}`;
    const plan = creates(300, 300);
    const md = renderPlanMarkdown(plan, { env: { PVEFLEET_PLAN_URL: url } });
    expect(bytes(md)).toBeLessThanOrEqual(DEFAULT_LIMIT);
    expectEveryChangeAccountedFor(md, plan);
    expect(md.endsWith(`The full plan: [link](${url}).\n`)).toBe(true);
  });

  it("says a warning was left out when it is the only thing cut", () => {
    const plan = basePlan({ changes: [mixedPlan().changes[0]!], summary: { add: 1, change: 0, destroy: 0 }, warnings: ["a", "b", "c"].map((x) => `${x.repeat(200)} something odd`) });
    const full = renderPlanMarkdown(plan, { env: {} });
    let seen = 0;
    for (let limit = bytes(full); limit > 1_000; limit -= 10) {
      const md = renderPlanMarkdown(plan, { env: {}, limit });
      if (md.includes("### acme.web") && md.includes("<!-- pvefleet") && !md.includes("other warnings")) {
        seen++;
        expect(md).toContain('"truncated":true');
        expect(md).toContain("> 1 kind of warning left out to fit GitHub's 65,536-character comment limit. The full plan:");
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it("under a limit too small for the callouts keeps the markers and the summary that counts the destroys, cut at a line end", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: {}, limit: 600 });
    expect(bytes(md)).toBeLessThanOrEqual(600);
    const lines = md.split("\n");
    expect(lines[0]).toBe("<!-- pvefleet:plan my-cluster/dev -->");
    expect(lines[1]).toMatch(/^<!-- pvefleet-plan \{.*"truncated":true\} -->$/);
    expect(lines.slice(2)).toEqual(["", "## pvefleet plan for `my-cluster/dev`", "", "**Plan: 401 to add, 400 to change, 351 to destroy.**", ""]);
    // Smaller still: whole lines only, never half a marker.
    const tiny = renderPlanMarkdown(mixed2050(), { env: {}, limit: 300 });
    expect(bytes(tiny)).toBeLessThanOrEqual(300);
    expect(tiny.split("\n").every((l) => l === "" || l.startsWith("<!-- ") && l.endsWith(" -->"))).toBe(true);
  });

  it("says a cut was for room when only whole sections were left out (one change per group, nothing refused on the way)", () => {
    const plan = creates(300, 300);
    const md = renderPlanMarkdown(plan, { env: {} });
    const { rowsShown, sectionsLeftOut } = expectEveryChangeAccountedFor(md, plan);
    expect(sectionsLeftOut).toBe(300 - rowsShown);
    expect(md).toContain(`> ${rowsShown} of 300 changes shown as rows, ${sectionsLeftOut} groups without a section, 200 groups summed in one row of the counts table to fit GitHub's 65,536-character comment limit.`);
  });

  it("says rows are a sample (not a cut for room) when only the 100-rows-per-group cap left rows out", () => {
    const plan = creates(250, 1);
    const md = renderPlanMarkdown(plan, { env: {} });
    const { rowsShown } = expectEveryChangeAccountedFor(md, plan);
    expect(rowsShown).toBe(100);
    expect(md).toContain("> 100 of 250 changes shown as rows (up to 100 rows per group). The full plan:");
    expect(md).toContain("_… and 150 more in tenant.g0 (150 to create)._");
  });

  it("lists at most 100 groups in the counts table and sums the rest in one row", () => {
    const plan = creates(202, 101);
    const md = renderPlanMarkdown(plan, { env: {}, limit: 10_000_000 });
    expect(md).toContain("| tenant.g99 | 2 | 0 | 0 | 0 |\n| … 1 more group | 2 | 0 | 0 | 0 |\n| **all groups** | 202 | 0 | 0 | 0 |\n");
    expect(md).not.toContain("| tenant.g100 |");
    expectTableAddsUp(md, plan);
    // Not a cut for room: every group still has its section and all its rows, and the note says what the cap did.
    expect(expectEveryChangeAccountedFor(md, plan)).toEqual({ rowsShown: 202, sectionsLeftOut: 0 });
    expect(md).toContain('"truncated":true');
    expect(md.endsWith("> [!NOTE]\n> 1 group summed in one row of the counts table (up to 100 groups listed). The full plan: save it with `pvefleet plan --out PLANFILE`, read it with `pvefleet show PLANFILE`.\n")).toBe(true);
    // Both caps at once: each named.
    const big = creates(202, 101);
    big.changes.push(...creates(150, 1).changes.map((c, i) => ({ ...c, instanceId: `big${String(i).padStart(26, "0")}` })));
    const both = renderPlanMarkdown(big, { env: {}, limit: 10_000_000 });
    expect(both).toContain("> 300 of 352 changes shown as rows, 1 group summed in one row of the counts table (up to 100 rows per group, up to 100 groups listed). The full plan:");
  });
});
