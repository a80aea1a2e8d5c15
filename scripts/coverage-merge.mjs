// Combines the in-process coverage (vitest, coverage/in-process/coverage-final.json) with the raw V8
// coverage of the processes the tests spawned (coverage/v8-raw, NODE_V8_COVERAGE), remapped to
// src/ through dist/'s source maps by c8, and prints coverage per src folder (see step 3).
// Run by scripts/coverage.sh.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import libCoverage from "istanbul-lib-coverage";
import libReport from "istanbul-lib-report";
import reports from "istanbul-reports";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cov = path.join(root, "coverage");
const rawDir = path.join(cov, "v8-raw");
const childDir = path.join(cov, "v8-children");
const ours = [pathToFileURL(path.join(root, "dist")).href + "/", pathToFileURL(path.join(root, "src")).href + "/"];

// 1. Keep the spawned processes' own code: drop vitest's processes (their src/ entries are
//    vite-transformed code the in-process report already covers) and everything outside dist/, src/.
mkdirSync(childDir, { recursive: true });
let kept = 0;
let dropped = 0;
for (const f of existsSync(rawDir) ? readdirSync(rawDir) : []) {
  const raw = JSON.parse(readFileSync(path.join(rawDir, f), "utf8"));
  const urls = raw.result.map((r) => r.url);
  if (urls.some((u) => /\/node_modules\/(vitest|@vitest|tinypool|vite)\//.test(u))) { dropped++; continue; }
  const cache = raw["source-map-cache"] ?? {};
  // A .ts file run by tsx is only usable with the source map tsx produced; dist/ files have theirs on disk.
  raw.result = raw.result.filter((r) => ours.some((p) => r.url.startsWith(p)) && (r.url.startsWith(ours[0]) || cache[r.url]));
  if (raw.result.length === 0) continue;
  writeFileSync(path.join(childDir, f), JSON.stringify(raw));
  kept++;
}
console.log(`child processes with coverage of src/: ${kept} (vitest's own processes dropped: ${dropped})`);

// 2. Remap the children's coverage to src/ (c8 applies dist/*.js.map and tsx's cached maps).
const childReport = path.join(cov, "children");
if (kept > 0) {
  execFileSync(process.execPath, [
    path.join(root, "node_modules", "c8", "bin", "c8.js"), "report",
    "--temp-directory", childDir, "--reports-dir", childReport, "--reporter", "json",
    "--src", root, "--include", "src/**", "--exclude-after-remap", "--exclude", "dist/**", "--allowExternal", "false",
  ], { cwd: root, stdio: "inherit" });
}

// 3. Report. vitest and c8 convert V8 ranges with different converters, so their branch maps for
//    one file do not line up: merging them would count each branch twice, once per converter.
//    Branches and functions are therefore vitest's (in-process); lines are the union by line number
//    of both (a line counts as run if the tests or any spawned process ran it).
const load = (file) => (existsSync(file) ? libCoverage.createCoverageMap(JSON.parse(readFileSync(file, "utf8"))) : undefined);
const inProcessMap = load(path.join(cov, "in-process", "coverage-final.json")) ?? libCoverage.createCoverageMap({});
const childMap = load(path.join(childReport, "coverage-final.json")) ?? libCoverage.createCoverageMap({});
if (inProcessMap.files().length === 0) console.log("no in-process coverage (coverage/in-process/coverage-final.json is missing)");
const srcDir = path.join(root, "src") + path.sep;
const files = [...new Set([...inProcessMap.files(), ...childMap.files()])].filter((f) => f.startsWith(srcDir));

const context = libReport.createContext({ dir: path.join(cov, "html"), coverageMap: inProcessMap, defaultSummarizer: "nested" });
reports.create("html", {}).execute(context);

const folderOf = (file) => {
  const rel = path.relative(path.join(root, "src"), file).split(path.sep);
  return rel.length === 1 ? "(top)" : rel.slice(0, rel[0] === "providers" && rel.length > 2 ? 2 : 1).join("/");
};
const rows = new Map();
const row = (folder) => {
  let r = rows.get(folder);
  if (!r) rows.set(folder, (r = { summary: libCoverage.createCoverageSummary(), lines: 0, linesRun: 0 }));
  return r;
};
const total = { summary: libCoverage.createCoverageSummary(), lines: 0, linesRun: 0 };
for (const file of files) {
  const r = row(folderOf(file));
  const a = inProcessMap.files().includes(file) ? inProcessMap.fileCoverageFor(file) : undefined;
  const b = childMap.files().includes(file) ? childMap.fileCoverageFor(file) : undefined;
  if (a) {
    r.summary.merge(a.toSummary());
    total.summary.merge(a.toSummary());
  }
  // Lines with code, as vitest counts them (c8 counts every source line); run by either side.
  const la = a ? a.getLineCoverage() : {};
  const lb = b ? b.getLineCoverage() : {};
  const codeLines = a ? Object.keys(la) : Object.keys(lb);
  for (const line of codeLines) {
    const run = (la[line] ?? 0) > 0 || (lb[line] ?? 0) > 0;
    r.lines++;
    total.lines++;
    if (run) {
      r.linesRun++;
      total.linesRun++;
    }
  }
}
const pct = (covered, all) => `${(all === 0 ? 100 : (100 * covered) / all).toFixed(1).padStart(5)} % (${covered}/${all})`;
console.log(`\n${"folder".padEnd(24)} ${"branches (in-process)".padEnd(24)} ${"functions (in-process)".padEnd(24)} lines (in-process + spawned)`);
for (const [folder, r] of [...rows].sort()) {
  const s = r.summary;
  console.log(`${`src/${folder}`.padEnd(24)} ${pct(s.branches.covered, s.branches.total).padEnd(24)} ${pct(s.functions.covered, s.functions.total).padEnd(24)} ${pct(r.linesRun, r.lines)}`);
}
const t = total.summary;
console.log(`${"total".padEnd(24)} ${pct(t.branches.covered, t.branches.total).padEnd(24)} ${pct(t.functions.covered, t.functions.total).padEnd(24)} ${pct(total.linesRun, total.lines)}`);
console.log(`\nHTML (in-process): ${path.relative(process.cwd(), path.join(cov, "html", "index.html"))}; spawned processes alone: ${path.relative(process.cwd(), childReport)}`);
