/**
 * `pvefleet state push FILE`: replace the state document, under the lock. Only a document of the
 * same lineage and a higher serial is accepted; `--force` overrides both checks with a warning.
 * The stored serial is the pushed one plus one (every write bumps it).
 */
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { parseStateDoc } from "../../state/document.js";
import { openShardStore } from "../../state/shard-ids.js";
import { MAX_STATE_FILE_BYTES, readJsonInput } from "../files.js";

export async function run(opts: Opts, file: unknown): Promise<number> {
  const path = String(file);
  const text = await readJsonInput(path, { what: "state document", maxBytes: MAX_STATE_FILE_BYTES, code: "E_READ" });
  const pushed = parseStateDoc(text, path);
  const store = await openShardStore(opts);
  const lock = await store.lock("state-push");
  try {
    const current = await store.read();
    if (current) {
      if (current.doc.lineage !== pushed.lineage) {
        if (!opts.force) {
          throw new UserError("STATE_LINEAGE", `${path} has lineage ${pushed.lineage}, but ${store.location} has lineage ${current.doc.lineage}: they are different states (use --force to replace it anyway)`);
        }
        process.stderr.write(`Warning: replacing state lineage ${current.doc.lineage} with ${pushed.lineage} (--force).\n`);
      }
      if (pushed.serial <= current.doc.serial) {
        if (!opts.force) {
          throw new UserError("STATE_SERIAL", `${path} has serial ${pushed.serial}, not higher than the stored serial ${current.doc.serial}: it may be older than the state (use --force to replace it anyway)`);
        }
        process.stderr.write(`Warning: pushing serial ${pushed.serial} over the newer stored serial ${current.doc.serial} (--force).\n`);
      }
    }
    lock.assertHeld();
    // Under --force the serial still moves forward, so saved plans made from the old state go stale.
    const base = current && pushed.serial <= current.doc.serial ? { ...pushed, serial: current.doc.serial } : pushed;
    // The write adds one; past 2^53 - 1 serials stop being exact integers (and the state schema refuses them).
    if (!Number.isSafeInteger(base.serial + 1)) {
      throw new UserError("STATE_SERIAL", `${path} has serial ${pushed.serial}: the stored serial would pass ${Number.MAX_SAFE_INTEGER}, the largest serial a state may have`);
    }
    const out = await store.write(base, current?.etag);
    process.stdout.write(`Pushed ${path} to ${store.location}: serial ${out.doc.serial}, lineage ${out.doc.lineage}.\n`);
    return 0;
  } finally {
    await lock.release();
  }
}
