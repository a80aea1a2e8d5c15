#!/usr/bin/env node
// `npm run demo`: pvefleet end to end against a local Proxmox VE simulator, no cluster needed.
// Starts the simulator in-process (realistic task latency) on a free port, then drives the real
// CLI as child processes: validate → plan → apply → an out-of-band change made through the API →
// drift → plan (the repair) → apply → a final clean plan. State lives in a temp directory.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent } from "undici";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "bin", "pvefleet.js");
const config = join(root, "examples", "quickstart.jsonc");
const tty = process.stdout.isTTY === true;
const bold = (s) => (tty && !process.env.NO_COLOR ? `\u001b[1m${s}\u001b[22m` : s);
const started = Date.now();
let step = 0;
const TOTAL = 10;

function heading(text) {
  step++;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\n${bold(`━━ ${step}/${TOTAL} ${text}`)} ${tty ? "" : `[${secs}s]`}\n\n`);
}

function cli(args, env, expect) {
  process.stdout.write(`$ pvefleet ${args.join(" ")}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: "inherit", env });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!expect.includes(code)) reject(new Error(`pvefleet ${args.join(" ")} exited ${code}, expected ${expect.join(" or ")}`));
      else resolve(code);
    });
  });
}

const { startSimulator } = await import(join(root, "dist", "sim", "index.js"));
const dir = await mkdtemp(join(tmpdir(), "pvefleet-demo-"));
let sim;
try {
  heading("Start a Proxmox VE 8.4 API simulator (realistic task latency)");
  sim = await startSimulator({ port: 0, latency: "realistic" });
  const apiUrl = /\/api2\/json\/?$/.test(sim.url) ? sim.url.replace(/\/$/, "") : `${sim.url.replace(/\/$/, "")}/api2/json`;
  const caFile = join(dir, "sim-ca.pem");
  if (sim.caCertificate) await writeFile(caFile, sim.caCertificate);
  console.log(`simulator: ${apiUrl} (token ${sim.tokenId}; CA written to ${caFile})`);

  const env = {
    ...process.env,
    PROXMOX_API_URL: apiUrl,
    PROXMOX_TOKEN_ID: sim.tokenId,
    PROXMOX_TOKEN_SECRET: sim.tokenSecret,
    ...(sim.caCertificate ? { PROXMOX_CA_FILE: caFile } : {}),
    PVEFLEET_CONFIG: config,
    PVEFLEET_STATE_DIR: join(dir, "state"),
    PVEFLEET_STORAGE: "file",
  };

  heading("Validate the shard file");
  await cli(["validate", "-c", config], env, [0]);

  heading("Plan: what would apply change?");
  await cli(["plan"], env, [0]);

  heading("Apply it");
  await cli(["apply", "--auto-approve"], env, [0]);

  heading("Change the cluster behind pvefleet's back (through the Proxmox API)");
  const dispatcher = new Agent({ connect: sim.caCertificate ? { ca: sim.caCertificate } : {} });
  const api = async (method, path, body) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      dispatcher,
      headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}`, ...(body ? { "Content-Type": "application/x-www-form-urlencoded" } : {}) },
      body: body ? new URLSearchParams(body).toString() : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()).data;
  };
  const vms = (await api("GET", "/cluster/resources?type=vm")).filter((v) => !v.template && String(v.tags ?? "").includes("nstance"));
  if (vms.length === 0) throw new Error("the apply created no VMs to change");
  const [first] = vms;
  const cores = (first.maxcpu ?? 1) + 2;
  console.log(`stopping VM ${first.vmid} on ${first.node}, then setting cores=${cores} on it`);
  await api("POST", `/nodes/${first.node}/qemu/${first.vmid}/status/stop`);
  const waitFor = async (pred, ms = 25_000) => {
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (await pred()) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  };
  await waitFor(async () => (await api("GET", `/nodes/${first.node}/qemu/${first.vmid}/status/current`)).status === "stopped");
  // cores of a stopped VM change at once (on a running one PVE keeps them pending until a restart).
  await api("PUT", `/nodes/${first.node}/qemu/${first.vmid}/config`, { cores: String(cores) });
  // Like real PVE (pvestatd, every 10 s), the cluster-wide listing lags the VM itself: wait until
  // /cluster/resources shows the change, so the drift check below sees what we did.
  const listed = async () => (await api("GET", "/cluster/resources?type=vm")).find((v) => v.vmid === first.vmid);
  console.log("waiting for /cluster/resources to show it (PVE republishes VM status every 10 s)…");
  await waitFor(async () => { const v = await listed(); return v?.status === "stopped" && v?.maxcpu === cores; });
  const now = await listed();
  console.log(`the cluster now reports VM ${first.vmid}: status ${now?.status}, ${now?.maxcpu} cores`);

  heading("Drift: pvefleet notices (exit 2 = drift found)");
  await cli(["drift"], env, [2]);

  heading("Plan: the repair");
  await cli(["plan"], env, [0]);

  heading("Apply the repair");
  await cli(["apply", "--auto-approve"], env, [0]);

  // pvestatd republishes VM status every 10 s (the simulator's realistic profile does too): wait
  // until the listing shows the repair before the final plan reads it.
  console.log("\nwaiting for /cluster/resources to show the repair…");
  await waitFor(async () => {
    const v = await listed();
    return v?.status === "running" && v?.maxcpu === first.maxcpu;
  });
  await dispatcher.close();

  heading("Plan again: nothing left to do (exit 0 with --detailed-exitcode)");
  await cli(["plan", "--detailed-exitcode"], env, [0]);
} catch (e) {
  process.stderr.write(`\ndemo failed: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  if (sim) {
    step = TOTAL - 1;
    heading("Stop the simulator");
    await sim.stop();
  }
  await rm(dir, { recursive: true, force: true });
  console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
