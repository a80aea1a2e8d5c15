/**
 * pvefleet's Proxmox VE 8.4 API simulator (`pvefleet sim`, and `startSimulator()` for tests and
 * benchmarks). It serves `/api2/json` over HTTPS (or HTTP) with PVE's rules, timings and failure
 * modes, validates every request against the real PVE schema (data/pve8-apischema.json), and shares
 * no code with the Proxmox client in src/providers/proxmox — it exists to check that client.
 * See README.md in this folder.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { randomUUID, X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ApiSchema } from "./schema.js";
import { Cluster } from "./cluster.js";
import { TaskManager } from "./tasks.js";
import { timings as profileTimings, type LatencyProfile } from "./profiles.js";
import { FaultInjector, parseFaults } from "./faults.js";
import { Pipeline, type RequestHook, type SimStats } from "./server.js";
import { ALL_PRIVILEGES, clusterHandlers } from "./api-cluster.js";
import { qemuHandlers } from "./api-qemu.js";
import { storageHandlers } from "./api-storage.js";
import { LockTable } from "./locks.js";
import { defaultTopology, resolveTopology, type Topology } from "./topology.js";
import { loadState, StateWriter } from "./persist.js";
import { TaskError } from "./tasks.js";
import type { SimContext } from "./context.js";
import { UserError } from "../errors.js";

export type { SimStats, RequestLogEntry, RejectedRequest, ReceivedRequest, RequestHook } from "./server.js";
export type { Topology } from "./topology.js";
export type { LatencyProfile } from "./profiles.js";
export { parseFaults } from "./faults.js";

export interface SimulatorOptions {
  /** 0 = any free port (default). */
  port?: number;
  host?: string;
  /** Plain HTTP instead of HTTPS. */
  http?: boolean;
  /** Number of nodes of the default topology (ignored with `topology`). */
  nodes?: number;
  topology?: Topology;
  /** Adds the shared storage and the template on it to the default topology. */
  sharedStorage?: boolean;
  stateFile?: string;
  latency?: LatencyProfile;
  /**
   * Overrides the profile's pvestatd cycle (ms). A real cycle is 10 s but stretches to minutes
   * when a storage hangs (pvestatd polls them in turn), so a test may hold the listing's view of
   * new VMs (no name, `VM <vmid>`, stale status) for as long as it needs.
   */
  statsIntervalMs?: number;
  faults?: string;
  seed?: number;
  tokenId?: string;
  tokenSecret?: string;
}

export interface Simulator {
  /** Base URL ending in `/api2/json`. */
  url: string;
  tokenId: string;
  tokenSecret: string;
  /** PEM of the self-signed certificate ("" with `http`). */
  caCertificate: string;
  /** SHA-256 fingerprint of the certificate, `AA:BB:…` as PVE prints it ("" with `http`). */
  fingerprint: string;
  stats(): SimStats;
  /**
   * Replaces the fault spec (same grammar as `faults`; undefined: no faults) for requests from now
   * on, e.g. a test that builds a fleet cleanly and then makes one kind of call fail.
   */
  setFaults(spec: string | undefined): void;
  /**
   * Tests: `hook` sees every authenticated API request (its parameters as received) before the
   * simulator handles it, and is awaited — so a test can see what was sent, or act at that moment as
   * a concurrent actor would (e.g. take a VMID between a client's check and its clone). Undefined removes it.
   */
  onRequest(hook: RequestHook | undefined): void;
  /**
   * Runs one pvestatd cycle now: every VM's listing entry is republished from its current config,
   * e.g. while a clone holds only `lock: clone`, which lists it as `VM <vmid>` until the next cycle.
   */
  tickStats(): void;
  stop(): Promise<void>;
}

let cachedSchema: ApiSchema | undefined;

async function makeCertificate(): Promise<{ key: string; cert: string; fingerprint: string }> {
  const selfsigned = (await import("selfsigned")).default as unknown as {
    generate(attrs: unknown, opts: unknown): Promise<{ private: string; cert: string }>;
  };
  const pems = await selfsigned.generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec", curve: "P-256", notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }] },
    ],
  });
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const latency = options.latency ?? "fast";
  const timings = { ...profileTimings(latency), ...(options.statsIntervalMs !== undefined ? { statsIntervalMs: options.statsIntervalMs } : {}) };
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const topo = options.topology ? resolveTopology(options.topology) : defaultTopology(options.nodes ?? 3, { sharedStorage: options.sharedStorage });
  const faults = new FaultInjector(options.faults ? parseFaults(options.faults) : undefined, seed);
  const tokenId = options.tokenId ?? "root@pam!pvefleet";
  if (!/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/.test(tokenId)) {
    throw new UserError("E_SIM_TOKEN", `token id '${tokenId}' is not of the form user@realm!tokenid`);
  }
  cachedSchema ??= ApiSchema.load();
  const schema = cachedSchema;

  const cluster = new Cluster(topo, seed, ALL_PRIVILEGES);
  const restored = options.stateFile ? loadState(cluster, options.stateFile) : undefined;
  if (!restored) {
    for (const t of topo.templates) cluster.addTemplate(t);
    if (topo.vms) cluster.addBulkVms(topo.vms);
    cluster.vmidsChanged();
  }
  const tokenSecret = options.tokenSecret ?? restored?.tokenSecret ?? randomUUID();
  const writer = options.stateFile ? new StateWriter(cluster, options.stateFile, tokenSecret) : undefined;
  if (writer && !restored) writer.flush();

  // pvestatd: with a cycle, VM stats are republished on each tick; without, on every change.
  let statsTimer: NodeJS.Timeout | undefined;
  const tickStats = () => {
    for (const vm of cluster.vms.values()) cluster.publish(vm);
    cluster.staleListing.clear();
    cluster.version++;
  };
  if (timings.statsIntervalMs > 0) {
    statsTimer = setInterval(tickStats, timings.statsIntervalMs);
    statsTimer.unref();
  }
  cluster.onChange(() => writer?.changed());

  const tasks = new TaskManager(cluster.rng);
  const locks = new LockTable(topo.storageAllocMs);
  const vmConfigInfo = schema.match("PUT", "/nodes/n/qemu/100/config")!.info;
  const sim: SimContext = {
    cluster, tasks, timings, locks, schema,
    vmConfigOptions: schema.properties(vmConfigInfo),
    spawn(req, spec) {
      const failure = req.taskFail;
      const body = failure !== undefined
        ? async (t: Parameters<typeof spec.body>[0]) => {
            await t.sleep(timings.taskBaseMs);
            throw new TaskError(failure || `${spec.type} failed: got timeout (injected fault)`);
          }
        : spec.body;
      return tasks.spawn(spec.node, spec.type, spec.id, req.user, body, (ok) => {
        if (!ok) spec.onFail?.();
      });
    },
  };
  if (timings.statsIntervalMs === 0) {
    // Publish lazily: whenever the model changed since the last request.
    const origTouch = cluster.touch.bind(cluster);
    cluster.touch = (vmid?: number) => {
      if (vmid !== undefined) {
        const vm = cluster.vms.get(vmid);
        if (vm) cluster.publish(vm);
      } else for (const vm of cluster.vms.values()) cluster.publish(vm);
      origTouch(vmid);
    };
  }

  const pipeline = new Pipeline({
    schema, sim, faults, tokenId, tokenSecret,
    handlers: { ...clusterHandlers(), ...qemuHandlers(), ...storageHandlers() },
    privilegesAt: (path) => cluster.acl.privilegesAt(path),
  });
  const listener = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    void pipeline.handle(req, res);
  };

  let server: Server;
  let caCertificate = "";
  let fingerprint = "";
  if (options.http) {
    server = createHttpServer({ keepAliveTimeout: 30_000 }, listener);
  } else {
    const cert = await makeCertificate();
    caCertificate = cert.cert;
    fingerprint = cert.fingerprint;
    server = createHttpsServer({ key: cert.key, cert: cert.cert, keepAliveTimeout: 30_000 }, listener);
  }
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new UserError("E_SIM_PORT", `port ${options.port} on ${host} is already in use`) : e));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `${options.http ? "http" : "https"}://${urlHost}:${port}/api2/json`,
    tokenId, tokenSecret, caCertificate, fingerprint,
    stats: () => pipeline.snapshot(),
    setFaults: (spec) => faults.setSpec(spec ? parseFaults(spec) : undefined),
    onRequest: (hook) => {
      pipeline.requestHook = hook;
    },
    tickStats,
    async stop() {
      if (statsTimer) clearInterval(statsTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await tasks.drain();
      writer?.flush();
      await closed;
    },
  };
}
