/**
 * Start-up time of the CLI: median wall time of `pvefleet --version` and of `pvefleet validate`
 * on the quickstart (JSONC and HCL) over 9 runs each. Needs a build (`npx tsc -p .`).
 * Run: npx tsx bench/startup.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const RUNS = 9;
const BIN = "bin/pvefleet.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(args: string[]): { medianMs: number; minMs: number } {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`pvefleet ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    samples.push(ms);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples) };
}

if (!existsSync("dist/cli/main.js")) throw new Error("build first: npx tsc -p .");
const baseline = (() => {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ["-e", "0"]);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(samples);
})();
console.log(`node -e 0 (baseline)                          median ${baseline.toFixed(0)} ms`);
for (const args of [["--version"], ["validate", "-c", "examples/quickstart.jsonc"], ["validate", "-c", "examples/quickstart.hcl"]]) {
  const { medianMs, minMs } = time(args);
  console.log(`pvefleet ${args.join(" ").padEnd(38)} median ${medianMs.toFixed(0)} ms (min ${minMs.toFixed(0)}) over ${RUNS} runs`);
}
