/** `pvefleet state show INSTANCE_ID`: one instance record. */
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { openShardStore } from "../../state/shard-ids.js";
import type { InstanceRecord } from "../../state/types.js";
import { outputFormat } from "../flags.js";
import { snakeKeys } from "../render/vocabulary.js";

/** One state record in the JSON spelling of every command: snake_case, with its address and `tenant.group`. */
export function instanceRecordJson(r: InstanceRecord): Record<string, unknown> {
  return { address: `${r.tenant}.${r.group}/${r.instanceId}`, ...(snakeKeys(r) as Record<string, unknown>), group: `${r.tenant}.${r.group}` };
}

export async function run(opts: Opts, instanceId: unknown): Promise<number> {
  const store = await openShardStore(opts);
  const got = await store.read();
  const id = String(instanceId);
  const record = got?.doc.instances[id];
  if (!record) {
    const near = Object.keys(got?.doc.instances ?? {}).filter((k) => k.startsWith(id.slice(0, 5)));
    throw new UserError("STATE_NO_INSTANCE", `instance ${id} is not in the state ${store.location}${near.length ? ` (did you mean ${near.slice(0, 3).join(", ")}?)` : ""}`);
  }
  if (outputFormat(opts) === "json") {
    process.stdout.write(JSON.stringify({ format_version: "1.0", ...instanceRecordJson(record) }, null, 2) + "\n");
    return 0;
  }
  const fields: [string, string | undefined][] = [
    ["instance", record.instanceId],
    ["group", `${record.tenant}.${record.group}`],
    ["template", record.template],
    ["kind", record.kind],
    ["vmid", String(record.vmid)],
    ["node", record.node],
    ["phase", record.phase],
    ["steps done", record.stepsDone.join(", ") || "-"],
    ["iso volume", record.isoVolume],
    ["replace hash", record.replaceHash],
    ["update hash", record.updateHash],
    ["created", record.createdAt],
    ["updated", record.updatedAt],
  ];
  for (const [k, v] of fields) if (v !== undefined) process.stdout.write(`${(k + ":").padEnd(14)}${v}\n`);
  return 0;
}
