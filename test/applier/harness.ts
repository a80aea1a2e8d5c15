/**
 * Shared plumbing of the applier's end-to-end tests and of bench/apply.ts: a simulator on a random
 * loopback port (HTTPS), a shard file in a temp dir, the file state store, and one
 * refresh → plan → apply round exactly as the CLI does it (no mocks of our own modules).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadShardFile } from "../../src/config/index.js";
import type { DesiredShard } from "../../src/config/model.js";
import { apply, type ApplyDeps, type ApplyEvent, type ApplyResult } from "../../src/applier/index.js";
import { makePlan as engineMakePlan } from "../../src/engine/index.js";
import type { Plan, PlanSelectors } from "../../src/planner/types.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../../src/providers/proxmox/index.js";
import { startSimulator, type SimulatorOptions } from "../../src/sim/index.js";
import { openStateStore } from "../../src/state/index.js";
import type { StateDoc, StateStore } from "../../src/state/types.js";

export type Sim = Awaited<ReturnType<typeof startSimulator>>;

export interface ShardParams {
  webSize: number;
  dbSize?: number;
  webCores?: number;
  webUserdata?: string;
}

export function shardText(p: ShardParams): string {
  const userdata = (text: string) => ({ content: text });
  return JSON.stringify(
    {
      cluster: { id: "apptest" },
      shard: {
        id: "e2e",
        infra: { provider: "proxmox", region: "dev", zone: "deva", options: { cloud_init_iso_storage: "local", shutdown_timeout: "1s" } },
        subnet_pools: { default: ["vmbr0"] },
      },
      defaults: {
        args: { TemplateName: "debian-13-template", StoragePool: "local-lvm", Bridge: "vmbr0", Cores: 1, Memory: 512, DiskSize: "4G" },
        vars: { Environment: "test" },
      },
      templates: {
        web: {
          kind: "web", arch: "amd64", subnet_pool: "default",
          args: { Cores: p.webCores ?? 1 },
          userdata: userdata(p.webUserdata ?? "#cloud-config\nhostname: {{ .Instance.ID }}\n"),
        },
        db: { kind: "dbs", arch: "amd64", subnet_pool: "default", userdata: userdata("#cloud-config\nhostname: {{ .Instance.ID }}\n") },
      },
      groups: { default: { web: { template: "web", size: p.webSize }, db: { template: "db", size: p.dbSize ?? 0 } } },
    },
    null,
    2,
  );
}

export interface Env {
  sim: Sim;
  dir: string;
  shardPath: string;
  stateDir: string;
  providerEnv: NodeJS.ProcessEnv;
  writeShard(p: ShardParams): void;
  desired(): Promise<DesiredShard>;
  provider(): ProxmoxProvider;
  store(): Promise<StateStore>;
  /** GET/POST/PUT/DELETE on the simulator's API with the test token (out-of-band edits). */
  api(method: string, apiPath: string, body?: Record<string, unknown>): Promise<any>;
  close(): Promise<void>;
}

export async function startEnv(simOptions: { latency: "instant" | "fast" | "realistic"; faults?: string; seed?: number; nodes?: number; topology?: SimulatorOptions["topology"]; statsIntervalMs?: number }): Promise<Env> {
  const sim = await startSimulator({ port: 0, latency: simOptions.latency, faults: simOptions.faults, seed: simOptions.seed ?? 1, ...(simOptions.statsIntervalMs !== undefined ? { statsIntervalMs: simOptions.statsIntervalMs } : {}), ...(simOptions.nodes ? { nodes: simOptions.nodes } : {}), ...(simOptions.topology ? { topology: simOptions.topology } : {}) });
  const dir = mkdtempSync(path.join(tmpdir(), "pvefleet-applier-"));
  const shardPath = path.join(dir, "shard.json");
  const stateDir = path.join(dir, "state");
  const apiUrl = sim.url.endsWith("/api2/json") ? sim.url : `${sim.url.replace(/\/+$/, "")}/api2/json`;
  const providerEnv = { PROXMOX_API_URL: apiUrl, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret };
  const providers: ProxmoxProvider[] = [];
  const { Agent, fetch: ufetch } = await import("undici");
  const agent = new Agent({ connect: { ca: sim.caCertificate } });
  return {
    sim, dir, shardPath, stateDir, providerEnv,
    writeShard: (p) => writeFileSync(shardPath, shardText(p)),
    desired: () => loadShardFile(shardPath),
    provider: () => {
      const p = createProxmoxProvider({ clusterId: "apptest", shardId: "e2e", ca: sim.caCertificate, env: providerEnv, pollIntervalMs: 5, ...(process.env.CRASH_DEBUG ? { onNotice: (m: string) => console.log(`  notice ${new Date().toISOString()} ${m}`) } : {}) });
      providers.push(p);
      return p;
    },
    store: () => openStateStore({ storage: "file", stateDir, clusterId: "apptest", shardId: "e2e" }),
    api: async (method, apiPath, body) => {
      // Reads retry through injected faults (5xx, resets); writes are sent once.
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(method, apiPath, body);
        } catch (err) {
          if (method !== "GET" || attempt >= 8) throw err;
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
    },
    close: async () => {
      for (const p of providers) await p.close().catch(() => undefined);
      await agent.close();
      // Issue 4: no request pvefleet sent during the suite may fail the simulator's schema check.
      const rejected = sim.stats().rejected;
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
      if (rejected.length > 0) throw new Error(`the simulator rejected ${rejected.length} request(s) by schema: ${JSON.stringify(rejected.slice(0, 3))}`);
    },
  };

  async function once(method: string, apiPath: string, body?: Record<string, unknown>): Promise<any> {
      const res = await ufetch(`${apiUrl}${apiPath}`, {
        method,
        dispatcher: agent,
        headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json().catch(() => ({}))) as { data?: unknown };
      if (res.status >= 300) throw new Error(`${method} ${apiPath}: HTTP ${res.status} ${JSON.stringify(json)}`);
      return json.data;
  }
}

/** The plan the CLI would make (refresh → the per-VM reads it needs → the pure planner). */
export async function makePlan(ops: ProxmoxProvider, desired: DesiredShard, doc: StateDoc | undefined, options: PlanSelectors = {}): Promise<Plan> {
  return engineMakePlan({ ops, desired }, doc, options);
}

/** One `pvefleet apply --auto-approve`: lock, plan inside it, apply, release. */
export async function planAndApply(
  env: Env,
  options: PlanSelectors = {},
  applyOptions: Partial<ApplyDeps> = {},
): Promise<{ plan: Plan; result: ApplyResult; events: ApplyEvent[] }> {
  const desired = await env.desired();
  const store = await env.store();
  const ops = env.provider();
  const lock = await store.lock("apply");
  try {
    const current = await store.read();
    const p = await makePlan(ops, desired, current?.doc, options);
    const events: ApplyEvent[] = [];
    const result = await apply(p, { ops, store, desired, lock, retry: { baseDelayMs: 20, maxDelayMs: 200 }, onEvent: (e) => events.push(e), ...applyOptions });
    return { plan: p, result, events };
  } finally {
    await lock.release();
    await ops.close();
  }
}

/** The plan a fresh run would make now (no lock, writes nothing). */
export async function planNow(env: Env, options: PlanSelectors = {}): Promise<Plan> {
  const desired = await env.desired();
  const store = await env.store();
  const ops = env.provider();
  try {
    return await makePlan(ops, desired, (await store.read())?.doc, options);
  } finally {
    await ops.close();
  }
}

export interface ClusterView {
  /** Our VMs (all three ownership tags or an instance-ID name), by name. */
  vms: { name: string; vmid: number; node: string; status: string; tags: string; maxcpu: number }[];
  isos: string[];
}

/** What the cluster holds now, read with plain API calls. */
export async function clusterView(env: Env): Promise<ClusterView> {
  const resources = (await env.api("GET", "/cluster/resources?type=vm")) as { name?: string; vmid: number; node: string; status: string; tags?: string; template?: number; maxcpu: number }[];
  const vms = resources
    .filter((r) => !r.template && /^(web|dbs)[0-9a-z]{20,}$/.test(r.name ?? ""))
    .map((r) => ({ name: r.name!, vmid: r.vmid, node: r.node, status: r.status, tags: r.tags ?? "", maxcpu: r.maxcpu }));
  const nodes = (await env.api("GET", "/nodes")) as { node: string }[];
  const isos: string[] = [];
  for (const n of nodes) {
    const content = (await env.api("GET", `/nodes/${n.node}/storage/local/content?content=iso`)) as { volid: string }[];
    for (const c of content) if (/-cidata\.iso$|cidata/.test(c.volid) || /(web|dbs)[0-9a-z]{20,}/.test(c.volid)) isos.push(`${n.node}/${c.volid}`);
  }
  return { vms, isos };
}

/**
 * A child `apply` (crash-child.ts) SIGKILLed `killAfterMs` after it printed its plan, or after its
 * `afterDone`-th finished action when given (a moment that does not depend on the machine's speed);
 * `extraEnv`: e.g. PARALLELISM.
 */
export function runChild(env: Env, caFile: string, killAfterMs: number, extraEnv: Record<string, string> = {}, afterDone = 0): Promise<{ killed: boolean; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "crash-child.ts")], {
      env: { ...process.env, ...env.providerEnv, SIM_CA_FILE: caFile, SHARD: env.shardPath, STATE_DIR: env.stateDir, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let killed = false;
    let done = 0;
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n")) {
        if (!line) continue;
        lines.push(line);
        // The clock starts when the plan is made: from then on every moment is mid-apply.
        if (afterDone === 0 ? line.startsWith("planned") : line.startsWith("done ") && ++done === afterDone) {
          setTimeout(() => { killed = child.kill("SIGKILL"); }, killAfterMs);
        }
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL" && code !== 0) return reject(new Error(`child apply failed (${code}): ${stderr.slice(-2000)}`));
      resolve({ killed: killed && signal === "SIGKILL", lines });
    });
  });
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}
