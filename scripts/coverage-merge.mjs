// Merges the in-process coverage (vitest, coverage/in-process/coverage-final.json) with the raw V8
// coverage of the processes the tests spawned (coverage/v8-raw, NODE_V8_COVERAGE), remapped to
// src/ through dist/'s source maps by c8, and prints branch/line/function coverage per src folder.
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

// 3. Merge and report.
const map = libCoverage.createCoverageMap({});
const inProcess = path.join(cov, "in-process", "coverage-final.json");
if (existsSync(inProcess)) map.merge(JSON.parse(readFileSync(inProcess, "utf8")));
else console.log("no in-process coverage (coverage/in-process/coverage-final.json is missing)");
const children = path.join(childReport, "coverage-final.json");
if (existsSync(children)) {
  const c = JSON.parse(readFileSync(children, "utf8"));
  for (const k of Object.keys(c)) if (!k.startsWith(path.join(root, "src") + path.sep)) delete c[k];
  map.merge(c);
}
writeFileSync(path.join(cov, "coverage-final.json"), JSON.stringify(map.toJSON()));
const context = libReport.createContext({ dir: cov, coverageMap: map, defaultSummarizer: "nested" });
reports.create("html", {}).execute(context);

const byFolder = new Map();
for (const file of map.files()) {
  const rel = path.relative(path.join(root, "src"), file);
  const folder = rel.includes(path.sep) ? rel.split(path.sep).slice(0, rel.startsWith("providers") ? 2 : 1).join("/") : "(top)";
  const s = byFolder.get(folder) ?? libCoverage.createCoverageSummary();
  s.merge(map.fileCoverageFor(file).toSummary());
  byFolder.set(folder, s);
}
const total = libCoverage.createCoverageSummary();
const pct = (m) => `${m.pct.toFixed(1).padStart(5)} % (${m.covered}/${m.total})`;
console.log(`\n${"folder".padEnd(20)} ${"branches".padEnd(22)} ${"lines".padEnd(22)} functions`);
for (const [folder, s] of [...byFolder].sort()) {
  total.merge(s);
  console.log(`src/${folder.padEnd(16)} ${pct(s.branches).padEnd(22)} ${pct(s.lines).padEnd(22)} ${pct(s.functions)}`);
}
console.log(`${"total".padEnd(20)} ${pct(total.branches).padEnd(22)} ${pct(total.lines).padEnd(22)} ${pct(total.functions)}`);
console.log(`\nHTML report: ${path.relative(process.cwd(), path.join(cov, "index.html"))}`);
