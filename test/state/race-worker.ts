/**
 * One contender in the race tests, driven by the parent over IPC so that every round starts for
 * all workers at once. Talks to the real backend through the public store API.
 */
import { openStateStore, isStoreConflict } from "../../src/state/index.js";
import { isUserError } from "../../src/errors.js";
import type { LeaseLock, StateDoc } from "../../src/state/types.js";
import type { StorageKind } from "../../src/state/storage-kinds.js";
import type { ShardStateStore } from "../../src/state/store.js";

type Msg =
  | { type: "init"; storage: StorageKind; stateDir?: string; bucket?: string; prefix?: string; env?: NodeJS.ProcessEnv; clusterId: string; shardId: string; workerId: number }
  | { type: "lock"; round: number }
  | { type: "unlock"; round: number }
  | { type: "read"; round: number }
  | { type: "write"; round: number }
  | { type: "exit" };

let store: ShardStateStore;
let workerId = -1;
let held: LeaseLock | undefined;
let seen: { doc: StateDoc; etag: string } | undefined;

function record(instanceId: string, doc: StateDoc): StateDoc {
  const now = new Date().toISOString();
  return {
    ...doc,
    instances: {
      ...doc.instances,
      [instanceId]: { instanceId, tenant: "t", group: "g", template: "x", kind: "tst", vmid: 100, node: "pve1", replaceHash: "r", updateHash: "u", phase: "ready", stepsDone: [], createdAt: now, updatedAt: now },
    },
  };
}

async function handle(msg: Msg): Promise<unknown> {
  switch (msg.type) {
    case "init":
      workerId = msg.workerId;
      store = await openStateStore({ ...msg, lockDefaults: { backoffInitialMs: 10, backoffMaxMs: 40, releaseGraceMs: 2_000 } });
      return { ok: true };
    case "lock":
      try {
        held = await store.lock("race", { timeoutMs: 0, ttlMs: 30_000 });
      } catch (e) {
        if (isUserError(e) && e.code === "STATE_LOCKED") return { won: false };
        throw e;
      }
      {
        // While holding the lock the state write must never conflict.
        const cur = (await store.read())!;
        held.assertHeld();
        const out = await store.write(record(`lock-r${msg.round}-w${workerId}`, cur.doc), cur.etag);
        return { won: true, serial: out.doc.serial, lockId: held.info.id };
      }
    case "unlock":
      await held?.release();
      held = undefined;
      return { ok: true };
    case "read":
      seen = await store.read();
      return { serial: seen?.doc.serial };
    case "write":
      try {
        const out = await store.write(record(`cas-r${msg.round}-w${workerId}`, seen!.doc), seen!.etag);
        return { won: true, serial: out.doc.serial };
      } catch (e) {
        if (isUserError(e) && e.code === "STATE_CONFLICT") return { won: false };
        if (isStoreConflict(e)) return { won: false, raw: true };
        throw e;
      }
    case "exit":
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on("message", (msg: Msg) => {
  handle(msg).then(
    (result) => process.send!({ ok: true, result }),
    (e: Error) => process.send!({ ok: false, error: `${e.name}: ${e.message}` }),
  );
});
