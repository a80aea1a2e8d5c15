/**
 * The API client on the wire, against a scripted loopback server that records every request and
 * answers what each test asks (statuses, bodies, reason phrases, dropped connections), so the
 * retry rules can be counted request by request: a read or an absolute write is sent again after an
 * unexplained 5xx or a lost connection; clone, delete, upload and start are not (PVE may have acted),
 * except when the connection was never made or PVE reports its own lock timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { ProxmoxClient, backoffMs, checkApiUrl, withoutUserinfo, type ClientOptions, type RetryClass } from "../../../src/providers/proxmox/api/client.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { caught } from "../../applier/cluster-api.js";
import { startSimulator } from "../../../src/sim/index.js";

const SECRET = "0e5a1c3f-7b2d-4e8a-9c6f-1d2b3a4c5e6f";
const TOKEN_ID = "root@pam!pvefleet";

interface Seen { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }
/** What the server does with a request: an answer, or drop the connection without one. */
type Answer = { status: number; reason?: string; body?: string; headers?: Record<string, string> } | "reset";

const seen: Seen[] = [];
let answer: (req: Seen) => Answer = () => ({ status: 200, body: JSON.stringify({ data: null }) });
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const s: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
    seen.push(s);
    const a = answer(s);
    if (a === "reset") return void req.socket.destroy();
    res.writeHead(a.status, a.reason ?? "", { "content-type": "application/json;charset=UTF-8", ...a.headers });
    res.end(a.body ?? "");
  });
});
let base = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api2/json`;
});
afterEach(() => {
  seen.length = 0;
  answer = () => ({ status: 200, body: JSON.stringify({ data: null }) });
  vi.restoreAllMocks();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const clients: ProxmoxClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

function client(options: ClientOptions = {}, env: NodeJS.ProcessEnv = {}): ProxmoxClient {
  const c = new ProxmoxClient({
    env: { PROXMOX_API_URL: base, PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET, ...env },
    allowInsecureHttp: true,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });
  clients.push(c);
  return c;
}

const json = (status: number, body: unknown, reason = ""): Answer => ({ status, reason, body: JSON.stringify(body) });
const UNEXPLAINED_500 = json(500, { data: null, message: "proxy loop detected\n" }, "Internal Server Error");
const LOCK_TIMEOUT_500 = json(500, { data: null, message: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout\n" });

/** Sends one call of the given retry class, the way each client method is used. */
function call(c: ProxmoxClient, how: "get" | "post" | "put" | "del" | "upload" | RetryClass): Promise<unknown> {
  switch (how) {
    case "get": return c.get("/nodes/pve1/qemu/100/config");
    case "post": return c.post("/nodes/pve1/qemu/9000/clone", { newid: 100 });
    case "put": return c.put("/nodes/pve1/qemu/100/resize", { disk: "scsi0", size: "10G" });
    case "del": return c.del("/nodes/pve1/qemu/100", { purge: 1 });
    case "upload": return c.upload("/nodes/pve1/storage/local/upload", { content: "iso", filename: "x.iso", bytes: new Uint8Array([1, 2, 3]) });
    default: return c.post("/nodes/pve1/qemu/100/config", { cores: 2 }, how);
  }
}

describe("what is sent again, and how often (3 attempts allowed)", () => {
  // [call, answer, requests the server sees]
  const cases: [string, Parameters<typeof call>[1], () => Answer, number][] = [
    ["a read after an unexplained 500", "get", () => UNEXPLAINED_500, 3],
    ["an absolute write after an unexplained 500", "idempotent", () => UNEXPLAINED_500, 3],
    ["a read after a 502 with no body", "get", () => ({ status: 502, reason: "Bad Gateway" }), 3],
    ["a read after a 59x proxy failure", "get", () => ({ status: 596, reason: "Connection timed out" }), 3],
    ["a read after a dropped connection", "get", () => "reset", 3],
    ["an absolute write after a dropped connection", "idempotent", () => "reset", 3],
    ["a clone (POST) after a lock timeout PVE raised before acting", "post", () => LOCK_TIMEOUT_500, 3],
    ["a read after a lock timeout", "get", () => LOCK_TIMEOUT_500, 3],
    ["a clone (POST) after an unexplained 500: never", "post", () => UNEXPLAINED_500, 1],
    ["a resize (PUT, unsafe by default) after an unexplained 500: never", "put", () => UNEXPLAINED_500, 1],
    ["a VM delete after an unexplained 500: never", "del", () => UNEXPLAINED_500, 1],
    ["an ISO upload after an unexplained 500: never", "upload", () => UNEXPLAINED_500, 1],
    ["a clone after a dropped connection: never", "post", () => "reset", 1],
    ["a VM delete after a dropped connection: never", "del", () => "reset", 1],
    ["an ISO upload after a dropped connection: never", "upload", () => "reset", 1],
    ["a clone after a 59x proxy failure (the node may have acted): never", "post", () => ({ status: 595, reason: "no route" }), 1],
    ["a read after a 501 (the method does not exist): never", "get", () => json(501, { data: null }, "Method 'GET /x' not implemented"), 1],
    ["an absolute write after a 501: never", "idempotent", () => json(501, { data: null }, "not implemented"), 1],
    ["a read after a 400: never", "get", () => json(400, { data: null, errors: { vmid: "invalid" } }), 1],
    ["a read of a missing VM: never", "get", () => json(500, { data: null, message: "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist" }), 1],
    ["a `never` call after a lock timeout", "never", () => LOCK_TIMEOUT_500, 1],
    ["a `never` call after a dropped connection", "never", () => "reset", 1],
  ];

  const METHOD: Record<string, string> = { get: "GET", put: "PUT", del: "DELETE" };

  it.each(cases)("%s", async (_name, how, a, requests) => {
    answer = a;
    const c = client();
    const e = await caught(call(c, how));
    expect(seen).toHaveLength(requests);
    expect(e.method).toBe(METHOD[how] ?? "POST");
    expect(seen.map((r) => r.method)).toEqual(Array(requests).fill(METHOD[how] ?? "POST"));
    expect(c.stats()).toEqual({ requests, taskPolls: 0, retries: requests - 1 });
    expect(e.message).not.toContain(SECRET);
  });

  it("sends again when the connection was never made, even a clone (nothing reached PVE)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const c = client({}, { PROXMOX_API_URL: `http://127.0.0.1:${port}/api2/json` });
    const e = await caught(call(c, "post"));
    expect(e.code).toBe("NETWORK");
    expect(c.stats()).toEqual({ requests: 3, taskPolls: 0, retries: 2 });
  });

  it("succeeds on the attempt after a failure and tells onRetry which call, which attempt and why, without the secret", async () => {
    let n = 0;
    answer = () => (++n === 1 ? UNEXPLAINED_500 : json(200, { data: { ok: 1 } }));
    const retries: { method: string; path: string; attempt: number; delayMs: number; code: string }[] = [];
    const c = client({ retry: { attempts: 3, baseDelayMs: 4, maxDelayMs: 100 }, onRetry: (i) => retries.push({ method: i.method, path: i.path, attempt: i.attempt, delayMs: i.delayMs, code: i.error.code }) });
    await expect(c.get("/cluster/resources", { type: "vm" })).resolves.toEqual({ ok: 1 });
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ method: "GET", path: "/cluster/resources", attempt: 1, code: "SERVER" });
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(2);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(4);
    expect(JSON.stringify(retries)).not.toContain(SECRET);
  });

  it("stops at the configured number of attempts", async () => {
    answer = () => UNEXPLAINED_500;
    const c = client({ retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 } });
    await caught(c.get("/version"));
    expect(seen).toHaveLength(5);
  });

  it("keeps the defaults of the retry options it was not given", () => {
    expect(client({ retry: { attempts: 2 } }).retry).toEqual({ attempts: 2, baseDelayMs: 250, maxDelayMs: 4000 });
  });

  it("withRetry passes on, untouched and at once, an error that is not a ProxmoxError", async () => {
    const c = client();
    const boom = new TypeError("not ours");
    let calls = 0;
    await expect(c.withRetry({ method: "X", path: "/" }, async () => { calls++; throw boom; }, () => true)).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});

describe("the request on the wire", () => {
  it("authenticates with the token header and asks for JSON; a read also asks for gzip and carries its query", async () => {
    answer = () => json(200, { data: [] });
    const c = client();
    await c.get("/cluster/resources", { type: "vm", full: true, skip: undefined, none: null });
    const [r] = seen;
    expect(r!.method).toBe("GET");
    expect(r!.url).toBe("/api2/json/cluster/resources?type=vm&full=1");
    expect(r!.headers.authorization).toBe(`PVEAPIToken=${TOKEN_ID}=${SECRET}`);
    expect(r!.headers.accept).toBe("application/json");
    expect(r!.headers["accept-encoding"]).toContain("gzip");
    expect(r!.body.length).toBe(0);
  });

  it("sends a write's fields form-encoded in the body, booleans as 0/1, never gzip-asking", async () => {
    const c = client();
    await c.post("/nodes/pve1/qemu/100/config", { cores: 2, onboot: false, agent: true, description: "a b&c" }, "never");
    await c.put("/nodes/pve1/qemu/100/resize", { disk: "scsi0", size: "12G" }, "never");
    expect(seen.map((r) => [r.method, r.url, r.headers["content-type"], r.body.toString()])).toEqual([
      ["POST", "/api2/json/nodes/pve1/qemu/100/config", "application/x-www-form-urlencoded", "cores=2&onboot=0&agent=1&description=a+b%26c"],
      ["PUT", "/api2/json/nodes/pve1/qemu/100/resize", "application/x-www-form-urlencoded", "disk=scsi0&size=12G"],
    ]);
    expect(seen.map((r) => r.headers["accept-encoding"] ?? "")).not.toContain("gzip");
  });

  it("sends a DELETE's parameters in the query and a write with nothing to send with no body", async () => {
    const c = client();
    await c.del("/nodes/pve1/qemu/100", { purge: 1, "destroy-unreferenced-disks": 1 }, "never");
    await c.post("/nodes/pve1/qemu/100/status/start", {}, "never");
    await c.post("/nodes/pve1/qemu/100/status/stop", { timeout: undefined }, "never");
    await c.post("/nodes/pve1/qemu/100/status/reboot");
    expect(seen.map((r) => [r.method, r.url, r.headers["content-type"], r.body.length])).toEqual([
      ["DELETE", "/api2/json/nodes/pve1/qemu/100?purge=1&destroy-unreferenced-disks=1", undefined, 0],
      ["POST", "/api2/json/nodes/pve1/qemu/100/status/start", undefined, 0],
      ["POST", "/api2/json/nodes/pve1/qemu/100/status/stop", undefined, 0],
      ["POST", "/api2/json/nodes/pve1/qemu/100/status/reboot", undefined, 0],
    ]);
  });

  it("uploads in PVE's multipart order: content, checksum-algorithm, checksum (sha256 of the bytes), then the file under a safe name", async () => {
    answer = () => json(200, { data: "UPID:pve1:1:2:3:imgcopy::root@pam:" });
    const c = client();
    const bytes = new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 256));
    await expect(c.upload("/nodes/pve1/storage/local/upload", { content: "iso", filename: 'a"b\r\nc.iso', bytes })).resolves.toBe("UPID:pve1:1:2:3:imgcopy::root@pam:");
    const [r] = seen;
    const boundary = /^multipart\/form-data; boundary=(----pvefleet[0-9a-f]{24})$/.exec(String(r!.headers["content-type"]))?.[1];
    expect(boundary).toBeDefined();
    expect(r!.headers["content-length"]).toBe(String(r!.body.length));
    const sha = createHash("sha256").update(bytes).digest("hex");
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="content"\r\n\r\niso\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="checksum-algorithm"\r\n\r\nsha256\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="checksum"\r\n\r\n${sha}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="filename"; filename="a_b__c.iso"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    expect(r!.body.equals(Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(`\r\n--${boundary}--\r\n`)]))).toBe(true);
  });
});

describe("the answer", () => {
  it("is the `data` of a 2xx JSON answer, and null for an empty 2xx", async () => {
    let body = JSON.stringify({ data: { version: "8.4.1" } });
    answer = () => ({ status: 200, body });
    const c = client();
    await expect(c.get("/version")).resolves.toEqual({ version: "8.4.1" });
    body = "";
    await expect(c.get("/version")).resolves.toBeNull();
    answer = () => ({ status: 299, body: JSON.stringify({ data: 7 }) });
    await expect(c.get("/version")).resolves.toBe(7);
  });

  it("is an error for a 3xx, even with a JSON body", async () => {
    answer = () => ({ status: 300, reason: "Multiple Choices", body: JSON.stringify({ data: 7 }) });
    const e = await caught(client().get("/version", undefined, "never"));
    expect(e.status).toBe(300);
    expect(e.message).toContain("Multiple Choices");
  });

  it("is a SERVER error, not retried, for a 2xx that is not JSON", async () => {
    answer = () => ({ status: 200, body: "<html>pveproxy</html>" });
    const c = client();
    const e = await caught(c.get("/version"));
    expect(e).toMatchObject({ code: "SERVER", status: 200, method: "GET", path: "/version" });
    expect(e.message).toBe("Proxmox API GET /version: answer is not JSON");
    expect(seen).toHaveLength(1);
  });

  it("is a NETWORK error, never null, for a 2xx whose compressed body cannot be read; a read is sent again, a clone is not", async () => {
    answer = () => ({ status: 200, body: "definitely not gzip", headers: { "content-encoding": "gzip" } });
    const c = client();
    const read = await caught(c.get("/cluster/resources", { type: "vm" }));
    expect(read.code).toBe("NETWORK");
    expect(read.message).toMatch(/^Proxmox API GET \/cluster\/resources: /);
    expect(seen).toHaveLength(3);
    seen.length = 0;
    const clone = await caught(c.post("/nodes/pve1/qemu/9000/clone", { newid: 100 }));
    expect(clone.code).toBe("NETWORK");
    expect(seen).toHaveLength(1);
  });

  it("keeps PVE's errors object only when it is one (not a string, null or array), and survives null entries", async () => {
    const c = client();
    for (const errors of ["oops", null, ["vmid"]]) {
      answer = () => json(400, { data: null, message: "Parameter verification failed.", errors });
      const e = await caught(c.get("/x"));
      expect(e.errors).toBeUndefined();
      expect(e.message).toBe("Proxmox API GET /x: Parameter verification failed.");
    }
    answer = () => json(400, { data: null, message: "Parameter verification failed.", errors: { vmid: null, cores: "bad" } });
    const e = await caught(c.get("/x"));
    expect(e.code).toBe("VALIDATION");
  });

  it("takes the error text from the JSON message, else the reason phrase; an errors field that is not an object is ignored", async () => {
    answer = () => json(400, { data: null, message: "Parameter verification failed.\n", errors: { cores: "value must be at least 1" } }, "Bad Request");
    const c = client();
    const withErrors = await caught(c.get("/x"));
    expect(withErrors.errors).toEqual({ cores: "value must be at least 1" });
    expect(withErrors.message).toBe("Proxmox API GET /x: Parameter verification failed. cores: value must be at least 1");
    answer = () => json(400, { data: null, message: 42, errors: ["cores"] }, "Parameter verification failed");
    const odd = await caught(c.get("/x"));
    expect(odd.errors).toBeUndefined();
    expect(odd.message).toBe("Proxmox API GET /x: Parameter verification failed");
    answer = () => ({ status: 400, reason: "plain text reason", body: "not json at all", headers: { "content-type": "text/plain" } });
    expect((await caught(c.get("/x"))).message).toBe("Proxmox API GET /x: plain text reason");
  });
});

describe("configuration", () => {
  it("refuses a missing token ID or secret with Nstance's startup lines", () => {
    expect(() => new ProxmoxClient({ env: { PROXMOX_TOKEN_SECRET: SECRET } })).toThrow(new ProxmoxError("CONFIG", "PROXMOX_TOKEN_ID environment variable is required for proxmox provider"));
    expect(() => new ProxmoxClient({ env: { PROXMOX_TOKEN_ID: TOKEN_ID } })).toThrow(new ProxmoxError("CONFIG", "PROXMOX_TOKEN_SECRET environment variable is required for proxmox provider"));
  });

  it("defaults to the local node's API when PROXMOX_API_URL is unset or empty", () => {
    for (const url of [undefined, ""]) {
      expect(new ProxmoxClient({ env: { PROXMOX_API_URL: url, PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET } }).baseUrl).toBe("https://localhost:8006/api2/json");
    }
  });

  it.each(["1", "true", "YES"])("accepts an http URL with PVEFLEET_ALLOW_INSECURE_HTTP=%s, and only then", (flag) => {
    const env = { PROXMOX_API_URL: "http://pve1:8006", PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET };
    expect(new ProxmoxClient({ env: { ...env, PVEFLEET_ALLOW_INSECURE_HTTP: flag } }).baseUrl).toBe("http://pve1:8006/api2/json");
    expect(() => new ProxmoxClient({ env: { ...env, PVEFLEET_ALLOW_INSECURE_HTTP: `${flag}x` } })).toThrow(/plain http/);
    expect(() => new ProxmoxClient({ env })).toThrow(/plain http/);
  });

  it("refuses an http URL when the flag only contains a yes", () => {
    const env = { PROXMOX_API_URL: "http://pve1:8006", PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET };
    expect(() => new ProxmoxClient({ env: { ...env, PVEFLEET_ALLOW_INSECURE_HTTP: "no1" } })).toThrow(/plain http/);
  });

  it("gives up on a read that outlives requestTimeoutMs, and lets an upload run to uploadTimeoutMs", async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ data: "UPID:pve1:1:2:3:imgcopy::root@pam:" }) });
    const slow = createServer((req, res) => {
      req.resume();
      // Well past undici's timer resolution (up to a second late), so 100 ms has surely run out.
      setTimeout(() => res.end(JSON.stringify({ data: "late" })), 2500);
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/api2/json`;
    try {
      const c = client({ requestTimeoutMs: 100, uploadTimeoutMs: 60_000, retry: { attempts: 1 } }, { PROXMOX_API_URL: url });
      expect((await caught(c.get("/version"))).code).toBe("NETWORK");
      await expect(c.upload("/nodes/pve1/storage/local/upload", { content: "iso", filename: "x.iso", bytes: new Uint8Array(8) })).resolves.toBe("late");
      const u = client({ requestTimeoutMs: 60_000, uploadTimeoutMs: 100, retry: { attempts: 1 } }, { PROXMOX_API_URL: url });
      expect((await caught(u.upload("/nodes/pve1/storage/local/upload", { content: "iso", filename: "x.iso", bytes: new Uint8Array(8) }))).code).toBe("NETWORK");
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it("opens at most 8 connections by default", async () => {
    const sockets = new Set<unknown>();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const held = createServer((req, res) => {
      sockets.add(req.socket);
      req.resume();
      void gate.then(() => res.end(JSON.stringify({ data: 1 })));
      if (sockets.size >= 8) setTimeout(release, 100);
    });
    await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
    try {
      const c = client({}, { PROXMOX_API_URL: `http://127.0.0.1:${(held.address() as AddressInfo).port}/api2/json` });
      await Promise.all(Array.from({ length: 12 }, () => c.get("/version")));
      expect(sockets.size).toBe(8);
    } finally {
      held.closeAllConnections();
      await new Promise<void>((resolve) => held.close(() => resolve()));
    }
  });

  it("sends nothing once closed", async () => {
    const c = new ProxmoxClient({ env: { PROXMOX_API_URL: base, PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET }, allowInsecureHttp: true });
    await c.close();
    await expect(c.get("/version")).rejects.toBeInstanceOf(Error);
    expect(seen).toHaveLength(0);
  });

  it("names an unreadable PROXMOX_CA_FILE, and never the secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "pvefleet-client-"));
    try {
      const file = join(dir, "missing-ca.pem");
      let e: unknown;
      try {
        new ProxmoxClient({ env: { PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET, PROXMOX_CA_FILE: file } });
      } catch (err) {
        e = err;
      }
      expect(e).toMatchObject({ code: "CONFIG" });
      expect((e as Error).message).toMatch(new RegExp(`^PROXMOX_CA_FILE ${file}: ENOENT`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("counts requests, retries and task polls, and hands out a copy of its counters", async () => {
    const c = client();
    await c.get("/version");
    c.countRetry();
    c.markTaskPoll();
    const before = c.stats();
    expect(before).toEqual({ requests: 1, taskPolls: 1, retries: 1 });
    expect(c.requestCount()).toBe(1);
    before.requests = 99;
    expect(c.stats().requests).toBe(1);
  });
});

describe("PROXMOX_API_URL refusals and how a URL is shown in them", () => {
  function refusal(raw: string, allowHttp = false): ProxmoxError {
    try {
      checkApiUrl(raw, allowHttp);
    } catch (e) {
      if (e instanceof ProxmoxError) return e;
      throw e;
    }
    throw new Error(`${raw} was accepted`);
  }

  it.each([
    ["not a URL", "pve1 8006", 'PROXMOX_API_URL must be an https:// URL, got "pve1 8006"'],
    ["another scheme", "ftp://pve1:8006", 'PROXMOX_API_URL must be an https:// URL, got "ftp://pve1:8006"'],
    ["a user name alone", "https://root@pve1:8006", 'PROXMOX_API_URL must not carry credentials ("https://***@pve1:8006"): the API token comes from PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET'],
    ["a password alone", "https://:hunter2@pve1:8006", 'PROXMOX_API_URL must not carry credentials ("https://***@pve1:8006"): the API token comes from PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET'],
    ["a query string", "https://pve1:8006/api2/json?x=1", 'PROXMOX_API_URL "https://pve1:8006/api2/json?x=1" must not carry a query string: give the API base, e.g. https://pve1:8006/api2/json'],
    ["plain http", "http://pve1:8006", 'PROXMOX_API_URL "http://pve1:8006" is plain http, so the API token would travel in cleartext: use https, or pass --allow-insecure-http (PVEFLEET_ALLOW_INSECURE_HTTP=1) for a lab or the simulator\'s --http mode'],
    ["another format behind a proxy path holding api2", "https://proxy/api2/x/api2/extjs", 'PROXMOX_API_URL "https://proxy/api2/x/api2/extjs" names an API format other than json: use https://proxy/api2/x/api2/json'],
  ])("refuses %s as CONFIG with the exact line", (_what, raw, message) => {
    const e = refusal(raw);
    expect([e.code, e.message]).toEqual(["CONFIG", message]);
  });

  it("accepts a proxy prefix that merely contains api2 further up", () => {
    expect(checkApiUrl("https://proxy/api2/x/pve", false)).toBe("https://proxy/api2/x/pve/api2/json");
  });

  it("hides user and password in a URL with or without a scheme, and nothing else", () => {
    expect(withoutUserinfo("https://root:hunter2@pve1:8006/api2/json")).toBe("https://***@pve1:8006/api2/json");
    expect(withoutUserinfo("root:hunter2@pve1:8006")).toBe("***@pve1:8006");
    expect(withoutUserinfo("https://pve1:8006/files/a@b")).toBe("https://pve1:8006/files/a@b");
  });
});

describe("TLS against the simulator's self-signed certificate", () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  beforeAll(async () => {
    sim = await startSimulator({ latency: "instant" });
  });
  afterAll(async () => sim?.stop());

  async function version(options: ClientOptions, env: NodeJS.ProcessEnv = {}): Promise<string> {
    const c = client({ retry: { attempts: 1 }, ...options }, { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret, ...env });
    return c.get<{ version: string }>("/version").then((v) => v.version, (e: unknown) => `refused: ${(e as ProxmoxError).code}`);
  }

  it.each(["1", "true", "Yes"])("skips verification with PVEFLEET_INSECURE_TLS=%s", async (flag) => {
    expect(await version({}, { PVEFLEET_INSECURE_TLS: flag })).toMatch(/^\d+\./);
  });

  it.each(["", "0", "x1", "1x"])("verifies with PVEFLEET_INSECURE_TLS=%j", async (flag) => {
    expect(await version({}, { PVEFLEET_INSECURE_TLS: flag })).toBe("refused: NETWORK");
  });

  it("skips verification with insecureTls alone", async () => {
    expect(await version({ insecureTls: true })).toMatch(/^\d+\./);
  });

  it("trusts the CA it was given, over an unreadable PROXMOX_CA_FILE", async () => {
    expect(await version({ ca: sim.caCertificate }, { PROXMOX_CA_FILE: "/nonexistent/ca.pem" })).toMatch(/^\d+\./);
  });
});

describe("redactError: the secret masked wherever an error carries text", () => {
  const c = () => client();
  const MASK = "***";

  it("returns an error that does not carry the secret as it is", () => {
    const e = new ProxmoxError("SERVER", "daemon busy", { status: 500, method: "GET", path: "/version", errors: { a: "b" } }, { cause: new Error("socket hang up") });
    expect(c().redactError(e)).toBe(e);
  });

  it.each([
    ["the message", { message: `token ${SECRET} refused` }],
    ["the path", { path: `/nodes/pve1/${SECRET}` }],
    ["the exitstatus", { exitstatus: `start failed: ${SECRET}` }],
    ["the UPID", { upid: `UPID:pve1:${SECRET}:` }],
    ["the lock", { lock: `clone-${SECRET}` }],
    ["an errors entry", { errors: { vmid: `value ${SECRET} invalid`, cores: "ok" } }],
  ] as const)("masks it in %s and keeps every other detail", (_where, leak) => {
    const details = { status: 500, method: "POST", path: "/nodes/pve1/qemu/100/config", exitstatus: "exit", upid: "UPID:pve1:x:", lock: "backup", errors: { cores: "ok" }, ...leak };
    const e = new ProxmoxError("VM_LOCKED", "message" in leak ? leak.message : "VM is locked", details);
    const r = c().redactError(e);
    expect(r).not.toBe(e);
    expect(r).toBeInstanceOf(ProxmoxError);
    expect("cause" in r).toBe(false);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(`${r.message} ${r.stack}`).not.toContain(SECRET);
    const mask = (v: string) => v.split(SECRET).join(MASK);
    expect(r).toMatchObject({
      code: "VM_LOCKED",
      status: 500,
      method: "POST",
      message: mask("message" in leak ? leak.message : "VM is locked"),
      path: mask(details.path),
      exitstatus: mask(details.exitstatus),
      upid: mask(details.upid),
      lock: mask(details.lock),
      errors: Object.fromEntries(Object.entries(details.errors).map(([k, v]) => [k, mask(v)])),
    });
  });

  it("masks it in a stack that alone carries it", () => {
    const e = new ProxmoxError("SERVER", "daemon busy");
    e.stack = `ProxmoxError: daemon busy\n    at token ${SECRET}`;
    const r = c().redactError(e);
    expect(r).not.toBe(e);
    expect(r.stack).not.toContain(SECRET);
    expect(r.message).toBe("daemon busy");
  });

  it("masks it through a chain of causes, keeping each one's name and code", () => {
    const inner = Object.assign(new TypeError(`certificate for ${SECRET}`), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const middle = Object.assign(new Error("fetch failed", { cause: inner }), { code: "UND_ERR_SOCKET" });
    const e = new ProxmoxError("NETWORK", "Proxmox API GET /version: fetch failed", { method: "GET", path: "/version" }, { cause: middle });
    const r = c().redactError(e);
    expect(r.message).toBe("Proxmox API GET /version: fetch failed");
    const m = r.cause as Error & { code?: string; cause?: Error & { code?: string } };
    expect(m).toBeInstanceOf(Error);
    expect([m.name, m.code, m.message]).toEqual(["Error", "UND_ERR_SOCKET", "fetch failed"]);
    expect([m.cause?.name, m.cause?.code, m.cause?.message]).toEqual(["TypeError", "ERR_TLS_CERT_ALTNAME_INVALID", `certificate for ${MASK}`]);
    expect(m.cause?.stack).toBe(`TypeError: certificate for ${MASK}`);
    // Nothing invented: the innermost copy has no cause, a copy of an Error without a code has none.
    expect(Object.hasOwn(m.cause!, "cause")).toBe(false);
    const plain = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: new Error(`x ${SECRET}`) }));
    expect(Object.hasOwn(plain.cause as object, "code")).toBe(false);
    expect(`${m.stack} ${m.cause?.stack}`).not.toContain(SECRET);
  });

  it("masks it six causes deep", () => {
    let cause: Error = new Error(`deepest ${SECRET}`);
    for (let i = 0; i < 5; i++) cause = new Error(`level ${i}`, { cause });
    const r = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause }));
    const texts: string[] = [];
    for (let x = r.cause as (Error & { cause?: unknown }) | undefined; x; x = x.cause as typeof x) texts.push(`${x.message} ${x.stack}`);
    expect(texts).toHaveLength(6);
    expect(texts.join(" ")).not.toContain(SECRET);
    expect(texts.at(-1)).toContain(`deepest ${MASK}`);
  });

  it("masks it in a cause that is a string or a plain object", () => {
    const fromString = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: `refused ${SECRET}` }));
    expect(fromString.cause).toBe(`refused ${MASK}`);
    const fromObject = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: { code: "EPIPE", detail: `peer ${SECRET}` } }));
    expect(JSON.stringify(fromObject.cause)).not.toContain(SECRET);
    expect(String(fromObject.cause)).not.toContain(SECRET);
    expect((fromObject.cause as { code?: string }).code).toBe("EPIPE");
    expect((fromObject.cause as Error).name).toBe("Error");
  });

  it("keeps a cause that does not carry the secret as it is, every detail with it", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED", syscall: "connect", port: 1 });
    const r = c().redactError(new ProxmoxError("NETWORK", `refused for ${SECRET}`, {}, { cause }));
    expect(r.cause).toBe(cause);
  });

  it("masks it in an Error cause whose stack alone, or whose own field alone, carries it", () => {
    const byStack = new Error("socket closed");
    byStack.stack = `Error: socket closed\n    at send (token=${SECRET})`;
    const fromStack = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: byStack }));
    expect(String((fromStack.cause as Error).stack)).not.toContain(SECRET);
    // Some HTTP libraries hang the request, headers and all, on their errors.
    const byField = Object.assign(new Error("socket closed"), { code: "ECONNRESET", request: { headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${SECRET}` } } });
    const fromField = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: byField }));
    expect(JSON.stringify(fromField.cause)).not.toContain(SECRET);
    expect(fromField.cause).toMatchObject({ message: "socket closed", code: "ECONNRESET" });
  });

  it("masks it in a cause chain that loops back on itself, and in one deeper than it copies", () => {
    const loop = new Error(`loop ${SECRET}`);
    (loop as { cause?: unknown }).cause = loop;
    const r = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: loop }));
    let x = r.cause as (Error & { cause?: unknown }) | undefined;
    for (let i = 0; x; i++, x = x.cause as typeof x) {
      expect(i).toBeLessThan(10);
      expect(`${x.message} ${x.stack}`).not.toContain(SECRET);
    }
    let deep: Error = new Error(`deepest ${SECRET}`);
    for (let i = 0; i < 8; i++) deep = new Error(`level ${i}`, { cause: deep });
    const d = c().redactError(new ProxmoxError("NETWORK", "failed", {}, { cause: deep }));
    for (let y = d.cause as (Error & { cause?: unknown }) | undefined; y; y = y.cause as typeof y) expect(`${y.message} ${y.stack}`).not.toContain(SECRET);
  });

  it("leaves alone an object cause that cannot be serialised and does not show the secret", () => {
    const cyclic: Record<string, unknown> = { code: "ELOOP" };
    cyclic.self = cyclic;
    const e = new ProxmoxError("NETWORK", "failed", {}, { cause: cyclic });
    expect(c().redactError(e)).toBe(e);
  });
});

describe("pure helpers", () => {
  it("backs off within [ceiling/2, ceiling], the ceiling doubling per attempt up to the cap", () => {
    const retry = { attempts: 9, baseDelayMs: 100, maxDelayMs: 1000 };
    vi.spyOn(Math, "random").mockReturnValue(0);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(retry, n))).toEqual([50, 100, 200, 400, 500, 500]);
    vi.spyOn(Math, "random").mockReturnValue(0.999999);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(retry, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
