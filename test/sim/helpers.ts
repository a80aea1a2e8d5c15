/**
 * A plain HTTPS client for the simulator tests (node:https, the simulator's CA): no code from
 * src/providers/proxmox, so the tests check the simulator and not our client.
 */
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../src/sim/index.js";

export interface Reply {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface Client {
  sim: Simulator;
  call(method: string, path: string, params?: Record<string, string | number>, opts?: CallOptions): Promise<Reply>;
  raw(method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string>): Promise<Reply>;
  waitTask(upid: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface CallOptions {
  json?: boolean;
  auth?: string | null;
}

export async function startClient(options: SimulatorOptions = {}): Promise<Client> {
  const sim = await startSimulator({ latency: "fast", seed: 42, ...options });
  const url = new URL(sim.url);
  const isHttps = url.protocol === "https:";
  const agent = isHttps ? new HttpsAgent({ keepAlive: true, ca: sim.caCertificate }) : new HttpAgent({ keepAlive: true });
  const auth = `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`;

  const raw = (method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string>) =>
    new Promise<Reply>((resolve, reject) => {
      const req = (isHttps ? httpsRequest : httpRequest)(
        { host: url.hostname, port: url.port, path: url.pathname + path, method, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? "", headers: res.headers, text, body: parsed });
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  const call = (method: string, path: string, params?: Record<string, string | number>, opts: CallOptions = {}) => {
    const headers: Record<string, string> = {};
    if (opts.auth !== null) headers.authorization = opts.auth ?? auth;
    let body: string | undefined;
    let fullPath = path;
    if (params && (method === "GET" || method === "DELETE")) {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      fullPath += (path.includes("?") ? "&" : "?") + qs;
    } else if (params) {
      if (opts.json) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(params);
      } else {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      }
    }
    return raw(method, fullPath, body, headers);
  };

  const waitTask = async (upid: string) => {
    const node = upid.split(":")[1]!;
    for (let i = 0; i < 2000; i++) {
      const r = await call("GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
      if (r.status !== 200) throw new Error(`task status ${r.status} ${r.text}`);
      if (r.body.data.status === "stopped") return r.body.data as Record<string, unknown>;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`task ${upid} did not finish`);
  };

  return {
    sim, call, raw, waitTask,
    async close() {
      agent.destroy();
      await sim.stop();
    },
  };
}

/** The same check PVE's decoder makes (pve-api.md §2.7). */
export const UPID_RE = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;
