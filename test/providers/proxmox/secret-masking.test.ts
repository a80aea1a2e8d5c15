/**
 * The Proxmox token secret and the AWS secret key never reach output, even when a server echoes
 * them back: loopback servers that put the Authorization header in their error bodies and reason
 * phrases (4xx, 5xx), a certificate that names the secret (so it lands in the TLS error the client
 * throws), a proxy in front of the simulator whose `start` answers echo the secret (so it reaches
 * the applier's `failed` events), and an S3 endpoint whose errors quote the AWS secret key.
 *
 * The CLI runs in-process through `main()` (the exported entry point bin/pvefleet.js calls), with
 * stdout and stderr captured; the provider errors are checked whole (message, stack, cause, JSON).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { cliInProcess as pvefleet } from "../../cli/helpers.js";
import { startSimulator } from "../../../src/sim/index.js";
import { ProxmoxClient } from "../../../src/providers/proxmox/api/client.js";
import { ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { TaskWaiter } from "../../../src/providers/proxmox/api/tasks.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

/** Shaped like a PVE token secret (a UUID), which also makes it a valid DNS name for the certificate. */
const SECRET = "4f1c9a7e-0b5d-4c1e-9a3f-5e2d8c7b6a10";
const TOKEN_ID = "root@pam!pvefleet";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
const MASK = "***";

const SHARD = `{
  "cluster": { "id": "mask" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva" } },
  "templates": { "web": { "kind": "tst", "arch": "amd64",
    "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" } } },
  "groups": { "acme": { "web": { "template": "web", "size": 2 } } }
}
`;

async function certificate(dnsName: string): Promise<{ key: string; cert: string }> {
  const selfsigned = (await import("selfsigned")).default as unknown as {
    generate(attrs: unknown, opts: unknown): Promise<{ private: string; cert: string }>;
  };
  const pems = await selfsigned.generate([{ name: "commonName", value: dnsName }], {
    keyType: "ec", curve: "P-256",
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "subjectAltName", altNames: dnsName === "127.0.0.1" ? [{ type: 7, ip: "127.0.0.1" }] : [{ type: 2, value: dnsName }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

async function listen(server: Server | ReturnType<typeof createHttpServer>, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return (server.address() as AddressInfo).port;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What an echoing PVE answers, by the status the test asks for. */
type EchoMode = "400" | "401" | "403" | "500" | "locked" | "501-text";
function echo(mode: EchoMode, req: IncomingMessage, res: ServerResponse): void {
  const auth = String(req.headers.authorization ?? "");
  const json = (status: number, reason: string, body: unknown) => {
    res.writeHead(status, reason, { "Content-Type": "application/json;charset=UTF-8" });
    res.end(JSON.stringify(body));
  };
  switch (mode) {
    case "400": return json(400, `Parameter verification failed (${auth})`, { data: null, errors: { vmid: `value '${auth}' is not valid` }, message: `Parameter verification failed: ${auth}\n` });
    case "401": res.writeHead(401, `authentication failure for ${auth}`); return void res.end();
    case "403": return json(403, `Permission check failed (${auth})`, { data: null, message: `Permission check failed for token ${auth}\n` });
    case "500": return json(500, `internal error ${auth}`, { data: null, message: `daemon busy: ${auth}\n` });
    case "locked": return json(500, "VM is locked (clone)", { data: null, message: `VM is locked (clone) - requested by ${auth}\n` });
    case "501-text": res.writeHead(501, `Method not implemented for ${auth}`, { "Content-Type": "text/plain" }); return void res.end(`no such method; you sent ${auth}`);
  }
}

function everything(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  const cause = err.cause as (Error & { cause?: unknown }) | undefined;
  return [String(e), err.stack, JSON.stringify(e), String(cause), cause?.stack, JSON.stringify(cause ?? null), String(cause?.cause)].join("\n");
}

let dir: string;
let caFile: string;
let echoServer: Server;
let echoPort: number;
let mode: EchoMode = "500";
let echoCa: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pvefleet-mask-"));
  writeFileSync(join(dir, "shard.jsonc"), SHARD);
  const tls = await certificate("127.0.0.1");
  echoCa = tls.cert;
  caFile = join(dir, "ca.pem");
  writeFileSync(caFile, tls.cert);
  echoServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void readAll(req).then(() => echo(mode, req, res));
  });
  echoPort = await listen(echoServer);
});

afterAll(async () => {
  echoServer?.closeAllConnections();
  await new Promise<void>((r) => (echoServer ? echoServer.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

function clientFor(url: string, ca: string): ProxmoxClient {
  return new ProxmoxClient({ env: { PROXMOX_API_URL: url, PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET }, ca, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
}

async function failure(p: Promise<unknown>): Promise<ProxmoxError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(ProxmoxError);
  return e as ProxmoxError;
}

describe("the client masks a secret the server echoes", () => {
  it.each(["400", "401", "403", "500", "501-text"] as const)("in a %s answer's body and reason phrase", async (m) => {
    mode = m;
    const client = clientFor(`https://127.0.0.1:${echoPort}/api2/json`, echoCa);
    try {
      const e = await failure(client.get("/cluster/resources", { type: "vm" }));
      expect(everything(e)).not.toContain(SECRET);
      expect(e.message).toContain(MASK);
      expect(e.status).toBe(m === "501-text" ? 501 : Number(m));
      if (m === "400") expect(Object.values(e.errors ?? {}).join(" ")).toContain(MASK);
    } finally {
      await client.close();
    }
  });

  it("keeps the details that decide retries: the lock a VM_LOCKED names", async () => {
    mode = "locked";
    const client = clientFor(`https://127.0.0.1:${echoPort}/api2/json`, echoCa);
    try {
      const e = await failure(client.post("/nodes/pve1/qemu/100/config", { cores: 2 }, "never"));
      expect(e.code).toBe("VM_LOCKED");
      expect(e.lock).toBe("clone");
      expect(everything(e)).not.toContain(SECRET);
      expect(e.message).toContain(MASK);
    } finally {
      await client.close();
    }
  });

  it("in a thrown network error (a certificate naming the secret), keeping the cause and its code", async () => {
    const tls = await certificate(SECRET);
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end("{}"));
    const port = await listen(server, "localhost");
    const client = clientFor(`https://localhost:${port}/api2/json`, tls.cert);
    try {
      const e = await failure(client.get("/version"));
      expect(e.code).toBe("NETWORK");
      expect(e.message).toContain("TLS verification failed");
      expect(e.message).toContain(MASK);
      expect(everything(e)).not.toContain(SECRET);
      expect(e.cause).toBeInstanceOf(Error);
      expect((e.cause as { code?: string }).code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
      expect((e.cause as Error).message).toContain(MASK);
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("a task whose exitstatus echoes the secret", () => {
  it("fails with the exitstatus masked, its classification kept", async () => {
    const upid = "UPID:pve1:0000A1B2:0001C3D4:6560A1B2:qmstart:100:root@pam:";
    const tls = await certificate("127.0.0.1");
    const taskServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      void readAll(req).then(() => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ data: { status: "stopped", exitstatus: `start failed: token ${SECRET} rejected`, type: "qmstart", node: "pve1", upid } }));
      });
    });
    const port = await listen(taskServer);
    const client = clientFor(`https://127.0.0.1:${port}/api2/json`, tls.cert);
    try {
      const e = await failure(new TaskWaiter(client, { pollIntervalMs: 1 }).wait(upid));
      expect(e.code).toBe("TASK_FAILED");
      expect(e.exitstatus).toBe(`start failed: token ${MASK} rejected`);
      expect(everything(e)).not.toContain(SECRET);
    } finally {
      await client.close();
      taskServer.closeAllConnections();
      await new Promise<void>((r) => taskServer.close(() => r()));
    }
  });
});

describe("the CLI never prints a secret a server echoed", () => {
  const proxmoxEnv = (url: string, ca = caFile) => ({ PROXMOX_API_URL: url, PROXMOX_TOKEN_ID: TOKEN_ID, PROXMOX_TOKEN_SECRET: SECRET, PROXMOX_CA_FILE: ca });
  const shardArgs = () => ["-c", join(dir, "shard.jsonc"), "--state-dir", join(dir, "state")];

  it.each(["403", "500", "401"] as const)("plan against an API that echoes the token in a %s", async (m) => {
    mode = m;
    const r = await pvefleet(["plan", ...shardArgs()], proxmoxEnv(`https://127.0.0.1:${echoPort}/api2/json`));
    expect(r.code).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.stderr).toContain(MASK);
  });

  it("drift against a server whose certificate names the token", async () => {
    const tls = await certificate(SECRET);
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end("{}"));
    const port = await listen(server, "localhost");
    const ca = join(dir, "secret-ca.pem");
    writeFileSync(ca, tls.cert);
    try {
      const r = await pvefleet(["drift", ...shardArgs()], proxmoxEnv(`https://localhost:${port}/api2/json`, ca));
      expect(r.code).toBe(1);
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
      expect(r.stderr).toContain("TLS verification failed");
      expect(r.stderr).toContain(MASK);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  describe("apply --json through a proxy whose VM starts answer with the token", () => {
    let sim: Sim;
    let proxy: Server;
    let proxyPort: number;
    let upstream: Agent;

    beforeAll(async () => {
      sim = await startSimulator({ port: 0, latency: "fast", tokenId: TOKEN_ID, tokenSecret: SECRET });
      upstream = new Agent({ connect: { ca: sim.caCertificate } });
      const tls = await certificate("127.0.0.1");
      proxy = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
        void (async () => {
          const body = await readAll(req);
          if (req.method === "POST" && /\/status\/start$/.test(req.url ?? "")) return echo("403", req, res);
          const headers: Record<string, string> = {};
          for (const h of ["authorization", "content-type", "accept", "accept-encoding"]) if (req.headers[h]) headers[h] = String(req.headers[h]);
          const up = await request(`${sim.url.replace(/\/api2\/json$/, "")}${req.url}`, { method: req.method as "GET", headers, body: body.length ? body : undefined, dispatcher: upstream });
          const bytes = Buffer.from(await up.body.arrayBuffer());
          const out: Record<string, string> = {};
          for (const h of ["content-type", "content-encoding"]) if (up.headers[h]) out[h] = String(up.headers[h]);
          res.writeHead(up.statusCode, out);
          res.end(bytes);
        })().catch((e: unknown) => { res.writeHead(502); res.end(String(e)); });
      });
      proxyPort = await listen(proxy);
      writeFileSync(join(dir, "proxy-ca.pem"), tls.cert);
    });

    afterAll(async () => {
      proxy?.closeAllConnections();
      await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
      await upstream?.close();
      await sim?.stop();
    });

    it("reports the failed starts with the token masked in every JSON event and exits 1", async () => {
      const r = await pvefleet(["apply", "--auto-approve", "--json", ...shardArgs()], proxmoxEnv(`https://127.0.0.1:${proxyPort}/api2/json`, join(dir, "proxy-ca.pem")));
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
      expect(r.code).toBe(1);
      const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; "@message": string; hook?: { step?: string; error?: { code: string; message: string } } });
      const errored = events.filter((e) => e.type === "apply_errored");
      expect(errored.map((e) => [e.hook?.step, e.hook?.error?.code])).toEqual([["start", "PERMISSION"], ["start", "PERMISSION"]]); // one per VM
      for (const e of errored) {
        expect(e["@message"]).toContain(`pvefleet=${MASK}`);
        expect(e.hook?.error?.message).toContain(`pvefleet=${MASK}`);
      }
      expect(events.at(-1)).toMatchObject({ type: "change_summary", "@message": expect.stringContaining("Apply failed") });
    });
  });

  describe("an S3 state endpoint that quotes the AWS secret key in its errors", () => {
    let s3: ReturnType<typeof createHttpServer>;
    let s3Port: number;
    let s3Status = 403;

    beforeAll(async () => {
      s3 = createHttpServer((req, res) => {
        void readAll(req).then(() => {
          const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${s3Status === 403 ? "AccessDenied" : "InternalError"}</Code>` +
            `<Message>request signed with secret ${AWS_SECRET} was refused</Message><Resource>${req.url}</Resource><RequestId>${AWS_SECRET}</RequestId></Error>`;
          res.writeHead(s3Status, `Refused ${AWS_SECRET}`, { "Content-Type": "application/xml", "x-amz-request-id": "tx0001" });
          res.end(xml);
        });
      });
      s3Port = await listen(s3);
    });

    afterAll(async () => {
      s3?.closeAllConnections();
      await new Promise<void>((r) => (s3 ? s3.close(() => r()) : r()));
    });

    const awsEnv = () => ({
      AWS_ENDPOINT_URL: `http://127.0.0.1:${s3Port}`, AWS_REGION: "us-east-1", AWS_S3_USE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: AWS_SECRET, AWS_MAX_ATTEMPTS: "1",
    });

    it.each([403, 500])("state list on an S3 answering %s", async (status) => {
      s3Status = status;
      const r = await pvefleet(["state", "list", "--storage", "s3", "--bucket", "pvefleet-state", ...shardArgs()], { ...awsEnv(), ...proxmoxEnv("https://127.0.0.1:1/api2/json") });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: cannot \w+ \S+ in s3:\/\/pvefleet-state\//);
      expect(`${r.stdout}${r.stderr}`).not.toContain(AWS_SECRET);
    });

    it("plan with its state on that S3", async () => {
      s3Status = 403;
      const r = await pvefleet(["plan", "--storage", "s3", "--bucket", "pvefleet-state", ...shardArgs()], { ...awsEnv(), ...proxmoxEnv(`https://127.0.0.1:${echoPort}/api2/json`) });
      expect(r.code).toBe(1);
      expect(`${r.stdout}${r.stderr}`).not.toContain(AWS_SECRET);
      expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET);
    });
  });
});
