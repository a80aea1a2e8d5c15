/**
 * A child `apply` for the crash-resume test: plans inside the lock and applies, printing one line
 * per event so the parent can SIGKILL it mid-operation. Run with `node --import tsx`.
 * Environment: PROXMOX_API_URL, PROXMOX_TOKEN_ID, PROXMOX_TOKEN_SECRET, SIM_CA_FILE, SHARD, STATE_DIR,
 * PARALLELISM (optional; the applier's default otherwise).
 */
import { readFileSync } from "node:fs";
import { apply } from "../../src/applier/index.js";
import { loadShardFile } from "../../src/config/index.js";
import { createProxmoxProvider } from "../../src/providers/proxmox/index.js";
import { openStateStore } from "../../src/state/index.js";
import { makePlan } from "./harness.js";

const env = process.env;
const desired = await loadShardFile(env.SHARD!);
const store = await openStateStore({ storage: "file", stateDir: env.STATE_DIR!, clusterId: desired.clusterId, shardId: desired.shardId });
const ops = createProxmoxProvider({ clusterId: desired.clusterId, shardId: desired.shardId, ca: readFileSync(env.SIM_CA_FILE!, "utf8"), env, pollIntervalMs: 5 });
const lock = await store.lock("apply");
try {
  const current = await store.read();
  const plan = await makePlan(ops, desired, current?.doc);
  process.stdout.write(`planned ${plan.actions.length}\n`);
  const result = await apply(plan, {
    ops, store, desired, lock,
    ...(env.PARALLELISM ? { parallelism: Number(env.PARALLELISM) } : {}),
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    onEvent: (e) => process.stdout.write(`${e.type} ${e.actionId ?? ""}\n`),
  });
  process.stdout.write(`result ${result.status}\n`);
} finally {
  await lock.release();
  await ops.close();
}
