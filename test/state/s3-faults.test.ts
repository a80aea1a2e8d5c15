/**
 * The S3 backend when the wire misbehaves in front of a real store (Ceph RGW behind the fault
 * proxy): a write the store made but whose answer was a 500 is confirmed by its bytes, a store that
 * keeps failing before acting is retried a bounded number of times and then reported, a lost race
 * hidden behind a 500 stays a conflict, a missing ETag is read back, and every error is one line
 * naming the bucket and endpoint with a hint — never the secret, even when the server echoes it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend, StoreConflictError } from "../../src/state/index.js";
import { readS3Object } from "../../src/state/s3-backend.js";
import { UserError } from "../../src/errors.js";
import { makeBucket, s3Endpoint, s3Env, TEST_S3_SECRET_KEY } from "./helpers.js";
import { s3Error, startFaultProxy, type FaultProxy, type ProxiedRequest } from "./fault-proxy.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let proxy: FaultProxy;
let bucket: string;

const viaProxy = () => ({ ...s3Env(), AWS_ENDPOINT_URL: proxy.endpoint });
/** Path-style object path of `prefix/key` in the test bucket. */
const objectPath = (prefix: string, key: string) => `/${bucket}/${prefix}/${key}`;
const isPut = (prefix: string, key: string) => (r: ProxiedRequest) => r.method === "PUT" && r.url.split("?")[0] === objectPath(prefix, key);
const putsTo = (prefix: string, key: string) => proxy.log.filter((l) => l.method === "PUT" && l.url.split("?")[0] === objectPath(prefix, key));

async function openBackend(prefix: string): Promise<S3Backend> {
  const backend = await S3Backend.open({ bucket, prefix, env: viaProxy() });
  proxy.setRule(() => undefined);
  await backend.ensureProbed();
  return backend;
}

/** What RGW itself holds, read around the proxy. */
async function stored(prefix: string, key: string) {
  const direct = await S3Backend.open({ bucket, prefix, env: s3Env() });
  return direct.get(key);
}

beforeAll(async () => {
  bucket = await makeBucket();
  proxy = await startFaultProxy(s3Endpoint());
});
afterAll(() => proxy?.close());

describe("S3 backend behind a misbehaving wire", () => {
  it("confirms a create that RGW made but answered 500 by re-reading its own bytes", async () => {
    const backend = await openBackend("acted");
    let failed = 0;
    proxy.setRule((r) => (isPut("acted", "k")(r) && failed++ === 0 ? { after: () => s3Error(500, "InternalError") } : undefined));
    const { etag } = await backend.put("k", enc("mine"), { ifNoneMatch: "*" });
    const now = await stored("acted", "k");
    expect(dec(now!.body)).toBe("mine");
    expect(etag).toBe(now!.etag);
    // The first PUT reached RGW (forwarded) and was answered 500; the SDK's conditional resend lost
    // to it (412), which is how the backend knew to look.
    expect(putsTo("acted", "k").map((l) => [l.forwarded, l.status])).toEqual([[true, 500], [true, 412]]);
  }, 30_000);

  it("retries a write that failed before acting beyond the SDK's own attempts, then succeeds", async () => {
    const backend = await openBackend("flaky");
    let failed = 0;
    // The SDK makes 3 attempts; the backend's second round gets through.
    proxy.setRule((r) => (isPut("flaky", "k")(r) && failed++ < 3 ? { answer: s3Error(500, "InternalError") } : undefined));
    await backend.put("k", enc("eventually"), { ifNoneMatch: "*" });
    expect(dec((await stored("flaky", "k"))!.body)).toBe("eventually");
    expect(putsTo("flaky", "k").map((l) => [l.forwarded, l.status])).toEqual([[false, 500], [false, 500], [false, 500], [true, 200]]);
  }, 30_000);

  it("reports a store that keeps failing as one STATE_S3 line after a bounded number of tries, writing nothing", async () => {
    const backend = await openBackend("down");
    proxy.setRule((r) => (isPut("down", "k")(r) ? { answer: s3Error(500, "InternalError") } : undefined));
    const e = await backend.put("k", enc("never"), { ifNoneMatch: "*" }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("STATE_S3");
    expect((e as UserError).message).toBe(`cannot write k in s3://${bucket}/down/ at ${proxy.endpoint}: InternalError, HTTP 500`);
    // 3 rounds of the SDK's 3 attempts, never forwarded, and nothing stored.
    expect(putsTo("down", "k").length).toBe(9);
    expect(await stored("down", "k")).toBeUndefined();
  }, 60_000);

  it("keeps a lost race a conflict when the 500 hides that another writer moved the object", async () => {
    const backend = await openBackend("race");
    const v1 = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    const other = await S3Backend.open({ bucket, prefix: "race", env: s3Env() });
    await other.put("k", enc("theirs"), { ifMatch: v1.etag });
    proxy.setRule((r) => (isPut("race", "k")(r) ? { answer: s3Error(500, "InternalError") } : undefined));
    const e = await backend.put("k", enc("mine"), { ifMatch: v1.etag }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StoreConflictError);
    expect((e as StoreConflictError).reason).toBe("changed");
    expect(dec((await stored("race", "k"))!.body)).toBe("theirs");
  }, 30_000);

  it("reads the ETag back when the write's answer carries none", async () => {
    const backend = await openBackend("noetag");
    proxy.setRule((r) =>
      isPut("noetag", "k")(r) ? { after: (s) => ({ ...s, headers: Object.fromEntries(Object.entries(s.headers).filter(([h]) => h !== "etag")) }) } : undefined,
    );
    const { etag } = await backend.put("k", enc("body"), { ifNoneMatch: "*" });
    expect(etag).toMatch(/^[0-9a-f]{32}$/);
    expect(etag).toBe((await stored("noetag", "k"))!.etag);
    // And the tag works as the next write's precondition.
    proxy.setRule(() => undefined);
    await backend.put("k", enc("next"), { ifMatch: etag });
    expect(dec((await stored("noetag", "k"))!.body)).toBe("next");
  }, 30_000);

  it("treats deleting an object that is already gone as done, and a failing delete as one line", async () => {
    const backend = await openBackend("del");
    proxy.setRule((r) => (r.method === "DELETE" ? { answer: s3Error(404, "NoSuchKey") } : undefined));
    await expect(backend.delete("gone")).resolves.toBeUndefined();
    proxy.setRule((r) => (r.method === "DELETE" ? { answer: s3Error(403, "AccessDenied") } : undefined));
    const e = await backend.delete("k").catch((err: unknown) => err);
    expect((e as UserError).code).toBe("STATE_S3");
    expect((e as UserError).message).toBe(
      `cannot delete k in s3://${bucket}/del/ at ${proxy.endpoint}: AccessDenied, HTTP 403 (check the AWS credentials and their access to the bucket)`,
    );
  }, 30_000);

  it("never repeats a secret the server put into its error code", async () => {
    // An AWS secret may be letters and digits only, so it can pass for an error code; and it may
    // hold "/" or "+", which no error code does.
    const alnumSecret = "Z9kQ2vX7mN4pL8rT1wY6bC3dF5gH0jKsAeUiOo12";
    for (const [secret, code] of [
      [TEST_S3_SECRET_KEY, TEST_S3_SECRET_KEY],
      [alnumSecret, alnumSecret],
      [alnumSecret, `AccessDenied${alnumSecret}`],
    ] as const) {
      const backend = await S3Backend.open({ bucket, prefix: "echo", env: { ...viaProxy(), AWS_SECRET_ACCESS_KEY: secret } });
      proxy.setRule(() => ({ answer: s3Error(403, code) }));
      const e = await backend.get("k").catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).message).not.toContain(secret);
      expect((e as UserError).message).toMatch(/HTTP 403 \(check the AWS credentials/);
    }
  }, 30_000);
});

describe("S3 backend against RGW's own refusals", () => {
  it("names a missing bucket", async () => {
    const backend = await S3Backend.open({ bucket: "pvefleet-no-such-bucket", env: s3Env() });
    const e = await backend.get("k").catch((err: unknown) => err);
    expect((e as UserError).code).toBe("STATE_S3");
    expect((e as UserError).message).toMatch(/^cannot write \.pvefleet-probe\/\S+ in s3:\/\/pvefleet-no-such-bucket\/ at .*: NoSuchBucket, HTTP 404 \(bucket pvefleet-no-such-bucket does not exist\)$/);
  });

  it("says to check the credentials when RGW refuses the signature, without the key", async () => {
    const backend = await S3Backend.open({ bucket, env: { ...s3Env(), AWS_SECRET_ACCESS_KEY: "not-the-secret-at-all-0123456789" } });
    const e = await backend.get("k").catch((err: unknown) => err);
    expect((e as UserError).code).toBe("STATE_S3");
    expect((e as UserError).message).toMatch(/: SignatureDoesNotMatch, HTTP 403 \(check the AWS credentials and their access to the bucket\)$/);
    expect((e as UserError).message).not.toContain("not-the-secret-at-all");
  });
});

describe("reading an s3:// shard file", () => {
  it("refuses a URL without a key", async () => {
    const e = await readS3Object("s3://bucket-only", s3Env()).catch((err: unknown) => err);
    expect((e as UserError).code).toBe("E_S3_URL");
    expect((e as UserError).message).toBe("s3://bucket-only: expected s3://bucket/key");
  });

  it("reads an object, and names a missing object, a missing bucket and a failing server", async () => {
    const writer = await S3Backend.open({ bucket, prefix: "", env: s3Env() });
    await writer.put("shard.jsonc", enc('{"cluster": {}}'), { ifNoneMatch: "*" });
    expect(dec(await readS3Object(`s3://${bucket}/shard.jsonc`, s3Env()))).toBe('{"cluster": {}}');
    const fail = (url: string, env = s3Env()) => readS3Object(url, env).then(() => { throw new Error(`${url} was read`); }, (err: unknown) => err as UserError);
    expect((await fail(`s3://${bucket}/nope.jsonc`)).message).toBe(`cannot read s3://${bucket}/nope.jsonc at ${s3Endpoint()}: no such object`);
    expect((await fail("s3://pvefleet-no-such-bucket/x.jsonc")).message).toBe(
      `cannot read s3://pvefleet-no-such-bucket/x.jsonc at ${s3Endpoint()}: bucket does not exist`,
    );
    proxy.setRule(() => ({ answer: s3Error(503, "SlowDown") }));
    const busy = await fail(`s3://${bucket}/shard.jsonc`, viaProxy());
    expect(busy.code).toBe("E_S3_READ");
    expect(busy.message).toBe(`cannot read s3://${bucket}/shard.jsonc at ${proxy.endpoint}: SlowDown, HTTP 503`);
  }, 30_000);
});
