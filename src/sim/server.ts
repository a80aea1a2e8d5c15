/**
 * The HTTP(S) face of the simulator: pveproxy's request pipeline in PVE's order — token auth (401),
 * routing (501), body parsing, URI/body parameter merge, proxy-to-node resolution (500 for an
 * unknown node), permissions (403), schema validation (400 with `errors`), the handler — and PVE's
 * envelope: `{"data": …}` on success, `{"data": null[, "errors"], "message"}` with the first
 * message line as the reason phrase on failure (pve-api.md §2.10, rule 1).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { ApiSchema, MethodInfo } from "./schema.js";
import { checkObject, type Errors, type Params } from "./validate.js";
import { PveError, type ApiRequest, type Handler, type SimContext } from "./context.js";
import { RawJson } from "./api-cluster.js";
import type { FaultInjector } from "./faults.js";
import { parseUpload, UploadError, type UploadBody } from "./multipart.js";

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  ms: number;
}

export interface RejectedRequest {
  method: string;
  path: string;
  status: number;
  errors: Errors;
}

export interface SimStats {
  /** Requests per endpoint pattern, e.g. `GET /cluster/resources`. */
  requests: Record<string, number>;
  /** The most recent requests (up to 10,000), oldest first. */
  log: RequestLogEntry[];
  /** Requests refused by schema validation (400 Parameter verification failed). */
  rejected: RejectedRequest[];
}

const MAX_LOG = 10_000;
const MAX_BODY = 512 * 1024;
const PREFIX = "/api2/json";
const JSON_TYPE = "application/json;charset=UTF-8";

export interface PipelineOptions {
  schema: ApiSchema;
  handlers: Record<string, Handler>;
  sim: SimContext;
  faults: FaultInjector;
  tokenId: string;
  tokenSecret: string;
  /** The token's privileges on one ACL path (a privilege is held when present, whatever its propagate flag). */
  privilegesAt: (path: string) => Record<string, number>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A reason phrase must be one line of printable Latin-1. */
function reasonPhrase(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/[^\x20-\x7e\xa0-\xff]/g, "?") || "Error";
}

/** A request as the simulator received it (path relative to `/api2/json`; URI and body parameters merged). */
export interface ReceivedRequest {
  method: string;
  path: string;
  params: Record<string, string>;
}

export type RequestHook = (req: ReceivedRequest) => void | Promise<void>;

export class Pipeline {
  readonly stats: SimStats = { requests: {}, log: [], rejected: [] };
  /** Tests: sees each authenticated API request before it is handled, and may act first (a concurrent actor). */
  requestHook?: RequestHook;

  constructor(private readonly o: PipelineOptions) {}

  /** A copy of the statistics: the request log's most recent MAX_LOG entries. */
  snapshot(): SimStats {
    return structuredClone({ requests: this.stats.requests, log: this.stats.log.slice(-MAX_LOG), rejected: this.stats.rejected.slice(-MAX_LOG) });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const method = req.method ?? "GET";
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const pathname = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? "" : rawUrl.slice(q + 1);
    let endpoint = `${method} (unmatched)`;
    let status = 500;
    const finish = () => {
      this.stats.requests[endpoint] = (this.stats.requests[endpoint] ?? 0) + 1;
      this.stats.log.push({ method, path: pathname, status, ms: Math.round((performance.now() - t0) * 1000) / 1000 });
      // Trimmed in chunks (a splice per request moved 10,000 entries each time); snapshot() keeps the last MAX_LOG.
      if (this.stats.log.length >= 2 * MAX_LOG) this.stats.log.splice(0, this.stats.log.length - MAX_LOG);
    };
    const send = (code: number, reason: string, body?: string | Buffer, gzipped = false) => {
      status = code;
      const headers: Record<string, string | number> = { "Cache-Control": "max-age=0", Pragma: "no-cache" };
      if (body !== undefined) {
        headers["Content-Type"] = JSON_TYPE;
        headers["Content-Length"] = typeof body === "string" ? Buffer.byteLength(body) : body.length;
        if (gzipped) headers["Content-Encoding"] = "gzip";
      } else headers["Content-Length"] = 0;
      res.writeHead(code, reasonPhrase(reason), headers);
      res.end(body);
      finish();
    };
    const sendError = (e: PveError) => {
      const message = e.message.endsWith("\n") ? e.message : `${e.message}\n`;
      const body: Record<string, unknown> = { data: null };
      if (e.errors) body.errors = e.errors;
      body.message = message;
      send(e.status, message, JSON.stringify(body));
    };

    try {
      if (pathname !== PREFIX && !pathname.startsWith(`${PREFIX}/`)) {
        await drain(req);
        return sendError(new PveError(501, `Method '${method} ${pathname}' not implemented`));
      }
      const rel = pathname.slice(PREFIX.length) || "/";

      const user = await this.authenticate(req);
      if (!user.ok) {
        await drain(req);
        if (user.delayMs) await sleep(user.delayMs);
        return send(401, user.reason);
      }

      const match = this.o.schema.match(method, rel);
      const handler = match ? this.o.handlers[`${method} ${match.template}`] : undefined;
      if (!match || !handler) {
        await drain(req);
        return sendError(new PveError(501, `Method '${method} ${rel}' not implemented`));
      }
      endpoint = `${method} ${match.template}`;

      const isUpload = match.template === "/nodes/{node}/storage/{storage}/upload" && method === "POST";
      let upload: UploadBody | undefined;
      let params: Params;
      const queryParams = formParams(query);
      if (isUpload && /^multipart\/form-data/i.test(req.headers["content-type"] ?? "")) {
        if (queryParams.tmpfilename !== undefined) {
          await drain(req);
          throw new PveError(400, "Parameter verification failed.", { tmpfilename: "'tmpfilename' query parameter is not allowed for file uploads" });
        }
        const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.headers["content-type"] ?? "");
        if (!boundary) throw new PveError(400, "Parameter verification failed.", { filename: "property is missing and it is not optional" });
        upload = await parseUpload(req, boundary[1] ?? boundary[2]!);
        params = { ...upload.fields, filename: upload.filename, ...queryParams };
      } else {
        params = { ...(await readBody(req, method)), ...queryParams };
      }

      const uriConflicts: Errors = {};
      for (const [k, v] of Object.entries(match.uriParams)) {
        if (params[k] !== undefined && params[k] !== v) uriConflicts[k] = "duplicate parameter (already defined in URI) with conflicting values!";
        params[k] = v;
      }
      if (Object.keys(uriConflicts).length) throw new PveError(400, "Parameter verification failed.", uriConflicts);

      if (this.requestHook) await this.requestHook({ method, path: rel, params: { ...params } });

      const fault = this.o.faults.draw(method, rel);
      if (fault === "5xx") {
        // Before the handler: the cluster did not change (a daemon or proxy hiccup).
        return sendError(new PveError(500, "proxy loop detected or daemon busy - got timeout"));
      }
      if (fault === "slow") await sleep(this.o.faults.spec?.slowMs ?? this.o.sim.timings.slowFaultMs);

      if (match.info.proxyto && params.node !== undefined) {
        const node = this.o.sim.cluster.nodes.get(params.node);
        if (!node) throw new PveError(500, `hostname lookup '${params.node}' failed - failed to get address info for: ${params.node}: Name or service not known`);
        if (!node.online) throw new PveError(595, "Errors during connection establishment, proxy handler failed.");
      }

      this.checkPermissions(match.info, params);

      const errors = checkObject(this.o.schema.properties(match.info), params);
      if (Object.keys(errors).length > 0) {
        this.stats.rejected.push({ method, path: pathname, status: 400, errors });
        if (this.stats.rejected.length >= 2 * MAX_LOG) this.stats.rejected.splice(0, this.stats.rejected.length - MAX_LOG);
        throw new PveError(400, "Parameter verification failed.", errors);
      }

      const apiReq: ApiRequest = { method, params, user: user.userid, taskFail: fault === "taskfail" ? this.o.faults.spec?.taskError ?? "" : undefined, upload };
      const data = await handler(this.o.sim, apiReq);
      if (fault === "5xx-after" || fault === "reset-after") {
        // The worker finishes first: the change is complete before the client hears anything.
        if (typeof data === "string" && data.startsWith("UPID:")) await this.o.sim.tasks.settled(data);
        if (fault === "5xx-after") return sendError(new PveError(500, "proxy loop detected or daemon busy - got timeout"));
      }
      if (fault === "reset" || fault === "reset-after") {
        // After the handler: the change happened but the client never hears about it.
        status = 0;
        finish();
        res.socket?.destroy();
        return;
      }
      if (data instanceof RawJson) {
        const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
        return send(200, "OK", gzip ? data.gzip() : data.envelope(), gzip);
      }
      send(200, "OK", JSON.stringify({ data: data ?? null }));
    } catch (e) {
      if (e instanceof PveError) return sendError(e);
      if (e instanceof UploadError) return sendError(new PveError(500, e.message));
      const msg = (e as Error)?.message ?? String(e);
      return sendError(new PveError(500, msg));
    }
  }

  private async authenticate(req: IncomingMessage): Promise<{ ok: true; userid: string } | { ok: false; reason: string; delayMs: number }> {
    const header = req.headers.authorization;
    if (!header) return { ok: false, reason: "No ticket", delayMs: 0 };
    const m = /^PVEAPIToken[= ](.+)$/s.exec(header.trim());
    const failed = { ok: false as const, reason: "Authentication failed!", delayMs: this.o.sim.timings.authFailDelayMs };
    if (!m) return failed;
    let value: string;
    try {
      value = decodeURIComponent(m[1]!);
    } catch {
      return failed;
    }
    const eq = value.lastIndexOf("=");
    if (eq < 0) return failed;
    const tokenId = value.slice(0, eq);
    const secret = value.slice(eq + 1);
    if (!/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/.test(tokenId)) return failed;
    if (tokenId !== this.o.tokenId || secret !== this.o.tokenSecret) return failed;
    return { ok: true, userid: tokenId };
  }

  /** The schema's `permissions.check` against the token's privileges on each path it names. */
  private checkPermissions(info: MethodInfo, params: Params): void {
    const check = info.permissions?.check;
    if (!check) return;
    const missing = findMissing(check, (path) => this.o.privilegesAt(path), params);
    if (missing) throw new PveError(403, `Permission check failed (${missing.path}, ${missing.priv})`);
  }
}

function findMissing(check: unknown[], privsAt: (path: string) => Record<string, number>, params: Params): { path: string; priv: string } | undefined {
  const [kind, ...rest] = check;
  if (kind === "perm") {
    const path = String(rest[0]).replace(/\{(\w+)\}/g, (_m, k: string) => params[k] ?? `{${k}}`);
    const held = privsAt(path);
    const privs = { has: (p: string) => held[p] !== undefined };
    const list = (rest[1] as string[]) ?? [];
    const any = rest[2] === "any";
    const have = list.filter((p) => privs.has(p));
    if (list.length === 0 || (any ? have.length > 0 : have.length === list.length)) return undefined;
    return { path, priv: list.find((p) => !privs.has(p))! };
  }
  if (kind === "and") {
    for (const sub of rest) {
      const m = Array.isArray(sub) ? findMissing(sub, privsAt, params) : undefined;
      if (m) return m;
    }
    return undefined;
  }
  if (kind === "or") {
    let first: { path: string; priv: string } | undefined;
    for (const sub of rest) {
      const m = Array.isArray(sub) ? findMissing(sub, privsAt, params) : undefined;
      if (!m) return undefined;
      first ??= m;
    }
    return first;
  }
  return undefined;
}

/** application/x-www-form-urlencoded → params; repeated keys are joined with NUL as PVE does. */
function formParams(text: string): Params {
  const out: Params = {};
  if (!text) return out;
  for (const [k, v] of new URLSearchParams(text)) out[k] = out[k] === undefined ? v : `${out[k]}\0${v}`;
  return out;
}

function jsonParams(obj: unknown): Params {
  const out: Params = {};
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return out;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === "boolean" ? (v ? "1" : "0") : typeof v === "string" ? v : typeof v === "number" ? String(v) : JSON.stringify(v);
  }
  return out;
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const _ of req) { /* discard */ }
}

async function readBody(req: IncomingMessage, method: string): Promise<Params> {
  const length = Number(req.headers["content-length"] ?? 0);
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (method === "GET" || method === "DELETE" || method === "HEAD") {
    if (length > 0 || chunked) {
      await drain(req);
      throw new PveError(501, `Unexpected content for method '${method}'`);
    }
    return {};
  }
  if (length > MAX_BODY) {
    await drain(req);
    throw new PveError(501, "for data too large");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) {
      await drain(req);
      throw new PveError(501, "for data too large");
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return {};
  const type = (req.headers["content-type"] ?? "application/x-www-form-urlencoded").toLowerCase();
  if (type.startsWith("application/json")) {
    try {
      return jsonParams(JSON.parse(text));
    } catch {
      throw new PveError(400, "Parameter verification failed.", { _root: "unable to parse JSON body" });
    }
  }
  if (type.startsWith("application/x-www-form-urlencoded")) return formParams(text);
  throw new PveError(506, `Unsupported content type '${type}'`);
}
