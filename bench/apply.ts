/**
 * Apply of N creates against the simulator on loopback: wall time against the ideal schedule under
 * the same limits, and API calls per created VM excluding task polls.
 *
 *   npx tsx bench/apply.ts [--profile fast|realistic] [--count 200] [--nodes 3] [--parallelism 10]
 *   npx tsx bench/apply.ts --scale 1000,2000,4000[,10000] [--nodes 64] [--parallelism 50] [--storage file|s3]
 *
 * `--scale` measures the engine's own cost at fleet scale, as an operator runs it: for each count a
 * fresh `pvefleet sim --latency instant` (its own process, so the simulated cluster costs the CLI
 * nothing) and one `pvefleet apply --auto-approve` of that many 1-core/64 MiB creates with file
 * state (or S3 with `--storage s3` and BENCH_S3_ENDPOINT), under /usr/bin/time: wall, the CLI's user
 * CPU, its peak RSS, the state document's size and the bytes written to the store per created VM. Build first
 * (`npx tsc -p .`): it runs bin/pvefleet.js. `BENCH_APPLY_NODE_OPTIONS` is given to the apply only
 * (e.g. `--max-old-space-size=256`, to tell live memory from garbage not yet collected).
 *
 * `realistic` for 200 creates runs ~6 minutes (measured 1.024× the ideal with 10.8 task polls per VM,
 * at load 12). The default profile is `fast` (the simulator's `realistic` task durations divided by 100, and the
 * provider's task-poll intervals divided by 100 to match): 200 realistic creates take minutes of
 * wall time on 2 cores. `--profile realistic` runs the real durations and default poll intervals.
 *
 * The ideal schedule: every task takes exactly the simulator's duration, nothing else costs time
 * (no HTTP, no polling, no state writes), and the same limits hold — `parallelism` actions at once,
 * `cloneConcurrencyPerStorage` clones per node-local storage, one disk allocation at a time per
 * storage (the simulator's `storageAllocMs` under the storage lock, which a clone spends before its
 * copy) — with clones started first (they are the bottleneck). It is computed by an event
 * simulation of the plan's own action graph.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { apply } from "../src/applier/index.js";
import { loadShardFile } from "../src/config/index.js";
import { plan, vmsNeedingDetails } from "../src/planner/index.js";
import type { Action, PlanOptions } from "../src/planner/types.js";
import { createProxmoxProvider, DEFAULT_TASK_TIMING } from "../src/providers/proxmox/index.js";
import { startSimulator } from "../src/sim/index.js";
import { timings } from "../src/sim/profiles.js";
import { openStateStore } from "../src/state/index.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const profile = arg("profile", "fast") as "fast" | "realistic";
const count = Number(arg("count", "200"));
const nodes = Number(arg("nodes", "3"));
const parallelism = Number(arg("parallelism", "10"));
const scale = profile === "fast" ? 100 : 1;

const TEMPLATE_DISK_GIB = 2; // the simulator's default template disk
const t = timings(profile);

/** Task durations the simulator charges (src/sim/api-*.ts), per action type. */
function durationMs(a: Action, isoBytes: number): number {
  switch (a.type) {
    case "clone": return t.taskBaseMs + t.cloneMsPerGiB * TEMPLATE_DISK_GIB; // after its allocation (idealMs)
    case "upload-iso": return t.taskBaseMs + isoBytes / t.uploadBytesPerMs;
    case "configure": return t.configMs;
    case "resize": return t.resizeMs;
    case "start": return t.startMs;
    default: return 0;
  }
}

/** Event simulation of the ideal schedule: same graph, same limits, zero overhead. */
function idealMs(actions: Action[], cloneLimit: number, isoBytes: number): number {
  const left = new Map(actions.map((a) => [a.id, a.dependsOn.length]));
  const dependents = new Map<string, Action[]>();
  for (const a of actions) for (const d of a.dependsOn) dependents.set(d, [...(dependents.get(d) ?? []), a]);
  const ready: Action[] = actions.filter((a) => a.dependsOn.length === 0);
  const running: { end: number; a: Action }[] = [];
  const clonesOn = new Map<string, number>();
  // A clone first allocates its disk under the storage's exclusive lock (the simulator's
  // storageAllocMs, FIFO), then copies without it (src/sim/api-qemu.ts, pve-storage Storage.pm).
  const allocFreeAt = new Map<string, number>();
  let now = 0;
  const keyOf = (a: Action) => `${a.node}/${a.type === "clone" ? a.params.storage : "local-lvm"}`;
  for (;;) {
    // Clones first (the bottleneck), then the rest in graph order.
    ready.sort((x, y) => Number(y.type === "clone") - Number(x.type === "clone"));
    for (let i = 0; i < ready.length && running.length < parallelism; ) {
      const a = ready[i]!;
      if (a.type === "clone" && (clonesOn.get(keyOf(a)) ?? 0) >= cloneLimit) {
        i++;
        continue;
      }
      ready.splice(i, 1);
      let start = now;
      if (a.type === "clone") {
        clonesOn.set(keyOf(a), (clonesOn.get(keyOf(a)) ?? 0) + 1);
        const allocStart = Math.max(now, allocFreeAt.get(keyOf(a)) ?? 0);
        allocFreeAt.set(keyOf(a), allocStart + t.storageAllocMs);
        start = allocStart + t.storageAllocMs;
      }
      running.push({ end: start + durationMs(a, isoBytes), a });
    }
    if (running.length === 0) return now;
    running.sort((x, y) => x.end - y.end);
    const { end, a } = running.shift()!;
    now = end;
    if (a.type === "clone") clonesOn.set(keyOf(a), clonesOn.get(keyOf(a))! - 1);
    for (const next of dependents.get(a.id) ?? []) {
      const n = left.get(next.id)! - 1;
      left.set(next.id, n);
      if (n === 0) ready.push(next);
    }
  }
}

if (process.argv.includes("--scale")) {
  const s3 = arg("storage", "file") === "s3";
  if (s3 && !process.env.BENCH_S3_ENDPOINT) throw new Error("--storage s3 needs BENCH_S3_ENDPOINT (e.g. scripts/s3-test-server.sh start /tmp/s3 7480 → http://127.0.0.1:7480)");
  await scaleBench(arg("scale", "1000,2000,4000").split(",").map(Number), Number(arg("nodes", "64")), Number(arg("parallelism", "50")), s3 ? s3Storage(process.env.BENCH_S3_ENDPOINT!) : fileStorage());
  process.exit(0);
}

const sim = await startSimulator({ port: 0, latency: profile, nodes, seed: 1 });
const dir = mkdtempSync(path.join(tmpdir(), "pvefleet-bench-apply-"));
try {
  const shardPath = path.join(dir, "shard.json");
  writeFileSync(shardPath, JSON.stringify({
    cluster: { id: "bench" },
    shard: { id: "apply", infra: { provider: "proxmox", region: "dev", zone: "deva", options: { cloud_init_iso_storage: "local" } }, subnet_pools: { default: ["vmbr0"] } },
    defaults: { args: { TemplateName: "debian-13-template", StoragePool: "local-lvm", Bridge: "vmbr0", Cores: 1, Memory: 256, DiskSize: "4G" } },
    templates: { web: { kind: "web", arch: "amd64", subnet_pool: "default", userdata: { content: "#cloud-config\nhostname: {{ .Instance.ID }}\n" } } },
    groups: { default: { web: { template: "web", size: count } } },
  }));
  const desired = await loadShardFile(shardPath);
  const store = await openStateStore({ storage: "file", stateDir: path.join(dir, "state"), clusterId: desired.clusterId, shardId: desired.shardId });
  const taskTiming = Object.fromEntries(Object.entries(DEFAULT_TASK_TIMING).map(([k, v]) => [k, { intervalMs: v.intervalMs / scale }]));
  const ops = createProxmoxProvider({
    clusterId: desired.clusterId, shardId: desired.shardId, ca: sim.caCertificate, taskTiming,
    env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
  });

  const t0 = performance.now();
  const live = await ops.refresh();
  const options: PlanOptions = { detailPolicy: "touched", hooks: ops.hooks };
  const want = vmsNeedingDetails(desired, undefined, live, options);
  const p = plan(desired, undefined, live, options, want.length ? await ops.details(want) : undefined);
  const planMs = performance.now() - t0;

  const before = { ...sim.stats().requests };
  const lock = await store.lock("apply");
  const t1 = performance.now();
  const result = await apply(p, { ops, store, desired, lock, parallelism });
  const applyMs = performance.now() - t1;
  await lock.release();
  const after = sim.stats().requests;

  let calls = 0;
  let polls = 0;
  for (const [endpoint, n] of Object.entries(after)) {
    const d = n - (before[endpoint] ?? 0);
    if (/\/tasks\/\{upid\}\//.test(endpoint)) polls += d;
    else calls += d;
  }
  const isoBytes = 60 * 1024; // a NoCloud ISO with a short user-data is ~50–60 KiB
  const cloneLimit = desired.provider.options.cloneConcurrencyPerStorage;
  const ideal = idealMs(p.actions, cloneLimit, isoBytes);
  const creates = p.changes.filter((c) => c.kind === "create").length;
  const perNode = new Map<string, number>();
  for (const a of p.actions) if (a.type === "clone") perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);

  const byEndpoint = Object.entries(after)
    .map(([e, n]) => [e, n - (before[e] ?? 0)] as const)
    .filter(([e, d]) => d > 0 && !/\/tasks\/\{upid\}\//.test(e))
    .sort((x, y) => y[1] - x[1]);
  console.log(`apply bench: ${creates} creates, profile ${profile}${scale > 1 ? ` (realistic ÷ ${scale}, task polls ÷ ${scale})` : ""}, ${nodes} nodes, parallelism ${parallelism}, ${cloneLimit} clones per storage`);
  console.log(`  placement (clones per node): ${[...perNode].map(([n, c]) => `${n} ${c}`).join(", ")}`);
  console.log(`  status: ${result.status} (${result.done.length} actions done, ${result.failed.length} failed)`);
  console.log(`  plan (refresh + plan): ${planMs.toFixed(0)} ms`);
  console.log(`  apply wall time:       ${(applyMs / 1000).toFixed(2)} s`);
  console.log(`  ideal schedule:        ${(ideal / 1000).toFixed(2)} s  (same graph and limits, zero overhead)`);
  console.log(`  ratio:                 ${(applyMs / ideal).toFixed(3)}× (goal ≤ 1.05×)`);
  console.log(`  API calls per created VM excluding task polls: ${(calls / creates).toFixed(2)} (goal ≤ 9); task polls per VM: ${(polls / creates).toFixed(2)}`);
  console.log(`  state writes: ${result.state.writes} carrying ${result.state.mutations} step records (${(result.state.mutations / Math.max(1, result.state.writes)).toFixed(2)} per write)`);
  console.log(`  calls by endpoint: ${byEndpoint.map(([e, d]) => `${e} ${d}`).join("; ")}`);
  await ops.close();
} finally {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** Node flags from an environment variable, given on the command line (`--cpu-prof` is refused in NODE_OPTIONS). */
function nodeArgs(value: string | undefined): string[] {
  return value?.split(" ").filter(Boolean) ?? [];
}

/** The state backend of a scale run: the file store in the run's directory, or a fresh bucket on an S3 endpoint. */
interface ScaleStorage {
  label: string;
  /** CLI flags and environment for one run in `dir`. */
  prepare(dir: string): Promise<{ args: string[]; env: Record<string, string>; read: () => Promise<{ size: number; doc: { serial: number; instances: Record<string, { phase: string }> } }> }>;
}

function fileStorage(): ScaleStorage {
  return {
    label: "file state",
    async prepare(dir) {
      const { readFileSync, statSync } = await import("node:fs");
      const stateDir = path.join(dir, "state");
      const stateFile = path.join(stateDir, "shard", "scale", "state.json");
      return {
        args: ["--state-dir", stateDir],
        env: {},
        read: async () => ({ size: statSync(stateFile).size, doc: JSON.parse(readFileSync(stateFile, "utf8")) }),
      };
    },
  };
}

/** S3 (e.g. Ceph RGW from scripts/s3-test-server.sh): BENCH_S3_ENDPOINT, test keys by default. */
function s3Storage(endpoint: string): ScaleStorage {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: endpoint, AWS_REGION: process.env.AWS_REGION ?? "us-east-1", AWS_S3_USE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: process.env.BENCH_S3_ACCESS_KEY ?? "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: process.env.BENCH_S3_SECRET_KEY ?? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };
  return {
    label: `S3 state (${endpoint})`,
    async prepare() {
      const { createS3Client } = await import("../src/state/s3-backend.js");
      const { client, mod } = await createS3Client(env);
      const bucket = `pvefleet-bench-${Math.random().toString(36).slice(2, 10)}`;
      await client.send(new mod.CreateBucketCommand({ Bucket: bucket }));
      const key = "shard/scale/state.json";
      return {
        args: ["--storage", "s3", "--bucket", bucket],
        env,
        read: async () => {
          const got = await client.send(new mod.GetObjectCommand({ Bucket: bucket, Key: key }));
          const text = await got.Body!.transformToString();
          return { size: Buffer.byteLength(text), doc: JSON.parse(text) };
        },
      };
    },
  };
}

/**
 * One CLI apply per count against a fresh instant simulator process; prints the scale table.
 * Bytes written per VM: with file state, what the kernel counted the CLI writing to the file
 * system (`/usr/bin/time` %O, 512-byte blocks: state writes and lease renewals); with S3, the
 * state document's final size × its writes (each write PUTs the whole document; an upper bound).
 */
async function scaleBench(counts: number[], nodeCount: number, par: number, storage: ScaleStorage = fileStorage()): Promise<string[]> {
  const { spawn, spawnSync } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const root = path.resolve(import.meta.dirname, "..");
  const cli = path.join(root, "bin/pvefleet.js");
  const rows: string[] = [];
  console.log(`apply scale bench: pvefleet sim --latency instant --nodes ${nodeCount}; pvefleet apply --auto-approve --parallelism ${par}; ${storage.label}; 1-core/64 MiB VMs`);
  console.log("| creates | wall | CLI user CPU | user CPU / VM | peak RSS | state file | state writes | bytes written / VM | simulator CPU |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const n of counts) {
    const dir = mkdtempSync(path.join(tmpdir(), "pvefleet-bench-scale-"));
    const simArgs = [...nodeArgs(process.env.BENCH_SIM_NODE_OPTIONS), cli, "sim", "--latency", "instant", "--nodes", String(nodeCount), "--port", "0"];
    const sim = spawn(process.execPath, simArgs, { stdio: ["ignore", "pipe", "inherit"] });
    const simExited = new Promise<void>((resolve) => sim.on("exit", () => resolve()));
    try {
      const env = await new Promise<Record<string, string>>((resolve, reject) => {
        let out = "";
        sim.on("exit", (code) => reject(new Error(`simulator exited (${code}): ${out}`)));
        sim.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const line = out.split("\n").find((l) => l.startsWith("export "));
          if (!line) return;
          const vars: Record<string, string> = {};
          for (const m of line.slice("export ".length).matchAll(/(\w+)=('[^']*'|\S+)/g)) vars[m[1]!] = m[2]!.replace(/^'|'$/g, "");
          resolve(vars);
        });
      });
      const shardPath = path.join(dir, "shard.json");
      writeFileSync(shardPath, JSON.stringify({
        cluster: { id: "bench" },
        shard: { id: "scale", infra: { provider: "proxmox", region: "dev", zone: "deva", options: { cloud_init_iso_storage: "local" } }, subnet_pools: { default: ["vmbr0"] } },
        defaults: { args: { TemplateName: "debian-13-template", StoragePool: "local-lvm", Bridge: "vmbr0", Cores: 1, Memory: 64, DiskSize: "4G" } },
        templates: { web: { kind: "web", arch: "amd64", subnet_pool: "default", userdata: { content: "#cloud-config\nhostname: {{ .Instance.ID }}\n" } } },
        groups: { default: { web: { template: "web", size: n } } },
      }));
      const store = await storage.prepare(dir);
      const timeFile = path.join(dir, "time");
      const run = spawnSync("/usr/bin/time", ["-o", timeFile, "-f", "%e %U %S %M %O", process.execPath, ...nodeArgs(process.env.BENCH_APPLY_NODE_OPTIONS), cli, "apply", "--auto-approve", "--parallelism", String(par), "-c", shardPath, ...store.args], {
        env: { ...process.env, ...env, ...store.env, CI: "1", NO_COLOR: "1" },
        maxBuffer: 1 << 30,
        encoding: "utf8",
      });
      if (run.status !== 0) throw new Error(`apply exited ${run.status}: ${run.stderr.slice(-2000)}`);
      const [wall, user, sys, rssKiB, outBlocks] = readFileSync(timeFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number) as [number, number, number, number, number];
      const { size, doc } = await store.read();
      const ready = Object.values(doc.instances).filter((r) => r.phase === "ready").length;
      if (ready !== n) throw new Error(`${ready} of ${n} instances ready in the state`);
      const s3 = store.args.includes("s3");
      const bytesPerVm = s3 ? (doc.serial * size) / n : (outBlocks * 512) / n;
      // The simulator's own CPU (user + system, clock ticks of 1/100 s) competes for the same cores.
      const simStat = readFileSync(`/proc/${sim.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      const simCpuS = (Number(simStat[11]) + Number(simStat[12])) / 100;
      const row = `| ${n.toLocaleString("en")} | ${wall.toFixed(1)} s | ${user.toFixed(1)} s (+${sys.toFixed(1)} s sys) | ${((user / n) * 1000).toFixed(2)} ms | ${(rssKiB / 1024).toFixed(0)} MB | ${(size / 1e6).toFixed(2)} MB | ${doc.serial} | ${s3 ? "≤ " : ""}${(bytesPerVm / 1e3).toFixed(0)} kB | ${simCpuS.toFixed(1)} s |`;
      rows.push(row);
      console.log(row);
    } finally {
      sim.kill("SIGTERM");
      await simExited;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
