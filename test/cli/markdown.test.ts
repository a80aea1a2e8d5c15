import { describe, expect, it } from "vitest";
import { GITHUB_COMMENT_LIMIT, planHash, renderDriftMarkdown, renderPlanMarkdown } from "../../src/cli/render/markdown.js";
import { ciContext, provenanceLine } from "../../src/cli/render/markdown-ci.js";
import type { DriftFinding, Plan } from "../../src/planner/types.js";
import { basePlan, mixedPlan } from "./fixtures.js";
import { creates, mixed2050, plannedMixed } from "./markdown-fixtures.js";

const NO_CI = {};
const GITHUB = {
  GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "9876543210",
  GITHUB_RUN_NUMBER: "123", GITHUB_SHA: "abc1234def5678abc1234def5678abc1234def56",
};

/**
 * What GitHub needs to render the body as intended, checked line by line: every alert is
 * `> [!KIND]` with a known kind, after a blank line, its lines all quoted; fences and <details> are
 * closed (never nested); each table's rows have its header's number of cells; HTML comments close
 * on their line. Returns the problems found.
 */
function githubProblems(md: string): string[] {
  const problems: string[] = [];
  const lines = md.split("\n");
  let fence: string | undefined;
  let details = false;
  let tableCells: number | undefined;
  const cells = (l: string) => l.replace(/\\\|/g, "").replace(/`[^`]*`/g, "x").split("|").length - 2;
  lines.forEach((l, i) => {
    const at = `line ${i + 1}: ${l.slice(0, 80)}`;
    if (fence) {
      if (l.trim() === fence) fence = undefined;
      return;
    }
    const open = /^(`{3,}|~{3,})/.exec(l);
    if (open) {
      fence = open[1];
      return;
    }
    if (l.startsWith("<!--") && !l.endsWith("-->")) problems.push(`unclosed comment, ${at}`);
    if (l.includes("<details>")) {
      if (details) problems.push(`nested <details>, ${at}`);
      details = true;
    }
    if (l.includes("</details>")) {
      if (!details) problems.push(`</details> without <details>, ${at}`);
      details = false;
    }
    const alertKind = /^> \[!(\w+)\]$/.exec(l);
    if (l.startsWith("> [!")) {
      if (!alertKind || !["NOTE", "TIP", "IMPORTANT", "WARNING", "CAUTION"].includes(alertKind[1]!)) problems.push(`bad alert, ${at}`);
      if (i > 0 && lines[i - 1] !== "") problems.push(`alert not after a blank line, ${at}`);
      if (lines[i + 1] === undefined || !lines[i + 1]!.startsWith(">")) problems.push(`empty alert, ${at}`);
    }
    if (l.startsWith("|")) {
      if (tableCells === undefined) {
        tableCells = cells(l);
        if (!/^\|(:?-+:?\|)+$/.test(lines[i + 1] ?? "")) problems.push(`table header without delimiter row, ${at}`);
      } else if (cells(l) !== tableCells) problems.push(`row has ${cells(l)} cells, header ${tableCells}, ${at}`);
    } else tableCells = undefined;
  });
  if (fence) problems.push("unclosed code fence");
  if (details) problems.push("unclosed <details>");
  return problems;
}

const bytes = (s: string) => Buffer.byteLength(s);

function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^### /m).slice(1);
  for (const p of parts) out.set(p.slice(0, p.indexOf("\n")), p);
  return out;
}

const BIG: [string, () => Plan][] = [
  ["2,050-instance mixed plan", () => mixed2050()],
  ["mixed plan with 200-character group names", () => mixed2050(200)],
  ["2,000 creates over 4 groups", () => creates(2_000, 4)],
  ["10,000 creates over 4 groups", () => creates(10_000, 4)],
  ["10,000 creates over 100 groups", () => creates(10_000, 100)],
  ["10,000 creates over 100 groups with long names", () => creates(10_000, 100, 150)],
  ["3,000 creates over 1,000 groups", () => creates(3_000, 1_000)],
  ["the planner's plan: 2,400 instances, updates pending, replacements deferred, deletes, creates", () => plannedMixed(600, 200)],
];

describe("plan markdown at fleet scale", () => {
  it.each(BIG)("fits GitHub's limit as a whole, in bytes and characters, and renders cleanly: %s", (_name, make) => {
    const md = renderPlanMarkdown(make(), { env: GITHUB });
    // 1 KiB left for a CI job's own lines around the body.
    expect(bytes(md)).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT - 1_024);
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(githubProblems(md)).toEqual([]);
    expect(md.startsWith("<!-- pvefleet:plan my-cluster/dev -->\n") || md.startsWith("<!-- pvefleet:plan lab/dev -->\n")).toBe(true);
  });

  it("holds any limit, and every size from tiny to GitHub's keeps markers, summary and a clean structure", () => {
    for (const limit of [3_000, 5_000, 12_000, 30_000, 65_536]) {
      const md = renderPlanMarkdown(mixed2050(), { env: GITHUB, limit });
      expect(bytes(md)).toBeLessThanOrEqual(limit);
      expect(md).toContain("**Plan: 401 to add, 400 to change, 351 to destroy.**");
      expect(md).toContain('"truncated":true');
      expect(githubProblems(md)).toEqual([]);
    }
  });

  it("orders summary, commit/run line, counts, warnings, then rows", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: GITHUB });
    const at = (s: string) => {
      const i = md.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [at("**Plan: 401 to add"), at("Plan for `abc1234`"), at("| group | ➕ create"), at("pending until the VM restarts"), at("### acme.web")];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("aggregates warnings by kind: one callout each, with the count, a few examples and how many more", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: NO_CI });
    expect(md.match(/^> \[!/gm)!.length).toBeLessThanOrEqual(8);
    const callout = (needle: string) => {
      const blocks = md.split("\n\n").filter((b) => b.startsWith("> [!") && b.includes(needle));
      expect(blocks, needle).toHaveLength(1);
      return blocks[0]!;
    };
    const pending = callout("pending until the VM restarts");
    expect(pending).toMatch(/^> \[!WARNING\]\n> \*\*400 VMs: new cores\/memory pending until the VM restarts\*\* \(acme\.api 400\)/);
    expect(pending).toContain("400× cores 1 → 2 will be pending until the VM restarts (use --allow-restart)");
    expect(pending).toContain("`api00000000000000000000000000`, `api00000000000000000000000001`, `api00000000000000000000000002` … and 397 more");
    expect(callout("replacement deferred")).toContain("**299 replacements deferred** (initech.db 299)");
    expect(callout("Suspicious VMs")).toMatch(/^> \[!NOTE\]/);
    expect(callout("offline")).toContain("node pve7 is offline");
  });

  it("keeps a section per group at 10,000 creates: the spec once, sample rows and how many more", () => {
    for (const groups of [4, 100]) {
      const md = renderPlanMarkdown(creates(10_000, groups), { env: NO_CI });
      const found = sections(md);
      expect(found.size).toBe(groups);
      for (let g = 0; g < groups; g++) {
        const s = found.get(`tenant.g${g}`);
        expect(s, `tenant.g${g}`).toBeDefined();
        expect(s!.match(/^Spec: /gm)).toHaveLength(1);
        expect(s).toContain(`Spec: template \`debian-13-template\` · ${1 + (g % 8)} core${g % 8 ? "s" : ""} · 2 GiB memory · 32 GiB disk`);
        const rows = s!.match(/^\| ➕ \|/gm)!.length;
        expect(rows).toBeGreaterThanOrEqual(1);
        const more = /_… and ([\d,]+) more in tenant\.g\d+ \(([\d,]+) to create\)\._/.exec(s!);
        expect(more, `tenant.g${g}`).not.toBeNull();
        expect(rows + Number(more![1]!.replace(/,/g, ""))).toBe(10_000 / groups);
      }
      // Round-robin sampling: the groups show about as many rows each.
      const counts = [...found.values()].map((s) => s.match(/^\| ➕ \|/gm)!.length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  it("gives identical changes one <details> that says how many rows share it", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: NO_CI });
    const api = md.match(/<summary>🔄 <code>acme\.api\/[^<]+<\/code> will be updated in-place[^<]*<\/summary>/g)!;
    expect(api).toEqual(["<summary>🔄 <code>acme.api/api00000000000000000000000000</code> will be updated in-place (and 99 more rows above with the same change)</summary>"]);
    expect(md.match(/<summary>♻️ <code>initech\.db\//g)).toHaveLength(1);
  });

  it("says a group's rows are a sample when only the per-group cap left rows out", () => {
    const md = renderPlanMarkdown(creates(1_000, 4), { env: NO_CI });
    expect(bytes(md)).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(md).toContain("> 400 of 1,000 changes shown as rows (up to 100 rows per group). The full plan: save it with");
    expect(md).not.toContain("to fit GitHub's");
  });

  it("keeps markers, summary and the destroy callout even under a limit too small for anything else", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: GITHUB, limit: 600 });
    expect(bytes(md)).toBeLessThanOrEqual(600);
    expect(md.startsWith("<!-- pvefleet:plan my-cluster/dev -->\n")).toBe(true);
    expect(githubProblems(md)).toEqual([]);
    const roomy = renderPlanMarkdown(mixed2050(), { env: GITHUB, limit: 2_500 });
    expect(bytes(roomy)).toBeLessThanOrEqual(2_500);
    expect(roomy).toContain("**This plan destroys 51 VMs**");
  });

  it("says which groups got no section when there are too many for any section to fit", () => {
    const md = renderPlanMarkdown(creates(3_000, 1_000), { env: NO_CI });
    const shown = sections(md).size;
    expect(shown).toBeGreaterThan(50);
    expect(shown).toBeLessThan(1_000);
    expect(md).toContain(`${(1_000 - shown).toLocaleString("en-US")} groups without a section`);
    expect(md).toMatch(/\| … 900 more groups \| 2,700 \| 0 \| 0 \| 0 \|/);
  });

  it("samples the loud rows first: destroys before replacements before updates before creates", () => {
    const plan = mixed2050();
    for (const c of plan.changes) c.group = { tenant: "one", group: "group" };
    const md = renderPlanMarkdown(plan, { env: NO_CI });
    const icons = [...md.matchAll(/^\| (➕|🔄|♻️|🗑️) \|/gm)].map((m) => m[1]);
    expect(icons.slice(0, 51).every((i) => i === "🗑️")).toBe(true);
    expect(icons[51]).toBe("♻️");
    expect(icons).not.toContain("➕");
  });
});

describe("plan markdown severity", () => {
  it("makes destroying VMs the loud one and replacements a warning", () => {
    const md = renderPlanMarkdown(mixed2050(), { env: NO_CI });
    expect(md).toContain("> [!CAUTION]\n> **This plan destroys 51 VMs** (globex.batch 51), marked 🗑️ below.");
    expect(md).toContain("> [!WARNING]\n> **300 VMs will be replaced** (initech.db 300): each new VM is created and started before the old one is destroyed.");
    expect(md.match(/\[!CAUTION\]/g)).toHaveLength(1);
  });

  it("has no callout for creates and updates alone", () => {
    const md = renderPlanMarkdown(creates(50, 2), { env: NO_CI });
    expect(md).not.toMatch(/\[!(CAUTION|WARNING)\]/);
    const plan = mixedPlan();
    plan.changes = plan.changes.filter((c) => c.kind === "create" || c.kind === "update");
    plan.warnings = [];
    expect(renderPlanMarkdown(plan, { env: NO_CI })).not.toMatch(/\[!(CAUTION|WARNING)\]/);
  });
});

describe("plan markdown commit/run line", () => {
  it("names the commit, links the run and points to the run's artifacts on GitHub Actions", () => {
    const md = renderPlanMarkdown(mixedPlan(), { env: GITHUB });
    expect(md).toContain("Plan for `abc1234` · [run #123](https://github.com/acme/fleet/actions/runs/9876543210) · full plan: the job's artifacts on [run #123](https://github.com/acme/fleet/actions/runs/9876543210#artifacts)");
    expect(md).not.toContain("Run `pvefleet plan`");
  });

  it("links PVEFLEET_PLAN_URL when set, on GitHub or any other CI", () => {
    expect(renderPlanMarkdown(mixedPlan(), { env: { ...GITHUB, PVEFLEET_PLAN_URL: "https://ci.example.com/job/7/artifact/plan.txt" } }))
      .toContain("· full plan: [https://ci.example.com/job/7/artifact/plan.txt](https://ci.example.com/job/7/artifact/plan.txt)");
    expect(renderPlanMarkdown(mixedPlan(), { env: { PVEFLEET_PLAN_URL: "https://ci.example.com/p" } }))
      .toContain("\n\nFull plan: [https://ci.example.com/p](https://ci.example.com/p)\n");
  });

  it("without CI says how to read the full plan from the saved plan file", () => {
    expect(renderPlanMarkdown(mixedPlan(), { env: NO_CI })).toContain("\n\nFull plan: save it with `pvefleet plan --out PLANFILE`, read it with `pvefleet show PLANFILE`\n");
    expect(renderPlanMarkdown(mixedPlan(), { env: NO_CI, savedTo: "tfplan.json" })).toContain('Full plan: `pvefleet show "tfplan.json"` (add `--format json` for machines)');
    const truncated = renderPlanMarkdown(creates(5_000, 3), { env: NO_CI, savedTo: "tfplan.json" });
    expect(truncated).toMatch(/The full plan: `pvefleet show "tfplan.json"`/);
  });

  it("gives a plan without changes the commit and run only", () => {
    const md = renderPlanMarkdown(basePlan(), { env: GITHUB });
    expect(md).toContain("\n\nPlan for `abc1234` · [run #123](https://github.com/acme/fleet/actions/runs/9876543210)\n");
    expect(md).not.toContain("full plan");
    expect(renderPlanMarkdown(basePlan(), { env: NO_CI })).not.toMatch(/full plan|\nPlan for `/i);
  });

  it("ignores values that are not what the variable holds (no markup or foreign link in a comment)", () => {
    expect(ciContext({ GITHUB_SHA: "abc; rm -rf", PVEFLEET_PLAN_URL: "javascript:alert(1)", GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "a/b)](x", GITHUB_RUN_ID: "1" })).toEqual({});
    expect(ciContext({ PVEFLEET_PLAN_URL: "https://x.example/a b" })).toEqual({});
    expect(provenanceLine(ciContext({ GITHUB_SHA: "ABCDEF0123" }), "plan")).toMatch(/^Plan for `abcdef0` · full plan: save it/);
    expect(ciContext({ ...GITHUB, PVEFLEET_COMMIT_SHA: "feedface00" }).sha).toBe("feedface00");
    expect(ciContext({ ...GITHUB, PVEFLEET_COMMIT_SHA: "" }).sha).toBe(GITHUB.GITHUB_SHA);
  });
});

describe("plan markdown sensitivity", () => {
  it("never renders userdata or vars content, at any size", () => {
    const plan = mixed2050();
    const small = { ...plan, changes: plan.changes.filter((_, i) => i % 40 === 0) };
    for (const md of [renderPlanMarkdown(plan, { env: NO_CI }), renderPlanMarkdown(small, { env: NO_CI, limit: 10_000_000 })]) {
      for (const secret of ["hunter2", "old-secret", "new-secret", "s3cr3t", "a-secret", "b-secret", "password"]) expect(md).not.toContain(secret);
    }
    const md = renderPlanMarkdown(small, { env: NO_CI, limit: 10_000_000 });
    expect(md).toContain("! userdata: (sensitive value changed)   # forces replacement");
    expect(md).toContain("replace (create first): userdata (sensitive), vars (sensitive)");
    expect(md).toContain("userdata (sensitive) · vars (sensitive)");
  });

  it("names what forces a replacement (forcedBy), values of sensitive ones never", () => {
    const plan = mixedPlan();
    const replace = plan.changes.find((c) => c.kind === "replace")!;
    replace.forcedBy = [
      { attribute: "userdata", sensitive: true, linesChanged: 2, diff: ["+  - postgresql"], message: "userdata changed (sensitive, 2 lines changed)" },
      { attribute: "vars.TOKEN", sensitive: true, message: "vars.TOKEN changed (sensitive)" },
      { attribute: "template", before: "debian-12", after: "debian-13", sensitive: false, message: "template debian-12 → debian-13" },
    ];
    // As the planner makes them: one attribute per cause, placeholders for the sensitive ones.
    replace.attributes = [
      { attribute: "userdata", before: "(sensitive value)", after: "(sensitive value)", forcesReplacement: true, sensitive: true },
      { attribute: "template", before: "debian-12", after: "debian-13", forcesReplacement: true },
    ];
    const md = renderPlanMarkdown(plan, { env: NO_CI });
    expect(md).toContain("| replace (create first): forced by userdata (sensitive), vars.TOKEN (sensitive), template |");
    expect(md).toContain("! userdata: (sensitive value changed)   # forces replacement\n! template: \"debian-12\" → \"debian-13\"   # forces replacement\n# replacement forced by vars.TOKEN (sensitive)\n");
    expect(md).not.toContain("postgresql");
  });
});

describe("plan markdown hash", () => {
  it("is the sha256 of the plan's JSON, fed in pieces", async () => {
    const { createHash } = await import("node:crypto");
    // Small plans, and plans whose changes and actions are hashed in several slices.
    for (const plan of [mixedPlan(), basePlan(), plannedMixed(5, 3), plannedMixed(100, 200), creates(1_000, 3)]) {
      expect(plan.changes.length > 256 || plan.changes.length < 10).toBe(true);
      expect(planHash(plan)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(plan)).digest("hex")}`);
    }
  });
});

describe("drift markdown at fleet scale", () => {
  it("fits, keeps rows of every kind and never shows sensitive values", () => {
    const kinds: DriftFinding["kind"][] = ["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"];
    const findings: DriftFinding[] = [];
    for (let i = 0; i < 30_000; i++) {
      const kind = i < 25_000 ? "attribute" : kinds[i % kinds.length]!;
      findings.push({ fingerprint: `sha256:${String(i).padStart(32, "0")}`, kind, instanceId: `web${String(i).padStart(26, "0")}`, vmid: 10_000 + i, node: `pve${i % 9}`,
        ...(kind === "attribute" ? { attribute: i % 2 ? "userdata" : "notes", expected: i % 2 ? "secret-a" : "x".repeat(500), actual: i % 2 ? "secret-b" : "y" } : {}), message: "m" });
    }
    const md = renderDriftMarkdown({ clusterId: "c", shardId: "s", findings }, { env: GITHUB });
    expect(bytes(md)).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(githubProblems(md)).toEqual([]);
    expect(md.split("\n")[0]).toBe("<!-- pvefleet:drift c/s -->");
    expect(md).toContain("Drift check for `abc1234` · [run #123]");
    for (const k of kinds) expect(md).toMatch(new RegExp(`^\\| \`\\d+\` \\| ${k} \\|`, "m"));
    expect(md).not.toContain("secret-");
    expect(md).toMatch(/[\d,]+ findings left out/);
  });
});
