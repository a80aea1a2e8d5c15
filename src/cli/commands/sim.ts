/**
 * `pvefleet sim`: runs the Proxmox VE API simulator until SIGINT/SIGTERM and prints what a client
 * needs (URL, certificate fingerprint, token, CA file) as ready-to-paste `export` lines.
 */
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../errors.js";
import type { Opts } from "../main.js";

function intOption(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UserError("E_USAGE", `--${name} must be a whole number from ${min} to ${max} (got '${text}')`);
  return n;
}

export async function run(opts: Opts): Promise<number> {
  const port = intOption("port", opts.port, 0, 65535);
  const nodes = intOption("nodes", opts.nodes, 1, 64);
  const seed = intOption("seed", opts.seed, 0, 2 ** 31 - 1);
  const { startSimulator } = await import("../../sim/index.js");
  const { readTopologyFile } = await import("../../sim/topology.js");
  const topology = typeof opts.topology === "string" ? readTopologyFile(opts.topology) : undefined;

  const sim = await startSimulator({
    port, nodes, seed, topology,
    host: typeof opts.host === "string" ? opts.host : undefined,
    http: opts.http === true,
    stateFile: typeof opts.state === "string" ? opts.state : undefined,
    latency: opts.latency as "instant" | "fast" | "realistic" | undefined,
    faults: typeof opts.faults === "string" ? opts.faults : undefined,
    tokenSecret: process.env.PVEFLEET_SIM_TOKEN_SECRET || undefined,
  });

  let caDir: string | undefined;
  const out = process.stdout;
  out.write(`Proxmox VE 8.4 API simulator listening on ${sim.url}\n`);
  const exports = [`PROXMOX_API_URL=${sim.url}`, `PROXMOX_TOKEN_ID='${sim.tokenId}'`, `PROXMOX_TOKEN_SECRET=${sim.tokenSecret}`];
  // Plain HTTP sends the token in cleartext, so the client refuses it unless told (loopback labs).
  if (opts.http === true) exports.push("PVEFLEET_ALLOW_INSECURE_HTTP=1");
  if (sim.caCertificate) {
    caDir = mkdtempSync(join(tmpdir(), "pvefleet-sim-"));
    const caFile = join(caDir, "ca.pem");
    writeFileSync(caFile, sim.caCertificate);
    out.write(`certificate fingerprint (SHA-256): ${sim.fingerprint}\n`);
    exports.push(`PROXMOX_CA_FILE=${caFile}`);
  }
  out.write(`latency ${String(opts.latency ?? "fast")}${opts.faults ? `, faults ${String(opts.faults)}` : ""}${opts.state ? `, state ${String(opts.state)}` : ""}\n\n`);
  out.write(`export ${exports.join(" ")}\n\n`);
  out.write("Press Ctrl-C to stop.\n");

  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });

  const stats = sim.stats();
  await sim.stop();
  if (caDir) rmSync(caDir, { recursive: true, force: true });
  if (opts.stats) {
    const rows = Object.entries(stats.requests).sort(([a], [b]) => a.localeCompare(b));
    const width = Math.max(8, ...rows.map(([k]) => k.length));
    out.write("\nrequests per endpoint:\n");
    for (const [endpoint, count] of rows) out.write(`  ${endpoint.padEnd(width)}  ${count}\n`);
    out.write(`  ${"total".padEnd(width)}  ${rows.reduce((s, [, n]) => s + n, 0)}\n`);
    if (stats.rejected.length) out.write(`  rejected by schema validation: ${stats.rejected.length}\n`);
  }
  return 0;
}
