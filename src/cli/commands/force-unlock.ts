/** `pvefleet force-unlock LOCK_ID`: remove a stuck state lock, after confirmation unless -f. */
import { createInterface } from "node:readline/promises";
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { formatLockInfo } from "../../state/lease-lock.js";
import { openShardStore } from "../../state/shard-ids.js";

export async function run(opts: Opts, lockId: unknown): Promise<number> {
  const id = String(lockId);
  const store = await openShardStore(opts);
  if (!opts.force) {
    if (!process.stdin.isTTY) {
      throw new UserError("E_CONFIRM", "force-unlock needs confirmation: run it on a terminal to answer, or pass -f/--force");
    }
    const holder = await store.currentLock();
    process.stdout.write(
      `Do you really want to force-unlock?\n  pvefleet will remove the lock on ${store.lockLocation}. If another run still holds it,\n  two runs may then work on this shard at once.\n` +
        (holder ? `\n${formatLockInfo(holder)}\n` : "") +
        `\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: `,
    );
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
    const answer = (await rl.question("")).trim();
    rl.close();
    if (answer !== "yes") {
      process.stdout.write("force-unlock cancelled.\n");
      return 1;
    }
  }
  await store.forceUnlock(id);
  process.stdout.write(`The state lock ${id} on ${store.lockLocation} has been removed.\n`);
  return 0;
}
