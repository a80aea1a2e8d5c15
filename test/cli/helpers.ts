/** Spawning the real CLI against a simulator on loopback, with a temp state dir. */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "pvefleet.js");

export const SHARD_JSONC = `{
  // test shard: two small VMs in one group
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva" } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 2 } } }
}
`;

export interface Sim {
  url: string;
  tokenId: string;
  tokenSecret: string;
  caCertificate?: string;
  stats(): { rejected: unknown[] };
  stop(): Promise<void>;
}

export interface Workspace {
  dir: string;
  config: string;
  env: NodeJS.ProcessEnv;
}

export async function workspace(sim: Sim, shardText = SHARD_JSONC): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "pvefleet-cli-"));
  const config = join(dir, "shard.jsonc");
  await writeFile(config, shardText);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: "1",
    PROXMOX_API_URL: apiUrl(sim),
    PROXMOX_TOKEN_ID: sim.tokenId,
    PROXMOX_TOKEN_SECRET: sim.tokenSecret,
    PVEFLEET_CONFIG: config,
    PVEFLEET_STATE_DIR: join(dir, "state"),
    // `npm run coverage` collects the spawned CLI's coverage too (scripts/coverage.sh).
    ...(process.env.NODE_V8_COVERAGE ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : {}),
  };
  if (sim.caCertificate) {
    await writeFile(join(dir, "ca.pem"), sim.caCertificate);
    env.PROXMOX_CA_FILE = join(dir, "ca.pem");
  }
  return { dir, config, env };
}

export function apiUrl(sim: Sim): string {
  return /\/api2\/json\/?$/.test(sim.url) ? sim.url.replace(/\/$/, "") : `${sim.url.replace(/\/$/, "")}/api2/json`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(ws: Workspace, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ws.dir, env: { ...ws.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * `pvefleet …` in this process through `main()` (what bin/pvefleet.js calls), so coverage and
 * mutants of src/cli count: stdout and stderr are captured, `env` is set for the call and restored.
 * Not for commands that prompt or install signal handlers for the life of the process.
 */
export async function cliInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const { vi } = await import("vitest");
  const { main } = await import("../../src/cli/main.js");
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ CI: "1", NO_COLOR: "1", ...env })) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true; });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); return true; });
  try {
    const code = await main(["node", "pvefleet", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
