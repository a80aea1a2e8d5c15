/**
 * Simulator throughput over HTTPS on loopback (keep-alive, a few concurrent connections):
 *  1. GET /cluster/resources?type=vm with 10,000 VMs — requests/s (target ≥ 1,000);
 *  2. clone + start cycles per second with the `instant` profile (each cycle: POST clone, wait for
 *     the task, POST start, wait for the task — polling the task status as a client does).
 * Each phase is bounded to ~5 s. The simulator runs in a child process (as `pvefleet sim` would), so
 * the client load does not share its event loop. Run: npx tsx bench/sim-listing.ts
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { startSimulator } from "../src/sim/index.js";

interface Served {
  url: string;
  tokenId: string;
  tokenSecret: string;
  caCertificate: string;
  buildMs: number;
}

const PHASE_MS = 5000;
const CONNECTIONS = 4;

/** Child mode: start the simulator, print how to reach it, stop when stdin closes. */
async function serve(): Promise<void> {
  const buildStart = performance.now();
  const sim = await startSimulator({
    latency: "instant",
    seed: 1,
    topology: {
      nodes: [{ name: "pve1" }, { name: "pve2" }, { name: "pve3" }],
      storages: [
        { id: "local", type: "dir", content: ["iso", "vztmpl", "backup", "snippets"] },
        { id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"], sizeGiB: 200_000 },
      ],
      templates: [{ vmid: 9000, node: "pve1" }, { vmid: 9001, node: "pve2" }, { vmid: 9002, node: "pve3" }],
      vms: { count: 10_000, firstVmid: 10_000, tags: "nstance;bench;dev" },
    },
  });
  const served: Served = { url: sim.url, tokenId: sim.tokenId, tokenSecret: sim.tokenSecret, caCertificate: sim.caCertificate, buildMs: performance.now() - buildStart };
  process.stdout.write(`${JSON.stringify(served)}\n`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on("end", resolve));
  await sim.stop();
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--serve"], { stdio: ["pipe", "pipe", "inherit"] });
  const sim = await new Promise<Served>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line) as Served));
    child.once("exit", (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const buildMs = sim.buildMs;
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1, connect: { ca: sim.caCertificate } });
  const headers = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` };
  const get = async (path: string, gzip = false) => {
    const r = await request(`${sim.url}${path}`, { headers: gzip ? { ...headers, "accept-encoding": "gzip" } : headers, dispatcher: agent });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode} ${text}`);
    return text;
  };
  const post = async (path: string, form: Record<string, string>) => {
    const r = await request(`${sim.url}${path}`, {
      method: "POST", dispatcher: agent,
      headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    const body = (await r.body.json()) as { data: string };
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode} ${JSON.stringify(body)}`);
    return body.data;
  };
  const waitTask = async (upid: string) => {
    for (;;) {
      const t = JSON.parse(await get(`/nodes/${upid.split(":")[1]}/tasks/${encodeURIComponent(upid)}/status`)) as { data: { status: string; exitstatus?: string } };
      if (t.data.status === "stopped") {
        if (t.data.exitstatus !== "OK") throw new Error(`task ${upid}: ${t.data.exitstatus}`);
        return;
      }
      await new Promise((r) => setImmediate(r));
    }
  };

  // Phase 1: listings, as pveproxy serves them to a client that accepts gzip (fetch, curl
  // --compressed) and to one that does not; half of the phase each.
  const first = await get("/cluster/resources?type=vm");
  const vmCount = (JSON.parse(first) as { data: unknown[] }).data.length;
  const listingRate = async (gzip: boolean) => {
    let listings = 0;
    let bytes = 0;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() - t1 < PHASE_MS / 2) {
        const r = await request(`${sim.url}/cluster/resources?type=vm`, { headers: gzip ? { ...headers, "accept-encoding": "gzip" } : headers, dispatcher: agent });
        const n = (await r.body.arrayBuffer()).byteLength;
        bytes += n;
        listings++;
      }
    }));
    const sec = (performance.now() - t1) / 1000;
    return { perSec: listings / sec, listings, sec, bytesPerListing: bytes / listings };
  };
  const gz = await listingRate(true);
  const plain = await listingRate(false);

  // Phase 2: clone + start cycles.
  let cycles = 0;
  let nextId = 100_000; // above the templates (9000–9002) and the 10,000 pre-populated VMs
  const t2 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, worker) => {
    while (performance.now() - t2 < PHASE_MS) {
      const newid = nextId++;
      const node = `pve${(worker % 3) + 1}`;
      await waitTask(await post(`/nodes/${node}/qemu/${9000 + (worker % 3)}/clone`, { newid: String(newid), name: `bench${newid}` }));
      await waitTask(await post(`/nodes/${node}/qemu/${newid}/status/start`, {}));
      cycles++;
    }
  }));
  const cycleSec = (performance.now() - t2) / 1000;

  await agent.close();
  child.stdin!.end();
  await new Promise((resolve) => child.once("exit", resolve));
  const fmt = (n: number) => n.toFixed(0);
  process.stdout.write(
    [
      `simulator build with ${vmCount} VMs: ${fmt(buildMs)} ms (includes TLS certificate)`,
      `GET /cluster/resources?type=vm, ${vmCount} VMs, ${CONNECTIONS} keep-alive HTTPS connections:`,
      `  gzip (${fmt(gz.bytesPerListing / 1024)} KiB): ${fmt(gz.perSec)} requests/s (${gz.listings} in ${gz.sec.toFixed(1)} s)`,
      `  identity (${(plain.bytesPerListing / 1024 / 1024).toFixed(1)} MiB): ${fmt(plain.perSec)} requests/s (${plain.listings} in ${plain.sec.toFixed(1)} s)`,
      `clone+start cycles (instant profile, ${CONNECTIONS} workers): ${(cycles / cycleSec).toFixed(1)} cycles/s (${cycles} in ${cycleSec.toFixed(1)} s)`,
    ].join("\n") + "\n",
  );
}

(process.argv.includes("--serve") ? serve() : main()).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  // The simulator child would keep this process alive: a failed bench must end.
  process.exit(1);
});
