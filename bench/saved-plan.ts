/**
 * Saved plans (`plan --out FILE`, `apply FILE`) at fleet scale: file size, save time, load time
 * (read + verify the seal + validate) and peak RSS for a fleet created from nothing — 1,000 /
 * 10,000 / 100,000 creates on 64 nodes, 10 groups with userdata and vars, in-memory facts (no
 * network). Each size runs in its own child process so its peak RSS is its own (the plan itself
 * included, as in `plan --out`). Goal (issue 14): ≤ 8 MB, load ≤ 0.25 s, ≤ 150 MB peak at 10,000;
 * 100,000 well under 2 GB. Prints figures only; nothing here is asserted.
 * Run: npx tsx bench/saved-plan.ts [sizes…]
 */
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DesiredGroup, DesiredShard } from "../src/config/model.js";
import { plan } from "../src/planner/plan.js";
import { readSavedPlan, serializePlan } from "../src/planner/saved-plan.js";
import type { LiveShard } from "../src/providers/proxmox/types.js";
import type { StateDoc } from "../src/state/types.js";
import type { Plan } from "../src/planner/types.js";
import { proxmoxPlanningHooks } from "../src/providers/proxmox/hooks.js";

const GIB = 1024 ** 3;
const NODES = 64;
const GROUPS = 10;
const USERDATA = `#cloud-config\nhostname: {{ .Instance.ID }}\npackages: [nginx, curl, jq]\nwrite_files:\n  - path: /etc/motd\n    content: "{{ .Vars.motd }}"\n${"# padding line of a realistic cloud-config\n".repeat(40)}`;

export function facts(instances: number, tenant = "acme") {
  const groups: DesiredGroup[] = Array.from({ length: GROUPS }, (_, g) => ({
    ref: { tenant, group: `g${g}` }, templateName: "web", size: instances / GROUPS,
    spec: {
      template: { name: "debian" }, kind: "web", arch: "amd64", cores: 1, memoryMiB: 64, storage: "local-lvm", bridge: "vmbr0", onboot: true,
      userdata: { source: "inline", encoding: "plain", content: USERDATA },
      vars: { motd: `group ${g}`, env: "prod", team: "platform", secret_ish: "s3cr3t-value" }, args: { size: instances / GROUPS },
    },
    replaceHash: `sha256:r${g}`, updateHash: `sha256:u${g}`,
  }));
  const desired: DesiredShard = {
    source: { location: "shard.jsonc", digest: "sha256:cfg" }, clusterId: "lab", shardId: "dev",
    provider: { kind: "proxmox", region: "r", zone: "z", options: {
      insecureTls: false, cloudInitIsoStorage: "local", vmidRange: { min: 10000, max: 999999999 }, scheduler: "nstance", placementSpread: "group",
      cloneConcurrencyPerStorage: 2, memoryHeadroom: 0.9, fullClone: true, shutdownTimeoutSec: 60, scaleDownOrder: "newest", maxSurge: 1, cpuOvercommit: 4,
    } },
    groups,
  };
  const nodes = Array.from({ length: NODES }, (_, i) => ({ node: `pve${i + 1}`, online: true, maxcpu: 4096, cpu: 0.2, maxmem: 4096 * GIB, mem: 64 * GIB }));
  const live: LiveShard = { fetchedAt: "2026-03-01T12:00:00.000Z", vms: [], nodes, apiCalls: 2 };
  const state: StateDoc = { formatVersion: 1, lineage: "l", serial: 1, writeId: "w", clusterId: "lab", shardId: "dev", instances: {} };
  return { desired, state, live };
}

/**
 * The plan of `instances` creates. A shard holds at most 20,000 instances (MAX_SHARD_INSTANCES), so
 * a larger fleet is planned per 20,000 (one tenant each) and the plans joined: the file format
 * does not care, and this is the size a 100,000-instance plan --out had to write.
 */
function fleetPlan(instances: number): Plan {
  const per = Math.min(instances, 20_000);
  let out: Plan | undefined;
  for (let i = 0; i * per < instances; i++) {
    const f = facts(per, `t${i}`);
    const p = plan(f.desired, f.state, f.live, { hooks: proxmoxPlanningHooks, ignoreCapacity: true });
    if (!out) out = p;
    else {
      for (const c of p.changes) out.changes.push(c);
      for (const a of p.actions) out.actions.push(a);
      out.summary.add += p.summary.add;
    }
  }
  return out!;
}

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const rssMB = () => process.resourceUsage().maxRSS / 1024;

/** `plan --out`: plan, then save (the peak includes the plan, as the CLI's does). */
function save(instances: number, file: string): Record<string, number> {
  const p = fleetPlan(instances);
  const planRssMB = rssMB();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const text = serializePlan(p, {}, KEY);
  writeFileSync(file, text);
  return { changes: p.changes.length, actions: p.actions.length, saveMs: performance.now() - t0, saveCpuMs: cpuMs(process.cpuUsage(c0)), fileMB: Buffer.byteLength(text) / 1e6, planRssMB, saveRssMB: rssMB() };
}

/** `show FILE` / `apply FILE`'s read: the file, the seal (with a key), validation, the plan back. */
function load(file: string): Record<string, number> {
  const startRssMB = rssMB();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const loaded = readSavedPlan(readFileSync(file, "utf8"), file, { key: KEY, strict: true });
  return { loadMs: performance.now() - t0, loadCpuMs: cpuMs(process.cpuUsage(c0)), loadRssMB: rssMB(), startRssMB, loadedChanges: loaded.plan.changes.length };
}

function child(mode: string, instances: number, file: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, PVEFLEET_BENCH_CHILD: `${mode}:${instances}:${file}` }, execArgv: [...process.execArgv, "--max-old-space-size=4096"] });
    c.on("message", (m) => resolve(m as Record<string, number>));
    c.on("exit", (code) => code !== 0 && reject(new Error(`${mode} ${instances}: exited ${code}`)));
  });
}

const KEY = "bench-key-0123456789abcdef";
const role = process.env.PVEFLEET_BENCH_CHILD;
const main = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (!main) {
  // imported: nothing runs
} else if (role) {
  const [mode, n, file] = role.split(":") as [string, string, string];
  process.send!(mode === "save" ? save(Number(n), file) : load(file));
} else {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const dir = mkdtempSync(path.join(tmpdir(), "pvefleet-bench-"));
  console.log(`saved plan: creates on ${NODES} nodes, ${GROUPS} groups with userdata and vars; save and load each in a child process`);
  console.log("(goal at 10,000: file ≤ 8 MB, load ≤ 250 ms, load peak ≤ 150 MB; 100,000: plan --out well under 2 GB)");
  try {
    for (const n of sizes.length ? sizes : [1_000, 10_000, 100_000]) {
      const file = path.join(dir, `${n}.plan.json`);
      const s = await child("save", n, file);
      const l = await child("load", n, file);
      if (l.loadedChanges !== s.changes) throw new Error(`${n}: the plan read back has ${l.loadedChanges} changes, not ${s.changes}`);
      const f = (x: number | undefined, w = 6) => (x ?? NaN).toFixed(0).padStart(w);
      console.log(
        `${String(n).padStart(7)} creates  file ${s.fileMB!.toFixed(2).padStart(6)} MB  save ${f(s.saveMs)} ms (cpu ${f(s.saveCpuMs)})  peak plan+save ${f(s.saveRssMB, 5)} MB (plan alone ${f(s.planRssMB, 5)})  ` +
        `load ${f(l.loadMs)} ms (cpu ${f(l.loadCpuMs)})  load peak ${f(l.loadRssMB, 5)} MB (process before reading ${f(l.startRssMB, 4)})`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
