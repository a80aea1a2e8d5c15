/**
 * The GCS backend when the answers are wrong, through the fault proxy in front of the strict GCS
 * test server: a write whose answer has no generation or a different MD5 is refused (and the
 * object left alone), a read without `x-goog-generation` is refused (a CAS on a guessed generation
 * could overwrite unseen changes), a tag that is no generation never reaches the server, and every
 * refusal is one line naming the bucket and endpoint with a hint.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcsBackend, StoreConflictError } from "../../src/state/index.js";
import { createGcsClient, readGcsObject } from "../../src/state/gcs-backend.js";
import { UserError } from "../../src/errors.js";
import { startGcsServer, type GcsTestServer } from "./gcs-server/server.js";
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from "./fault-proxy.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const BUCKET = "faults";
const gcsError = (status: number, message: string) => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ error: { code: status, message, errors: [{ message, reason: "injected" }] } }),
});

let server: GcsTestServer;
let proxy: FaultProxy;

const name = (r: ProxiedRequest) => new URL(r.url, "http://x").searchParams.get("name") ?? decodeURIComponent(new URL(r.url, "http://x").pathname.split("/o/")[1] ?? "");
const isUpload = (object: string) => (r: ProxiedRequest) => r.method === "POST" && r.url.includes("/upload/") && name(r) === object;

async function openBackend(prefix: string): Promise<GcsBackend> {
  proxy.setRule(() => undefined);
  const backend = await GcsBackend.open({ bucket: BUCKET, prefix, env: { STORAGE_EMULATOR_HOST: proxy.endpoint } });
  await backend.ensureProbed();
  proxy.log.length = 0;
  return backend;
}

beforeAll(async () => {
  server = await startGcsServer();
  server.createBucket(BUCKET);
  proxy = await startFaultProxy(server.endpoint);
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

describe("GCS backend behind wrong answers", () => {
  it("refuses a write whose answer reports no generation", async () => {
    const backend = await openBackend("nogen");
    proxy.setRule((r) =>
      isUpload("nogen/k")(r)
        ? { after: (s) => { const o = JSON.parse(s.body.toString()) as Record<string, unknown>; delete o.generation; return { ...s, body: Buffer.from(JSON.stringify(o)) }; } }
        : undefined,
    );
    const e = await backend.put("k", enc("v"), { ifNoneMatch: "*" }).catch((err: unknown) => err);
    expect((e as UserError).code).toBe("STATE_GCS");
    expect((e as UserError).message).toBe(`cannot write k in gs://${BUCKET}/nogen/ at ${proxy.endpoint}: the server did not report the new generation`);
  });

  it("refuses a write whose stored MD5 is not the bytes sent, and leaves the object alone", async () => {
    const backend = await openBackend("md5");
    proxy.setRule((r) =>
      isUpload("md5/k")(r)
        ? { after: (s) => ({ ...s, body: Buffer.from(JSON.stringify({ ...JSON.parse(s.body.toString()), md5Hash: "AAAAAAAAAAAAAAAAAAAAAA==" })) }) }
        : undefined,
    );
    const e = await backend.put("k", enc("v"), { ifNoneMatch: "*" }).catch((err: unknown) => err);
    expect((e as UserError).message).toMatch(/: the server stored different bytes \(MD5 mismatch\); the object was left as is$/);
    // The client's own check would have deleted it unconditionally; ours does not.
    expect(dec(server.object(BUCKET, "md5/k")!.data)).toBe("v");
    expect(proxy.log.some((l) => l.method === "DELETE")).toBe(false);
  });

  it("refuses a read that does not say which generation its bytes are", async () => {
    const backend = await openBackend("readgen");
    await backend.put("k", enc("v"), { ifNoneMatch: "*" });
    proxy.setRule((r) =>
      r.method === "GET" && r.url.includes("alt=media")
        ? { after: (s) => ({ ...s, headers: Object.fromEntries(Object.entries(s.headers).filter(([h]) => h !== "x-goog-generation")) }) }
        : undefined,
    );
    const e = await backend.get("k").catch((err: unknown) => err);
    expect((e as UserError).code).toBe("STATE_GCS");
    expect((e as UserError).message).toBe(
      `cannot read k in gs://${BUCKET}/readgen/ at ${proxy.endpoint}: the server did not report the object's generation (x-goog-generation)`,
    );
  });

  it("treats a version tag that is no generation as a lost race without sending the write", async () => {
    const backend = await openBackend("tag");
    await backend.put("k", enc("v"), { ifNoneMatch: "*" });
    proxy.log.length = 0;
    const e = await backend.put("k", enc("w"), { ifMatch: '"5d41402abc4b2a76b9719d911017c592"' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreConflictError);
    expect((e as StoreConflictError).reason).toBe("changed");
    expect(proxy.log.filter((l) => l.method === "POST")).toEqual([]);
    expect(dec(server.object(BUCKET, "tag/k")!.data)).toBe("v");
  });

  it("reports a refused write once, with the role to grant, and does not retry it", async () => {
    const backend = await openBackend("denied");
    proxy.setRule((r) => (isUpload("denied/k")(r) ? { answer: gcsError(403, "pvefleet@p.iam does not have storage.objects.create access") } : undefined));
    const e = await backend.put("k", enc("v"), { ifNoneMatch: "*" }).catch((err: unknown) => err);
    expect((e as UserError).message).toBe(
      `cannot write k in gs://${BUCKET}/denied/ at ${proxy.endpoint}: HTTP 403, pvefleet@p.iam does not have storage.objects.create access (check the Google credentials and their access to the bucket: roles/storage.objectUser)`,
    );
    expect(proxy.log.filter((l) => l.method === "POST")).toHaveLength(1);
  });

  it("deletes an object it did not write at the generation it sees, and is done when it is gone", async () => {
    const writer = await openBackend("del");
    await writer.put("k", enc("v"), { ifNoneMatch: "*" });
    const other = await openBackend("del");
    await other.delete("k");
    expect(server.object(BUCKET, "del/k")).toBeUndefined();
    await expect(other.delete("k")).resolves.toBeUndefined();
    proxy.setRule((r) => (r.method === "DELETE" ? { answer: gcsError(403, "denied") } : undefined));
    await writer.put("k2", enc("v"), { ifNoneMatch: "*" });
    const e = await writer.delete("k2").catch((err: unknown) => err);
    expect((e as UserError).message).toMatch(/^cannot delete k2 in gs:\/\/faults\/del\/ at .*: HTTP 403, denied \(check the Google credentials/);
    expect(server.object(BUCKET, "del/k2")).toBeDefined();
  });
});

describe("reading a gs:// shard file", () => {
  it("reads an object and names a bad URL, a missing object, a missing bucket and a failing server", async () => {
    const env = { STORAGE_EMULATOR_HOST: proxy.endpoint };
    proxy.setRule(() => undefined);
    const writer = await GcsBackend.open({ bucket: BUCKET, prefix: "", env });
    await writer.put("shard.jsonc", enc("{}"), { ifNoneMatch: "*" });
    expect(dec(await readGcsObject(`gs://${BUCKET}/shard.jsonc`, env))).toBe("{}");
    const fail = (url: string) => readGcsObject(url, env).then(() => { throw new Error(`${url} was read`); }, (err: unknown) => err as UserError);
    expect((await fail("gs://bucket-only")).code).toBe("E_GCS_URL");
    expect((await fail(`gs://${BUCKET}/nope`)).message).toBe(`cannot read gs://${BUCKET}/nope at ${proxy.endpoint}: no such object`);
    expect((await fail("gs://no-such-bucket/x")).message).toBe(`cannot read gs://no-such-bucket/x at ${proxy.endpoint}: bucket does not exist`);
    proxy.setRule(() => ({ answer: gcsError(400, "bad request\nsecond line") }));
    expect((await fail(`gs://${BUCKET}/shard.jsonc`)).message).toBe(`cannot read gs://${BUCKET}/shard.jsonc at ${proxy.endpoint}: HTTP 400, bad request`);
  }, 30_000);
});

describe("GCS client configuration", () => {
  it("takes an emulator host with or without a scheme, and the project from the environment", async () => {
    const bare = await createGcsClient({ STORAGE_EMULATOR_HOST: "127.0.0.1:4443/", GOOGLE_CLOUD_PROJECT: "fleet-project" });
    expect(bare.endpoint).toBe("https://127.0.0.1:4443");
    expect(bare.storage.projectId).toBe("fleet-project");
    const withScheme = await createGcsClient({ STORAGE_EMULATOR_HOST: "http://127.0.0.1:4443" });
    expect(withScheme.endpoint).toBe("http://127.0.0.1:4443");
    const real = await createGcsClient({ GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/key.json" });
    expect(real.endpoint).toBe("Google Cloud Storage");
  });
});
