/**
 * API calls one `plan` makes against the simulator (instant latency), per detail policy:
 * a steady fleet, a fleet with k VMs stopped out of band, and `--deep`. Prints figures; asserts
 * nothing. Run: npm run build && npx tsx bench/plan-calls.ts [vms=20] [stopped=5]
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startSimulator } from "../src/sim/index.js";

const vms = Number(process.argv[2] ?? 20);
const stopped = Number(process.argv[3] ?? 5);
const sim = await startSimulator({ port: 0, latency: "instant" });
const dir = await mkdtemp(join(tmpdir(), "pvefleet-bench-"));
await writeFile(join(dir, "ca.pem"), sim.caCertificate);
await writeFile(join(dir, "shard.jsonc"), JSON.stringify({
  cluster: { id: "bench" },
  shard: { id: "dev", infra: { provider: "proxmox", region: "r", zone: "z", options: { full_clone: false } } },
  templates: { web: { kind: "tst", arch: "amd64", args: { StoragePool: "local-lvm", TemplateName: "debian-13-template", Cores: 1, Memory: 256, Bridge: "vmbr0" } } },
  groups: { acme: { web: { template: "web", size: vms } } },
}));
const env = {
  PATH: process.env.PATH, NO_COLOR: "1", PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret,
  PROXMOX_CA_FILE: join(dir, "ca.pem"), PVEFLEET_CONFIG: join(dir, "shard.jsonc"), PVEFLEET_STATE_DIR: join(dir, "state"),
};
const bin = join(import.meta.dirname, "..", "bin", "pvefleet.js");
const run = (args: string[]) => new Promise<number>((resolve) => {
  spawn(process.execPath, [bin, ...args], { env, stdio: "ignore" }).on("close", (c) => resolve(c ?? -1));
});
const total = () => Object.values(sim.stats().requests).reduce((a, b) => a + b, 0);
async function calls(label: string, args: string[]): Promise<void> {
  const before = total();
  const t = Date.now();
  const code = await run(args);
  console.log(`${label.padEnd(46)} ${String(total() - before).padStart(4)} API calls  exit ${code}  ${Date.now() - t} ms`);
}

try {
  if ((await run(["apply", "--auto-approve"])) !== 0) throw new Error("apply failed");
  console.log(`${vms} VMs applied`);
  await calls("plan, steady fleet", ["plan", "--detailed-exitcode"]);
  await calls("plan --deep, steady fleet", ["plan", "--deep", "--detailed-exitcode"]);
  const dispatcher = new Agent({ connect: { ca: sim.caCertificate } });
  const headers = { authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` };
  const listed = (await (await request(`${sim.url}/cluster/resources?type=vm`, { headers, dispatcher })).body.json()) as { data: { vmid: number; node: string; template?: number }[] };
  for (const vm of listed.data.filter((v) => !v.template).slice(0, stopped)) {
    const r = await request(`${sim.url}/nodes/${vm.node}/qemu/${vm.vmid}/status/stop`, { method: "POST", headers, dispatcher });
    await r.body.dump();
  }
  await new Promise((r) => setTimeout(r, 200));
  await dispatcher.close();
  await calls(`plan, ${stopped} VMs stopped out of band`, ["plan", "--detailed-exitcode"]);
  await calls(`plan --deep, ${stopped} VMs stopped out of band`, ["plan", "--deep", "--detailed-exitcode"]);
  await calls("drift (always deep)", ["drift"]);
} finally {
  await sim.stop();
}
