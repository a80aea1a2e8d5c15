/**
 * `pvefleet validate`: read the shard file, print a one-line summary (exit 0) or every problem as
 * `file:line:col: path: message` (exit 1). Notices go to stderr. No network, no credentials —
 * except reading an s3:// or gs:// shard file, which uses the state backend's S3 or GCS reader.
 */
import type { Opts } from "../main.js";
import { isUserError, UserErrors } from "../../errors.js";
import { loadShardFileDetailed } from "../../config/load.js";

async function readRemote(url: string): Promise<Uint8Array> {
  const { readRemoteObject } = await import("../../state/index.js");
  return readRemoteObject(url);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export async function run(opts: Opts): Promise<number> {
  const config = opts.config as string | undefined;
  try {
    const result = await loadShardFileDetailed(config, {
      shard: opts.shard as string | undefined,
      readRemote,
      onNotice: (line) => process.stderr.write(`${line}\n`),
    });
    const shard = result.shard;
    if (opts.format === "json") {
      process.stdout.write(`${JSON.stringify(shard, null, 2)}\n`);
      return 0;
    }
    const instances = shard.groups.reduce((n, g) => n + g.size, 0);
    process.stdout.write(
      `${shard.source.location}: valid — shard ${shard.shardId} (cluster ${shard.clusterId}): ` +
        `${plural(shard.groups.length, "group")}, ${plural(instances, "instance")}, ${plural(result.templateCount, "template")}\n`,
    );
    return 0;
  } catch (err) {
    if (!isUserError(err)) throw err;
    const lines = err instanceof UserErrors ? err.problems.map((p) => p.line()) : [err.line()];
    for (const line of lines) process.stderr.write(`${line}\n`);
    return 1;
  }
}
