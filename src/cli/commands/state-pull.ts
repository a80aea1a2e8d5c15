/** `pvefleet state pull`: print the state document (canonical JSON) on stdout. */
import type { Opts } from "../main.js";
import { canonicalJson } from "../../state/document.js";
import { openShardStore } from "../../state/shard-ids.js";

export async function run(opts: Opts): Promise<number> {
  const store = await openShardStore(opts);
  const got = await store.read();
  if (!got) {
    // Like `terraform state pull`: no state prints nothing; say why on stderr.
    process.stderr.write(`No state yet for shard ${store.shardId} at ${store.location}.\n`);
    return 0;
  }
  process.stdout.write(canonicalJson(got.doc));
  return 0;
}
