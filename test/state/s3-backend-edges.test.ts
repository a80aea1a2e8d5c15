/**
 * The S3 backend's remaining rules, against Ceph RGW behind the fault proxy (real SDK, real store,
 * only the wire misbehaves): how the client is configured from the environment (endpoint, region,
 * path style, no checksum headers, session token), the prefix and ETag forms, the probe's once-only
 * run and its refusals, every conflict status and the 500 retry on If-Match, the byte comparison
 * behind "did my write land", and each error line's hint — never a secret, however short.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend, StoreConflictError } from "../../src/state/index.js";
import { createS3Client, normalizePrefix, readS3Object } from "../../src/state/s3-backend.js";
import { UserError } from "../../src/errors.js";
import { makeBucket, s3Endpoint, s3Env } from "./helpers.js";
import { s3Error, startFaultProxy, type FaultProxy, type ProxiedRequest } from "./fault-proxy.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let proxy: FaultProxy;
let bucket: string;
const viaProxy = (extra: NodeJS.ProcessEnv = {}) => ({ ...s3Env(), AWS_ENDPOINT_URL: proxy.endpoint, ...extra });
const pathOf = (r: ProxiedRequest) => r.url.split("?")[0]!;
const is = (method: string, prefix: string, key: string) => (r: ProxiedRequest) => r.method === method && pathOf(r) === `/${bucket}/${prefix}/${key}`;
const isProbePut = (r: ProxiedRequest) => r.method === "PUT" && pathOf(r).startsWith(`/${bucket}/`) && pathOf(r).includes("/.pvefleet-probe/");
/** Answers the probe as a store with preconditions would, without reaching RGW (for credentials RGW would refuse). */
function fakeProbe(r: ProxiedRequest): { answer: { status: number; headers?: Record<string, string>; body?: string } } | undefined {
  if (!pathOf(r).includes("/.pvefleet-probe/")) return undefined;
  if (r.method === "DELETE") return { answer: { status: 204 } };
  if (r.method === "GET") return { answer: s3Error(404, "NoSuchKey") };
  if (probesSeen.has(pathOf(r))) return { answer: s3Error(412, "PreconditionFailed") };
  probesSeen.add(pathOf(r));
  return { answer: { status: 200, headers: { etag: '"0123456789abcdef0123456789abcdef"' } } };
}
const probesSeen = new Set<string>();

async function openBackend(prefix: string, env: NodeJS.ProcessEnv = viaProxy()): Promise<S3Backend> {
  const backend = await S3Backend.open({ bucket, prefix, env });
  proxy.setRule(() => undefined);
  await backend.ensureProbed();
  return backend;
}
async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(Error);
  return e as Error;
}
const s3Line = async (p: Promise<unknown>) => {
  const e = await failure(p);
  expect(e).toBeInstanceOf(UserError);
  expect((e as UserError).code).toBe("STATE_S3");
  return e.message;
};

beforeAll(async () => {
  bucket = await makeBucket();
  proxy = await startFaultProxy(s3Endpoint());
});
afterAll(() => proxy?.close());

describe("S3 client configuration", () => {
  it("normalises the key prefix to empty or one trailing slash, without leading slashes", () => {
    expect([undefined, "", "/", "a", "a/", "//a/b", "/a/b/", "a//b"].map(normalizePrefix)).toEqual(["", "", "", "a/", "a/", "a/b/", "a/b/", "a//b/"]);
  });

  it("prefers AWS_ENDPOINT_URL_S3, names AWS S3 and its region when no endpoint is set, and defaults the region to us-east-1", async () => {
    const check = async (env: NodeJS.ProcessEnv, endpoint: string, region: string) => {
      const { client, endpoint: named } = await createS3Client(env);
      try {
        expect(named).toBe(endpoint);
        expect(await client.config.region()).toBe(region);
      } finally {
        client.destroy();
      }
    };
    await check({ AWS_ENDPOINT_URL_S3: "http://s3.example:1", AWS_ENDPOINT_URL: "http://other.example:2", AWS_REGION: "eu-west-3" }, "http://s3.example:1", "eu-west-3");
    await check({ AWS_ENDPOINT_URL: "http://other.example:2", AWS_DEFAULT_REGION: "ap-south-1" }, "http://other.example:2", "ap-south-1");
    await check({ AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "ap-south-1" }, "AWS S3 (eu-central-1)", "eu-central-1");
    await check({ AWS_ENDPOINT_URL_S3: "", AWS_REGION: "" }, "AWS S3 (us-east-1)", "us-east-1");
  });

  it("silences the SDK's Node version warning before the first client is built", async () => {
    delete process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    (await createS3Client({})).client.destroy();
    expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe("true");
  });

  it("uses path-style URLs only when AWS_S3_USE_PATH_STYLE says so", async () => {
    const urls = new Map<string, { host: string; path: string }>();
    proxy.setRule((r) => {
      urls.set(String(r.headers["x-case"] ?? ""), { host: String(r.headers.host), path: pathOf(r) });
      return { answer: s3Error(404, "NoSuchKey") };
    });
    for (const value of ["1", "true", "YES", "no", "", "nottrue", "yesno"]) {
      const { client, mod } = await createS3Client({ ...viaProxy({ AWS_S3_USE_PATH_STYLE: value }), AWS_ENDPOINT_URL: proxy.endpoint.replace("127.0.0.1", "localhost") });
      client.middlewareStack.add((next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers["x-case"] = value;
        return next(args);
      }, { step: "build" });
      await client.send(new mod.GetObjectCommand({ Bucket: bucket, Key: "k" })).catch(() => undefined);
      client.destroy();
    }
    for (const value of ["1", "true", "YES"]) expect(urls.get(value), value).toMatchObject({ path: `/${bucket}/k` });
    // Virtual-hosted style: the bucket goes into the host name (which this machine cannot resolve).
    for (const value of ["no", "", "nottrue", "yesno"]) expect(urls.get(value)?.path, value).not.toBe(`/${bucket}/k`);
  }, 60_000);

  it("sends no checksum headers (S3-compatibles refuse them) and the session token when there is one", async () => {
    const seen: ProxiedRequest[] = [];
    const backend = await openBackend("hdr", viaProxy({ AWS_SESSION_TOKEN: "session-token-value" }));
    proxy.setRule((r) => {
      seen.push(r);
      return undefined;
    });
    seen.length = 0;
    await backend.put("k", enc("body"), { ifNoneMatch: "*" });
    await backend.get("k");
    expect(seen.map((r) => r.method)).toEqual(["PUT", "GET"]);
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    for (const r of seen) {
      expect(Object.keys(r.headers).filter((h) => h.includes("checksum")), r.method).toEqual([]);
      expect(r.headers["x-amz-security-token"]).toBe("session-token-value");
    }
  }, 30_000);
});

describe("S3 backend objects", () => {
  it("names its objects with bucket, prefix and endpoint", async () => {
    const backend = await S3Backend.open({ bucket: "b1", prefix: "/p/q", env: viaProxy() });
    expect(backend.description).toBe(`s3://b1/p/q/ (endpoint ${proxy.endpoint})`);
    expect(backend.where("shard/dev/state.json")).toBe(`s3://b1/p/q/shard/dev/state.json (endpoint ${proxy.endpoint})`);
  });

  it("strips quotes and a weak marker from ETags, and accepts a quoted one back as a precondition", async () => {
    const backend = await openBackend("etag");
    const { etag } = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    expect(etag).toMatch(/^[0-9a-f]{32}$/);
    proxy.setRule((r) => (is("GET", "etag", "k")(r) ? { after: (s) => ({ ...s, headers: { ...s.headers, etag: `W/"${etag}"` } }) } : undefined));
    expect((await backend.get("k"))!.etag).toBe(etag);
    const sent: unknown[] = [];
    proxy.setRule((r) => {
      if (r.method === "PUT") sent.push([r.headers["if-match"], r.headers["if-none-match"]]);
      return undefined;
    });
    await backend.put("k", enc("v2"), { ifMatch: `"${etag}"` });
    expect(sent).toEqual([[etag, undefined]]);
    // RGW itself refuses the same precondition now that the object moved on.
    expect(await failure(backend.put("k", enc("v3"), { ifMatch: etag }))).toMatchObject({ reason: "changed" });
    expect(dec((await backend.get("k"))!.body)).toBe("v2");
  }, 30_000);

  it("answers an empty ETag when a write's answer has none and the object is gone when read back", async () => {
    const backend = await openBackend("vanish");
    proxy.setRule((r) => {
      if (is("PUT", "vanish", "k")(r)) return { after: (s) => ({ ...s, headers: Object.fromEntries(Object.entries(s.headers).filter(([h]) => h !== "etag")) }) };
      if (is("GET", "vanish", "k")(r)) return { answer: s3Error(404, "NoSuchKey") };
      return undefined;
    });
    expect(await backend.put("k", enc("x"), { ifNoneMatch: "*" })).toEqual({ etag: "" });
  }, 30_000);
});

describe("S3 conditional writes behind wrong answers", () => {
  it("reports 409 and 412 as lost races, and a 404 on If-Match as gone", async () => {
    const backend = await openBackend("status");
    const v1 = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    const reasonOf = async (status: number, code: string, write: () => Promise<unknown>) => {
      proxy.setRule((r) => (r.method === "PUT" ? { answer: s3Error(status, code) } : undefined));
      const e = await failure(write());
      proxy.setRule(() => undefined);
      expect(e, `${status} ${code}`).toBeInstanceOf(StoreConflictError);
      expect(e.cause, "the SDK's error is kept as the cause").toMatchObject({ $metadata: { httpStatusCode: status } });
      return (e as StoreConflictError).reason;
    };
    expect(await reasonOf(409, "ConditionalRequestConflict", () => backend.put("new", enc("x"), { ifNoneMatch: "*" }))).toBe("exists");
    expect(await reasonOf(409, "ConditionalRequestConflict", () => backend.put("k", enc("x"), { ifMatch: v1.etag }))).toBe("changed");
    expect(await reasonOf(412, "PreconditionFailed", () => backend.put("k", enc("x"), { ifMatch: v1.etag }))).toBe("changed");
    expect(await reasonOf(404, "NoSuchKey", () => backend.put("missing", enc("x"), { ifMatch: v1.etag }))).toBe("gone");
    expect(dec((await backend.get("k"))!.body)).toBe("v1");
  }, 30_000);

  it("retries an If-Match write on a 500 where nothing moved, and keeps a 500 over a vanished or taken object a lost race", async () => {
    const backend = await openBackend("retry");
    const v1 = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    let failed = 0;
    proxy.setRule((r) => (is("PUT", "retry", "k")(r) && failed++ < 3 ? { answer: s3Error(500, "InternalError") } : undefined));
    const v2 = await backend.put("k", enc("v2"), { ifMatch: v1.etag });
    expect(failed).toBe(4);
    expect(v2.etag).not.toBe(v1.etag);
    // The same when the caller's ETag is quoted: "nothing moved" compares bare tags.
    failed = 2;
    const v3 = await backend.put("k", enc("v2b"), { ifMatch: `"${v2.etag}"` });
    expect(failed).toBe(4);
    expect(v3.etag).not.toBe(v2.etag);

    proxy.setRule(() => undefined);
    await backend.delete("k");
    proxy.setRule((r) => (r.method === "PUT" ? { answer: s3Error(500, "InternalError") } : undefined));
    expect(await failure(backend.put("k", enc("v3"), { ifMatch: v3.etag }))).toMatchObject({ reason: "gone" });
    proxy.setRule(() => undefined);
    await backend.put("taken", enc("theirs"), { ifNoneMatch: "*" });
    proxy.setRule((r) => (r.method === "PUT" ? { answer: s3Error(500, "InternalError") } : undefined));
    expect(await failure(backend.put("taken", enc("mine!"), { ifNoneMatch: "*" }))).toMatchObject({ reason: "exists" });
  }, 60_000);

  it("does not take another writer's object that is a prefix of its own bytes for its own write", async () => {
    const backend = await openBackend("prefix-bytes");
    const v1 = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    const other = await S3Backend.open({ bucket, prefix: "prefix-bytes", env: s3Env() });
    await other.put("k", enc("their"), { ifMatch: v1.etag });
    proxy.setRule((r) => (is("PUT", "prefix-bytes", "k")(r) ? { answer: s3Error(412, "PreconditionFailed") } : undefined));
    expect(await failure(backend.put("k", enc("their+mine"), { ifMatch: v1.etag }))).toMatchObject({ reason: "changed" });
  }, 30_000);

  it("does not take another writer's object of the same length for its own write", async () => {
    const backend = await openBackend("same-length");
    const v1 = await backend.put("k", enc("v1"), { ifNoneMatch: "*" });
    const other = await S3Backend.open({ bucket, prefix: "same-length", env: s3Env() });
    await other.put("k", enc("their"), { ifMatch: v1.etag });
    proxy.setRule((r) => (is("PUT", "same-length", "k")(r) ? { answer: s3Error(412, "PreconditionFailed") } : undefined));
    expect(await failure(backend.put("k", enc("mine!"), { ifMatch: v1.etag }))).toMatchObject({ reason: "changed" });
  }, 30_000);

  it("passes a refused write that is no race through as one line, keeping the SDK's error as its cause", async () => {
    const backend = await openBackend("denied");
    proxy.setRule((r) => (r.method === "PUT" ? { answer: s3Error(403, "AccessDenied") } : undefined));
    expect((await failure(backend.put("k", enc("x"), { ifNoneMatch: "*" }))).cause).toMatchObject({ name: "AccessDenied" });
    expect(await s3Line(backend.put("k", enc("x"), { ifNoneMatch: "*" }))).toBe(
      `cannot write k in s3://${bucket}/denied/ at ${proxy.endpoint}: AccessDenied, HTTP 403 (check the AWS credentials and their access to the bucket)`,
    );
  }, 30_000);
});

describe("the conditional-write probe", () => {
  it("runs once per backend: two create-only writes of one probe object, a read-back, then its delete", async () => {
    const seen: string[] = [];
    const conditions: unknown[] = [];
    proxy.setRule((r) => {
      seen.push(`${r.method} ${pathOf(r)}`);
      if (isProbePut(r)) conditions.push([r.headers["if-none-match"], r.headers["if-match"]]);
      return undefined;
    });
    const backend = await S3Backend.open({ bucket, prefix: "once", env: viaProxy() });
    await Promise.all([backend.get("a"), backend.get("b")]);
    await backend.put("c", enc("x"), { ifNoneMatch: "*" });
    await backend.delete("c");
    const probe = seen[0]!.slice("PUT ".length);
    expect(probe).toMatch(new RegExp(`^/${bucket}/once/\\.pvefleet-probe/[0-9a-f-]{36}$`));
    // The refused second write is read back (was it ours after all?), then the object is deleted.
    expect(seen.filter((s) => s.includes(".pvefleet-probe"))).toEqual([`PUT ${probe}`, `PUT ${probe}`, `GET ${probe}`, `DELETE ${probe}`]);
    expect(conditions).toEqual([["*", undefined], ["*", undefined]]);
    expect(seen.filter((s) => !s.includes(".pvefleet-probe")).sort()).toEqual(
      [`GET /${bucket}/once/a`, `GET /${bucket}/once/b`, `PUT /${bucket}/once/c`, `DELETE /${bucket}/once/c`].sort(),
    );
  }, 30_000);

  it("probes again after a failed probe, and ignores a failing delete of the probe object", async () => {
    proxy.setRule((r) => (isProbePut(r) ? { answer: s3Error(403, "AccessDenied") } : undefined));
    const backend = await S3Backend.open({ bucket, prefix: "again", env: viaProxy() });
    expect(await s3Line(backend.get("k"))).toMatch(/^cannot write \.pvefleet-probe\/[0-9a-f-]{36} in s3:\/\/.*: AccessDenied, HTTP 403 \(check the AWS credentials/);
    proxy.setRule((r) => (r.method === "DELETE" ? { answer: s3Error(403, "AccessDenied") } : undefined));
    expect(await backend.get("k")).toBeUndefined();
  }, 30_000);

  it("passes through a failure of the second probe write that is not a refusal", async () => {
    let probes = 0;
    proxy.setRule((r) => (isProbePut(r) && ++probes === 2 ? { answer: s3Error(403, "AccessDenied") } : undefined));
    const backend = await S3Backend.open({ bucket, prefix: "second", env: viaProxy() });
    expect(await s3Line(backend.get("k"))).toMatch(/AccessDenied, HTTP 403/);
  }, 30_000);

  it("refuses a store that lets the second create-only write through, saying why", async () => {
    let probes = 0;
    // The store refuses (412); the wire says it was written (200 with an ETag), as a store without preconditions would.
    proxy.setRule((r) => (isProbePut(r) && ++probes === 2 ? { after: () => ({ status: 200, headers: { etag: '"0123456789abcdef0123456789abcdef"' }, body: Buffer.alloc(0) }) } : undefined));
    const backend = await S3Backend.open({ bucket, prefix: "ignores", env: viaProxy() });
    const e = await failure(backend.put("k", enc("x"), { ifNoneMatch: "*" }));
    expect((e as UserError).code).toBe("S3_NO_PRECONDITIONS");
    expect(e.message).toBe(
      `the object store at ${proxy.endpoint} ignores conditional writes (If-None-Match: * overwrote an existing object in bucket ${bucket}); pvefleet refuses it because two runs could overwrite each other's state`,
    );
  }, 30_000);
});

describe("S3 error lines", () => {
  it("gives each refusal its hint, and repeats only error codes that look like one", async () => {
    const backend = await openBackend("hints");
    const lineFor = async (status: number, code: string) => {
      proxy.setRule((r) => (r.method === "GET" ? { answer: s3Error(status, code) } : undefined));
      const line = await s3Line(backend.get("k"));
      proxy.setRule(() => undefined);
      return line.slice(`cannot read k in s3://${bucket}/hints/ at ${proxy.endpoint}: `.length);
    };
    const creds = " (check the AWS credentials and their access to the bucket)";
    expect(await lineFor(400, "AccessDenied")).toBe(`AccessDenied, HTTP 400${creds}`);
    expect(await lineFor(400, "InvalidAccessKeyId")).toBe(`InvalidAccessKeyId, HTTP 400${creds}`);
    expect(await lineFor(400, "SignatureDoesNotMatch")).toBe(`SignatureDoesNotMatch, HTTP 400${creds}`);
    expect(await lineFor(404, "NoSuchBucket")).toBe(`NoSuchBucket, HTTP 404 (bucket ${bucket} does not exist)`);
    expect(await lineFor(400, "BadDigest")).toBe("BadDigest, HTTP 400");
    expect(await lineFor(400, "A")).toBe("A, HTTP 400");
    expect(await lineFor(400, `A${"b".repeat(63)}`)).toBe(`A${"b".repeat(63)}, HTTP 400`);
    for (const odd of [`A${"b".repeat(64)}`, "Bad_Digest", "9Lives", "Bad Digest"]) expect(await lineFor(400, odd), odd).toBe("Error, HTTP 400");
  }, 60_000);

  it("masks every secret the server echoes, down to four characters", async () => {
    // RGW would refuse these credentials: the proxy answers everything itself.
    const backend = await S3Backend.open({ bucket, prefix: "mask", env: viaProxy({ AWS_SECRET_ACCESS_KEY: "Sec4", AWS_SESSION_TOKEN: "Tok4" }) });
    for (const code of ["Sec4", "Tok4"]) {
      proxy.setRule((r) => fakeProbe(r) ?? (r.method === "GET" ? { answer: s3Error(400, code) } : undefined));
      expect(await s3Line(backend.get("k"))).toBe(`cannot read k in s3://${bucket}/mask/ at ${proxy.endpoint}: ***, HTTP 400`);
    }
  }, 30_000);

  it("masks nothing for a secret under four characters or an empty one", async () => {
    const backend = await S3Backend.open({ bucket, prefix: "short", env: viaProxy({ AWS_SECRET_ACCESS_KEY: "can", AWS_SESSION_TOKEN: "" }) });
    proxy.setRule((r) => fakeProbe(r) ?? (r.method === "GET" ? { answer: s3Error(400, "BadDigest") } : undefined));
    expect(await s3Line(backend.get("k"))).toBe(`cannot read k in s3://${bucket}/short/ at ${proxy.endpoint}: BadDigest, HTTP 400`);
  }, 30_000);

  it("names the system error of an unreachable endpoint", async () => {
    const backend = await S3Backend.open({ bucket, env: { ...s3Env(), AWS_ENDPOINT_URL: "http://127.0.0.1:1" } });
    expect(await s3Line(backend.get("k"))).toMatch(/^cannot write \.pvefleet-probe\/\S+ in s3:\/\/\S+\/ at http:\/\/127\.0\.0\.1:1: \w+, ECONNREFUSED$/);
  }, 60_000);

  it("says that no credentials were found when the environment has none", async () => {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
    process.env.AWS_EC2_METADATA_DISABLED = "true";
    process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/credentials";
    process.env.AWS_CONFIG_FILE = "/nonexistent/config";
    try {
      // No keys, or a key ID without its secret: the SDK's own chain is asked, and finds nothing.
      for (const keys of [{}, { AWS_ACCESS_KEY_ID: "AKIDONLY" }]) {
        const backend = await S3Backend.open({ bucket, env: { AWS_ENDPOINT_URL: proxy.endpoint, AWS_S3_USE_PATH_STYLE: "1", ...keys } });
        expect(await s3Line(backend.get("k"))).toMatch(
          /: CredentialsProviderError \(no AWS credentials found: set AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY or AWS_PROFILE\)$/,
        );
      }
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 60_000);
});

describe("reading an s3:// URL", () => {
  it("refuses URLs without a bucket and a key", async () => {
    for (const url of ["s3://bucket/", "s3:///key", "xs3://bucket/key", "s3://bucket"]) {
      const e = await failure(readS3Object(url, s3Env()));
      expect((e as UserError).code, url).toBe("E_S3_URL");
    }
  });

  it("reads a key with slashes, and names a NoSuchKey on any status a missing object", async () => {
    const writer = await S3Backend.open({ bucket, prefix: "", env: s3Env() });
    await writer.put("deep/dir/shard.json", enc("{}"), { ifNoneMatch: "*" });
    expect(dec(await readS3Object(`s3://${bucket}/deep/dir/shard.json`, s3Env()))).toBe("{}");
    proxy.setRule(() => ({ answer: s3Error(400, "NoSuchKey") }));
    const e = await failure(readS3Object(`s3://${bucket}/deep/dir/shard.json`, viaProxy()));
    expect(e.message).toBe(`cannot read s3://${bucket}/deep/dir/shard.json at ${proxy.endpoint}: no such object`);
    expect(e.cause).toMatchObject({ name: "NoSuchKey" });
    const down = await failure(readS3Object(`s3://${bucket}/x.json`, { ...s3Env(), AWS_ENDPOINT_URL: "http://127.0.0.1:1" }));
    expect(down.message).toMatch(/^cannot read s3:\/\/\S+ at http:\/\/127\.0\.0\.1:1: \w+$/); // no status to name
  }, 30_000);
});
