/**
 * The issue-15 table: `pvefleet apply` of 1,000 / 2,000 / 4,000 / 10,000 creates against the
 * instant simulator (64 nodes, parallelism 50): wall, the CLI's user CPU (and per VM), peak RSS,
 * the state document's size, state writes, bytes written to the store per created VM, and the
 * simulator's CPU. It runs `bench/apply.ts --scale` (one fresh simulator process per count).
 *
 *   npx tsc -p . && npx tsx bench/apply-scale.ts [--counts 1000,2000,4000,10000] [--nodes 64] [--parallelism 50] [--storage file|s3]
 *
 * `--storage s3` needs BENCH_S3_ENDPOINT (scripts/s3-test-server.sh starts Ceph RGW). Timings are
 * printed, never asserted. 10,000 creates take a minute or two on 2 cores.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const bench = path.join(import.meta.dirname, "apply.ts");
const run = spawnSync(process.execPath, ["--import", "tsx", bench,
  "--scale", arg("counts", "1000,2000,4000,10000"), "--nodes", arg("nodes", "64"), "--parallelism", arg("parallelism", "50"), "--storage", arg("storage", "file")], { stdio: "inherit" });
process.exit(run.status ?? 1);
