#!/usr/bin/env node
// Per-file mutation scores from StrykerJS JSON reports (default: every reports/mutation/*/mutation.json):
// killed + timeout over killed + timeout + survived + no coverage, as Stryker counts it; ignored,
// compile-error and runtime-error mutants are left out. With --survivors, lists each survivor as
// `file:line  mutator  original → replacement`.
//   node scripts/mutation-score.mjs [--survivors] [report.json …]
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const survivors = args.includes("--survivors");
let reports = args.filter((a) => !a.startsWith("--"));
if (reports.length === 0) {
  const root = "reports/mutation";
  reports = existsSync(root)
    ? readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name, "mutation.json")).filter((f) => existsSync(f))
    : [];
}
if (reports.length === 0) {
  console.error("no reports: run `npm run mutation -- <area>` first (areas: the stryker/*.config.mjs files)");
  process.exit(1);
}
const rows = [];
for (const report of reports) {
  const { files } = JSON.parse(readFileSync(report, "utf8"));
  for (const [file, { mutants, source }] of Object.entries(files)) {
    const count = (s) => mutants.filter((m) => m.status === s).length;
    const killed = count("Killed") + count("Timeout");
    const survived = count("Survived");
    const noCoverage = count("NoCoverage");
    const valid = killed + survived + noCoverage;
    rows.push({ file, killed, survived, noCoverage, valid, score: valid ? (100 * killed) / valid : 100 });
    if (survivors) {
      const lines = source.split("\n");
      for (const m of mutants.filter((x) => x.status === "Survived" || x.status === "NoCoverage")) {
        const { start, end } = m.location;
        const original = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : `${lines[start.line - 1].slice(start.column - 1)}…`;
        console.log(`${file}:${start.line}  ${m.status === "NoCoverage" ? "no coverage" : "survived"}  ${m.mutatorName}  ${original.trim().slice(0, 60)} → ${String(m.replacement ?? "").trim().slice(0, 60)}`);
      }
    }
  }
}
rows.sort((a, b) => a.file.localeCompare(b.file));
console.log("| module | score | killed (incl. timeouts) | survived | no coverage |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.file} | ${r.score.toFixed(1)} % | ${r.killed} | ${r.survived} | ${r.noCoverage} |`);
const total = rows.reduce((t, r) => ({ killed: t.killed + r.killed, valid: t.valid + r.valid }), { killed: 0, valid: 0 });
console.log(`| all | ${total.valid ? ((100 * total.killed) / total.valid).toFixed(1) : "100.0"} % | ${total.killed} of ${total.valid} | | |`);
