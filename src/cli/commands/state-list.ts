/** `pvefleet state list`: the instances the state document knows, as a table or JSON. */
import type { Opts } from "../main.js";
import { openShardStore } from "../../state/shard-ids.js";

export async function run(opts: Opts): Promise<number> {
  const store = await openShardStore(opts);
  const got = await store.read();
  const records = got ? Object.values(got.doc.instances).sort((a, b) => a.instanceId.localeCompare(b.instanceId)) : [];
  if (opts.format === "json") {
    const out = got ? { lineage: got.doc.lineage, serial: got.doc.serial, clusterId: got.doc.clusterId, shardId: got.doc.shardId, instances: records } : { lineage: null, serial: 0, clusterId: store.clusterId, shardId: store.shardId, instances: [] };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  if (!got) {
    process.stdout.write(`No state yet for shard ${store.shardId} at ${store.location}.\n`);
    return 0;
  }
  process.stdout.write(`State ${store.location}: serial ${got.doc.serial}, lineage ${got.doc.lineage}, ${records.length} instance${records.length === 1 ? "" : "s"}\n`);
  if (records.length === 0) return 0;
  const rows = [["INSTANCE", "GROUP", "VMID", "NODE", "PHASE", "UPDATED"], ...records.map((r) => [r.instanceId, `${r.tenant}.${r.group}`, String(r.vmid), r.node, r.phase, r.updatedAt])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) process.stdout.write(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ") + "\n");
  return 0;
}
