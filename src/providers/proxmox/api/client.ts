/**
 * The only place pvefleet speaks HTTP to Proxmox VE: one undici Agent (keep-alive, bounded
 * connections), API-token auth, TLS verified by default, typed errors and bounded retries.
 *
 * Bodies are form-encoded (`application/x-www-form-urlencoded`), not JSON: it is what PVE's own
 * web UI and pvesh send, the schema's type checks are written for it (booleans exactly 0/1,
 * pve-api.md §2.10), and it is the same encoding as GET/DELETE query strings, so one encoder
 * serves every call and a value that passes the simulator's validator passes PVE's unchanged.
 * The ISO upload is multipart (pve-api.md §6).
 *
 * The token secret lives only in the Authorization header: it is never logged, and every error
 * text is passed through `redact()` before it leaves this file.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { Agent, request } from "undici";
import { ProxmoxError, classifyHttpError, classifyNetworkError, isProxmoxError } from "./errors.js";

export const DEFAULT_API_URL = "https://localhost:8006/api2/json";

export interface RetryOptions {
  /** Total attempts including the first (default 4). */
  attempts: number;
  /** First backoff; doubles each attempt, full jitter (default 250 ms). */
  baseDelayMs: number;
  /** Cap of one backoff (default 4000 ms). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4000 };

/**
 * When a failed request may be sent again:
 * - `read`: GETs. Retried on network errors, 5xx without a known meaning, 59x and lock timeouts.
 * - `idempotent`: writes that set absolute values (config without digest, resize to an absolute
 *   size, shutdown/stop of a VM, an upload under a fixed name): sending twice ends in the same
 *   state, so they are retried like reads.
 * - `unsafe`: writes whose repetition could do something twice (clone, upload, delete, start).
 *   Retried only when PVE cannot have acted: the connection was refused/never made, or a lock
 *   timeout, which PVE raises before it changes anything (pve-api.md §2.11). The operation
 *   checks the effect before it tries again at its own level.
 * - `never`: one attempt.
 */
export type RetryClass = "read" | "idempotent" | "unsafe" | "never";

export interface ClientOptions {
  env?: NodeJS.ProcessEnv;
  insecureTls?: boolean;
  /**
   * Accept an `http://` PROXMOX_API_URL (the token then travels in cleartext). Also allowed by
   * `PVEFLEET_ALLOW_INSECURE_HTTP=1` in `env`, which the CLI's `--allow-insecure-http` sets.
   */
  allowInsecureHttp?: boolean;
  /** PEM CA bundle to trust (tests); `PROXMOX_CA_FILE` is read when this is absent. */
  ca?: string;
  maxConnections?: number;
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
  /** Called before each retry (for logs/figures); never receives credentials. */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; error: ProxmoxError }) => void;
}

export type Params = Record<string, string | number | boolean | undefined | null>;

export interface ClientStats {
  requests: number; // every HTTP request sent, retries and task polls included
  taskPolls: number;
  retries: number;
}

const CONNECT_FAILURES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** `scheme://user:pass@host` → `scheme://***@host`: a URL is echoed in errors, its credentials never. */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#@\s]*@/i, "$1***@");
}

/** Where pveproxy serves the JSON API (pve-http-server `PVE/APIServer/AnyEvent.pm`, `/api2/json`). */
export const API_BASE_PATH = "/api2/json";

/**
 * PROXMOX_API_URL, checked before any request: https (http only when allowed — the token would go
 * out in cleartext), no `user:password@` (the token is the only credential, and a URL is shown in
 * errors). Returns the API base as users write it, normalised: `https://host:8006`,
 * `https://host:8006/` and `https://host:8006/api2/json[/]` all give `https://host:8006/api2/json`
 * (without that, every call would reach pveproxy's page handler and come back as a misleading 501
 * `Method '…' not implemented`). A reverse-proxy prefix (`https://proxy/pve`) gets `/api2/json`
 * appended too. The fragment of a URL pasted from the web UI (`#v1:0:…`) is dropped: browsers
 * never send it. A query string, or another `/api2/<format>` than json, is refused.
 */
export function checkApiUrl(raw: string, allowInsecureHttp: boolean): string {
  const shown = withoutUserinfo(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProxmoxError("CONFIG", `PROXMOX_API_URL must be an https:// URL, got "${shown}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ProxmoxError("CONFIG", `PROXMOX_API_URL must be an https:// URL, got "${shown}"`);
  if (url.username !== "" || url.password !== "") {
    throw new ProxmoxError("CONFIG", `PROXMOX_API_URL must not carry credentials ("${shown}"): the API token comes from PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET`);
  }
  if (url.protocol === "http:" && !allowInsecureHttp) {
    throw new ProxmoxError("CONFIG", `PROXMOX_API_URL "${shown}" is plain http, so the API token would travel in cleartext: use https, or pass --allow-insecure-http (PVEFLEET_ALLOW_INSECURE_HTTP=1) for a lab or the simulator's --http mode`);
  }
  if (url.search !== "") {
    throw new ProxmoxError("CONFIG", `PROXMOX_API_URL "${shown}" must not carry a query string: give the API base, e.g. https://pve1:8006/api2/json`);
  }
  let path = url.pathname.replace(/\/+$/, "");
  if (/\/api2\/[^/]+$/.test(path) && !path.endsWith(API_BASE_PATH)) {
    throw new ProxmoxError("CONFIG", `PROXMOX_API_URL "${shown}" names an API format other than json: use ${url.origin}${path.replace(/\/api2\/[^/]+$/, API_BASE_PATH)}`);
  }
  if (path.endsWith("/api2")) path += "/json";
  else if (!path.endsWith(API_BASE_PATH)) path += API_BASE_PATH;
  return `${url.protocol}//${url.host}${path}`;
}

export class ProxmoxClient {
  readonly baseUrl: string;
  readonly tokenId: string;
  readonly retry: RetryOptions;
  private readonly authorization: string;
  private readonly secret: string;
  private readonly agent: Agent;
  private readonly requestTimeoutMs: number;
  private readonly uploadTimeoutMs: number;
  private readonly onRetry?: ClientOptions["onRetry"];
  private readonly counters: ClientStats = { requests: 0, taskPolls: 0, retries: 0 };

  constructor(options: ClientOptions = {}) {
    const env = options.env ?? process.env;
    const tokenId = env.PROXMOX_TOKEN_ID ?? "";
    const secret = env.PROXMOX_TOKEN_SECRET ?? "";
    // Nstance's exact startup lines, checked before any request.
    if (tokenId === "") throw new ProxmoxError("CONFIG", "PROXMOX_TOKEN_ID environment variable is required for proxmox provider");
    if (secret === "") throw new ProxmoxError("CONFIG", "PROXMOX_TOKEN_SECRET environment variable is required for proxmox provider");
    this.tokenId = tokenId;
    this.secret = secret;
    this.authorization = `PVEAPIToken=${tokenId}=${secret}`;
    this.baseUrl = checkApiUrl(env.PROXMOX_API_URL || DEFAULT_API_URL, options.allowInsecureHttp === true || /^(1|true|yes)$/i.test(env.PVEFLEET_ALLOW_INSECURE_HTTP ?? ""));

    let ca = options.ca;
    if (ca === undefined && env.PROXMOX_CA_FILE) {
      try {
        ca = readFileSync(env.PROXMOX_CA_FILE, "utf8");
      } catch (e) {
        throw new ProxmoxError("CONFIG", `PROXMOX_CA_FILE ${env.PROXMOX_CA_FILE}: ${(e as Error).message}`);
      }
    }
    this.agent = new Agent({
      connections: options.maxConnections ?? 8,
      keepAliveTimeout: 10_000,
      // PVEFLEET_INSECURE_TLS=1 (or the bpg provider's PROXMOX_VE_INSECURE, src/cli/env.ts) turns verification off like insecure_tls.
      connect: { rejectUnauthorized: !(options.insecureTls || /^(1|true|yes)$/i.test(env.PVEFLEET_INSECURE_TLS ?? "")), ...(ca !== undefined ? { ca } : {}) },
    });
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.uploadTimeoutMs = options.uploadTimeoutMs ?? 300_000;
    this.onRetry = options.onRetry;
  }

  stats(): ClientStats {
    return { ...this.counters };
  }

  requestCount(): number {
    return this.counters.requests;
  }

  /** Counts a retry an operation made at its own level (e.g. a clone after a lock timeout). */
  countRetry(): void {
    this.counters.retries++;
  }

  /** Counts a request as a task poll (so figures can exclude polls). */
  markTaskPoll(): void {
    this.counters.taskPolls++;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  get<T>(path: string, query?: Params, retry: RetryClass = "read"): Promise<T> {
    return this.call<T>("GET", path, { query }, retry);
  }

  post<T>(path: string, params?: Params, retry: RetryClass = "unsafe"): Promise<T> {
    return this.call<T>("POST", path, { form: params }, retry);
  }

  put<T>(path: string, params?: Params, retry: RetryClass = "unsafe"): Promise<T> {
    return this.call<T>("PUT", path, { form: params }, retry);
  }

  del<T>(path: string, query?: Params, retry: RetryClass = "unsafe"): Promise<T> {
    return this.call<T>("DELETE", path, { query }, retry);
  }

  /**
   * Multipart upload in PVE's order-sensitive wire format (pve-api.md §6): the fields `content`,
   * `checksum-algorithm`, `checksum` first, then the file part whose field name is `filename`.
   * The sha256 lets the imgcopy task verify the bytes it received.
   */
  upload<T>(path: string, req: { content: string; filename: string; bytes: Uint8Array }): Promise<T> {
    const boundary = `----pvefleet${createHash("sha1").update(req.bytes).update(String(Date.now())).digest("hex").slice(0, 24)}`;
    const checksum = createHash("sha256").update(req.bytes).digest("hex");
    const field = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const head =
      field("content", req.content) +
      field("checksum-algorithm", "sha256") +
      field("checksum", checksum) +
      `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="${req.filename.replace(/["\r\n]/g, "_")}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`;
    const body = Buffer.concat([Buffer.from(head, "utf8"), Buffer.from(req.bytes), Buffer.from(`\r\n--${boundary}--\r\n`, "utf8")]);
    return this.call<T>("POST", path, { raw: { body, contentType: `multipart/form-data; boundary=${boundary}` } }, "unsafe", this.uploadTimeoutMs);
  }

  /** Runs `fn` with the client's backoff while `retryable(error)` says so. */
  async withRetry<T>(label: { method: string; path: string }, fn: (attempt: number) => Promise<T>, retryable: (e: ProxmoxError) => boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (e) {
        if (!isProxmoxError(e) || attempt >= this.retry.attempts || !retryable(e)) throw e;
        const delayMs = backoffMs(this.retry, attempt);
        this.counters.retries++;
        this.onRetry?.({ ...label, attempt, delayMs, error: e });
        await sleep(delayMs);
      }
    }
  }

  private call<T>(
    method: string,
    path: string,
    body: { query?: Params; form?: Params; raw?: { body: Buffer; contentType: string } },
    retry: RetryClass,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<T> {
    return this.withRetry({ method, path }, () => this.once<T>(method, path, body, timeoutMs), (e) => shouldRetry(e, retry));
  }

  private async once<T>(
    method: string,
    path: string,
    body: { query?: Params; form?: Params; raw?: { body: Buffer; contentType: string } },
    timeoutMs: number,
  ): Promise<T> {
    const qs = body.query ? encodeParams(body.query) : "";
    const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { authorization: this.authorization, accept: "application/json" };
    // pveproxy compresses for clients that ask: a 10,000-VM listing is ~2.8 MiB as JSON, ~0.2 MiB gzipped.
    if (method === "GET") headers["accept-encoding"] = "gzip";
    let payload: string | Buffer | undefined;
    if (body.raw) {
      payload = body.raw.body;
      headers["content-type"] = body.raw.contentType;
      headers["content-length"] = String(body.raw.body.length);
    } else if (body.form && method !== "GET" && method !== "DELETE") {
      const encoded = encodeParams(body.form);
      if (encoded !== "") {
        payload = encoded;
        headers["content-type"] = "application/x-www-form-urlencoded";
      }
    }
    this.counters.requests++;
    let res;
    try {
      res = await request(url, {
        method: method as "GET",
        headers,
        body: payload,
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (e) {
      throw this.redactError(classifyNetworkError(e, method, path));
    }
    let unread: unknown;
    const text = await readBody(res).catch((e: unknown) => {
      unread = e;
      return "";
    });
    if (res.statusCode >= 200 && res.statusCode < 300) {
      // A success whose body was cut off or is not valid gzip is not an empty answer: a listing read
      // as null would look like an empty cluster, a clone's lost UPID like a finished task.
      if (unread !== undefined) throw this.redactError(classifyNetworkError(unread, method, path));
      if (text === "") return null as T;
      try {
        return (JSON.parse(text) as { data: T }).data;
      } catch {
        throw this.redactError(new ProxmoxError("SERVER", `Proxmox API ${method} ${path}: answer is not JSON`, { status: res.statusCode, method, path }));
      }
    }
    let parsed: { message?: unknown; errors?: unknown } = {};
    try {
      parsed = text ? (JSON.parse(text) as typeof parsed) : {};
    } catch {
      // 401 has no body; 501 bodies may be plain text — the reason phrase carries the message.
    }
    throw this.redactError(
      classifyHttpError({
        status: res.statusCode,
        reason: res.statusText,
        message: typeof parsed.message === "string" ? parsed.message : undefined,
        errors: isStringRecord(parsed.errors) ? parsed.errors : undefined,
        method,
        path,
      }),
    );
  }

  /**
   * Removes the secret from an error's text, in case a server or proxy echoed it (a body, a reason
   * phrase, a certificate name in a TLS error). The copy keeps every detail — `cause` (whose codes
   * decide whether an unsafe write may be retried), `exitstatus`, `upid`, `lock` — with the secret
   * masked wherever it appears in their text too.
   */
  redactError(e: ProxmoxError): ProxmoxError {
    const secret = this.secret;
    const mask = (text: string) => text.split(secret).join("***");
    // `seen`: a cause chain may loop back on itself.
    const leaks = (v: unknown, seen = new Set<unknown>()): boolean => {
      if (typeof v === "string") return v.includes(secret);
      if (typeof v === "object" && v !== null && !seen.has(v)) {
        seen.add(v);
        const o = v as { message?: unknown; stack?: unknown; cause?: unknown };
        if (leaks(o.message, seen) || leaks(o.stack, seen) || leaks(o.cause, seen)) return true;
        // Own enumerable fields too, an Error's included (a library may hang the request's headers on it).
        try {
          return JSON.stringify(v).includes(secret);
        } catch {
          return false;
        }
      }
      return false;
    };
    const fields = [e.message, e.exitstatus, e.upid, e.lock, e.path, e.stack, ...Object.values(e.errors ?? {})];
    if (!fields.some((f) => leaks(f)) && !leaks(e.cause)) return e;
    const maskCause = (c: unknown, depth = 0): unknown => {
      if (!leaks(c)) return c;
      if (typeof c === "string") return mask(c);
      const o = c as { message?: unknown; code?: unknown; cause?: unknown; name?: unknown };
      // Past five levels (or a loop) the rest of the chain is dropped rather than passed on unmasked.
      const keepCause = o.cause !== undefined && depth < 5;
      const copy = new Error(mask(typeof o.message === "string" ? o.message : String(c)), keepCause ? { cause: maskCause(o.cause, depth + 1) } : undefined);
      if (typeof o.name === "string") copy.name = o.name;
      if (o.code !== undefined) Object.assign(copy, { code: o.code });
      copy.stack = `${copy.name}: ${copy.message}`;
      return copy;
    };
    const maybe = (v: string | undefined) => (v === undefined ? undefined : mask(v));
    const copy = new ProxmoxError(
      e.code as never,
      mask(e.message),
      {
        status: e.status,
        method: e.method,
        path: maybe(e.path),
        errors: e.errors ? Object.fromEntries(Object.entries(e.errors).map(([k, v]) => [k, mask(String(v))])) : undefined,
        exitstatus: maybe(e.exitstatus),
        upid: maybe(e.upid),
        lock: maybe(e.lock),
      },
      e.cause !== undefined ? { cause: maskCause(e.cause) } : undefined,
    );
    return copy;
  }
}

function shouldRetry(e: ProxmoxError, retry: RetryClass): boolean {
  if (retry === "never") return false;
  if (e.code === "LOCK_TIMEOUT") return true;
  if (e.code === "NETWORK") {
    if (retry === "read" || retry === "idempotent") return true;
    const cause = (e.cause ?? {}) as { code?: string; cause?: { code?: string } };
    const code = cause.cause?.code ?? cause.code ?? "";
    return CONNECT_FAILURES.has(code);
  }
  // An unexplained 5xx may come after the server acted: harmless to repeat for reads and for
  // writes of absolute values, not for the rest.
  if (e.code === "SERVER") return (retry === "read" || retry === "idempotent") && (e.status ?? 0) >= 500 && e.status !== 501;
  return false;
}

/** Exponential backoff with full jitter: uniform in [base·2^(n-1) / 2, base·2^(n-1)], capped. */
export function backoffMs(retry: RetryOptions, attempt: number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Form/query encoding: booleans as 0/1 (PVE rejects true/false in forms), undefined/null dropped. */
export function encodeParams(params: Params): string {
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    out.append(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return out.toString();
}

/** Builds an API path, percent-encoding every interpolated segment (UPIDs, volume IDs). */
export function apiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce((acc, s, i) => acc + s + (i < values.length ? encodeURIComponent(String(values[i])) : ""), "");
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The answer's text, gunzipped when the server compressed it. */
async function readBody(res: { headers: Record<string, string | string[] | undefined>; body: { arrayBuffer(): Promise<ArrayBuffer> } }): Promise<string> {
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const encoding = String(res.headers["content-encoding"] ?? "").toLowerCase();
  return (encoding === "gzip" ? gunzipSync(bytes) : bytes).toString("utf8");
}
