/**
 * State store write latency and document size for a 10,000-instance shard, on the file backend, on
 * S3 (Ceph RGW) and on GCS (the GCS JSON-API test server from test/state/gcs-server/, in this
 * process, so its figures are the client's and the protocol's cost, not Google's). S3 uses
 * PVEFLEET_TEST_S3_ENDPOINT when set; with `--s3` it starts scripts/s3-test-server.sh on a free
 * port and stops it at the end; otherwise S3 is left out (RGW is heavy to start).
 *
 *   npx tsx bench/state.ts [writes=30] [--s3]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newStateDoc, openStateStore, serializeStateDoc, type OpenStateStoreOptions } from "../src/state/index.js";
import { createS3Client } from "../src/state/s3-backend.js";
import { startGcsServer } from "../test/state/gcs-server/server.js";
import type { InstanceRecord, StateDoc } from "../src/state/types.js";

const INSTANCES = 10_000;
const args = process.argv.slice(2);
const WRITES = Number(args.find((a) => /^\d+$/.test(a)) ?? 30);
const START_S3 = args.includes("--s3");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function bigDoc(): StateDoc {
  const doc = newStateDoc("bench-cluster", "bench");
  const now = new Date().toISOString();
  for (let i = 0; i < INSTANCES; i++) {
    const instanceId = `tst${i.toString(36).padStart(6, "0")}dx9xy919t3v9kzd2xds`;
    const rec: InstanceRecord = {
      instanceId,
      tenant: `tenant${i % 10}`,
      group: `group${i % 50}`,
      template: "web",
      kind: "tst",
      vmid: 10_000 + i,
      node: `pve${i % 16}`,
      replaceHash: `sha256:${"a".repeat(64)}`,
      updateHash: `sha256:${"b".repeat(64)}`,
      isoVolume: `local:iso/${instanceId}-cidata.iso`,
      phase: "ready",
      stepsDone: [],
      createdAt: now,
      updatedAt: now,
    };
    doc.instances[instanceId] = rec;
  }
  return doc;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(label: string, opts: Omit<OpenStateStoreOptions, "clusterId" | "shardId">): Promise<void> {
  const store = await openStateStore({ ...opts, clusterId: "bench-cluster", shardId: "bench" });
  const doc = bigDoc();
  let cur = await store.write(doc, undefined);
  const times: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    // One record changes per write, as after one apply step.
    const id = Object.keys(cur.doc.instances)[i]!;
    const next = { ...cur.doc, instances: { ...cur.doc.instances, [id]: { ...cur.doc.instances[id]!, updatedAt: new Date().toISOString() } } };
    const t0 = performance.now();
    cur = await store.write(next, cur.etag);
    times.push(performance.now() - t0);
  }
  const readT0 = performance.now();
  await store.read();
  const readMs = performance.now() - readT0;
  times.sort((a, b) => a - b);
  const bytes = serializeStateDoc(cur.doc).byteLength;
  console.log(
    `${label.padEnd(5)} ${INSTANCES} instances, ${(bytes / 1024 / 1024).toFixed(2)} MiB (${bytes} bytes): ` +
      `CAS write median ${quantile(times, 0.5).toFixed(1)} ms, p95 ${quantile(times, 0.95).toFixed(1)} ms over ${WRITES} writes; read+validate ${readMs.toFixed(1)} ms`,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), "pvefleet-bench-state-"));
let s3dir: string | undefined;
try {
  await measure("file", { storage: "file", stateDir: dir });

  const gcs = await startGcsServer();
  try {
    gcs.createBucket("pvefleet-bench");
    await measure("gcs", { storage: "gcs", bucket: "pvefleet-bench", env: { STORAGE_EMULATOR_HOST: gcs.endpoint } });
  } finally {
    await gcs.close();
  }

  let endpoint = process.env.PVEFLEET_TEST_S3_ENDPOINT;
  if (!endpoint && !START_S3) {
    console.log(`(s3 left out: set PVEFLEET_TEST_S3_ENDPOINT or pass --s3; gcs = the GCS JSON-API test server on loopback; file = ${dir})`);
  } else if (!endpoint) {
    s3dir = mkdtempSync(path.join(tmpdir(), "pvefleet-bench-s3-"));
    const port = await freePort();
    execFileSync(path.join(root, "scripts/s3-test-server.sh"), ["start", s3dir, String(port)], { stdio: ["ignore", "ignore", "inherit"] });
    endpoint = `http://127.0.0.1:${port}`;
  }
  if (endpoint) {
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
    const bucket = `pvefleet-bench-${Date.now()}`;
    const { client, mod } = await createS3Client(env);
    await client.send(new mod.CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    await measure("s3", { storage: "s3", bucket, env });
    console.log(`(s3 = Ceph RGW at ${endpoint}; gcs = the GCS JSON-API test server on loopback; file = ${dir})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (s3dir) {
    execFileSync(path.join(root, "scripts/s3-test-server.sh"), ["stop", s3dir], { stdio: "ignore" });
    rmSync(s3dir, { recursive: true, force: true });
  }
}
