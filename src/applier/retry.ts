/**
 * Which provider errors are worth another attempt, and how long to wait before it.
 *
 * Every ProxmoxOps operation is idempotent (types.ts: "safe to re-run after a crash"), so a
 * repeat after a lost response cannot duplicate work: clone finds the VM it already made by name,
 * upload accepts an identical volume, delete is a no-op on a missing VM. That is why network
 * errors and 5xx are retried for every action type, and why storage/VM lock timeouts (the clone
 * storm failure: `can't lock file '/var/lock/pve-manager/pve-storage-<id>' - got timeout`) are retried with backoff instead of asking for parallelism=1.
 */

export interface RetryPolicy {
  /** Attempts in all, including the first (default 6). */
  attempts: number;
  /** First backoff; doubles each attempt (default 500 ms). */
  baseDelayMs: number;
  /** Cap of one backoff (default 15 s). */
  maxDelayMs: number;
  /** Lock timeouts get more attempts: a clone storm can hold a storage lock for minutes (default 10). */
  lockAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 15_000, lockAttempts: 10 };

/**
 * Codes for conditions another attempt cannot change: a missing VM, storage, volume or template
 * (PVE answers those as a 500 `… does not exist`, which the status rule below would otherwise call
 * transient), a missing privilege or a rejected token, a request PVE refused as invalid, a VM that
 * is not ours, a bad configuration. Retrying them only delays the one line the user needs.
 */
const PERMANENT_CODES = new Set(["NOT_FOUND", "PERMISSION", "AUTH", "VALIDATION", "NOT_OURS", "CONFIG"]);
/** Codes the provider uses for conditions that pass on their own. */
const LOCK_CODES = new Set(["LOCK_TIMEOUT", "VM_LOCKED"]);
const TRANSIENT_CODES = new Set(["NETWORK", "SERVER", "TIMEOUT", "TASK_TIMEOUT"]);

export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "UNKNOWN";
}

/** The error's HTTP status, 0 when it has none. */
function errorStatus(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown };
  const s = e?.status ?? e?.statusCode;
  return typeof s === "number" ? s : 0;
}

/** "lock" for lock contention, "transient" for network/5xx, undefined when retrying cannot help. */
export function retryClass(err: unknown): "lock" | "transient" | undefined {
  const code = errorCode(err);
  if (PERMANENT_CODES.has(code)) return undefined;
  if (LOCK_CODES.has(code)) return "lock";
  if (TRANSIENT_CODES.has(code)) return "transient";
  const status = errorStatus(err);
  if (status >= 500 && status !== 501) return "transient";
  // A task that failed on a lock ("can't lock file '/var/lock/qemu-server/lock-101.conf' - got
  // timeout", "cfs-lock 'storage-local-lvm' error: got lock request timeout") is contention too.
  const message = err instanceof Error ? err.message : String(err);
  if (/can't lock file|got (lock request )?timeout|VM is locked|cfs-lock/i.test(message)) return "lock";
  return undefined;
}

/** Exponential backoff with full jitter in [delay/2, delay]: spreads retries of a clone storm apart. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function maxAttempts(policy: RetryPolicy, cls: "lock" | "transient"): number {
  return cls === "lock" ? policy.lockAttempts : policy.attempts;
}

/** Resolves after ms, or early (without rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done); // done() removes it, whichever way it ends
  });
}
