/**
 * `pvefleet place` run as a user runs it: the built CLI in a child process, nodes from a file or
 * from a small HTTP server on loopback that answers `/cluster/resources?type=node` like PVE.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";

const ROOT = join(import.meta.dirname, "..", "..");
const GiB = 1024 ** 3;
let dir: string;

function runPlace(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const clean = { ...process.env };
    for (const k of ["PROXMOX_API_URL", "PROXMOX_TOKEN_ID", "PROXMOX_TOKEN_SECRET", "PROXMOX_CA_FILE"]) delete clean[k];
    const child = spawn(process.execPath, [join(ROOT, "bin", "pvefleet.js"), "place", ...args], { env: { ...clean, NO_COLOR: "1", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function nodesFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const vectorB = [
  { id: "node/pve1", node: "pve1", type: "node", status: "online", cpu: 0.05, maxcpu: 8, mem: 30 * GiB, maxmem: 32 * GiB },
  { id: "node/pve2", node: "pve2", type: "node", status: "online", cpu: 0.6, maxcpu: 8, mem: 8 * GiB, maxmem: 32 * GiB },
  { id: "node/pve3", node: "pve3", type: "node", status: "offline", maxcpu: 8, maxmem: 32 * GiB },
];

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "cli", "commands", "place.js"))) {
    throw new Error("dist/ is not built: run `npx tsc -p .` (scripts/test.sh does it) before this suite");
  }
  dir = mkdtempSync(join(tmpdir(), "pvefleet-place-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pvefleet place --nodes-file", () => {
  it("prints a ranked table with scores for a bare array", async () => {
    const r = await runPlace(["--cores", "2", "--memory", "1024", "--nodes-file", nodesFile("bare.json", vectorB)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("VM 1 of 1 (2 cores, 1024 MiB, scheduler nstance) → pve2");
    expect(r.stdout).toMatch(/1\s+pve2\s+0\.719734\n\s+2\s+pve1\s+0\.280266/);
    expect(r.stdout).not.toContain("pve3");
  });

  it("reads PVE's {data: [...]} envelope and prints JSON placements", async () => {
    const r = await runPlace(["--cores", "2", "--memory", "1024", "--count", "2", "--format", "json", "--nodes-file", nodesFile("env.json", { data: vectorB })]);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { placements: { node: string; scores: Record<string, number> }[] };
    expect(body.placements).toHaveLength(2);
    expect(body.placements[0].node).toBe("pve2");
    expect(body.placements[0].scores.pve2).toBeCloseTo(0.719734, 6);
    expect(body.placements[0].scores.pve1).toBeCloseTo(0.280266, 6);
    // The second VM sees the first one booked on pve2, so pve2's lead shrinks.
    expect(body.placements[1].scores.pve2).toBeLessThan(body.placements[0].scores.pve2);
  });

  it("spreads several VMs over identical nodes", async () => {
    const same = (node: string) => ({ node, type: "node", status: "online", cpu: 0, maxcpu: 16, mem: 0, maxmem: 64 * GiB });
    const r = await runPlace(["--cores", "4", "--memory", "8192", "--count", "6", "--format", "json", "--nodes-file", nodesFile("same.json", [same("c"), same("a"), same("b")])]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { placements: { node: string }[] }).placements.map((p) => p.node)).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("ranks with the pve-static scheduler when asked", async () => {
    const r = await runPlace(["--cores", "2", "--memory", "3815", "--scheduler", "pve-static", "--format", "json", "--nodes-file", nodesFile("static1.json", [
      { node: "node2", type: "node", status: "online", cpu: 0, maxcpu: 32, mem: 0, maxmem: 200e9 },
      { node: "node3", type: "node", status: "online", cpu: 0, maxcpu: 32, mem: 0, maxmem: 300e9 },
    ])]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ format_version: "1.0", placements: [{ node: "node3", scores: { node3: 1, node2: 0 } }] });
  });

  it("fails with one line when no node has room", async () => {
    const r = await runPlace(["--cores", "1", "--memory", "40000", "--nodes-file", nodesFile("small.json", vectorB)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("Error: no online node has 40000 MiB of memory free\n");
  });

  it("names the VM that no longer fits when placing several", async () => {
    const r = await runPlace(["--cores", "1", "--memory", "16384", "--count", "3", "--nodes-file", nodesFile("three.json", vectorB)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: VM 2 of 3: no online node has 16384 MiB of memory free\n");
  });

  it("rejects a file that is not a node listing, in one line", async () => {
    const notJson = await runPlace(["--cores", "1", "--memory", "512", "--nodes-file", nodesFile("bad.json", "{nope")]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^Error: .*bad\.json: not JSON: .*\n$/);
    const wrongShape = await runPlace(["--cores", "1", "--memory", "512", "--nodes-file", nodesFile("shape.json", { nodes: [] })]);
    expect(wrongShape.stderr).toMatch(/expected a JSON array of nodes or \{"data": \[\.\.\.\]\}\n$/);
    const badEntry = await runPlace(["--cores", "1", "--memory", "512", "--nodes-file", nodesFile("entry.json", [{ node: "a", maxmem: "lots" }])]);
    expect(badEntry.code).toBe(1);
    expect(badEntry.stderr).toMatch(/^Error: .*entry\.json: entry 0\.maxmem: /);
    expect(badEntry.stderr.split("\n")).toHaveLength(2);
    const missing = await runPlace(["--cores", "1", "--memory", "512", "--nodes-file", join(dir, "absent.json")]);
    expect(missing.stderr).toMatch(/absent\.json: cannot read: ENOENT\n$/);
  });

  it("rejects a non-numeric size", async () => {
    const r = await runPlace(["--cores", "two", "--memory", "512", "--nodes-file", nodesFile("ok.json", vectorB)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: --cores must be a whole number ≥ 0, got "two"\n');
  });
});

describe("pvefleet place against a live API", () => {
  let server: Server;
  let url: string;
  const seen: { path: string; authorization?: string }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { data: vectorB } };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(answer.status, answer.status === 200 ? "OK" : "Authentication failed!", { "content-type": "application/json;charset=UTF-8" });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api2/json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const token = { PROXMOX_TOKEN_ID: "fleet@pve!place", PROXMOX_TOKEN_SECRET: "5ecret-5ecret-5ecret" };

  it("reads the nodes with one GET and the API token", async () => {
    seen.length = 0;
    answer = { status: 200, body: { data: vectorB } };
    const r = await runPlace(["--cores", "2", "--memory", "1024", "--format", "json"], { ...token, PROXMOX_API_URL: url, PVEFLEET_ALLOW_INSECURE_HTTP: "1" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { placements: { node: string }[] }).placements[0].node).toBe("pve2");
    expect(seen).toEqual([{ path: "/api2/json/cluster/resources?type=node", authorization: "PVEAPIToken=fleet@pve!place=5ecret-5ecret-5ecret" }]);
    expect(r.stdout).not.toContain(token.PROXMOX_TOKEN_SECRET);
  });

  it("fails in one line without printing the secret when the token is refused", async () => {
    answer = { status: 401, body: { data: null } };
    const r = await runPlace(["--cores", "2", "--memory", "1024"], { ...token, PROXMOX_API_URL: url, PVEFLEET_ALLOW_INSECURE_HTTP: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr.startsWith("Error: ")).toBe(true);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr + r.stdout).not.toContain(token.PROXMOX_TOKEN_SECRET);
  });

  it("asks for the token before any request when it is missing", async () => {
    seen.length = 0;
    const r = await runPlace(["--cores", "2", "--memory", "1024"], { PROXMOX_API_URL: url, PVEFLEET_ALLOW_INSECURE_HTTP: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: PROXMOX_TOKEN_ID environment variable is required for proxmox provider\n");
    expect(seen).toEqual([]);
  });
});
