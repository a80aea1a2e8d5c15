/**
 * `plan --format markdown` at fleet scale: render time and size of the pull-request comment for
 * the 2,050-instance mixed plan and copies of it with 20,000 and 100,000 changes (creates, updates pending
 * until restart, deletes, replacements, deferred ones), a plan the planner made (19,500 instances, with its actions:
 * one shard holds at most 20,000) and 10,000 creates over 4 and 100 groups. Fixture data,
 * no network; figures only, nothing asserted. Run: npx tsx bench/markdown.ts
 */
import { planHash, renderPlanMarkdown } from "../src/cli/render/markdown.js";
import { creates, mixed2050, plannedMixed } from "../test/cli/markdown-fixtures.js";
import type { Plan } from "../src/planner/types.js";

/** The 2,050-instance mixed plan repeated until it has about `n` changes (IDs made unique). */
function mixed(n: number): Plan {
  const base = mixed2050();
  const copies = Math.max(1, Math.round(n / base.changes.length));
  const changes = [];
  const warnings: string[] = [];
  for (let k = 0; k < copies; k++) {
    const tag = String(k).padStart(3, "0");
    for (const c of base.changes) changes.push({ ...c, instanceId: `${c.instanceId.slice(0, 3)}${tag}${c.instanceId.slice(6)}` });
    for (const w of base.warnings) warnings.push(w.replace(/([a-z]{3})000(\d{23}:)/, `$1${tag}$2`));
  }
  return { ...base, changes, warnings, summary: { add: base.summary.add * copies, change: base.summary.change * copies, destroy: base.summary.destroy * copies } };
}

const cases: [string, () => Plan][] = [
  ["mixed, 2,050 instances", () => mixed2050()],
  ["mixed, 20k changes", () => mixed(20_000)],
  ["mixed, 100k changes", () => mixed(100_000)],
  ["planner, 19.5k instances", () => plannedMixed(4_500, 1_500)],
  ["10k creates, 4 groups", () => creates(10_000, 4)],
  ["10k creates, 100 groups", () => creates(10_000, 100)],
  ["100k creates, 4 groups", () => creates(100_000, 4)],
];

console.log("case                         changes   render ms  (plan_hash ms)   bytes    chars  heap MB");
console.log("(best of 3 runs; the machine's load average matters: see `uptime`)");
for (const [name, make] of cases) {
  const plan = make();
  let ms = Infinity;
  let hashMs = Infinity;
  let md = "";
  let heap = 0;
  for (let run = 0; run < 3; run++) {
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    md = renderPlanMarkdown(plan, { env: {} });
    ms = Math.min(ms, performance.now() - t0);
    heap = Math.max(heap, (process.memoryUsage().heapUsed - heap0) / 1048576);
    const t1 = performance.now();
    planHash(plan);
    hashMs = Math.min(hashMs, performance.now() - t1);
  }
  console.log(`${name.padEnd(27)} ${String(plan.changes.length).padStart(8)} ${ms.toFixed(0).padStart(10)} ${`(${hashMs.toFixed(0)})`.padStart(15)} ${String(Buffer.byteLength(md)).padStart(8)} ${String(md.length).padStart(8)} ${heap.toFixed(0).padStart(8)}`);
}
