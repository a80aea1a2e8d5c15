/**
 * One action, attempted until it succeeds, fails for good, or the run stops: the lease is checked
 * before every attempt (an apply that lost its lock changes nothing more), retries follow the
 * provider's classification (retry.ts: lock contention and transient failures, with backoff), and
 * every attempt is told as events (start, retry, done, failed; progress while it runs).
 */
import { UserError } from "../errors.js";
import type { Action } from "../planner/types.js";
import type { LeaseLock } from "../state/types.js";
import type { ApplyEvent } from "./events.js";
import type { Journal } from "./journal.js";
import { backoffMs, errorCode, maxAttempts, retryClass, sleep, type RetryPolicy } from "./retry.js";

/** Why the run stops starting work: an interrupt, or a fatal error (a lost lease or state race). */
export interface StopFlags {
  readonly interrupted: boolean;
  readonly fatal: unknown;
  fail(err: unknown): void;
}

export interface AttemptDeps {
  journal: Journal;
  lock: LeaseLock;
  policy: RetryPolicy;
  progressIntervalMs: number;
  signal?: AbortSignal;
  emit(e: Omit<ApplyEvent, "elapsedMs"> & { elapsedMs?: number }): void;
  stop: StopFlags;
}

export function oneLineError(err: unknown): { code: string; message: string } {
  const message = err instanceof UserError ? err.line() : err instanceof Error ? err.message : String(err);
  return { code: errorCode(err), message: message.split("\n")[0]! };
}

export async function runAttempts(action: Action, d: AttemptDeps): Promise<void> {
  const actionStarted = Date.now();
  const base = { actionId: action.id, instanceId: action.instanceId, action: action.type, node: action.node, vmid: action.vmid };
  const timer = setInterval(() => d.emit({ type: "progress", ...base, elapsedMs: Date.now() - actionStarted }), d.progressIntervalMs);
  timer.unref();
  let attempt = 1;
  try {
    for (;;) {
      try {
        d.lock.assertHeld();
        d.emit({ type: "start", ...base, attempt, elapsedMs: Date.now() - actionStarted });
        await d.journal.run(action);
        d.emit({ type: "done", ...base, attempt, elapsedMs: Date.now() - actionStarted });
        return;
      } catch (err) {
        const code = errorCode(err);
        // Someone else owns the shard now: nothing more may be changed or written.
        if (code === "STATE_CONFLICT" || code === "LOCK_LOST") d.stop.fail(err);
        const cls = d.stop.fatal === undefined ? retryClass(err) : undefined;
        if (cls && attempt < maxAttempts(d.policy, cls) && !d.stop.interrupted) {
          const delayMs = backoffMs(d.policy, attempt);
          d.emit({ type: "retry", ...base, attempt, delayMs, error: oneLineError(err), elapsedMs: Date.now() - actionStarted });
          await sleep(delayMs, d.signal);
          if (!d.stop.interrupted) {
            attempt++;
            continue;
          }
        }
        d.emit({ type: "failed", ...base, attempt, error: oneLineError(err), elapsedMs: Date.now() - actionStarted, level: "error" });
        throw err;
      }
    }
  } finally {
    clearInterval(timer);
  }
}
