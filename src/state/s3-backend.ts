/**
 * The `s3` backend: @aws-sdk/client-s3 v3, loaded only when used. Every PUT is conditional
 * (`If-None-Match: *` to create, `If-Match: <etag>` unquoted — Ceph RGW fails a quoted one). A 412,
 * 409 or 500 on a conditional PUT means the race was lost (RGW answers some lost races with 500);
 * `If-Match` on a missing key may answer 404 or 412: both mean gone. Because the SDK retries 5xx,
 * a write can succeed on the server and still come back as a 412; every body we write is unique
 * (write ID / lock nonce), so a conflict is confirmed by re-reading and comparing bytes.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UserError } from "../errors.js";
import { StoreConflictError } from "./store-conflict.js";
import type { ObjectBackend, Versioned } from "./types.js";

type S3Module = typeof import("@aws-sdk/client-s3");
type S3Client = import("@aws-sdk/client-s3").S3Client;

export interface S3BackendOptions {
  bucket: string;
  /** Key prefix; "" or ending in "/" (one is added when missing). */
  prefix?: string;
  env?: NodeJS.ProcessEnv;
}

let sdk: Promise<S3Module> | undefined;

async function loadSdk(): Promise<S3Module> {
  // Must be set before the first client is built, or users see the SDK's Node 22 warning.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

const bare = (etag: string | undefined): string => (etag ?? "").replace(/^W\//, "").replace(/^"|"$/g, "");

/** The client as the environment configures it: standard credential chain, region, endpoint, path style. */
export async function createS3Client(env: NodeJS.ProcessEnv = process.env): Promise<{ client: S3Client; endpoint: string; mod: S3Module }> {
  const mod = await loadSdk();
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const client = new mod.S3Client({
    region,
    ...(endpoint ? { endpoint } : {}),
    // The SDK ignores AWS_S3_USE_PATH_STYLE; Nstance documents it, so map it here.
    forcePathStyle: /^(1|true|yes)$/i.test(env.AWS_S3_USE_PATH_STYLE ?? ""),
    // S3-compatibles (RGW, OCI) reject or mishandle the default CRC32 checksum headers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // An explicit env (tests, library callers) wins; otherwise the SDK's standard chain.
    ...(accessKeyId && secretAccessKey && env !== process.env
      ? { credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
      : {}),
  });
  return { client, endpoint: endpoint ?? `AWS S3 (${region})`, mod };
}

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * The S3 error code (the SDK names the error after the body's `<Code>`). Real codes are short
 * CamelCase words; anything else is whatever the server chose to put there — it could quote the
 * request, credentials included — so it is not repeated.
 */
function errName(e: unknown): string {
  const name = (e as { name?: unknown })?.name;
  return typeof name === "string" && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name) ? name : "Error";
}

export class S3Backend implements ObjectBackend {
  readonly description: string;
  private probed: Promise<void> | undefined;

  private constructor(
    private readonly client: S3Client,
    private readonly mod: S3Module,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly endpoint: string,
    /** Credentials that must never appear in an error (a server may echo them as an error code). */
    private readonly secrets: readonly string[],
  ) {
    this.description = `s3://${bucket}/${prefix} (endpoint ${endpoint})`;
  }

  static async open(opts: S3BackendOptions): Promise<S3Backend> {
    const env = opts.env ?? process.env;
    const { client, endpoint, mod } = await createS3Client(env);
    const secrets = [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter((s): s is string => !!s && s.length >= 4);
    return new S3Backend(client, mod, opts.bucket, normalizePrefix(opts.prefix), endpoint, secrets);
  }

  /** Human-readable location of one object (no secrets). */
  where(key: string): string {
    return `s3://${this.bucket}/${this.fullKey(key)} (endpoint ${this.endpoint})`;
  }

  private fullKey(key: string): string {
    return this.prefix + key;
  }

  async get(key: string): Promise<Versioned | undefined> {
    await this.ensureProbed();
    return this.rawGet(key);
  }

  async put(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }> {
    await this.ensureProbed();
    return this.rawPut(key, body, cond);
  }

  async delete(key: string): Promise<void> {
    await this.ensureProbed();
    try {
      await this.client.send(new this.mod.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (e) {
      if (status(e) === 404) return;
      throw this.userError(`delete ${key}`, e);
    }
  }

  /**
   * Writes a probe object twice with `If-None-Match: *` and requires the second to be refused.
   * Stores that ignore preconditions (Incus, older MinIO-likes) would let two applies overwrite each
   * other, so they are refused up front. Runs once per backend instance.
   */
  ensureProbed(): Promise<void> {
    this.probed ??= this.probe().catch((e) => {
      this.probed = undefined;
      throw e;
    });
    return this.probed;
  }

  private async probe(): Promise<void> {
    const key = `.pvefleet-probe/${randomUUID()}`;
    const body = (n: number) => new TextEncoder().encode(JSON.stringify({ probe: key, attempt: n }));
    await this.rawPut(key, body(1), { ifNoneMatch: "*" });
    let refused = false;
    try {
      await this.rawPut(key, body(2), { ifNoneMatch: "*" });
    } catch (e) {
      if (!(e instanceof StoreConflictError)) throw e;
      refused = true;
    }
    await this.client.send(new this.mod.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) })).catch(() => undefined);
    if (!refused) {
      throw new UserError(
        "S3_NO_PRECONDITIONS",
        `the object store at ${this.endpoint} ignores conditional writes (If-None-Match: * overwrote an existing object in bucket ${this.bucket}); pvefleet refuses it because two runs could overwrite each other's state`,
      );
    }
  }

  private async rawGet(key: string): Promise<Versioned | undefined> {
    try {
      const out = await this.client.send(new this.mod.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      return { body, etag: bare(out.ETag) };
    } catch (e) {
      if (status(e) === 404 && errName(e) !== "NoSuchBucket") return undefined;
      throw this.userError(`read ${key}`, e);
    }
  }

  private async rawPut(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }, attempt = 1): Promise<{ etag: string }> {
    const fullKey = this.fullKey(key);
    try {
      const out = await this.client.send(
        new this.mod.PutObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: "application/json",
          ...("ifNoneMatch" in cond ? { IfNoneMatch: "*" } : { IfMatch: bare(cond.ifMatch) }),
        }),
      );
      if (out.ETag) return { etag: bare(out.ETag) };
      const now = await this.rawGet(key);
      return { etag: now?.etag ?? "" };
    } catch (e) {
      const code = status(e);
      if (code !== 412 && code !== 409 && code !== 500 && code !== 404) throw this.userError(`write ${key}`, e);
      if (code === 404 && errName(e) === "NoSuchBucket") throw this.userError(`write ${key}`, e);
      // Did an earlier attempt of this very request (SDK retry after a 500) land? Our bytes are unique.
      const now = await this.rawGet(key);
      if (now && equalBytes(now.body, body)) return { etag: now.etag };
      // A 500 where nothing moved was a failing server, not a lost race: try again (safe — the write
      // is conditional and its bytes unique), then report it as a server error. A 412/409 is always
      // a lost race, even when the winner's object is already deleted again (a released lock).
      const unchanged = "ifNoneMatch" in cond ? !now : now?.etag === bare(cond.ifMatch);
      if (code === 500 && unchanged) {
        if (attempt < 3) {
          await sleep(50 * attempt);
          return this.rawPut(key, body, cond, attempt + 1);
        }
        throw this.userError(`write ${key}`, e);
      }
      const reason = "ifNoneMatch" in cond ? "exists" : now ? "changed" : "gone";
      throw new StoreConflictError(key, reason, { cause: e });
    }
  }

  private userError(what: string, e: unknown): UserError {
    const name = errName(e);
    const code = status(e);
    const sys = (e as NodeJS.ErrnoException).code;
    let hint = "";
    if (name === "NoSuchBucket") hint = ` (bucket ${this.bucket} does not exist)`;
    else if (code === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") hint = " (check the AWS credentials and their access to the bucket)";
    else if (name === "CredentialsProviderError") hint = " (no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)";
    const detail = [name, code ? `HTTP ${code}` : undefined, sys && sys !== name ? sys : undefined].filter(Boolean).join(", ");
    const line = this.secrets.reduce((text, secret) => text.split(secret).join("***"), `cannot ${what} in s3://${this.bucket}/${this.prefix} at ${this.endpoint}: ${detail}${hint}`);
    return new UserError("STATE_S3", line, undefined, { cause: e });
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads `s3://bucket/key` with the same client configuration (the config loader's s3:// shard files). */
export async function readS3Object(url: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new UserError("E_S3_URL", `${url}: expected s3://bucket/key`);
  const [, bucket, key] = m as unknown as [string, string, string];
  const { client, endpoint, mod } = await createS3Client(env);
  try {
    const out = await client.send(new mod.GetObjectCommand({ Bucket: bucket, Key: key }));
    return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
  } catch (e) {
    const code = status(e);
    const name = errName(e);
    const what = code === 404 || name === "NoSuchKey" ? (name === "NoSuchBucket" ? "bucket does not exist" : "no such object") : [name, code ? `HTTP ${code}` : undefined].filter(Boolean).join(", ");
    throw new UserError("E_S3_READ", `cannot read ${url} at ${endpoint}: ${what}`, undefined, { cause: e });
  } finally {
    client.destroy();
  }
}
