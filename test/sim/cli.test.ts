/**
 * `pvefleet sim` as a person runs it: prints the export line (with a CA file that verifies the
 * TLS certificate), serves until SIGINT, and prints per-endpoint counts with --stats.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { describe, expect, it } from "vitest";

const ENTRY = `import('./src/cli/main.ts').then((m) => m.main(["node", "pvefleet"].concat(JSON.parse(process.env.SIM_ARGS)))).then((c) => { process.exitCode = c; })`;

function runCli(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", ENTRY], { env: { ...process.env, SIM_ARGS: JSON.stringify(args) }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return { child, exited, out: () => out, err: () => err };
}

describe("pvefleet sim", () => {
  it("prints ready-to-paste variables, verifies with its CA file and reports counts on SIGINT", async () => {
    const cli = runCli(["sim", "--port", "0", "--latency", "instant", "--stats", "--seed", "3"]);
    try {
      for (let i = 0; i < 300 && !cli.out().includes("Ctrl-C"); i++) await new Promise((r) => setTimeout(r, 50));
      const line = cli.out().split("\n").find((l) => l.startsWith("export "))!;
      const vars = Object.fromEntries([...line.matchAll(/(\w+)='?([^' ]+)'?/g)].map((m) => [m[1], m[2]]));
      expect(Object.keys(vars)).toEqual(["PROXMOX_API_URL", "PROXMOX_TOKEN_ID", "PROXMOX_TOKEN_SECRET", "PROXMOX_CA_FILE"]);
      expect(cli.out()).toMatch(/certificate fingerprint \(SHA-256\): ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      const ca = readFileSync(vars.PROXMOX_CA_FILE!, "utf8");
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${vars.PROXMOX_API_URL}/cluster/nextid`, { ca, headers: { authorization: `PVEAPIToken=${vars.PROXMOX_TOKEN_ID}=${vars.PROXMOX_TOKEN_SECRET}` } }, (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end();
      });
      expect(JSON.parse(body)).toEqual({ data: "100" });
    } finally {
      cli.child.kill("SIGINT");
    }
    expect(await cli.exited).toBe(0);
    expect(cli.out()).toMatch(/requests per endpoint:\n\s+GET \/cluster\/nextid\s+1\n\s+total\s+1/);
  });

  it("refuses a bad --faults spec with one line and exit 1", async () => {
    const cli = runCli(["sim", "--port", "0", "--faults", "rate=5"]);
    expect(await cli.exited).toBe(1);
    expect(cli.err()).toBe("Error: --faults 'rate=5': rate must be a number between 0 and 1\n");
  });
});
