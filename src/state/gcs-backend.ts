/**
 * The `gcs` backend: Google Cloud Storage through `@google-cloud/storage` (v7, the line that runs
 * on Node 20), loaded only when used. GCS versions an object by its *generation*, so the opaque
 * version tag of `ObjectBackend` is the generation as a decimal string: create-only is
 * `ifGenerationMatch=0`, compare-and-swap is `ifGenerationMatch=<generation>`, and a lost race is
 * HTTP 412 (`conditionNotMet`). The client retries 5xx on conditional writes, so a write that landed
 * can come back as 412: every body we write is unique (write ID / lock nonce), so a conflict is
 * confirmed by re-reading and comparing bytes, exactly as on S3.
 */
import { createHash, randomUUID } from "node:crypto";
import { UserError } from "../errors.js";
import { normalizePrefix } from "./s3-backend.js";
import { StoreConflictError } from "./store-conflict.js";
import type { ObjectBackend, Versioned } from "./types.js";

type GcsModule = typeof import("@google-cloud/storage");
type Storage = import("@google-cloud/storage").Storage;
type GcsFile = import("@google-cloud/storage").File;

export interface GcsBackendOptions {
  bucket: string;
  /** Object name prefix; "" or ending in "/" (one is added when missing). */
  prefix?: string;
  env?: NodeJS.ProcessEnv;
}

let sdk: Promise<GcsModule> | undefined;

function loadSdk(): Promise<GcsModule> {
  sdk ??= import("@google-cloud/storage");
  return sdk;
}

/** A generation as GCS writes it: a positive int64 in decimal. */
const GENERATION = /^[1-9][0-9]{0,18}$/;

/**
 * The client as the environment configures it: Google's standard credential chain
 * (GOOGLE_APPLICATION_CREDENTIALS, workload identity / metadata server, gcloud ADC) and, for an
 * emulator, STORAGE_EMULATOR_HOST (the client then sends no credentials).
 */
export async function createGcsClient(env: NodeJS.ProcessEnv = process.env): Promise<{ storage: Storage; endpoint: string }> {
  const mod = await loadSdk();
  const emulator = env.STORAGE_EMULATOR_HOST || undefined;
  const apiEndpoint = emulator ? (/^[a-z][a-z0-9+.-]*:\/\//i.test(emulator) ? emulator : `https://${emulator}`).replace(/\/+$/, "") : undefined;
  const storage = new mod.Storage({
    // The client reads STORAGE_EMULATOR_HOST from process.env itself; an explicit env (tests,
    // library callers) is passed as the endpoint instead.
    ...(apiEndpoint ? { apiEndpoint } : {}),
    ...(env.GOOGLE_CLOUD_PROJECT ? { projectId: env.GOOGLE_CLOUD_PROJECT } : {}),
    // ADC reads process.env; an explicit env's key file must be handed over.
    ...(env !== process.env && env.GOOGLE_APPLICATION_CREDENTIALS ? { keyFilename: env.GOOGLE_APPLICATION_CREDENTIALS } : {}),
  });
  return { storage, endpoint: apiEndpoint ?? "Google Cloud Storage" };
}

/**
 * The HTTP status of a client error, or undefined for network/credential failures. JSON-API calls
 * fail with ApiError (`code`), resumable uploads with GaxiosError (`status`, `response.status`).
 */
function status(e: unknown): number | undefined {
  const err = e as { code?: unknown; status?: unknown; response?: { status?: unknown } } | undefined;
  for (const v of [err?.code, err?.status, err?.response?.status]) if (typeof v === "number") return v;
  return undefined;
}

/**
 * One short line about a client error. Media downloads put the raw response body into `message`,
 * and credential errors span several lines; neither belongs in a one-line error.
 */
function reasonOf(e: unknown): string {
  const err = e as { message?: string; errors?: { reason?: string; message?: string }[]; code?: unknown };
  let message = err?.errors?.[0]?.message ?? err?.message ?? String(e);
  try {
    const parsed = JSON.parse(message) as { error?: { message?: string } };
    if (parsed?.error?.message) message = parsed.error.message;
  } catch {
    // not JSON: keep the text
  }
  const line = message.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function isMissingBucket(e: unknown): boolean {
  return status(e) === 404 && /bucket/i.test(reasonOf(e));
}

export class GcsBackend implements ObjectBackend {
  readonly description: string;
  private probed: Promise<void> | undefined;
  /** The generation this process last wrote per key: delete removes only that version. */
  private readonly written = new Map<string, string>();

  private constructor(
    private readonly storage: Storage,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly endpoint: string,
  ) {
    this.description = `gs://${bucket}/${prefix} (endpoint ${endpoint})`;
  }

  static async open(opts: GcsBackendOptions): Promise<GcsBackend> {
    const { storage, endpoint } = await createGcsClient(opts.env ?? process.env);
    return new GcsBackend(storage, opts.bucket, normalizePrefix(opts.prefix), endpoint);
  }

  /** Human-readable location of one object (no secrets). */
  where(key: string): string {
    return `gs://${this.bucket}/${this.prefix}${key} (endpoint ${this.endpoint})`;
  }

  private file(key: string): GcsFile {
    return this.storage.bucket(this.bucket).file(this.prefix + key);
  }

  async get(key: string): Promise<Versioned | undefined> {
    await this.ensureProbed();
    return this.rawGet(key);
  }

  async put(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }> {
    await this.ensureProbed();
    return this.rawPut(key, body, cond);
  }

  /**
   * Best effort, like every backend's delete. Where this process wrote the object, the delete is
   * conditional on that generation, so it can never remove a version someone else wrote since
   * (GCS honours preconditions on DELETE; S3-compatibles such as RGW do not); otherwise on the
   * generation a metadata read just saw.
   */
  async delete(key: string): Promise<void> {
    await this.ensureProbed();
    await this.rawDelete(key);
  }

  /**
   * Writes a probe object twice with `ifGenerationMatch=0` and requires the second to be refused,
   * then requires a write on a generation the object does not have to be refused. An emulator that
   * ignores preconditions would let two applies overwrite each other, so it is refused up front.
   * Runs once per backend instance.
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
    const { etag } = await this.rawPut(key, body(1), { ifNoneMatch: "*" });
    const refused = async (cond: { ifNoneMatch: "*" } | { ifMatch: string }, n: number): Promise<boolean> => {
      try {
        await this.rawPut(key, body(n), cond);
        return false;
      } catch (e) {
        if (!(e instanceof StoreConflictError)) throw e;
        return true;
      }
    };
    let ignored: string | undefined;
    if (!(await refused({ ifNoneMatch: "*" }, 2))) ignored = "ifGenerationMatch=0 overwrote an existing object";
    else if (!(await refused({ ifMatch: String(BigInt(etag) + 1n) }, 3))) ignored = "ifGenerationMatch with a generation the object does not have overwrote it";
    await this.rawDelete(key).catch(() => undefined);
    if (ignored) {
      throw new UserError(
        "GCS_NO_PRECONDITIONS",
        `the object store at ${this.endpoint} ignores generation preconditions (${ignored} in bucket ${this.bucket}); pvefleet refuses it because two runs could overwrite each other's state`,
      );
    }
  }

  private async rawGet(key: string): Promise<Versioned | undefined> {
    try {
      return await new Promise<Versioned>((resolve, reject) => {
        let generation: string | undefined;
        const chunks: Buffer[] = [];
        this.file(key)
          .createReadStream()
          .on("response", (res: { headers?: Record<string, string | string[] | undefined> }) => {
            const h = res.headers?.["x-goog-generation"];
            generation = Array.isArray(h) ? h[0] : h;
          })
          .on("data", (c: Buffer) => chunks.push(c))
          .on("error", reject)
          .on("end", () => {
            // The generation of the bytes we read must come with them: a separate metadata read
            // could describe a newer version, and a CAS on it would overwrite unseen changes.
            if (!generation || !GENERATION.test(generation)) reject(new Error(`the server did not report the object's generation (x-goog-generation)`));
            else resolve({ body: new Uint8Array(Buffer.concat(chunks)), etag: generation });
          });
      });
    } catch (e) {
      if (status(e) === 404 && !isMissingBucket(e)) return undefined;
      throw this.userError(`read ${key}`, e);
    }
  }

  private async rawPut(key: string, body: Uint8Array, cond: { ifNoneMatch: "*" } | { ifMatch: string }): Promise<{ etag: string }> {
    // A tag that is not a generation (another backend's ETag) cannot match any version.
    if ("ifMatch" in cond && !GENERATION.test(cond.ifMatch)) throw await this.conflict(key, cond, undefined);
    const expected = "ifNoneMatch" in cond ? "0" : cond.ifMatch;
    const file = this.file(key);
    try {
      await file.save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
        resumable: false,
        // The client's own upload check deletes the object (unconditionally) on a mismatch; we
        // check the server's MD5 below and leave the object alone.
        validation: false,
        contentType: "application/json",
        metadata: { cacheControl: "no-store" },
        preconditionOpts: { ifGenerationMatch: expected },
      });
    } catch (e) {
      const code = status(e);
      if (isMissingBucket(e) || (code !== 412 && code !== undefined && code < 500)) throw this.userError(`write ${key}`, e);
      // Did an earlier attempt of this very request (a client retry after a 5xx or a dropped
      // connection) land? Our bytes are unique.
      // When even that read fails (the server is unreachable), the write's own error is the news.
      const now = await this.rawGet(key).catch(() => Promise.reject(this.userError(`write ${key}`, e)));
      if (now && equalBytes(now.body, body)) return this.remember(key, now.etag);
      if (code !== 412) throw this.userError(`write ${key}`, e);
      throw await this.conflict(key, cond, e, now);
    }
    const meta = file.metadata as { generation?: string | number; md5Hash?: string };
    const generation = meta.generation === undefined ? "" : String(meta.generation);
    if (!GENERATION.test(generation)) throw new UserError("STATE_GCS", `cannot write ${key} in gs://${this.bucket}/${this.prefix} at ${this.endpoint}: the server did not report the new generation`);
    if (meta.md5Hash !== undefined && meta.md5Hash !== createHash("md5").update(body).digest("base64")) {
      throw new UserError("STATE_GCS", `cannot write ${key} in gs://${this.bucket}/${this.prefix} at ${this.endpoint}: the server stored different bytes (MD5 mismatch); the object was left as is`);
    }
    return this.remember(key, generation);
  }

  private remember(key: string, generation: string): { etag: string } {
    this.written.set(key, generation);
    return { etag: generation };
  }

  private async conflict(key: string, cond: { ifNoneMatch: "*" } | { ifMatch: string }, cause: unknown, now?: Versioned): Promise<StoreConflictError> {
    const current = now ?? (await this.rawGet(key));
    const reason = "ifNoneMatch" in cond ? "exists" : current ? "changed" : "gone";
    return new StoreConflictError(key, reason, cause === undefined ? undefined : { cause });
  }

  private async rawDelete(key: string): Promise<void> {
    const written = this.written.get(key);
    try {
      // Never an unconditional delete: besides being unsafe, it makes the v7 client switch off
      // retries on the shared Storage object while it runs (and File objects made meanwhile
      // remember that). An object this process did not write is deleted at the generation seen.
      const generation = written ?? String(((await this.file(key).getMetadata())[0] as { generation?: string | number }).generation);
      await this.file(key).delete({ ifGenerationMatch: generation });
    } catch (e) {
      // 404: already gone; 412: someone wrote it since — not ours to remove.
      if (isMissingBucket(e) || (status(e) !== 404 && status(e) !== 412)) throw this.userError(`delete ${key}`, e);
    } finally {
      if (written !== undefined && this.written.get(key) === written) this.written.delete(key);
    }
  }

  private userError(what: string, e: unknown): UserError {
    const code = status(e);
    const sys = (e as NodeJS.ErrnoException)?.code;
    const reason = reasonOf(e);
    let hint = "";
    if (isMissingBucket(e)) hint = ` (bucket ${this.bucket} does not exist)`;
    else if (code === 401 || code === 403) hint = " (check the Google credentials and their access to the bucket: roles/storage.objectUser)";
    else if (/default credentials|could not load the default credentials|invalid_grant|unable to detect a project id/i.test(reason)) {
      hint = " (no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS, or run gcloud auth application-default login)";
    }
    const detail = [code ? `HTTP ${code}` : undefined, typeof sys === "string" ? sys : undefined, reason || undefined].filter(Boolean).join(", ");
    return new UserError("STATE_GCS", `cannot ${what} in gs://${this.bucket}/${this.prefix} at ${this.endpoint}: ${detail}${hint}`, undefined, { cause: e });
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads `gs://bucket/object` with the same client configuration (the config loader's gs:// shard files). */
export async function readGcsObject(url: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new UserError("E_GCS_URL", `${url}: expected gs://bucket/object`);
  const [, bucket, name] = m as unknown as [string, string, string];
  const { storage, endpoint } = await createGcsClient(env);
  try {
    const [bytes] = await storage.bucket(bucket).file(name).download();
    return new Uint8Array(bytes);
  } catch (e) {
    const code = status(e);
    const what = code === 404 ? (isMissingBucket(e) ? "bucket does not exist" : "no such object") : [code ? `HTTP ${code}` : undefined, reasonOf(e)].filter(Boolean).join(", ");
    throw new UserError("E_GCS_READ", `cannot read ${url} at ${endpoint}: ${what}`, undefined, { cause: e });
  }
}
