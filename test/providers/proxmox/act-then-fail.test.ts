/**
 * Calls PVE completed but answered with an error: the simulator's `5xx-after` (the task ran to its
 * end, then a 500 as from a proxy that timed out) and `reset-after` (the same, then the connection
 * is dropped). A clone, a VM delete and an ISO upload must each reach the cluster exactly once —
 * the client never re-sends an unsafe write on an unexplained 5xx or a dropped connection — and
 * the provider still ends where it should: the clone is adopted by name, the delete is confirmed
 * by a fresh listing, and the upload is found on the storage by the next attempt.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../../src/sim/index.js";
import { createProxmoxProvider, type ProxmoxProvider } from "../../../src/providers/proxmox/index.js";
import { isProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { CLONE, UPLOAD, DELETE_VM as DELETE } from "../../applier/cluster-api.js";

type Sim = Awaited<ReturnType<typeof startSimulator>>;

let serial = 0;
/** Instance IDs: 3 letters + 26 Crockford characters, unique in this file. */
function instanceId(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  let n = Date.now() * 1000 + serial++;
  let tail = "";
  for (let i = 0; i < 26; i++) {
    tail = alphabet[n % 32] + tail;
    n = Math.floor(n / 32);
  }
  return `aft${tail}`;
}

let sim: Sim;
let provider: ProxmoxProvider;

beforeAll(async () => {
  sim = await startSimulator({ latency: "fast", seed: 13 });
  provider = createProxmoxProvider({
    clusterId: "example",
    shardId: "dev-1",
    ca: sim.caCertificate,
    env: { PROXMOX_API_URL: sim.url, PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret },
    pollIntervalMs: 5,
    // Generous: a client that did re-send unsafe writes would have every chance to show it.
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
  });
});

afterEach(() => sim.setFaults(undefined));

afterAll(async () => {
  await provider?.close();
  const rejected = sim?.stats().rejected ?? [];
  await sim?.stop();
  expect(rejected).toEqual([]);
});

function sent(endpoint: string): number {
  return sim.stats().requests[endpoint] ?? 0;
}

/** A VM of ours (clone + the create's tagging configure), made with no faults active. */
async function ourVm(): Promise<{ node: string; vmid: number; instanceId: string }> {
  await provider.refresh();
  const id = instanceId();
  const { vmid, node } = await provider.clone({ instanceId: id, node: "pve2", vmid: provider.nextVmid(), template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
  await provider.configure({ node, vmid, instanceId: id, fresh: true, tags: ["nstance", "example", "dev-1"] });
  return { node, vmid, instanceId: id };
}

/** The operation once, and once more if it failed with a code the applier retries (what apply does). */
async function asTheApplierWould<T>(op: () => Promise<T>): Promise<{ value: T; firstError?: string }> {
  try {
    return { value: await op() };
  } catch (e) {
    if (!isProxmoxError(e) || !["SERVER", "NETWORK"].includes(e.code)) throw e;
    return { value: await op(), firstError: e.code };
  }
}

describe.each(["5xx-after", "reset-after"])("a call that acted, then answered %s", (kind) => {
  it("clones exactly once and adopts the VM it made", async () => {
    await provider.refresh();
    const id = instanceId();
    const vmid = provider.nextVmid();
    const before = sent(CLONE);
    sim.setFaults(`rate=1,kinds=${kind},methods=POST,paths=/clone$`);
    const got = await provider.clone({ instanceId: id, node: "pve1", vmid, template: { name: "debian-13-template" }, storage: "local-lvm", full: true });
    sim.setFaults(undefined);
    expect(got).toEqual({ vmid, node: "pve1" });
    expect(sent(CLONE) - before).toBe(1);
    expect((await provider.refresh()).vms.filter((v) => v.name === id).map((v) => v.vmid)).toEqual([vmid]);
  });

  it("deletes a VM exactly once and confirms it is gone from a fresh listing", async () => {
    const vm = await ourVm();
    const before = sent(DELETE);
    sim.setFaults(`rate=1,kinds=${kind},methods=DELETE,paths=/qemu/\\d+$`);
    await provider.deleteVm(vm);
    sim.setFaults(undefined);
    expect(sent(DELETE) - before).toBe(1);
    expect((await provider.refresh()).vms.some((v) => v.vmid === vm.vmid)).toBe(false);
  });

  it("uploads an ISO exactly once; the next attempt finds the volume instead of sending it again", async () => {
    const filename = `${instanceId()}-cidata.iso`;
    const bytes = new Uint8Array(64 * 1024).fill(7);
    const before = sent(UPLOAD);
    sim.setFaults(`rate=1,kinds=${kind},methods=POST,paths=/upload$`);
    const { value, firstError } = await asTheApplierWould(() => provider.uploadIso({ node: "pve3", storage: "local", filename, bytes }));
    sim.setFaults(undefined);
    expect(value.volume).toBe(`local:iso/${filename}`);
    // The first answer was an error (the volume is there all the same), and nothing was re-sent.
    expect(firstError).toBe(kind === "5xx-after" ? "SERVER" : "NETWORK");
    expect(sent(UPLOAD) - before).toBe(1);
  });
});
