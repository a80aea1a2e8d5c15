/** A tiny observable around the progress model, for React's useSyncExternalStore. */
import type { ApplyEvent } from "../../applier/events.js";
import type { Plan } from "../../planner/types.js";
import { appliedCounts, completeSentence, createModel, reduce, type ProgressModel } from "./model.js";

export class ProgressStore {
  readonly model: ProgressModel;
  private version = 0;
  private listeners = new Set<() => void>();
  /** Set when the run ends: the final sentence and whether it succeeded. */
  outcome?: { ok: boolean; line: string; error?: string; counts: { add: number; change: number; destroy: number } };

  constructor(readonly plan: Plan, private readonly now: () => number = Date.now, readonly destroyMode = false) {
    this.model = createModel(plan, now());
  }

  push(e: ApplyEvent): void {
    reduce(this.model, e, this.now());
    this.bump();
  }

  finish(ok: boolean, error?: string): void {
    this.model.finished = true;
    const counts = appliedCounts(this.plan, this.model);
    this.outcome = { ok, error, counts, line: ok ? completeSentence(counts, this.destroyMode) : `${this.destroyMode ? "Destroy" : "Apply"} failed. Resources: ${counts.add} added, ${counts.change} changed, ${counts.destroy} destroyed.` };
    this.bump();
  }

  nowMs(): number {
    return this.now();
  }

  getVersion = (): number => this.version;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private bump(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }
}
