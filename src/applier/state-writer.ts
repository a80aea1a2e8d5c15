/**
 * The one in-process writer of the state document during an apply. Every change is a mutation of
 * one instance's record; mutations that arrive while a write is in flight are folded into the
 * next write (group commit), so N actions finishing together cost one compare-and-swap, and no
 * mutation is ever lost: `update()` resolves only once a write that contains it has succeeded.
 *
 * Cost per write is the records that changed, not the fleet: the committed document's records are
 * frozen (src/state/document.ts caches a frozen record's canonical text and validation), a write
 * copies only the records its mutations touch, and `updatedAt` is compared on those alone. What
 * remains per write — joining the cached texts, hashing and storing the bytes — is bounded by
 * the cadence: a write-ahead update (`update()`) is written at once, while after-success ones
 * (`{ batched: true }`) wait after a write for a pause proportional to its duration, so that under
 * load one write carries many of them (see `batchDelayMs`); an idle writer writes them at once.
 *
 * A lost race (STATE_CONFLICT: someone else wrote the state) is fatal: every pending and future
 * update rejects with it, and the applier stops (ARCHITECTURE.md rule 5: a 412 is never retried
 * blindly).
 */
import { randomUUID } from "node:crypto";
import { freezeRecord } from "../state/document.js";
import type { InstanceRecord, StateDoc, StateStore } from "../state/types.js";

/**
 * Changes one record: receives a mutable copy (undefined when there is none) and returns the record
 * to store, or undefined to remove it.
 */
export type RecordMutation = (record: InstanceRecord | undefined) => InstanceRecord | undefined;

export interface StateWriterOptions {
  onWritten?: (serial: number) => void;
  /**
   * The pause a batched update respects after the last write ended: `perWrite`× that write's
   * duration, at least `minMs`, at most `maxMs` (default 4×, 0 ms, 1 s). Proportional to the cost
   * of a write, so the writer spends at most about a fifth of the run writing whatever the
   * document's size, and an idle writer writes a batched update at once.
   */
  batchDelayMs?: { minMs?: number; perWrite?: number; maxMs?: number };
}

interface Pending {
  instanceId: string;
  mutate: RecordMutation;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class StateWriter {
  private doc: StateDoc;
  private etag: string | undefined;
  private pending: Pending[] = [];
  /** A pending update must be written now (write-ahead), not at the batch's leisure. */
  private urgent = false;
  private draining = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private lastWriteMs = 0;
  private lastWriteEnd = Number.NEGATIVE_INFINITY;
  private idle: (() => void)[] = [];
  private fatal: unknown;
  private readonly onWritten: ((serial: number) => void) | undefined;
  private readonly delay: { minMs: number; perWrite: number; maxMs: number };
  /** Number of successful writes and of mutations they carried (for the bench's batching figure). */
  readonly stats = { writes: 0, mutations: 0 };

  constructor(
    private readonly store: StateStore,
    initial: { doc: StateDoc; etag: string | undefined },
    options: StateWriterOptions | ((serial: number) => void) = {},
  ) {
    const opts = typeof options === "function" ? { onWritten: options } : options;
    this.onWritten = opts.onWritten;
    this.delay = { minMs: 0, perWrite: 4, maxMs: 1000, ...opts.batchDelayMs };
    // Copies, frozen: the caller's document stays its own, and ours can be cached by identity.
    const instances: Record<string, InstanceRecord> = {};
    for (const [id, record] of Object.entries(initial.doc.instances)) instances[id] = freezeRecord(structuredClone(record));
    this.doc = { ...structuredClone({ ...initial.doc, instances: {} }), instances };
    this.etag = initial.etag;
  }

  /** A fresh document for a shard that has no state yet (written with If-None-Match: *). */
  static emptyDoc(clusterId: string, shardId: string): StateDoc {
    return { formatVersion: 1, lineage: randomUUID(), serial: 0, writeId: randomUUID(), clusterId, shardId, instances: {} };
  }

  /** The document as last written. Its records are frozen. */
  get current(): StateDoc {
    return this.doc;
  }

  get failure(): unknown {
    return this.fatal;
  }

  /**
   * Applies `mutate` to the record of `instanceId` and resolves once it is persisted. Written at
   * once (a write-ahead record must be durable before its action starts) unless `batched`: then it
   * rides the next write, which keeps the pause after the last one (after-success records).
   */
  update(instanceId: string, mutate: RecordMutation, options: { batched?: boolean } = {}): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ instanceId, mutate, resolve, reject });
      if (!options.batched) this.urgent = true;
      this.schedule();
    });
  }

  /** Writes whatever is pending without waiting for the batch delay; resolves when nothing is pending or in flight. */
  async drain(): Promise<void> {
    this.draining++;
    try {
      // After a fatal error nothing is pending: flush() rejected it all and update() refuses more.
      while (this.writing || this.pending.length > 0) {
        this.schedule();
        await new Promise<void>((resolve) => this.idle.push(resolve));
      }
    } finally {
      this.draining--;
    }
  }

  /** The one place that starts a write: never two at once, never an empty one. */
  private schedule(): void {
    if (this.writing || this.pending.length === 0) return;
    const { minMs, perWrite, maxMs } = this.delay;
    const waitMs = this.lastWriteEnd + Math.min(maxMs, Math.max(minMs, perWrite * this.lastWriteMs)) - performance.now();
    if (this.urgent || this.draining > 0 || waitMs <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, waitMs);
  }

  /** Writes every pending mutation in one compare-and-swap. Only schedule() calls it. */
  private async flush(): Promise<void> {
    this.writing = true;
    const batch = this.pending;
    this.pending = [];
    this.urgent = false;
    const started = performance.now();
    const committed = this.doc.instances;
    // The batch's result per touched record (undefined: removed), in the order the mutations came.
    const touched = new Map<string, InstanceRecord | undefined>();
    const applied: Pending[] = [];
    for (const m of batch) {
      const base = touched.has(m.instanceId) ? touched.get(m.instanceId) : committed[m.instanceId];
      try {
        // Copies (structuredClone(undefined) is undefined): the committed record is frozen, and what
        // the mutation returns may share objects with the plan and is frozen below.
        touched.set(m.instanceId, structuredClone(m.mutate(structuredClone(base))));
        applied.push(m);
      } catch (err) {
        m.reject(err);
      }
    }
    const now = new Date().toISOString();
    const instances = { ...committed };
    for (const [id, record] of touched) {
      if (record === undefined) {
        delete instances[id];
      } else if (JSON.stringify(record) !== JSON.stringify(committed[id])) {
        record.updatedAt = now;
        instances[id] = freezeRecord(record);
      }
      // else unchanged: `instances` keeps the committed frozen object, its text and validation cached
    }
    try {
      const written = await this.store.write({ ...this.doc, instances }, this.etag);
      this.doc = written.doc;
      this.etag = written.etag;
      this.stats.writes++;
      this.stats.mutations += applied.length;
      this.lastWriteEnd = performance.now();
      this.lastWriteMs = this.lastWriteEnd - started;
      this.onWritten?.(written.doc.serial);
      for (const m of applied) m.resolve();
    } catch (err) {
      this.fatal = err;
      clearTimeout(this.timer);
      this.timer = undefined;
      for (const m of [...applied, ...this.pending]) m.reject(err);
      this.pending = [];
    } finally {
      this.writing = false;
    }
    this.schedule();
    // drain() re-checks and waits again while a write is in flight or updates are pending.
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
