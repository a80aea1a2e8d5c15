/**
 * The GCS JSON-API test server follows Google's documented semantics for the calls the client
 * makes: the conformance suite trusts it, so its preconditions, bodies and status codes are
 * checked here over raw HTTP, and its resumable protocol through `@google-cloud/storage` itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGcsClient } from "../../src/state/gcs-backend.js";
import { crc32c, startGcsServer, type GcsTestServer } from "./gcs-server/server.js";

let server: GcsTestServer;
const BUCKET = "semantics";

beforeAll(async () => {
  server = await startGcsServer();
  server.createBucket(BUCKET);
});
afterAll(() => server.close());

const upload = (name: string, body: string, query: Record<string, string> = {}) =>
  fetch(`${server.endpoint}/upload/storage/v1/b/${BUCKET}/o?${new URLSearchParams({ uploadType: "media", name, ...query })}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
const objectUrl = (name: string, query: Record<string, string> = {}) => `${server.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?${new URLSearchParams(query)}`;

async function reason(res: Response): Promise<string> {
  const body = (await res.json()) as { error: { code: number; errors: { reason: string }[] } };
  expect(body.error.code).toBe(res.status);
  return body.error.errors[0]!.reason;
}

describe("GCS JSON-API test server", () => {
  it("creates with ifGenerationMatch=0 once, then answers 412 conditionNotMet", async () => {
    const first = await upload("a/create", "one", { ifGenerationMatch: "0" });
    expect(first.status).toBe(200);
    const created = (await first.json()) as { generation: string; size: string; name: string };
    expect(created).toMatchObject({ name: "a/create", size: "3" });
    expect(created.generation).toMatch(/^[1-9][0-9]*$/);
    const second = await upload("a/create", "two", { ifGenerationMatch: "0" });
    expect(second.status).toBe(412);
    expect(await reason(second)).toBe("conditionNotMet");
    expect(server.object(BUCKET, "a/create")!.data.toString()).toBe("one");
  });

  it("replaces only the generation named by ifGenerationMatch, with a strictly larger generation", async () => {
    const g1 = ((await (await upload("a/cas", "v1", { ifGenerationMatch: "0" })).json()) as { generation: string }).generation;
    const ok = await upload("a/cas", "v2", { ifGenerationMatch: g1 });
    expect(ok.status).toBe(200);
    const g2 = ((await ok.json()) as { generation: string }).generation;
    expect(BigInt(g2)).toBeGreaterThan(BigInt(g1));
    const stale = await upload("a/cas", "v3", { ifGenerationMatch: g1 });
    expect(stale.status).toBe(412);
    expect(await reason(stale)).toBe("conditionNotMet");
    const notMatch = await upload("a/cas", "v3", { ifGenerationNotMatch: g2 });
    expect(notMatch.status).toBe(412);
    expect(server.object(BUCKET, "a/cas")!.data.toString()).toBe("v2");
  });

  it("refuses ifGenerationMatch on a missing object with 412 and a malformed one with 400", async () => {
    const missing = await upload("a/none", "x", { ifGenerationMatch: "123" });
    expect(missing.status).toBe(412);
    const bad = await upload("a/none", "x", { ifGenerationMatch: "abc" });
    expect(bad.status).toBe(400);
    expect(server.object(BUCKET, "a/none")).toBeUndefined();
  });

  it("serves media with its generation and crc32c/md5 hashes, and metadata as JSON", async () => {
    const g = ((await (await upload("a/read", "123456789", { ifGenerationMatch: "0" })).json()) as { generation: string }).generation;
    const media = await fetch(objectUrl("a/read", { alt: "media" }));
    expect(media.status).toBe(200);
    expect(await media.text()).toBe("123456789");
    expect(media.headers.get("x-goog-generation")).toBe(g);
    // CRC-32C check value of "123456789" is 0xE3069283.
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(media.headers.get("x-goog-hash")).toBe(`crc32c=${Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString("base64")},md5=JfnnlDI7RTiF9RgfG2JNCw==`);
    const meta = (await (await fetch(objectUrl("a/read"))).json()) as Record<string, string>;
    expect(meta).toMatchObject({ kind: "storage#object", name: "a/read", bucket: BUCKET, generation: g, size: "9", md5Hash: "JfnnlDI7RTiF9RgfG2JNCw==" });
    expect((await fetch(objectUrl("a/read", { alt: "media", ifGenerationNotMatch: g }))).status).toBe(304);
    expect((await fetch(objectUrl("a/read", { alt: "media", ifGenerationMatch: "1" }))).status).toBe(412);
  });

  it("answers 404 notFound for a missing object and a missing bucket, with Google's messages", async () => {
    const obj = await fetch(objectUrl("a/missing", { alt: "media" }));
    expect(obj.status).toBe(404);
    const objBody = (await obj.json()) as { error: { message: string; errors: { reason: string }[] } };
    expect(objBody.error.message).toBe(`No such object: ${BUCKET}/a/missing`);
    expect(objBody.error.errors[0]!.reason).toBe("notFound");
    const bucket = await fetch(`${server.endpoint}/storage/v1/b/no-such-bucket/o/x?alt=media`);
    expect(bucket.status).toBe(404);
    expect(((await bucket.json()) as { error: { message: string } }).error.message).toBe("The specified bucket does not exist.");
  });

  it("deletes only with a matching ifGenerationMatch", async () => {
    const g = ((await (await upload("a/del", "x", { ifGenerationMatch: "0" })).json()) as { generation: string }).generation;
    const stale = await fetch(objectUrl("a/del", { ifGenerationMatch: String(BigInt(g) - 1n) }), { method: "DELETE" });
    expect(stale.status).toBe(412);
    expect(await reason(stale)).toBe("conditionNotMet");
    expect(server.object(BUCKET, "a/del")).toBeDefined();
    expect((await fetch(objectUrl("a/del", { ifGenerationMatch: g }), { method: "DELETE" })).status).toBe(204);
    const again = await fetch(objectUrl("a/del"), { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(await reason(again)).toBe("notFound");
  });

  it("parses multipart/related uploads: metadata first, then the bytes", async () => {
    const boundary = "b0und4ry";
    const body =
      `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name: "a/multi", contentType: "application/json", cacheControl: "no-store" })}\r\n` +
      `--${boundary}\r\nContent-Type: application/json\r\n\r\n{"x":1}\r\n--${boundary}--`;
    const res = await fetch(`${server.endpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart&ifGenerationMatch=0`, {
      method: "POST",
      headers: { "Content-Type": `multipart/related; boundary=${boundary}` },
      body,
    });
    expect(res.status).toBe(200);
    expect(server.object(BUCKET, "a/multi")).toMatchObject({ contentType: "application/json", cacheControl: "no-store" });
    expect(server.object(BUCKET, "a/multi")!.data.toString()).toBe('{"x":1}');
  });

  it("runs a resumable upload in chunks (308 until complete) and checks preconditions again at the end", async () => {
    const start = () =>
      fetch(`${server.endpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=a%2Fres&ifGenerationMatch=0`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ contentType: "text/plain" }),
      });
    const session = (await start()).headers.get("location")!;
    expect(session).toContain("upload_id=");
    const part1 = await fetch(session, { method: "PUT", headers: { "Content-Range": "bytes 0-2/6" }, body: "abc" });
    expect(part1.status).toBe(308);
    expect(part1.headers.get("range")).toBe("bytes=0-2");
    const part2 = await fetch(session, { method: "PUT", headers: { "Content-Range": "bytes 3-5/6" }, body: "def" });
    expect(part2.status).toBe(200);
    expect(server.object(BUCKET, "a/res")!.data.toString()).toBe("abcdef");

    // A session started while the object existed is refused at once…
    expect((await start()).status).toBe(412);
    // …and one whose object appears during the upload is refused when it completes.
    const late = (await fetch(`${server.endpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=a%2Flate&ifGenerationMatch=0`, { method: "POST" })).headers.get("location")!;
    expect((await upload("a/late", "first", { ifGenerationMatch: "0" })).status).toBe(200);
    const done = await fetch(late, { method: "PUT", headers: { "Content-Range": "bytes 0-1/2" }, body: "xy" });
    expect(done.status).toBe(412);
    expect(server.object(BUCKET, "a/late")!.data.toString()).toBe("first");
  });

  it("works with the official client's resumable uploads and their preconditions", async () => {
    const { storage } = await createGcsClient({ STORAGE_EMULATOR_HOST: server.endpoint });
    const file = storage.bucket(BUCKET).file("a/client-resumable");
    await file.save("hello", { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } });
    const lost = await file.save("again", { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }).catch((e: unknown) => e);
    expect((lost as { status?: number }).status).toBe(412);
    const [bytes] = await file.download();
    expect(bytes.toString()).toBe("hello");
    expect(server.requests.some((r) => r.query.uploadType === "resumable" && r.query.ifGenerationMatch === "0")).toBe(true);
  });
});
