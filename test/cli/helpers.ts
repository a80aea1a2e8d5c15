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
