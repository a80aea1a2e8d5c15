/**
 * The folder rules of docs/ARCHITECTURE.md, checked on the real import graph with
 * dependency-cruiser (TypeScript-aware, type-only imports included): the engine depends on the
 * provider contract (src/providers/types.ts), never on a provider's implementation, and the
 * planner's import closure reaches no HTTP client. Printing happens in src/cli only.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { cruise, type ICruiseResult, type IForbiddenRuleType } from "dependency-cruiser";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

const RULES: IForbiddenRuleType[] = [
  {
    name: "engine-imports-only-the-contract",
    comment: "planner, applier and state see a provider only through src/providers/types.ts",
    severity: "error",
    from: { path: "^src/(planner|applier|state)/" },
    to: { path: "^src/providers/(?!types\\.ts$)" },
  },
  {
    name: "planner-reaches-no-http",
    comment: "the planner is pure: no path from it to an HTTP client",
    severity: "error",
    from: { path: "^src/planner/" },
    to: { path: "node_modules/(undici|@aws-sdk|@google-cloud)/", reachable: true },
  },
  {
    name: "http-only-in-api",
    comment: "in the Proxmox provider only api/ speaks HTTP; codecs, placement and cloud-init are pure",
    severity: "error",
    from: { path: "^src/providers/proxmox/(?!api/)" },
    to: { path: "node_modules/undici/" },
  },
  {
    name: "contract-is-pure",
    comment: "the contract imports nothing of the engine's implementation",
    severity: "error",
    from: { path: "^src/providers/types\\.ts$" },
    to: { path: "^src/(planner|applier|state|cli|sim|providers/proxmox)/" },
  },
  {
    name: "provider-knows-no-engine",
    comment: "a provider implements the contract; it does not reach back into the engine",
    severity: "error",
    from: { path: "^src/providers/proxmox/" },
    to: { path: "^src/(planner|applier|cli)/" },
  },
  {
    name: "engine-below-cli",
    comment: "src/cli parses and prints; nothing below it (engine, areas) reaches back into it",
    severity: "error",
    from: { path: "^src/(engine|planner|applier|state|providers|config|sim)/" },
    to: { path: "^src/cli/" },
  },
  {
    name: "ink-only-in-cli",
    comment: "terminal rendering lives in src/cli",
    severity: "error",
    from: { path: "^src/(?!cli/)" },
    to: { path: "node_modules/(ink|ink-spinner|react)/" },
  },
];

let result: ICruiseResult;

beforeAll(async () => {
  const reporting = await cruise(["src"], {
    baseDir: ROOT,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: join(ROOT, "tsconfig.json") },
    doNotFollow: { path: "node_modules" },
    ruleSet: { forbidden: RULES },
    validate: true,
    outputType: "json",
  }, undefined, { tsConfig: JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")) });
  result = typeof reporting.output === "string" ? (JSON.parse(reporting.output) as ICruiseResult) : reporting.output;
}, 120_000);

describe("architecture", () => {
  it("cruised the whole source tree", () => {
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    expect(result.modules.some((m) => m.source === "src/planner/plan.ts")).toBe(true);
  });

  for (const rule of RULES) {
    it(`holds: ${rule.name} (${rule.comment})`, () => {
      const broken = result.summary.violations.filter((v) => v.rule.name === rule.name).map((v) => `${v.from} → ${v.to}`);
      expect(broken).toEqual([]);
    });
  }

  it("would notice a broken rule (the planner importing the Proxmox client is a violation)", async () => {
    const probe = await cruise(["src/providers/proxmox/refresh.ts"], {
      baseDir: ROOT,
      tsPreCompilationDeps: true,
      doNotFollow: { path: "node_modules" },
      ruleSet: { forbidden: [{ ...RULES[1]!, from: { path: "^src/providers/proxmox/refresh\\.ts$" } }] },
      validate: true,
      outputType: "json",
    });
    const out = typeof probe.output === "string" ? (JSON.parse(probe.output) as ICruiseResult) : probe.output;
    // (A node_modules reached through a symlink resolves to a longer path: match the package, not the prefix.)
    expect(out.summary.violations.map((v) => v.to).some((to) => /(^|\/)node_modules\/undici\//.test(to))).toBe(true);
  }, 60_000);

  it("prints only in src/cli: no console or stdout/stderr writes elsewhere", () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.tsx?$/.test(e.name)) {
          const rel = relative(ROOT, p);
          if (rel.startsWith("src/cli/")) continue;
          const text = readFileSync(p, "utf8");
          if (/\bconsole\.(log|info|warn|error)\(|process\.std(out|err)\.write\(/.test(text)) offenders.push(rel);
        }
      }
    };
    walk(join(ROOT, "src"));
    expect(offenders).toEqual([]);
  });
});
