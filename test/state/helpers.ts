/**
 * Test helpers for the state suites: the real S3 server (Ceph RGW started by
 * scripts/s3-test-server.sh), the GCS JSON-API test server (test/state/gcs-server/) and throw-away
 * directories. Never skips: without a server the S3 suite fails and says how to start one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createS3Client } from "../../src/state/s3-backend.js";
import { createGcsClient } from "../../src/state/gcs-backend.js";
import { startGcsServer, type GcsTestServer } from "./gcs-server/server.js";

/** Test-only keys created by scripts/s3-test-server.sh (the AWS documentation examples). */
export const TEST_S3_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE";
export const TEST_S3_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

export function s3Endpoint(): string {
  const endpoint = process.env.PVEFLEET_TEST_S3_ENDPOINT;
  if (endpoint) return endpoint;
  const startError = process.env.PVEFLEET_TEST_S3_START_ERROR;
  throw new Error(
    (startError ? `the S3 test server did not start: ${startError}. ` : "no S3 test server: PVEFLEET_TEST_S3_ENDPOINT is not set. ") +
      "Run the whole suite with `bash scripts/test.sh` (it starts Ceph RGW), or start one by hand: " +
      "`scripts/s3-test-server.sh start /tmp/pvefleet-s3 7480` then `export PVEFLEET_TEST_S3_ENDPOINT=http://127.0.0.1:7480` " +
      "(stop it with `scripts/s3-test-server.sh stop /tmp/pvefleet-s3`).",
  );
}

export function s3Env(): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: s3Endpoint(),
    AWS_REGION: "us-east-1",
    AWS_S3_USE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: TEST_S3_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: TEST_S3_SECRET_KEY,
  };
}

/** A fresh bucket on the test server. */
export async function makeBucket(): Promise<string> {
  const bucket = `pvefleet-test-${randomUUID().slice(0, 8)}`;
  const { client, mod } = await createS3Client(s3Env());
  try {
    await client.send(new mod.CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

export function tempDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `pvefleet-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A GCS endpoint and a fresh bucket on it: PVEFLEET_TEST_GCS_ENDPOINT when set (another
 * GCS-compatible server, reached like an emulator through STORAGE_EMULATOR_HOST), else the strict
 * JSON-API test server started here on loopback. `close` stops the server this started.
 */
export async function gcsTestBucket(): Promise<{ env: NodeJS.ProcessEnv; bucket: string; server?: GcsTestServer; close: () => Promise<void> }> {
  const bucket = `pvefleet-test-${randomUUID().slice(0, 8)}`;
  const external = process.env.PVEFLEET_TEST_GCS_ENDPOINT;
  if (external) {
    const env = { STORAGE_EMULATOR_HOST: external, GOOGLE_CLOUD_PROJECT: "pvefleet-test" };
    const { storage } = await createGcsClient(env);
    await storage.createBucket(bucket);
    return { env, bucket, close: async () => undefined };
  }
  const server = await startGcsServer();
  server.createBucket(bucket);
  return { env: { STORAGE_EMULATOR_HOST: server.endpoint }, bucket, server, close: () => server.close() };
}
