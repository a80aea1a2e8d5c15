/**
 * Renderer figures for big plans: time and size of the text, markdown and JSON renderings of a
 * 10,000-instance plan (fixture data, no network). Run: npx tsx bench/cli-render.ts
 */
import { renderPlanText } from "../src/cli/render/text.js";
import { renderPlanMarkdown } from "../src/cli/render/markdown.js";
import { renderPlanJson } from "../src/cli/render/json.js";
import { hugePlan } from "../test/cli/fixtures.js";

for (const n of [1_000, 10_000]) {
  const plan = hugePlan(n);
  for (const [name, render] of [["text", renderPlanText], ["markdown", renderPlanMarkdown], ["json", renderPlanJson]] as const) {
    render(plan); // warm-up
    const runs = 5;
    const t0 = performance.now();
    let chars = 0;
    for (let i = 0; i < runs; i++) chars = render(plan).length;
    const ms = (performance.now() - t0) / runs;
    console.log(`${String(n).padStart(6)} instances  ${name.padEnd(8)}  ${ms.toFixed(1).padStart(7)} ms  ${chars.toLocaleString("en-US").padStart(11)} chars`);
  }
}
