/**
 * The CLI `plan` end to end (start-up, two listings, the plan-time preflight, the plan, text
 * rendering) for a fleet created from nothing, against `pvefleet sim --latency instant` with 64
 * nodes in its own process, so only pvefleet's own work shows (issue 15: ≤ 1.5 s for 10,000 new
 * instances). Prints the median wall time, the CLI's user+system CPU and peak RSS over `--runs`
 * runs per size; asserts nothing. Needs a build (`npx tsc -p .`).
 * Run: npx tsx bench/cli-plan.ts [--sizes 1,1000,10000] [--nodes 64] [--runs 5]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const sizes = arg("sizes", "1,1000,10000").split(",").map(Number);
const nodes = arg("nodes", "64");
const runs = Number(arg("runs", "5"));
const bin = join(import.meta.dirname, "..", "bin", "pvefleet.js");
if (!existsSync(join(import.meta.dirname, "..", "dist", "cli", "main.js"))) throw new Error("build first: npx tsc -p .");

const dir = await mkdtemp(join(tmpdir(), "pvefleet-cli-plan-"));
const port = 18000 + Math.floor(Math.random() * 2000);
const sim = spawn(process.execPath, [bin, "sim", "--latency", "instant", "--nodes", nodes, "--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
const banner = await new Promise<string>((resolve, reject) => {
  let out = "";
  sim.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    if (/PROXMOX_TOKEN_SECRET=\S+/.test(out) && /PROXMOX_CA_FILE=\S+/.test(out)) resolve(out);
  });
  sim.on("exit", (code) => reject(new Error(`simulator exited ${code}: ${out}`)));
});
const simEnv = Object.fromEntries([...banner.matchAll(/(PROXMOX_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, "$1")]));

function shard(size: number): string {
  return JSON.stringify({
    cluster: { id: "bench" },
    shard: { id: "dev", infra: { provider: "proxmox", region: "r", zone: "z", options: { cloud_init_iso_storage: "local", memory_headroom: 4, cpu_overcommit: 64 } } },
    templates: { web: { kind: "web", arch: "amd64", args: { TemplateName: "debian-13-template", StoragePool: "local-lvm", Bridge: "vmbr0", Cores: 1, Memory: 64 } } },
    groups: { acme: { web: { template: "web", size } } },
  });
}

console.log(`CLI plan, instant simulator with ${nodes} nodes, ${runs} runs per size, load ${loadavg()[0]!.toFixed(1)}`);
console.log("| new instances | median wall | CLI user+sys CPU | peak RSS |");
console.log("|---|---|---|---|");
for (const size of sizes) {
  const config = join(dir, `shard-${size}.jsonc`);
  await writeFile(config, shard(size));
  const env = { PATH: process.env.PATH, NO_COLOR: "1", ...simEnv, PVEFLEET_CONFIG: config, PVEFLEET_STATE_DIR: join(dir, "state") };
  const samples: { wall: number; cpu: number; rss: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync("/usr/bin/time", ["-f", "%U %S %M", process.execPath, bin, "plan"], { env, encoding: "utf8", maxBuffer: 1 << 30 });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 && r.status !== 2) throw new Error(`plan exited ${r.status}: ${r.stderr.slice(-2000)}`);
    const [user, sys, rssKb] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
    samples.push({ wall, cpu: user! + sys!, rss: rssKb! / 1024 });
  }
  samples.sort((a, b) => a.wall - b.wall);
  const m = samples[Math.floor(samples.length / 2)]!;
  console.log(`| ${size.toLocaleString("en")} | ${m.wall.toFixed(2)} s (min ${samples[0]!.wall.toFixed(2)} s) | ${m.cpu.toFixed(2)} s | ${m.rss.toFixed(0)} MB |`);
}
sim.kill();
await rm(dir, { recursive: true, force: true });
