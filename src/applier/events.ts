/**
 * What the applier tells the CLI while it works: one event per action transition, plus a few
 * run-level events (lock, state writes, interrupts). Plain data, so the CLI can render it as the
 * ink UI, plain lines, or Terraform `-json` UI messages.
 */
import type { ActionType } from "../providers/types.js";

export type ApplyEventType =
  | "lock" // the lease lock was taken (or handed in by the caller)
  | "start" // an action began
  | "progress" // an action is still running (periodic, like Terraform's "Still creating... [10s elapsed]")
  | "retry" // an action hit a retryable error and will run again after `delayMs`
  | "done" // an action finished
  | "failed" // an action failed for good
  | "skipped" // an action did not run because something it depends on failed (or the run stopped)
  | "state-written" // a state write (compare-and-swap) succeeded; `serial` is the new serial
  | "interrupt" // SIGINT/SIGTERM received; `message` is what to print
  | "complete"; // the run ended; `message` summarises it

export interface ApplyEvent {
  type: ApplyEventType;
  /** Action events carry the action; run-level events leave these unset. */
  actionId?: string;
  instanceId?: string;
  action?: ActionType;
  node?: string;
  vmid?: number;
  /** Since the action started (action events) or since the run started (run-level events). */
  elapsedMs: number;
  /** Attempt number, starting at 1, on `start`, `retry`, `done` and `failed`. */
  attempt?: number;
  /** How long a `retry` waits before the next attempt. */
  delayMs?: number;
  /** Why an action failed or was retried/skipped: a stable code and one line. Never holds secrets. */
  error?: { code: string; message: string };
  /** New state serial on `state-written`. */
  serial?: number;
  /** Human text for `interrupt`, `lock` and `complete` (Terraform wording where one exists). */
  message?: string;
  level?: "info" | "warn" | "error";
}

export const INTERRUPT_MESSAGE =
  "Interrupt received. Please wait for pvefleet to exit or data loss may occur. Gracefully shutting down…";
export const STOPPING_MESSAGE = "Stopping operation…";
export const SECOND_INTERRUPT_MESSAGE =
  "Two interrupts received. Exiting immediately. Note that data loss may have occurred.";
