/**
 * The README and the package: self-contained (no path into the project's private notes anywhere
 * in the repository), every relative link resolves and ships in `npm pack`, a LICENSE with the
 * Apache 2.0 text, the facts a user needs to install and to create the API token — and "Try it"
 * does what its comments say, drift included, against the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { ALL_PRIVILEGES } from "../../src/providers/proxmox/permissions.js";
import { cli, workspace, type Sim, type Workspace } from "../cli/helpers.js";
import { EXAMPLES, ROOT, runBash, runProgram } from "./helpers.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The fenced code blocks of a markdown text, in order. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README has no section "${title}"`).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 4);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe("the repository is self-contained", () => {
  it("refers to no file outside it (the project's private notes)", async () => {
    const listed = await runProgram("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"]);
    expect(listed.code).toBe(0);
    // Built from parts so that this file does not match itself.
    // The project's notes that are not vendored into docs/ are cited by name too (e.g. "… .md §7.2").
    const notes = ["anchors", "nstance", "deps", "proxmox-guide", "pve-fidelity", "ux-review", "test-audit", "adversarial-review", "review-provider-seam", "STYLE"];
    const outside = new RegExp([["\\.\\.", "shared"].join("/"), ["shared", "(reference|design|pve-api)"].join("/"), ["", "work", "shared"].join("/"),
      `(^|[^\\w-])(${notes.join("|")})\\.md\\b`].join("|"));
    const hits: string[] = [];
    const files = listed.stdout.split("\0").filter((f) => f && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) {
      if (statSync(join(ROOT, f)).size > 8 * 1024 * 1024) continue;
      readFileSync(join(ROOT, f), "utf8").split("\n").forEach((line, i) => {
        if (outside.test(line)) hits.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(hits).toEqual([]);
  });
});

describe("README.md and the package", () => {
  let packed: string[];
  beforeAll(async () => {
    const r = await runProgram("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"]);
    expect(r.code, r.stderr).toBe(0);
    packed = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  });

  it("opens with the two commands, demo first", () => {
    const first = codeBlocks(readme)[0]!.split("\n").filter(Boolean);
    expect(first[0]).toMatch(/^npm ci && npm run demo\s+#/);
    expect(first[1]).toMatch(/^npm test\s+#/);
  });

  it("links only to files that exist and that npm pack ships", () => {
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|mailto:|#)/.test(l)).map((l) => l.replace(/#.*$/, ""));
    expect(links.length).toBeGreaterThan(10);
    for (const link of new Set(links)) {
      expect(existsSync(join(ROOT, link)), `README links to ${link}, which does not exist`).toBe(true);
      const path = link.replace(/\/$/, "");
      expect(packed.some((p) => p === path || p.startsWith(`${path}/`)), `README links to ${link}, which npm pack does not ship`).toBe(true);
    }
  });

  it("ships the Apache 2.0 license the package declares", () => {
    const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).license).toBe("Apache-2.0");
    expect(license).toContain("Apache License");
    expect(license).toContain("Version 2.0, January 2004");
    expect(license).toContain("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION");
    expect(license).toContain("END OF TERMS AND CONDITIONS");
    expect(license.length).toBeGreaterThan(10_000);
    expect(packed).toContain("LICENSE");
  });

  it("says the name is not on the npm registry and how to install a pinned release", () => {
    const install = section("Install");
    expect(install).toMatch(/\*\*not published on the npm registry\*\*: `npm install -g pvefleet` fails/);
    expect(install).toMatch(/npm install -g https:\/\/github\.com\/<org>\/pvefleet\/releases\/download\/v\d+\.\d+\.\d+\/pvefleet-\d+\.\d+\.\d+\.tgz/);
    expect(install).toContain("Containerfile");
  });

  it("gives the pveum commands for the user, the role with every privilege pvefleet checks, and the token", () => {
    const real = section("Against a real cluster");
    const roleLine = real.split("\n").find((l) => l.includes("pveum role add PVEFleet"))!;
    const privs = /--privs "([^"]+)"/.exec(roleLine)![1]!.split(",");
    expect([...privs].sort()).toEqual([...ALL_PRIVILEGES].sort());
    for (const p of ALL_PRIVILEGES) expect(real).toContain(`\`${p}\``);
    expect(real).toContain("pveum user add pvefleet@pve");
    expect(real).toContain("pveum acl modify / --users pvefleet@pve --roles PVEFleet");
    expect(real).toContain("pveum user token add pvefleet@pve fleet --privsep 0");
    expect(real).toContain("PVEVMAdmin,PVEDatastoreAdmin,PVEAuditor,PVESDNUser");
    expect(real).toMatch(/privilege-separated token/);
  });

  it("documents the bpg provider's variables, graph and shell completion", () => {
    for (const s of ["PROXMOX_VE_ENDPOINT", "PROXMOX_VE_API_TOKEN", "PROXMOX_VE_INSECURE", "`graph [PLANFILE]`", "completion bash\\|zsh\\|fish", "source <(pvefleet completion bash)"]) {
      expect(readme).toContain(s);
    }
  });
});

describe("README 'Try it without a cluster', as written", () => {
  let sim: Sim;
  let ws: Workspace;
  const tryIt = section("Try it without a cluster");
  const [, walk, drift] = codeBlocks(tryIt);
  const quickstart = join(EXAMPLES, "quickstart.jsonc");
  /** The README's `pvefleet <cmd> -c examples/quickstart.jsonc   # comment` lines. */
  const lines = (block: string) => block.split("\n").map((l) => /^pvefleet\s+(.+?)\s+-c examples\/quickstart\.jsonc(?:\s*\|[^#]*)?\s*(?:#\s*(.*))?$/.exec(l)).filter((m) => m !== null)
    .map((m) => ({ args: m[1]!.split(/\s+/), comment: m[2] ?? "" }));

  beforeAll(async () => {
    sim = (await startSimulator({ port: 0, latency: "fast" })) as Sim;
    ws = await workspace(sim);
  });
  afterAll(async () => {
    await sim?.stop();
    if (ws) await rm(ws.dir, { recursive: true, force: true });
  });

  it("the walk-through's comments say what happens", async () => {
    const steps = lines(walk!);
    expect(steps.map((s) => s.args.join(" "))).toEqual(["validate", "plan", "apply", "drift", "state list"]);
    const validate = await cli(ws, ["validate", "-c", quickstart]);
    expect(`${steps[0]!.comment}\n`).toBe(`one line: ${validate.stdout.replace(`${quickstart}: `, "")}`);
    const plan = await cli(ws, ["plan", "-c", quickstart]);
    expect(plan.stdout).toContain("Plan: 2 to add, 0 to change, 0 to destroy.");
    expect(steps[1]!.comment).toContain("Plan: 2 to add");
    const apply = await cli(ws, ["apply", "-c", quickstart, "--auto-approve"], { CI: "true" });
    expect(apply.code, apply.stderr).toBe(0);
    const inSync = await cli(ws, ["drift", "-c", quickstart]);
    expect(inSync.code).toBe(0);
    expect(steps[3]!.comment).toMatch(/^no drift, exit 0/);
    const list = await cli(ws, ["state", "list", "-c", quickstart]);
    const placed = [...list.stdout.matchAll(/^web\S+\s+default\.web\s+(\d+)\s+(\S+)/gm)].map((m) => `${m[1]} on ${m[2]}`).sort();
    expect(placed).toHaveLength(2);
    expect(new Set(placed.map((p) => p.split(" on ")[1])).size).toBe(2); // "one VM on each of two nodes"
    expect(steps[4]!.comment).toContain(`e.g. ${placed.join(", ")}`);
  });

  it("the curl lines make drift that drift reports, plan repairs and apply fixes", async () => {
    const curl = drift!.split("\n").filter((l) => /^pve(\(\)| )/.test(l)).join("\n");
    expect(curl.split("\n")).toHaveLength(3);
    const made = await runBash(curl, ws.dir, ws.env);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout.match(/"data":"UPID:/g)).toHaveLength(2);
    const steps = lines(drift!);
    expect(steps.map((s) => s.args.join(" "))).toEqual(["drift", "plan", "apply", "graph"]);
    const found = await cli(ws, ["drift", "-c", quickstart]);
    expect(found.code).toBe(2);
    expect(found.stdout).toMatch(/cores: 1 → 4/);
    expect(found.stdout).toMatch(/stopped/);
    expect(steps[0]!.comment).toMatch(/^exit 2: cores 1 → 4 changed, and a VM stopped/);
    const plan = await cli(ws, ["plan", "-c", quickstart]);
    expect(plan.stdout).toMatch(/cores: 4 → 1/);
    expect(plan.stdout).toMatch(/will be started/);
    const apply = await cli(ws, ["apply", "-c", quickstart, "--auto-approve"], { CI: "true" });
    expect(apply.code, apply.stderr).toBe(0);
    const after = await cli(ws, ["drift", "-c", quickstart]);
    expect(after.code, after.stdout).toBe(0);
    const graph = await cli(ws, ["graph", "-c", quickstart]);
    expect(graph.code, graph.stderr).toBe(0);
    expect(graph.stdout).toMatch(/^(strict )?digraph\b/m);
  });
});
