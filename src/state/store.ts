/**
 * One shard's state on one backend: the document at `shard/{shard}/state.json` and its lease lock
 * at `shard/{shard}/state.lock` (the backend adds the prefix). Every write is compare-and-swap.
 */
import { randomUUID } from "node:crypto";
import { UserError } from "../errors.js";
import { parseStateDoc, serializeStateDoc, stateDocIssue } from "./document.js";
import { acquireLease, forceUnlock, type LockOptions } from "./lease-lock.js";
import { isStoreConflict } from "./store-conflict.js";
import type { LeaseLock, LockInfo, ObjectBackend, StateDoc, StateStore } from "./types.js";

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function stateKeys(shardId: string): { stateKey: string; lockKey: string } {
  if (!SAFE_ID.test(shardId)) throw new UserError("E_SHARD_ID", `shard ID "${shardId}" cannot name state objects (letters, digits, ".", "_" and "-" only)`);
  return { stateKey: `shard/${shardId}/state.json`, lockKey: `shard/${shardId}/state.lock` };
}

function where(backend: ObjectBackend, key: string): string {
  const named = backend as ObjectBackend & { where?: (key: string) => string };
  return named.where ? named.where(key) : `${backend.description} ${key}`;
}

export class ShardStateStore implements StateStore {
  readonly location: string;
  readonly stateKey: string;
  readonly lockKey: string;
  readonly lockLocation: string;

  constructor(
    readonly backend: ObjectBackend,
    readonly clusterId: string,
    readonly shardId: string,
    private readonly lockDefaults: LockOptions = {},
  ) {
    ({ stateKey: this.stateKey, lockKey: this.lockKey } = stateKeys(shardId));
    this.location = where(backend, this.stateKey);
    this.lockLocation = where(backend, this.lockKey);
  }

  async read(): Promise<{ doc: StateDoc; etag: string } | undefined> {
    const got = await this.backend.get(this.stateKey);
    if (!got) return undefined;
    const doc = parseStateDoc(got.body, this.location);
    this.checkOwner(doc);
    return { doc, etag: got.etag };
  }

  async write(doc: StateDoc, expectedEtag: string | undefined): Promise<{ doc: StateDoc; etag: string }> {
    this.checkOwner(doc);
    const next: StateDoc = { ...doc, serial: doc.serial + 1, writeId: randomUUID() };
    // Never write what we would refuse to read back.
    // (Frozen records already validated are not checked again: src/state/document.ts.)
    const issue = stateDocIssue(next);
    if (issue) throw new Error(`refusing to write an invalid state document (${issue.path.map(String).join(".")}: ${issue.message})`);
    try {
      const { etag } = await this.backend.put(this.stateKey, serializeStateDoc(next), expectedEtag === undefined ? { ifNoneMatch: "*" } : { ifMatch: expectedEtag });
      return { doc: next, etag };
    } catch (e) {
      if (!isStoreConflict(e)) throw e;
      throw await this.conflict(doc, expectedEtag, e);
    }
  }

  /** Re-reads to say what happened; never retries (the caller's change may no longer apply). */
  private async conflict(doc: StateDoc, expectedEtag: string | undefined, cause: unknown): Promise<UserError> {
    let now: string;
    try {
      const cur = await this.read();
      now = cur ? `it is now at serial ${cur.doc.serial} (write ${cur.doc.writeId})` : "it no longer exists";
    } catch (e) {
      now = `re-reading it failed: ${(e as Error).message}`;
    }
    const what =
      expectedEtag === undefined
        ? `state ${this.location} was created by another writer while this run was creating it; ${now}`
        : `state ${this.location} was changed by another writer since this run read it at serial ${doc.serial}; ${now}`;
    return new UserError("STATE_CONFLICT", `${what}. Nothing was written: re-run plan to work from the current state`, undefined, { cause });
  }

  private checkOwner(doc: StateDoc): void {
    if (doc.clusterId !== this.clusterId || doc.shardId !== this.shardId) {
      throw new UserError(
        "STATE_MISMATCH",
        `state ${this.location} belongs to cluster "${doc.clusterId}" shard "${doc.shardId}", not cluster "${this.clusterId}" shard "${this.shardId}"`,
      );
    }
  }

  lock(operation: string, options: LockOptions = {}): Promise<LeaseLock> {
    return acquireLease(this.backend, this.lockKey, this.lockLocation, operation, { ...this.lockDefaults, ...options });
  }

  /** The lock as stored, or undefined; for display (`force-unlock`, `state` commands). */
  async currentLock(): Promise<LockInfo | undefined> {
    const got = await this.backend.get(this.lockKey);
    if (!got) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(got.body)) as LockInfo;
    } catch {
      return undefined;
    }
  }

  async forceUnlock(lockId: string): Promise<void> {
    await forceUnlock(this.backend, this.lockKey, this.lockLocation, lockId);
  }
}
