/**
 * The real responses captured in test/fixtures/pve-captured/ are matched in shape — same keys, same
 * JSON value types — by the simulator's answers to the same calls. Where PVE 8.4 differs from an
 * older capture, the difference is named in the test (and in src/sim/README.md).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "pve-captured");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function captured(file: string): any {
  return JSON.parse(readFileSync(join(DIR, file), "utf8"));
}

function jsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Key → JSON type, one level deep, with `nested` keys compared one level further. */
function shape(obj: Record<string, unknown>, nested: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = jsonType(v);
    if (nested.includes(k) && jsonType(v) === "object") {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out[`${k}.${k2}`] = jsonType(v2);
    }
  }
  return out;
}

let c: Client;
let running: number;
let tagged: number;
beforeAll(async () => {
  c = await startClient({ latency: "instant" });
  const mk = async (vmid: number, extra: Record<string, string | number>) => {
    const r = await c.call("POST", "/nodes/pve1/qemu", { vmid, ...extra });
    expect((await c.waitTask(r.body.data)).exitstatus).toBe("OK");
  };
  running = 100;
  tagged = 101;
  await mk(running, { name: "server1", cores: 1, memory: 1024, scsi0: "local-lvm:32", net0: "virtio,bridge=vmbr0", agent: 1, start: 1 });
  await mk(tagged, { name: "machine-test", tags: "go-proxmox+cloud-init", scsi0: "local-lvm:8" });
});
afterAll(async () => {
  await c.close();
});

describe("captured PVE responses, matched in shape", () => {
  it("cluster-resources.json: qemu (running, stopped, template, tagged), node and storage entries", async () => {
    const real = captured("cluster-resources.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/cluster/resources")).body.data as Array<Record<string, unknown>>;
    const pick = (list: Array<Record<string, unknown>>, f: (x: Record<string, unknown>) => boolean) => list.find(f)!;
    const kinds: Array<(x: Record<string, unknown>) => boolean> = [
      (x) => x.type === "qemu" && x.status === "running",
      (x) => x.type === "qemu" && x.template === 1,
      (x) => x.type === "qemu" && x.status === "stopped" && "tags" in x,
      (x) => x.type === "node",
      (x) => x.type === "storage",
    ];
    for (const kind of kinds) expect(shape(pick(sim, kind))).toEqual(shape(pick(real, kind)));
    // Order: VMs first (lexicographic vmid), then nodes, then storages.
    const order = sim.map((x) => x.type);
    expect(order.lastIndexOf("qemu")).toBeLessThan(order.indexOf("node"));
    expect(order.lastIndexOf("node")).toBeLessThan(order.indexOf("storage"));
  });

  it("cluster-resources-vm-with-pool.json: type=vm entries (pool only when set, never here)", async () => {
    const real = captured("cluster-resources-vm-with-pool.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data as Array<Record<string, unknown>>;
    const realRunning = real.find((x) => x.type === "qemu" && x.status === "running")!;
    expect(shape(sim.find((x) => x.vmid === running)!)).toEqual(shape(realRunning));
    const { pool: _pool, ...realStoppedNoPool } = real.find((x) => x.type === "qemu" && x.status === "stopped")!;
    expect(shape(sim.find((x) => x.vmid === 9001)!)).toEqual(shape(realStoppedNoPool));
  });

  it("cluster-status.json", async () => {
    const real = captured("cluster-status.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/cluster/status")).body.data as Array<Record<string, unknown>>;
    expect(shape(sim[0]!)).toEqual(shape(real.find((x) => x.type === "cluster")!));
    expect(shape(sim[1]!)).toEqual(shape(real.find((x) => x.type === "node")!));
  });

  it("nodes.json", async () => {
    const real = captured("nodes.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/nodes")).body.data as Array<Record<string, unknown>>;
    expect(shape(sim[0]!)).toEqual(shape(real[0]!));
  });

  it("node-status-pve7.4.json (PVE 8 adds current-kernel and boot-info)", async () => {
    const real = captured("node-status-pve7.4.json").response.data as Record<string, unknown>;
    const sim = (await c.call("GET", "/nodes/pve1/status")).body.data as Record<string, unknown>;
    const nested = ["cpuinfo", "memory", "swap", "rootfs", "ksm"];
    const { "current-kernel": ck, "boot-info": bi, ...rest } = sim;
    expect(shape(rest, nested)).toEqual(shape(real, nested));
    expect(jsonType(ck)).toBe("object");
    expect(jsonType(bi)).toBe("object");
  });

  it("node-qemu-list.json: running and stopped items", async () => {
    const real = captured("node-qemu-list.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/nodes/pve1/qemu")).body.data as Array<Record<string, unknown>>;
    expect(shape(sim.find((x) => x.vmid === running)!)).toEqual(shape(real.find((x) => x.status === "running")!));
    expect(shape(sim.find((x) => x.vmid === tagged && delete x.tags)!)).toEqual(shape(real.find((x) => x.status === "stopped")!));
  });

  it("qemu-status-current-pve8.0.json: a running VM with the agent", async () => {
    const real = captured("qemu-status-current-pve8.0.json").response.data as Record<string, unknown>;
    const sim = (await c.call("GET", `/nodes/pve1/qemu/${running}/status/current`)).body.data as Record<string, unknown>;
    const nested = ["ha", "ballooninfo", "proxmox-support"];
    expect(shape(sim, nested)).toEqual(shape(real, nested));
  });

  it("qemu-config-pve6.2.json: the same options come back with the same types (memory is a string since PVE 8.1)", async () => {
    const real = captured("qemu-config-pve6.2.json").responses["102"].data as Record<string, unknown>;
    const r = await c.call("POST", "/nodes/pve1/qemu", {
      vmid: 102, numa: 0, ide2: "none,media=cdrom", bootdisk: "sata0", name: "test-qemu-windows", balloon: 0, cpulimit: 4, agent: "1",
      cores: 6, sata0: "local-lvm:100", memory: 10240, scsihw: "virtio-scsi-pci", sockets: 1, ostype: "win8", net0: "virtio,bridge=vmbr0", onboot: 1,
    });
    expect((await c.waitTask(r.body.data)).exitstatus).toBe("OK");
    const sim = (await c.call("GET", "/nodes/pve1/qemu/102/config")).body.data as Record<string, unknown>;
    const { boot: _b, meta: _m, vmgenid: _v, ...simRest } = sim; // written by PVE ≥ 7 on create
    const expected = shape(real);
    expected.memory = "string"; // PVE 8.1 turned memory into a property string `[current=]<integer>`
    expected.cpulimit = "number"; // schema type number; PVE 6.2 returned the raw text
    expect(shape(simRest)).toEqual(expected);
  });

  it("task-status-stopped-ok.json (token tasks add tokenid)", async () => {
    const real = captured("task-status-stopped-ok.json").response.data as Record<string, unknown>;
    const r = await c.call("POST", `/nodes/pve1/qemu/${tagged}/status/stop`);
    await c.waitTask(r.body.data);
    const sim = (await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/status`)).body.data as Record<string, unknown>;
    const { tokenid, ...rest } = sim;
    expect(tokenid).toBe("pvefleet");
    expect(shape(rest)).toEqual(shape(real));
  });

  it("node-tasks-list-pve6.4.json (token tasks add tokenid)", async () => {
    const real = captured("node-tasks-list-pve6.4.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/nodes/pve1/tasks")).body.data as Array<Record<string, unknown>>;
    const { tokenid: _t, ...first } = sim.find((t) => t.status === "OK")!;
    expect(shape(first)).toEqual(shape(real[0]!));
  });

  it("storage-content-pbs.json: the keys a dir/lvm volume shares with a PBS backup have the same types", async () => {
    const real = captured("storage-content-pbs.json").response.data as Array<Record<string, unknown>>;
    const sim = (await c.call("GET", "/nodes/pve1/storage/local-lvm/content", { vmid: running })).body.data as Array<Record<string, unknown>>;
    const { subtype: _s, ...realImage } = real[0]!; // subtype exists only on backups
    const simShape = shape(sim[0]!);
    for (const [k, t] of Object.entries(shape(realImage))) expect([k, simShape[k]]).toEqual([k, t]);
  });

  it("nextid.json and nextid-taken-400.json", async () => {
    const free = await c.call("GET", "/cluster/nextid");
    expect(shape(free.body)).toEqual(shape(captured("nextid.json").response));
    const taken = await c.call("GET", "/cluster/nextid", { vmid: running });
    expect(taken.status).toBe(captured("nextid-taken-400.json")._http_status);
    const { message, ...rest } = taken.body;
    expect(message).toBe("Parameter verification failed.\n"); // pve-http-server ≥ 5.2 (PVE 8.3+) adds it
    expect(shape(rest, ["errors"])).toEqual(shape(captured("nextid-taken-400.json").response, ["errors"]));
  });
});
