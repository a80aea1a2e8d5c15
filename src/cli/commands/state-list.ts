/** `pvefleet state list`: the instances the state document knows, as a table or JSON. */
import type { Opts } from "../main.js";
import { openShardStore } from "../../state/shard-ids.js";
import { outputFormat } from "../flags.js";
import { naturalCompare, plural } from "../render/vocabulary.js";
import { instanceRecordJson } from "./state-show.js";

export async function run(opts: Opts): Promise<number> {
  const store = await openShardStore(opts);
  const got = await store.read();
  // Natural order of group, then instance (pve2 before pve10 wherever numbers appear).
  const records = got ? Object.values(got.doc.instances).sort((a, b) => naturalCompare(`${a.tenant}.${a.group}`, `${b.tenant}.${b.group}`) || naturalCompare(a.instanceId, b.instanceId)) : [];
  if (outputFormat(opts) === "json") {
    const out = {
      format_version: "1.0",
      cluster_id: got?.doc.clusterId ?? store.clusterId,
      shard_id: got?.doc.shardId ?? store.shardId,
      location: store.location,
      exists: got !== undefined,
      lineage: got?.doc.lineage ?? null,
      serial: got?.doc.serial ?? 0,
      instances: records.map(instanceRecordJson),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  if (!got) {
    process.stdout.write(`No state yet for shard ${store.shardId} at ${store.location}.\n`);
    return 0;
  }
  process.stdout.write(`State ${store.location}: serial ${got.doc.serial}, lineage ${got.doc.lineage}, ${plural(records.length, "instance")}\n`);
  if (records.length === 0) return 0;
  const rows = [["INSTANCE", "GROUP", "VMID", "NODE", "PHASE", "UPDATED"], ...records.map((r) => [r.instanceId, `${r.tenant}.${r.group}`, String(r.vmid), r.node, r.phase, r.updatedAt])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) process.stdout.write(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ") + "\n");
  return 0;
}
