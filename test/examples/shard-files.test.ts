/**
 * The example shard files: each says whether it runs on `pvefleet sim` (and with which topology),
 * every shard of every file validates with the real CLI, and those marked for the simulator plan,
 * apply and converge there over HTTPS — so "runs on sim" is a checked claim, not a comment.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { readTopologyFile } from "../../src/sim/topology.js";
import { listShardIds } from "../../src/config/index.js";
import { cli, workspace, type Sim, type Workspace } from "../cli/helpers.js";
import { EXAMPLES, ROOT, exampleShardFiles, runProgram, simStatement } from "./helpers.js";

const files = exampleShardFiles();
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function simFor(topology: string | undefined): Promise<{ sim: Sim; ws: Workspace }> {
  const sim = (await startSimulator({
    port: 0,
    latency: "instant",
    ...(topology ? { topology: JSON.parse(readFileSync(join(ROOT, topology), "utf8")) } : {}),
  })) as Sim;
  const ws = await workspace(sim);
  cleanup.push(async () => {
    const rejected = sim.stats().rejected;
    await sim.stop();
    await rm(ws.dir, { recursive: true, force: true });
    expect(rejected, "requests the simulator's schema check refused").toEqual([]);
  });
  return { sim, ws };
}

describe("example shard files", () => {
  it("are the ones the README lists", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(readme, `README.md does not mention examples/${f}`).toContain(f.replace(/\.hcl$/, ""));
  });

  it.each(files)("%s says whether it runs on pvefleet sim, and its topology exists", (file) => {
    const statement = simStatement(file);
    expect(statement, `${file}: the header must say "Runs on the simulator as is", "pvefleet sim --topology FILE" or "Does not run on the simulator"`).toBeDefined();
    if (statement?.runs && statement.topology) {
      expect(existsSync(join(ROOT, statement.topology)), statement.topology).toBe(true);
      // What `pvefleet sim --topology FILE` reads and checks.
      expect(readTopologyFile(join(ROOT, statement.topology)).nodes.length).toBeGreaterThan(0);
    }
  });

  it.each(files)("every shard of %s validates with the CLI", async (file) => {
    const path = join(EXAMPLES, file);
    const ids = await listShardIds(path);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const r = await runProgram(process.execPath, [join(ROOT, "bin", "pvefleet.js"), "validate", "-c", path, "--shard", id], { env: { PATH: process.env.PATH, NO_COLOR: "1" } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`valid — shard ${id} `);
    }
  });
});

describe("examples marked to run on the simulator", () => {
  const runnable = files.filter((f) => simStatement(f)?.runs);
  // The .hcl twins describe the same shards as their .jsonc files (test/config/examples.test.ts):
  // one file per pair is enough to prove the claim on the simulator.
  const distinct = runnable.filter((f) => !(f.endsWith(".hcl") && runnable.includes(f.replace(/\.hcl$/, ".jsonc"))));

  it("include every example that needs more than the default cluster, with its topology", () => {
    expect(distinct).toContain("multi-node.jsonc");
    expect(simStatement("multi-node.jsonc")).toEqual({ runs: true, topology: "examples/sim/multi-node.topology.json" });
    expect(distinct).toContain("quickstart.jsonc");
  });

  it.each(distinct)("%s plans, applies and converges on pvefleet sim", async (file) => {
    const statement = simStatement(file) as { runs: true; topology?: string };
    const { ws } = await simFor(statement.topology);
    const path = join(EXAMPLES, file);
    for (const id of await listShardIds(path)) {
      const args = ["-c", path, "--shard", id];
      const plan = await cli(ws, ["plan", ...args, "--detailed-exitcode"]);
      expect(plan.stderr).toBe("");
      expect(plan.code, plan.stdout).toBe(2);
      expect(plan.stdout).toMatch(/Plan: [1-9]\d* to add, 0 to change, 0 to destroy\./);
      const apply = await cli(ws, ["apply", ...args, "--auto-approve"], { CI: "true" });
      expect(apply.code, apply.stderr).toBe(0);
      expect(apply.stdout).toMatch(/Apply complete! Resources: [1-9]\d* added, 0 changed, 0 destroyed\./);
      const again = await cli(ws, ["plan", ...args, "--detailed-exitcode"]);
      expect(again.code, again.stdout).toBe(0);
      expect(again.stdout).toContain("No changes.");
    }
  });
});
