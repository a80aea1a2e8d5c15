/**
 * The one in-process writer of the state document during an apply. Every change is a mutation of
 * the in-memory document; mutations that arrive while a write is in flight are folded into the
 * next write (group commit), so N actions finishing together cost one compare-and-swap, and no
 * mutation is ever lost: `update()` resolves only once a write that contains it has succeeded.
 *
 * A lost race (STATE_CONFLICT: someone else wrote the state) is fatal: every pending and future
 * update rejects with it, and the applier stops (ARCHITECTURE.md rule 5: a 412 is never retried
 * blindly).
 */
import { randomUUID } from "node:crypto";
import type { StateDoc, StateStore } from "../state/types.js";

type Mutation = (doc: StateDoc) => void;

export class StateWriter {
  private doc: StateDoc;
  private etag: string | undefined;
  private pending: { mutate: Mutation; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;
  private fatal: unknown;
  /** Number of successful writes and of mutations they carried (for the bench's batching figure). */
  readonly stats = { writes: 0, mutations: 0 };

  constructor(
    private readonly store: StateStore,
    initial: { doc: StateDoc; etag: string | undefined },
    private readonly onWritten?: (serial: number) => void,
  ) {
    this.doc = structuredClone(initial.doc);
    this.etag = initial.etag;
  }

  /** A fresh document for a shard that has no state yet (written with If-None-Match: *). */
  static emptyDoc(clusterId: string, shardId: string): StateDoc {
    return { formatVersion: 1, lineage: randomUUID(), serial: 0, writeId: randomUUID(), clusterId, shardId, instances: {} };
  }

  /** The document as last changed in memory (written or about to be). Read-only by convention. */
  get current(): StateDoc {
    return this.doc;
  }

  get failure(): unknown {
    return this.fatal;
  }

  /** Applies `mutate` to the document and resolves once it is persisted. */
  update(mutate: Mutation): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ mutate, resolve, reject });
      void this.flush();
    });
  }

  /** Resolves when nothing is pending or in flight. */
  async drain(): Promise<void> {
    while (this.writing || this.pending.length > 0) {
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private async flush(): Promise<void> {
    if (this.writing || this.pending.length === 0 || this.fatal) return;
    this.writing = true;
    const batch = this.pending;
    this.pending = [];
    const next = structuredClone(this.doc);
    const now = new Date().toISOString();
    const applied: typeof batch = [];
    for (const m of batch) {
      try {
        m.mutate(next);
        applied.push(m);
      } catch (err) {
        m.reject(err);
      }
    }
    for (const record of Object.values(next.instances)) {
      const before = this.doc.instances[record.instanceId];
      if (!before || JSON.stringify(before) !== JSON.stringify(record)) record.updatedAt = now;
    }
    try {
      const written = await this.store.write(next, this.etag);
      this.doc = written.doc;
      this.etag = written.etag;
      this.stats.writes++;
      this.stats.mutations += applied.length;
      this.onWritten?.(written.doc.serial);
      for (const m of applied) m.resolve();
    } catch (err) {
      this.fatal = err;
      for (const m of [...applied, ...this.pending]) m.reject(err);
      this.pending = [];
    } finally {
      this.writing = false;
    }
    void this.flush();
  }
}
