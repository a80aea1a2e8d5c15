/**
 * The GCS backend where GCS differs from S3 or where servers misbehave: a server that ignores
 * generation preconditions is refused after the probe, a write whose response was lost is
 * confirmed by its bytes, delete removes only the generation this process wrote, and errors are one
 * line naming the endpoint. The server is the GCS JSON-API test server on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcsBackend, openStateStore, StoreConflictError } from "../../src/state/index.js";
import { UserError } from "../../src/errors.js";
import { startGcsServer, type GcsTestServer } from "./gcs-server/server.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let server: GcsTestServer;
let env: NodeJS.ProcessEnv;
const BUCKET = "backend";

beforeAll(async () => {
  server = await startGcsServer();
  server.createBucket(BUCKET);
  env = { STORAGE_EMULATOR_HOST: server.endpoint };
});
afterAll(() => server.close());

describe("GCS backend", () => {
  it("uses ifGenerationMatch=0 to create and the generation as the version tag", async () => {
    const backend = await GcsBackend.open({ bucket: BUCKET, prefix: "tags", env });
    const { etag } = await backend.put("k", enc("one"), { ifNoneMatch: "*" });
    expect(etag).toBe(String(server.object(BUCKET, "tags/k")!.generation));
    const create = server.requests.filter((r) => r.method === "POST" && r.query.name === "tags/k");
    expect(create.map((r) => [r.query.uploadType, r.query.ifGenerationMatch, r.status])).toEqual([["multipart", "0", 200]]);
    await backend.put("k", enc("two"), { ifMatch: etag });
    expect(server.requests.some((r) => r.query.name === "tags/k" && r.query.ifGenerationMatch === etag && r.status === 200)).toBe(true);
  });

  it("confirms a write whose response was lost (503 after commit, retried, 412) by its bytes", async () => {
    const backend = await GcsBackend.open({ bucket: BUCKET, prefix: "lost", env });
    await backend.ensureProbed();
    server.failAfterCommit(1);
    const { etag } = await backend.put("k", enc("mine"), { ifNoneMatch: "*" });
    const stored = server.object(BUCKET, "lost/k")!;
    expect(dec(stored.data)).toBe("mine");
    expect(etag).toBe(String(stored.generation));
    // The client really retried: the first answer was 503, the retry lost to our own write.
    expect(server.requests.filter((r) => r.query.name === "lost/k").map((r) => r.status)).toEqual([503, 412]);
  }, 30_000);

  it("still reports a lost race as a conflict when the bytes there are someone else's", async () => {
    const a = await GcsBackend.open({ bucket: BUCKET, prefix: "race", env });
    const b = await GcsBackend.open({ bucket: BUCKET, prefix: "race", env });
    const v1 = await a.put("k", enc("v1"), { ifNoneMatch: "*" });
    await b.put("k", enc("b"), { ifMatch: v1.etag });
    const lost = await a.put("k", enc("a"), { ifMatch: v1.etag }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(StoreConflictError);
    expect((lost as StoreConflictError).reason).toBe("changed");
    expect(dec((await a.get("k"))!.body)).toBe("b");
  });

  it("deletes only the generation this process wrote, never a newer writer's object", async () => {
    const a = await GcsBackend.open({ bucket: BUCKET, prefix: "del", env });
    const b = await GcsBackend.open({ bucket: BUCKET, prefix: "del", env });
    const v1 = await a.put("lock", enc("a's"), { ifNoneMatch: "*" });
    await b.put("lock", enc("b's"), { ifMatch: v1.etag });
    await a.delete("lock"); // refused with 412 by the server, ignored
    expect(dec((await b.get("lock"))!.body)).toBe("b's");
    const refused = server.requests.filter((r) => r.method === "DELETE" && r.path.endsWith(encodeURIComponent("del/lock")));
    expect(refused.map((r) => [r.query.ifGenerationMatch, r.status])).toEqual([[v1.etag, 412]]);
    await b.delete("lock");
    expect(await a.get("lock")).toBeUndefined();
  });

  it("deletes an object another process wrote at the generation it saw, never unconditionally", async () => {
    const a = await GcsBackend.open({ bucket: BUCKET, prefix: "del2", env });
    const b = await GcsBackend.open({ bucket: BUCKET, prefix: "del2", env });
    const { etag } = await a.put("k", enc("a's"), { ifNoneMatch: "*" });
    await b.delete("k");
    expect(server.object(BUCKET, "del2/k")).toBeUndefined();
    await b.delete("k"); // already gone: not an error
    const deletes = server.requests.filter((r) => r.method === "DELETE" && r.path.endsWith(encodeURIComponent("del2/k")));
    expect(deletes.map((r) => [r.query.ifGenerationMatch, r.status])).toEqual([[etag, 204]]);
    expect(server.requests.filter((r) => r.method === "DELETE").every((r) => r.query.ifGenerationMatch !== undefined)).toBe(true);
  });

  it("refuses a server that ignores generation preconditions, naming the endpoint", async () => {
    const lax = await startGcsServer({ ignorePreconditions: true });
    try {
      lax.createBucket("lax");
      const store = await openStateStore({ storage: "gcs", bucket: "lax", clusterId: "c1", shardId: "dev", env: { STORAGE_EMULATOR_HOST: lax.endpoint } });
      const e = await store.read().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).code).toBe("GCS_NO_PRECONDITIONS");
      expect((e as UserError).message).toContain(lax.endpoint);
      expect((e as UserError).message).toContain("ifGenerationMatch=0 overwrote an existing object");
      // Nothing is left behind: the probe object was deleted and no state was written.
      expect(lax.objectNames("lax")).toEqual([]);
    } finally {
      await lax.close();
    }
  });

  it("reports a missing bucket as one line that says so", async () => {
    const store = await openStateStore({ storage: "gcs", bucket: "no-such-bucket", clusterId: "c1", shardId: "dev", env });
    const e = await store.read().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("STATE_GCS");
    expect((e as UserError).message).toContain("bucket no-such-bucket does not exist");
    expect((e as UserError).message.split("\n")).toHaveLength(1);
  });

  it("reports an unreachable endpoint as one line naming it", async () => {
    const store = await openStateStore({
      storage: "gcs",
      bucket: "b",
      clusterId: "c1",
      shardId: "dev",
      env: { STORAGE_EMULATOR_HOST: "http://127.0.0.1:1" },
    });
    const e = await store.read().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("STATE_GCS");
    expect((e as UserError).message).toContain("http://127.0.0.1:1");
    expect((e as UserError).message).toContain("ECONNREFUSED");
    expect((e as UserError).message.split("\n")).toHaveLength(1);
  }, 60_000);

  it("needs --bucket", async () => {
    const e = await openStateStore({ storage: "gcs", clusterId: "c1", shardId: "dev", env }).catch((err: unknown) => err);
    expect((e as UserError).code).toBe("E_BUCKET");
    expect((e as UserError).message).toContain("--storage gcs needs --bucket");
  });
});
