/**
 * The config loader's reader for remote shard files: `s3://bucket/key` through the S3 client and
 * `gs://bucket/object` through the GCS client, each configured exactly as its state backend is.
 */
import { readGcsObject } from "./gcs-backend.js";
import { readS3Object } from "./s3-backend.js";

export function readRemoteObject(url: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  return url.startsWith("gs://") ? readGcsObject(url, env) : readS3Object(url, env);
}
