/**
 * Plan time and peak RSS for 10,000 instances on 64 nodes, from synthetic in-memory facts (no
 * network): a fleet created from nothing, a steady fleet with 1 % drift, and the same with per-VM
 * details. Each scenario runs in its own child process so its peak RSS is its own.
 * Goal (issue 6): ≤ 1.5 s and ≤ 250 MB. Run: npx tsx bench/plan.ts
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DesiredGroup, DesiredShard } from "../src/config/model.js";
import { plan } from "../src/planner/plan.js";
import { parseSavedPlan, serializePlan } from "../src/planner/saved-plan.js";
import type { LiveShard, VmDetail } from "../src/providers/proxmox/types.js";
import type { InstanceRecord, StateDoc } from "../src/state/types.js";
import { composeDescription, renderNotesBlock } from "../src/providers/proxmox/codecs/notes-block.js";
import { proxmoxPlanningHooks } from "../src/providers/proxmox/hooks.js";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const INSTANCES = 10_000;
const NODES = 64;
const GROUPS = 50; // 200 instances each

function facts(existing: boolean) {
  const groups: DesiredGroup[] = [];
  for (let g = 0; g < GROUPS; g++) {
    groups.push({
      ref: { tenant: "acme", group: `g${String(g).padStart(2, "0")}` }, templateName: "web", size: INSTANCES / GROUPS,
      spec: { template: { name: "debian" }, kind: "web", arch: "amd64", cores: 2, memoryMiB: 2048, storage: "local-lvm", bridge: "vmbr0", onboot: true, vars: {}, args: {} },
      replaceHash: "sha256:r", updateHash: "sha256:u",
    });
  }
  const desired: DesiredShard = {
    source: { location: "shard.jsonc", digest: "sha256:cfg" }, clusterId: "lab", shardId: "dev",
    provider: { kind: "proxmox", region: "r", zone: "z", options: {
      insecureTls: false, cloudInitIsoStorage: "local", vmidRange: { min: 10000, max: 999999999 }, scheduler: "nstance", placementSpread: "group",
      cloneConcurrencyPerStorage: 2, memoryHeadroom: 0.9, cpuOvercommit: 4, fullClone: true, shutdownTimeoutSec: 60, scaleDownOrder: "newest", maxSurge: 1,
    } },
    groups,
  };
  const nodes = Array.from({ length: NODES }, (_, i) => ({ node: `pve${i + 1}`, online: true, maxcpu: 128, cpu: 0.2, maxmem: 512 * GIB, mem: 64 * GIB }));
  const live: LiveShard = { fetchedAt: "2026-03-01T12:00:00.000Z", vms: [], nodes, apiCalls: 2 };
  const instances: Record<string, InstanceRecord> = {};
  const details: VmDetail[] = [];
  if (existing) {
    for (let i = 0; i < INSTANCES; i++) {
      const instanceId = `web${String(i).padStart(26, "0")}`;
      const g = groups[i % GROUPS]!;
      const vmid = 10000 + i;
      const node = `pve${(i % NODES) + 1}`;
      const createdAt = "2026-01-01T00:00:00Z";
      const rec: InstanceRecord = {
        instanceId, tenant: "acme", group: g.ref.group, template: "web", kind: "web", vmid, node, replaceHash: "sha256:r",
        updateHash: "sha256:u", isoVolume: `local:iso/${instanceId}-cidata.iso`, phase: "ready",
        stepsDone: ["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"], createdAt, updatedAt: createdAt,
      };
      instances[instanceId] = rec;
      const drifted = i % 100 === 0; // 1 % drift: cores edited out of band
      live.vms.push({ vmid, name: instanceId, node, status: "running", template: false, tags: ["dev", "lab", "nstance"], cores: drifted ? 4 : 2, memoryBytes: 2048 * MIB, diskBytes: 10 * GIB, ownership: "ours" });
      details.push({
        vmid, node, digest: `d${vmid}`, onboot: true, cores: 2, memoryMiB: 2048, tags: ["dev", "lab", "nstance"],
        description: composeDescription("", renderNotesBlock({ group: `acme.${g.ref.group}`, kind: "web", template: "web", created: createdAt })),
      });
    }
  }
  const state: StateDoc = { formatVersion: 1, lineage: "l", serial: 1, writeId: "w", clusterId: "lab", shardId: "dev", instances };
  return { desired, state, live, details };
}

function run(scenario: string): void {
  const f = facts(scenario !== "create-all");
  const withDetails = scenario === "steady+details";
  const t0 = performance.now();
  const p = plan(f.desired, f.state, f.live, { hooks: proxmoxPlanningHooks }, withDetails ? f.details : undefined);
  const t1 = performance.now();
  const planRssMB = process.resourceUsage().maxRSS / 1024;
  const text = serializePlan(p);
  const t2 = performance.now();
  parseSavedPlan(text);
  const t3 = performance.now();
  const rssMB = process.resourceUsage().maxRSS / 1024;
  process.send!({
    scenario, changes: p.changes.length, actions: p.actions.length, planMs: t1 - t0, saveMs: t2 - t1, loadMs: t3 - t2,
    planFileMB: text.length / 1e6, peakRssMB: rssMB, planRssMB,
  });
}

const scenario = process.argv[2];
if (scenario) {
  run(scenario);
} else {
  console.log(`plan: ${INSTANCES} instances, ${NODES} nodes, ${GROUPS} groups (goal ≤ 1500 ms, ≤ 250 MB peak RSS)`);
  for (const s of ["create-all", "steady", "steady+details"]) {
    const r = await new Promise<Record<string, number | string>>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), [s]);
      child.on("message", (m) => resolve(m as Record<string, number | string>));
      child.on("exit", (code) => code !== 0 && reject(new Error(`${s} exited ${code}`)));
    });
    const n = (k: string) => Number(r[k]);
    console.log(
      `${String(r.scenario).padEnd(15)} plan ${n("planMs").toFixed(0).padStart(5)} ms  peak RSS after plan ${n("planRssMB").toFixed(0).padStart(4)} MB  ` +
      `${n("changes")} changes, ${n("actions")} actions  save ${n("saveMs").toFixed(0)} ms  load+validate ${n("loadMs").toFixed(0)} ms  file ${n("planFileMB").toFixed(1)} MB  peak RSS with save+load ${n("peakRssMB").toFixed(0)} MB`,
    );
  }
}
