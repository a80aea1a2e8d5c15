/**
 * The S3 backend against stores that do not behave: a server that ignores preconditions (as
 * several S3-compatibles do) must be refused, naming the endpoint. The server here is a tiny
 * real HTTP server on loopback, not a mock of our code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { openStateStore } from "../../src/state/index.js";
import { UserError } from "../../src/errors.js";

let server: Server;
let endpoint: string;
const objects = new Map<string, Buffer>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const key = req.url!.split("?")[0]!;
      if (req.method === "PUT") {
        // Ignores If-None-Match / If-Match entirely: the bug the probe exists for.
        const body = Buffer.concat(chunks);
        objects.set(key, body);
        res.writeHead(200, { ETag: `"${createHash("md5").update(body).digest("hex")}"` }).end();
      } else if (req.method === "GET" && objects.has(key)) {
        const body = objects.get(key)!;
        res.writeHead(200, { ETag: `"${createHash("md5").update(body).digest("hex")}"`, "Content-Length": body.length }).end(body);
      } else if (req.method === "DELETE") {
        objects.delete(key);
        res.writeHead(204).end();
      } else {
        res.writeHead(404, { "Content-Type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("S3 conditional-write probe", () => {
  it("refuses a store that ignores If-None-Match, naming the endpoint", async () => {
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "notasecret-test" };
    const store = await openStateStore({ storage: "s3", bucket: "b", clusterId: "c1", shardId: "dev", env });
    const e = await store.read().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("S3_NO_PRECONDITIONS");
    expect((e as UserError).message).toContain(endpoint);
    expect((e as UserError).message).not.toContain("notasecret-test");
    // Nothing but the (deleted) probe was written.
    expect([...objects.keys()].filter((k) => !k.includes(".pvefleet-probe"))).toEqual([]);
  });

  it("reports an unreachable endpoint as one clear line without secrets", async () => {
    const env = { AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "notasecret-test" };
    const store = await openStateStore({ storage: "s3", bucket: "b", clusterId: "c1", shardId: "dev", env });
    const e = await store.read().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("STATE_S3");
    expect((e as UserError).message).toContain("http://127.0.0.1:1");
    expect((e as UserError).message).not.toContain("notasecret-test");
    expect((e as UserError).message.split("\n")).toHaveLength(1);
  });
});
