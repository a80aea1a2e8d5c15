/**
 * A real HTTP proxy on loopback in front of a real object store (Ceph RGW, the GCS test server)
 * that misbehaves on request: answer an error instead of forwarding, forward and then answer an
 * error (the store acted, the client never learns), or forward and rewrite the answer. The store's
 * own semantics (preconditions, etags, generations) stay real; only the wire misbehaves, as load
 * balancers and overloaded stores do. The Host header is forwarded unchanged, so S3 signatures
 * made for the proxy's address still verify at the store.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: IncomingMessage["headers"];
}

export interface FakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface StoreAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * What to do with one request: undefined forwards it untouched; `answer` replies without forwarding;
 * `after` forwards, lets the store act, then replies with what it returns (given the store's answer).
 */
export type Fault = { answer: FakeAnswer } | { after: (store: StoreAnswer) => FakeAnswer | StoreAnswer } | undefined;

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in order, with the status the client got. */
  readonly log: { method: string; url: string; status: number; forwarded: boolean }[];
  /** The rule consulted for each request; replaced by each call. */
  setRule(rule: (req: ProxiedRequest) => Fault): void;
  close(): Promise<void>;
}

/** An S3 error answer as RGW and AWS send one: the status and an XML body naming the error code. */
export const s3Error = (status: number, code: string): FakeAnswer => ({
  status,
  headers: { "content-type": "application/xml" },
  body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`,
});

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  let rule: (req: ProxiedRequest) => Fault = () => undefined;
  const log: FaultProxy["log"] = [];

  const reply = (res: import("node:http").ServerResponse, a: FakeAnswer | StoreAnswer): number => {
    const body = a.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(a.body) ? a.body : Buffer.from(a.body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(a.headers ?? {})) {
      if (!["content-length", "transfer-encoding", "connection"].includes(k.toLowerCase())) headers[k] = v;
    }
    res.writeHead(a.status, { ...headers, "content-length": String(body.length) }).end(body);
    return a.status;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const seen: ProxiedRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers };
      const fault = rule(seen);
      if (fault && "answer" in fault) {
        log.push({ method: seen.method, url: seen.url, status: reply(res, fault.answer), forwarded: false });
        return;
      }
      const upstream = request(
        { host: to.hostname, port: to.port, method: seen.method, path: seen.url, headers: req.headers },
        (up) => {
          const body: Buffer[] = [];
          up.on("data", (c: Buffer) => body.push(c));
          up.on("end", () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(up.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
            const store: StoreAnswer = { status: up.statusCode ?? 502, headers, body: Buffer.concat(body) };
            const out = fault && "after" in fault ? fault.after(store) : store;
            log.push({ method: seen.method, url: seen.url, status: reply(res, out), forwarded: true });
          });
        },
      );
      upstream.on("error", (e) => {
        log.push({ method: seen.method, url: seen.url, status: reply(res, { status: 502, body: String(e) }), forwarded: true });
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    setRule(r) {
      rule = r;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
