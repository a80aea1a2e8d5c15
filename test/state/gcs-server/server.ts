/**
 * A strict Google Cloud Storage JSON-API server for tests, on loopback, in memory. It implements
 * exactly the calls `@google-cloud/storage` makes for pvefleet's `gcs` backend, with Google's
 * documented semantics:
 *
 * - uploads (`POST /upload/storage/v1/b/{bucket}/o`) with `uploadType=media`, `multipart`
 *   (multipart/related: JSON metadata, then the bytes) and `resumable` (session URI, `PUT` of
 *   the bytes with `Content-Range`, 308 while incomplete);
 * - object metadata (`GET …/b/{bucket}/o/{object}`) and media (`alt=media`, with
 *   `x-goog-generation`, `x-goog-metageneration`, `x-goog-hash: crc32c=…,md5=…`);
 * - delete (`DELETE …/b/{bucket}/o/{object}`), list (`GET …/b/{bucket}/o?prefix=`), and bucket
 *   insert/get for test setup;
 * - preconditions `ifGenerationMatch` (0 = the object must not exist) and `ifGenerationNotMatch`
 *   on every object call, evaluated atomically with the change; a failed one is 412 with reason
 *   `conditionNotMet` (304 for `ifGenerationNotMatch` on a read); a missing object or bucket is 404
 *   `notFound`; a malformed request is 400. A resumable upload checks its preconditions when the
 *   session starts and again when it completes.
 *
 * Generations are strictly increasing microsecond timestamps, as on GCS. The JSON API is served
 * under `/storage/v1` and also at the root: `@google-cloud/storage` v7 drops `/storage/v1` from
 * metadata calls when `STORAGE_EMULATOR_HOST` is set in the environment (fake-gcs-server and the
 * Firebase emulator accept both for the same reason).
 *
 * Test knobs: `ignorePreconditions` (behave like the emulators that do, to test the probe) and
 * `failAfterCommit(n)` (commit the next n uploads, then answer 503, as a lost response would).
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  generation: bigint;
  metageneration: number;
  contentType: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
  created: string;
  updated: string;
}

export interface GcsRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface GcsTestServer {
  /** `http://127.0.0.1:PORT`: the value for STORAGE_EMULATOR_HOST. */
  readonly endpoint: string;
  readonly requests: GcsRequestLog[];
  createBucket(name: string): void;
  /** The live version of an object, or undefined. */
  object(bucket: string, name: string): StoredObject | undefined;
  objectNames(bucket: string): string[];
  /** Commit the next `count` uploads, then answer 503 instead of the object resource. */
  failAfterCommit(count: number): void;
  close(): Promise<void>;
}

export interface GcsTestServerOptions {
  port?: number;
  /** Ignore every precondition, like several popular emulators do (for the probe's test). */
  ignorePreconditions?: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly extra: { locationType?: string; location?: string } = {},
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

// CRC32C (Castagnoli), as GCS reports it: big-endian, base64.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function crc32cBase64(data: Uint8Array): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32c(data));
  return b.toString("base64");
}

const md5Base64 = (data: Uint8Array): string => createHash("md5").update(data).digest("base64");

/** Parses an int64 query parameter strictly; GCS answers 400 on anything else. */
function int64(query: Record<string, string>, name: string): bigint | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (!/^-?[0-9]{1,19}$/.test(v)) throw new HttpError(400, "invalid", `Invalid argument for ${name}: ${v}`);
  return BigInt(v);
}

interface Preconditions {
  ifGenerationMatch?: bigint;
  ifGenerationNotMatch?: bigint;
}

function preconditionsOf(query: Record<string, string>): Preconditions {
  return { ifGenerationMatch: int64(query, "ifGenerationMatch"), ifGenerationNotMatch: int64(query, "ifGenerationNotMatch") };
}

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
  pre: Preconditions;
  chunks: Buffer[];
  received: number;
}

export async function startGcsServer(options: GcsTestServerOptions = {}): Promise<GcsTestServer> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, Session>();
  const requests: GcsRequestLog[] = [];
  let lastGeneration = 0n;
  let failCommits = 0;
  let endpoint = "";

  const nextGeneration = (): bigint => {
    const now = BigInt(Date.now()) * 1000n;
    lastGeneration = now > lastGeneration ? now : lastGeneration + 1n;
    return lastGeneration;
  };

  const bucketOf = (name: string): Map<string, StoredObject> => {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, "notFound", "The specified bucket does not exist.");
    return b;
  };

  /** Google's rule: ifGenerationMatch=0 holds only when there is no live object. */
  const check = (pre: Preconditions, current: StoredObject | undefined, read: boolean): void => {
    if (options.ignorePreconditions) return;
    const gen = current?.generation ?? 0n;
    if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== gen) {
      throw new HttpError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.", { locationType: "header", location: "If-Match" });
    }
    if (pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === gen) {
      if (read) throw new HttpError(304, "notModified", "Not Modified");
      throw new HttpError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.", { locationType: "header", location: "If-None-Match" });
    }
  };

  const resource = (o: StoredObject): Record<string, unknown> => {
    const path = `b/${o.bucket}/o/${encodeURIComponent(o.name)}`;
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${endpoint}/storage/v1/${path}`,
      mediaLink: `${endpoint}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: String(o.generation),
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.data.length),
      md5Hash: md5Base64(o.data),
      crc32c: crc32cBase64(o.data),
      etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString("base64"),
      timeCreated: o.created,
      updated: o.updated,
      timeStorageClassUpdated: o.created,
      ...(o.cacheControl ? { cacheControl: o.cacheControl } : {}),
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  };

  /** The one place an object changes: preconditions and the write happen in one synchronous step. */
  const commit = (bucket: string, name: string, data: Buffer, meta: { contentType?: string; cacheControl?: string; metadata?: Record<string, string> }, pre: Preconditions): StoredObject => {
    if (name === "" || Buffer.byteLength(name) > 1024 || /[\r\n]/.test(name)) throw new HttpError(400, "invalid", `Invalid object name: ${JSON.stringify(name)}`);
    const objects = bucketOf(bucket);
    check(pre, objects.get(name), false);
    const now = new Date().toISOString();
    const o: StoredObject = {
      bucket,
      name,
      data,
      generation: nextGeneration(),
      metageneration: 1,
      contentType: meta.contentType || "application/octet-stream",
      cacheControl: meta.cacheControl,
      metadata: meta.metadata,
      created: now,
      updated: now,
    };
    objects.set(name, o);
    return o;
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8", "Content-Length": Buffer.byteLength(text), ...headers }).end(text);
  };

  const sendError = (res: ServerResponse, e: HttpError): void => {
    if (e.status === 304) {
      res.writeHead(304).end();
      return;
    }
    sendJson(res, e.status, { error: { code: e.status, message: e.message, errors: [{ message: e.message, domain: "global", reason: e.reason, ...e.extra }] } });
  };

  /** An upload's answer: the object resource, unless a fault was asked for after the commit. */
  const uploaded = (res: ServerResponse, o: StoredObject): void => {
    if (failCommits > 0) {
      failCommits--;
      throw new HttpError(503, "backendError", "Backend Error");
    }
    sendJson(res, 200, resource(o));
  };

  const parseMetadata = (text: string): { name?: string; contentType?: string; cacheControl?: string; metadata?: Record<string, string> } => {
    if (text.trim() === "") return {};
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new HttpError(400, "parseError", "Parse Error");
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new HttpError(400, "invalid", "Invalid object metadata");
    const m = v as Record<string, unknown>;
    for (const k of ["name", "contentType", "cacheControl"]) {
      if (m[k] !== undefined && typeof m[k] !== "string") throw new HttpError(400, "invalid", `Invalid value for ${k}`);
    }
    return m as { name?: string; contentType?: string; cacheControl?: string; metadata?: Record<string, string> };
  };

  /** multipart/related: exactly two parts, JSON metadata then the media (RFC 2387). */
  const parseMultipart = (contentType: string, body: Buffer): { meta: ReturnType<typeof parseMetadata>; data: Buffer; mediaType?: string } => {
    const m = /^multipart\/related\s*;.*\bboundary="?([^";]+)"?/i.exec(contentType);
    if (!m) throw new HttpError(400, "invalid", "multipart upload needs Content-Type multipart/related with a boundary");
    const delimiter = Buffer.from(`--${m[1]}`);
    const parts: Buffer[] = [];
    let at = body.indexOf(delimiter);
    if (at < 0) throw new HttpError(400, "invalid", "multipart body has no boundary");
    for (;;) {
      const start = at + delimiter.length;
      if (body.subarray(start, start + 2).toString() === "--") break;
      const next = body.indexOf(delimiter, start);
      if (next < 0) throw new HttpError(400, "invalid", "multipart body is not terminated");
      // The part runs from after the delimiter's CRLF to before the next delimiter's CRLF.
      parts.push(body.subarray(start + 2, body[next - 2] === 13 ? next - 2 : next - 1));
      at = next;
    }
    if (parts.length !== 2) throw new HttpError(400, "invalid", `multipart upload must have 2 parts, got ${parts.length}`);
    const split = (part: Buffer): { headers: Record<string, string>; content: Buffer } => {
      const end = part.indexOf("\r\n\r\n");
      if (end < 0) throw new HttpError(400, "invalid", "multipart part has no header block");
      const headers: Record<string, string> = {};
      for (const line of part.subarray(0, end).toString("latin1").split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      return { headers, content: part.subarray(end + 4) };
    };
    const metaPart = split(parts[0]!);
    const mediaPart = split(parts[1]!);
    if (!/^application\/json/i.test(metaPart.headers["content-type"] ?? "")) throw new HttpError(400, "invalid", "the first multipart part must be application/json metadata");
    return { meta: parseMetadata(metaPart.content.toString("utf8")), data: mediaPart.content, mediaType: mediaPart.headers["content-type"] };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const method = req.method ?? "GET";
    const path = url.pathname;
    const log: GcsRequestLog = { method, path, query, status: 0 };
    requests.push(log);
    res.on("finish", () => (log.status = res.statusCode));

    // Uploads.
    const up = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    if (up) {
      const bucket = decodeURIComponent(up[1]!);
      if (method === "POST") {
        bucketOf(bucket);
        const pre = preconditionsOf(query);
        switch (query.uploadType) {
          case "media": {
            if (!query.name) throw new HttpError(400, "required", "Required parameter: name");
            uploaded(res, commit(bucket, query.name, body, { contentType: req.headers["content-type"] }, pre));
            return;
          }
          case "multipart": {
            const { meta, data, mediaType } = parseMultipart(req.headers["content-type"] ?? "", body);
            const name = query.name ?? meta.name;
            if (!name) throw new HttpError(400, "required", "Required parameter: name");
            if (meta.name !== undefined && query.name !== undefined && meta.name !== query.name) throw new HttpError(400, "invalid", "the name in the metadata differs from the name parameter");
            uploaded(res, commit(bucket, name, data, { contentType: meta.contentType ?? mediaType, cacheControl: meta.cacheControl, metadata: meta.metadata }, pre));
            return;
          }
          case "resumable": {
            const meta = parseMetadata(body.toString("utf8"));
            const name = query.name ?? meta.name;
            if (!name) throw new HttpError(400, "required", "Required parameter: name");
            check(pre, bucketOf(bucket).get(name), false);
            const id = randomUUID();
            sessions.set(id, {
              bucket,
              name,
              contentType: meta.contentType ?? (req.headers["x-upload-content-type"] as string | undefined) ?? "application/octet-stream",
              cacheControl: meta.cacheControl,
              metadata: meta.metadata,
              pre,
              chunks: [],
              received: 0,
            });
            const location = `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
            res.writeHead(200, { Location: location, "X-GUploader-UploadID": id, "Content-Length": 0 }).end();
            return;
          }
          default:
            throw new HttpError(400, "invalid", `Invalid uploadType: ${query.uploadType ?? "(none)"}`);
        }
      }
      if (method === "PUT" && query.upload_id) {
        const session = sessions.get(query.upload_id);
        if (!session) throw new HttpError(404, "notFound", "No such upload session");
        const range = req.headers["content-range"] ?? `bytes 0-${body.length - 1}/${body.length}`;
        // `bytes S-E/T` (a chunk), `bytes S-*/T` (the rest of the object in one streamed request, as
        // the Node client sends it; T may be * when the size was not known up front) or `bytes */T`
        // (a status query).
        const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(range);
        if (!m) throw new HttpError(400, "invalid", `Invalid Content-Range: ${range}`);
        let total = m[3];
        if (m[1] !== undefined) {
          if (Number(m[1]) !== session.received) throw new HttpError(400, "invalid", `Content-Range starts at ${m[1]}, expected ${session.received}`);
          if (m[2] !== "*" && Number(m[2]) - Number(m[1]) + 1 !== body.length) throw new HttpError(400, "invalid", "Content-Range does not match the body length");
          session.chunks.push(body);
          session.received += body.length;
          if (m[2] === "*" && total === "*") total = String(session.received);
        } else if (body.length !== 0) {
          throw new HttpError(400, "invalid", "a status query (bytes */N) must have an empty body");
        }
        if (total === "*" || Number(total) > session.received) {
          res.writeHead(308, { ...(session.received > 0 ? { Range: `bytes=0-${session.received - 1}` } : {}), "Content-Length": 0 }).end();
          return;
        }
        if (Number(total) !== session.received) throw new HttpError(400, "invalid", "more bytes than the declared total");
        sessions.delete(query.upload_id);
        uploaded(res, commit(session.bucket, session.name, Buffer.concat(session.chunks), session, session.pre));
        return;
      }
      if (method === "DELETE" && query.upload_id) {
        sessions.delete(query.upload_id);
        res.writeHead(499, { "Content-Length": 0 }).end();
        return;
      }
      throw new HttpError(405, "methodNotAllowed", `${method} is not allowed on ${path}`);
    }

    // The JSON API, with or without the /storage/v1 root (see the header comment).
    const api = path.startsWith("/storage/v1/") ? path.slice("/storage/v1".length) : path;
    if (api === "/b" && method === "POST") {
      const meta = parseMetadata(body.toString("utf8"));
      if (!meta.name) throw new HttpError(400, "required", "Required parameter: name");
      if (buckets.has(meta.name)) throw new HttpError(409, "conflict", "Your previous request to create the named bucket succeeded and you already own it.");
      buckets.set(meta.name, new Map());
      sendJson(res, 200, { kind: "storage#bucket", id: meta.name, name: meta.name, metageneration: "1", location: "US", storageClass: "STANDARD" });
      return;
    }
    const b = /^\/b\/([^/]+)$/.exec(api);
    if (b && method === "GET") {
      const name = decodeURIComponent(b[1]!);
      bucketOf(name);
      sendJson(res, 200, { kind: "storage#bucket", id: name, name, metageneration: "1", location: "US", storageClass: "STANDARD" });
      return;
    }
    const list = /^\/b\/([^/]+)\/o$/.exec(api);
    if (list && method === "GET") {
      const objects = bucketOf(decodeURIComponent(list[1]!));
      const prefix = query.prefix ?? "";
      const max = Math.min(Number(query.maxResults ?? 1000) || 1000, 1000);
      const names = [...objects.keys()].filter((n) => n.startsWith(prefix) && (query.pageToken === undefined || n > query.pageToken)).sort();
      const page = names.slice(0, max);
      sendJson(res, 200, { kind: "storage#objects", items: page.map((n) => resource(objects.get(n)!)), ...(names.length > max ? { nextPageToken: page[page.length - 1] } : {}) });
      return;
    }
    const obj = /^\/b\/([^/]+)\/o\/(.+)$/.exec(api);
    if (obj) {
      const bucket = decodeURIComponent(obj[1]!);
      const name = decodeURIComponent(obj[2]!);
      const objects = bucketOf(bucket);
      const pre = preconditionsOf(query);
      const wanted = int64(query, "generation");
      const current = objects.get(name);
      const notFound = () => new HttpError(404, "notFound", `No such object: ${bucket}/${name}`);
      if (method === "GET") {
        // Without versioning only the live generation exists.
        if (!current || (wanted !== undefined && wanted !== current.generation)) throw notFound();
        check(pre, current, true);
        if (query.alt === "media") {
          res
            .writeHead(200, {
              "Content-Type": current.contentType,
              "Content-Length": current.data.length,
              "Cache-Control": current.cacheControl ?? "private, max-age=0",
              ETag: `"${createHash("md5").update(current.data).digest("hex")}"`,
              "x-goog-generation": String(current.generation),
              "x-goog-metageneration": String(current.metageneration),
              "x-goog-hash": `crc32c=${crc32cBase64(current.data)},md5=${md5Base64(current.data)}`,
              "x-goog-stored-content-encoding": "identity",
              "x-goog-stored-content-length": String(current.data.length),
              "x-goog-storage-class": "STANDARD",
            })
            .end(current.data);
          return;
        }
        if (query.alt !== undefined && query.alt !== "json") throw new HttpError(400, "invalid", `Invalid alt: ${query.alt}`);
        sendJson(res, 200, resource(current));
        return;
      }
      if (method === "DELETE") {
        if (!current || (wanted !== undefined && wanted !== current.generation)) throw notFound();
        check(pre, current, false);
        objects.delete(name);
        res.writeHead(204).end();
        return;
      }
      throw new HttpError(405, "methodNotAllowed", `${method} is not allowed on ${path}`);
    }
    throw new HttpError(404, "notFound", `Not Found: ${method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (e) {
        if (e instanceof HttpError) sendError(res, e);
        else sendError(res, new HttpError(500, "backendError", (e as Error).message));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    requests,
    createBucket(name) {
      if (!buckets.has(name)) buckets.set(name, new Map());
    },
    object: (bucket, name) => buckets.get(bucket)?.get(name),
    objectNames: (bucket) => [...(buckets.get(bucket)?.keys() ?? [])].sort(),
    failAfterCommit(count) {
      failCommits = count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
