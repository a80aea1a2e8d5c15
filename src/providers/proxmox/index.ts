/**
 * The Proxmox provider: everything pvefleet knows about Proxmox VE — how to ask (client.ts),
 * how to tell what is ours (refresh.ts), how to act (operations.ts). It never decides *what* to
 * change; the planner does. See README.md for the retry table, calls per operation and privileges.
 */
import type { Provider } from "../types.js";
import { runAction } from "./run.js";
import { privilegesFor } from "./permissions.js";
import { Preflight } from "./preflight.js";
import { ProxmoxClient, type RetryOptions } from "./api/client.js";
import { ProxmoxOperations } from "./operations.js";
import { TaskWaiter, type TaskTiming } from "./api/tasks.js";
import type { VmidRange } from "./placement/vmid.js";
import type { ProxmoxOps } from "./types.js";

export interface ProxmoxProviderOptions {
  clusterId: string;
  shardId: string;
  insecureTls?: boolean;
  /** PEM CA to trust instead of the system store (tests; otherwise PROXMOX_CA_FILE). */
  ca?: string;
  /** Where PROXMOX_API_URL, PROXMOX_TOKEN_ID, PROXMOX_TOKEN_SECRET, PROXMOX_CA_FILE are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  retry?: Partial<RetryOptions>;
  /** Overrides every task type's poll interval (tests use a few ms). */
  pollIntervalMs?: number;
  taskTiming?: Partial<Record<string, Partial<TaskTiming>>>;
  vmidRange?: VmidRange;
  maxConnections?: number;
  requestTimeoutMs?: number;
  shutdownTimeoutSec?: number;
  /** A task ended with `WARNINGS: n` (it succeeded). */
  onWarning?: (info: { upid: string; type: string; exitstatus: string }) => void;
  /** Informational events: a retry, a skipped delete of a reused VMID. Never carries credentials. */
  onNotice?: (message: string) => void;
}

/** The contract's Provider, plus the Proxmox operations themselves (tests and benches call them). */
export type ProxmoxProvider = ProxmoxOps & Provider & {
  /** Next VMID for a new VM, chosen from the last refresh so one run never hands out the same one twice. */
  nextVmid(): number;
  close(): Promise<void>;
  /** HTTP requests sent so far (retries and task polls included). */
  requestCount(): number;
  stats(): { requests: number; taskPolls: number; retries: number };
};

/** Reads the environment and builds the provider; missing token variables fail here, before any request. */
export function createProxmoxProvider(opts: ProxmoxProviderOptions): ProxmoxProvider {
  const client = new ProxmoxClient({
    env: opts.env,
    insecureTls: opts.insecureTls,
    ca: opts.ca,
    retry: opts.retry,
    maxConnections: opts.maxConnections,
    requestTimeoutMs: opts.requestTimeoutMs,
    onRetry: opts.onNotice
      ? (r) => opts.onNotice!(`retrying ${r.method} ${r.path} in ${r.delayMs} ms (attempt ${r.attempt + 1}): ${r.error.message}`)
      : undefined,
  });
  const tasks = new TaskWaiter(client, { pollIntervalMs: opts.pollIntervalMs, timing: opts.taskTiming, onWarning: opts.onWarning });
  const ops = new ProxmoxOperations(client, tasks, {
    clusterId: opts.clusterId,
    shardId: opts.shardId,
    vmidRange: opts.vmidRange,
    shutdownTimeoutSec: opts.shutdownTimeoutSec,
    onNotice: opts.onNotice,
  });
  return {
    kind: "proxmox",
    hooks: ops.hooks,
    checkPlan: (actions, facts) => new Preflight(client, facts.live, facts.details ?? []).run(actions),
    preflight: (actions) => ops.checkPermissions(privilegesFor(actions)),
    run: (action, context) => runAction(ops, action, context),
    refresh: (o) => ops.refresh(o),
    details: (vms, o) => ops.details(vms, o),
    clone: (r) => ops.clone(r),
    configure: (r) => ops.configure(r),
    resize: (r) => ops.resize(r),
    uploadIso: (r) => ops.uploadIso(r),
    start: (r) => ops.start(r),
    stop: (r) => ops.stop(r),
    deleteVolume: (r) => ops.deleteVolume(r),
    deleteVm: (r) => ops.deleteVm(r),
    checkPermissions: (n) => ops.checkPermissions(n),
    nextVmid: () => ops.nextVmid(),
    close: () => client.close(),
    requestCount: () => client.requestCount(),
    stats: () => client.stats(),
  };
}

export { ProxmoxClient, DEFAULT_API_URL, DEFAULT_RETRY, type RetryOptions, type ClientOptions } from "./api/client.js";
export { ProxmoxError, isProxmoxError, type ProxmoxErrorCode } from "./api/errors.js";
export { parseUpid, TaskWaiter, DEFAULT_TASK_TIMING } from "./api/tasks.js";
export { privilegesFor, ALL_PRIVILEGES, ROLE_ADVICE } from "./permissions.js";
export { ownershipOf, mapStatus, INSTANCE_ID_RE } from "./refresh.js";
export { VmidAllocator, DEFAULT_VMID_RANGE } from "./placement/vmid.js";
