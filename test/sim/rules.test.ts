/**
 * One test per rule of docs/reference/pve-api.md §7: the simulator answers with PVE 8.4's status
 * codes, reason phrases and texts, over real HTTPS on loopback.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, UPID_RE, type Client } from "./helpers.js";

let c: Client;
beforeAll(async () => {
  c = await startClient({ latency: "fast" });
});
afterAll(async () => {
  await c.close();
});

let nextVmid = 200;
/** A fresh stopped VM on pve1 cloned from the template (full clone on local-lvm). */
async function freshVm(extra: Record<string, string | number> = {}): Promise<number> {
  const vmid = nextVmid++;
  const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: vmid, name: `vm${vmid}`, full: 1, ...extra });
  expect(r.status).toBe(200);
  const t = await c.waitTask(r.body.data);
  expect(t.exitstatus).toBe("OK");
  return vmid;
}

async function runTask(method: string, path: string, params?: Record<string, string | number>) {
  const r = await c.call(method, path, params);
  expect(r.status, r.text).toBe(200);
  expect(r.body.data).toMatch(UPID_RE);
  return c.waitTask(r.body.data);
}

function multipart(boundary: string, parts: Array<{ name: string; value: string | Buffer; filename?: string }>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `Content-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}\r\n`;
    const type = p.filename !== undefined ? "Content-Type: application/octet-stream\r\n" : "";
    chunks.push(Buffer.from(`--${boundary}\r\n${disp}${type}\r\n`), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

async function upload(storage: string, parts: Array<{ name: string; value: string | Buffer; filename?: string }>) {
  const boundary = "----pvefleetsimtest";
  const body = multipart(boundary, parts);
  return c.raw("POST", `/nodes/pve1/storage/${storage}/upload`, body, {
    authorization: `PVEAPIToken=${c.sim.tokenId}=${c.sim.tokenSecret}`,
    "content-type": `multipart/form-data; boundary=${boundary}`,
    "content-length": String(body.length),
  });
}

describe("pve-api.md §7", () => {
  it("1. wraps answers in {data}, errors in {data:null,message} with the first line as reason, 501 for unknown paths", async () => {
    const ok = await c.call("GET", "/version");
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toBe("application/json;charset=UTF-8");
    expect(ok.body).toEqual({ data: { version: "8.4.1", release: "8.4", repoid: expect.stringMatching(/^[0-9a-f]{16}$/) } });

    const missing = await c.call("GET", "/nodes/pve1/qemu/4242/config");
    expect(missing.status).toBe(500);
    expect(missing.reason).toBe("Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist");
    expect(missing.body).toEqual({ data: null, message: "Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist\n" });

    const unknown = await c.call("GET", "/nodes/pve1/frobnicate");
    expect(unknown.status).toBe(501);
    expect(unknown.reason).toBe("Method 'GET /nodes/pve1/frobnicate' not implemented");
    const withBody = await c.raw("GET", "/version", "x=1", { authorization: `PVEAPIToken=${c.sim.tokenId}=${c.sim.tokenSecret}`, "content-type": "application/x-www-form-urlencoded", "content-length": "3" });
    expect(withBody.status).toBe(501);
    expect(withBody.reason).toBe("Unexpected content for method 'GET'");
  });

  it("2. rejects unknown and missing parameters from the schema; form booleans are 0/1 only, JSON may use true", async () => {
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { bogus: 1 });
    expect(r.status).toBe(400);
    expect(r.reason).toBe("Parameter verification failed.");
    expect(r.body).toEqual({
      data: null,
      errors: {
        newid: "property is missing and it is not optional",
        bogus: "property is not defined in schema and the schema does not allow additional properties",
      },
      message: "Parameter verification failed.\n",
    });
    const vmid = await freshVm();
    const form = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { onboot: "true" });
    expect(form.body.errors).toEqual({ onboot: "type check ('boolean') failed - got 'true'" });
    const json = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { onboot: true } as never, { json: true });
    expect(json.status).toBe(200);
    const cfg = await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`);
    expect(cfg.body.data.onboot).toBe(1);
    expect(c.sim.stats().rejected.some((x) => x.errors.onboot !== undefined)).toBe(true);
  });

  it("3. accepts only the API token header; 401 'No ticket' without credentials and 'Authentication failed!' without a body otherwise", async () => {
    const none = await c.call("GET", "/version", undefined, { auth: null });
    expect(none.status).toBe(401);
    expect(none.reason).toBe("No ticket");
    const wrong = await c.call("GET", "/version", undefined, { auth: `PVEAPIToken=${c.sim.tokenId}=not-the-secret` });
    expect(wrong.status).toBe(401);
    expect(wrong.reason).toBe("Authentication failed!");
    expect(wrong.text).toBe("");
    const spaced = await c.call("GET", "/version", undefined, { auth: `PVEAPIToken ${c.sim.tokenId}=${c.sim.tokenSecret}` });
    expect(spaced.status).toBe(200);
  });

  it("4. enforces VMID format and cluster-wide uniqueness on create", async () => {
    const bad = await c.call("POST", "/nodes/pve1/qemu", { vmid: 99 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual({ vmid: "invalid format - value does not look like a valid VM ID\n" });
    const taken = await c.call("POST", "/nodes/pve2/qemu", { vmid: 9000 });
    expect(taken.status).toBe(500);
    expect(taken.body.message).toBe("unable to create VM 9000 - VM 9000 already exists on node 'pve1'\n");
  });

  it("5. returns nextid as a string and answers a taken ?vmid= with 400 errors.vmid", async () => {
    const r = await c.call("GET", "/cluster/nextid");
    expect(typeof r.body.data).toBe("string");
    expect(Number(r.body.data)).toBeGreaterThanOrEqual(100);
    const free = await c.call("GET", "/cluster/nextid", { vmid: 5555 });
    expect(free.body).toEqual({ data: "5555" });
    const taken = await c.call("GET", "/cluster/nextid", { vmid: 9001 });
    expect(taken.status).toBe(400);
    expect(taken.body).toEqual({ data: null, errors: { vmid: "VM 9001 already exists" }, message: "Parameter verification failed.\n" });
  });

  it("6. serves a VM only on its own node and fails unknown nodes with a hostname lookup error", async () => {
    const wrongNode = await c.call("GET", "/nodes/pve2/qemu/9000/config");
    expect(wrongNode.status).toBe(500);
    expect(wrongNode.body.message).toBe("Configuration file 'nodes/pve2/qemu-server/9000.conf' does not exist\n");
    const unknown = await c.call("GET", "/nodes/nosuch/qemu/9000/config");
    expect(unknown.status).toBe(500);
    expect(unknown.reason).toMatch(/^hostname lookup 'nosuch' failed - /);
  });

  it("7. answers async calls with a UPID (clone's id is the source VMID) and PUT config with null", async () => {
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: nextVmid, name: "upid-test" });
    const m = UPID_RE.exec(r.body.data)!;
    expect(m[1]).toBe("pve1");
    expect(m[6]).toBe("qmclone");
    expect(m[7]).toBe("9000");
    expect(m[8]).toBe("root@pam!pvefleet");
    await c.waitTask(r.body.data);
    const put = await c.call("PUT", `/nodes/pve1/qemu/${nextVmid++}/config`, { cores: 2 });
    expect(put.body).toEqual({ data: null });
  });

  it("8. runs tasks (running, then stopped with exitstatus) and fails checks inside the task, not the HTTP call", async () => {
    const vmid = await freshVm();
    const r = await c.call("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    const first = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/status`);
    expect(first.body.data).toMatchObject({ status: "running", type: "qmstart", id: String(vmid), user: "root@pam", tokenid: "pvefleet" });
    expect(first.body.data.exitstatus).toBeUndefined();
    expect((await c.waitTask(r.body.data)).exitstatus).toBe("OK");
    const tpl = await c.call("POST", "/nodes/pve1/qemu/9000/status/start");
    expect(tpl.status).toBe(200);
    expect((await c.waitTask(tpl.body.data)).exitstatus).toBe("you can't start a vm if it's a template");
    const bad = await c.call("GET", "/nodes/pve1/tasks/UPID%3Anope/status");
    expect(bad.body.errors).toEqual({ upid: "unable to parse worker upid" });
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
  });

  it("9. refuses config changes on a locked VM synchronously, fails power tasks with the lock text, and skiplock is root-only", async () => {
    const vmid = nextVmid++;
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: vmid, full: 1 });
    const put = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { cores: 4 });
    expect(put.status).toBe(500);
    expect(put.reason).toBe("VM is locked (clone)");
    const start = await c.call("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    expect(start.status).toBe(200);
    expect((await c.waitTask(start.body.data)).exitstatus).toBe("VM is locked (clone)");
    const skip = await c.call("POST", `/nodes/pve1/qemu/${vmid}/status/stop`, { skiplock: 1 });
    expect(skip.status).toBe(400);
    expect(skip.body.errors).toEqual({ skiplock: "Only root may use this option." });
    await c.waitTask(r.body.data);
  });

  it("10. clones with lock: clone until done, new MACs, Copy-of-VM name, and PVE's linked-clone and target checks", async () => {
    const src = await c.call("GET", "/nodes/pve1/qemu/9000/config");
    const vmid = nextVmid++;
    const r = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: vmid, full: 1 });
    const listing = await c.call("GET", "/cluster/resources", { type: "vm" });
    expect(listing.body.data.find((x: { vmid: number }) => x.vmid === vmid).lock).toBe("clone");
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/status/current`)).body.data.lock).toBe("clone");
    await c.waitTask(r.body.data);
    const cfg = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data;
    expect(cfg.lock).toBeUndefined();
    expect(cfg.template).toBeUndefined();
    expect(cfg.name).toBe("Copy-of-VM-debian-13-template");
    expect(cfg.net0).toMatch(/^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0,firewall=1$/);
    expect(cfg.net0).not.toBe(src.body.data.net0);
    expect(cfg.scsi0).toBe(`local-lvm:vm-${vmid}-disk-0,size=2G`);

    const linkedWithStorage = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: nextVmid, full: 0, storage: "local-lvm" });
    expect(linkedWithStorage.body.message).toBe("parameter 'storage' not allowed for linked clones\n");
    const linkedFromVm = await c.call("POST", `/nodes/pve1/qemu/${vmid}/clone`, { newid: nextVmid, full: 0 });
    expect(linkedFromVm.body.message).toBe(`Linked clone feature is not supported for 'local-lvm:vm-${vmid}-disk-0' (scsi0)\n`);
    const otherNode = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: nextVmid, target: "pve2" });
    expect(otherNode.body.message).toBe("can't clone VM to node 'pve2' (VM uses local storage)\n");
    const exists = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: vmid });
    expect(exists.body.message).toBe(`unable to create VM ${vmid}: config file already exists\n`);
  });

  it("11. keeps templates from starting or converting while running, and protects base volumes of linked clones", async () => {
    const vmid = await freshVm();
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    const running = await c.call("POST", `/nodes/pve1/qemu/${vmid}/template`);
    expect(running.body.message).toBe("you can't convert a VM to template if VM is running\n");
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/template`)).exitstatus).toBe("OK");
    const cfg = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data;
    expect(cfg.template).toBe(1);
    expect(cfg.scsi0).toBe(`local-lvm:base-${vmid}-disk-0,size=2G`);
    const again = await c.call("POST", `/nodes/pve1/qemu/${vmid}/template`);
    expect(again.body.message).toBe("you can't convert a template to a template\n");
    const linked = nextVmid++;
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/clone`, { newid: linked })).exitstatus).toBe("OK");
    const del = await runTask("DELETE", `/nodes/pve1/qemu/${vmid}`);
    expect(del.exitstatus).toBe(`base volume 'local-lvm:base-${vmid}-disk-0' is still in use by linked cloned`);
  });

  it("12. stores tags verbatim on create and normalises them on update", async () => {
    const vmid = nextVmid++;
    expect((await runTask("POST", "/nodes/pve2/qemu", { vmid, name: "tagged", tags: "Zeta,alpha;Beta" })).exitstatus).toBe("OK");
    expect((await c.call("GET", `/nodes/pve2/qemu/${vmid}/config`)).body.data.tags).toBe("Zeta,alpha;Beta");
    await c.call("PUT", `/nodes/pve2/qemu/${vmid}/config`, { tags: "Prod,web web;Alpha" });
    expect((await c.call("GET", `/nodes/pve2/qemu/${vmid}/config`)).body.data.tags).toBe("alpha;prod;web");
    const res = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data.find((x: { vmid: number }) => x.vmid === vmid);
    expect(res.tags).toBe("alpha;prod;web");
    const bad = await c.call("PUT", `/nodes/pve2/qemu/${vmid}/config`, { tags: "ok,-bad" });
    expect(bad.body.errors).toEqual({ tags: "invalid format - invalid characters in tag\n" });
  });

  it("13. round-trips config with digest, MAC generation, trimmed description and PVE's delete rules", async () => {
    const vmid = await freshVm();
    const before = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data;
    expect(before.digest).toMatch(/^[0-9a-f]{40}$/);
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { description: "hello\n\n", net1: "virtio,bridge=vmbr1,tag=20", digest: before.digest });
    const after = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data;
    expect(after.description).toBe("hello");
    expect(after.net1).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr1,tag=20$/);
    expect(after.digest).not.toBe(before.digest);
    const stale = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { cores: 3, digest: before.digest });
    expect(stale.status).toBe(500);
    expect(stale.reason).toBe("checksum mismatch (file change by other user?)");
    const unknown = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { delete: "frobnicate" });
    expect(unknown.body.errors).toEqual({ delete: "unknown option 'frobnicate'" });
    const both = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { cores: 2, delete: "cores" });
    expect(both.status).toBe(400);
    expect(both.body.errors.delete).toBe("you can't use '-cores' and -delete cores' at the same time");
    const nothing = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, {});
    expect(nothing.status).toBe(500);
    expect(nothing.body.message).toBe("no options specified\n");
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { delete: "description" });
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.description).toBeUndefined();
    const digest = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.digest;
    const asyncUpdate = await runTask("POST", `/nodes/pve1/qemu/${vmid}/config`, { cores: 3, digest });
    expect(asyncUpdate).toMatchObject({ type: "qmconfig", exitstatus: "OK" });
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.cores).toBe(3);
  });

  it("14. puts cold changes of a running VM into pending and applies fast-plug options at once", async () => {
    const vmid = await freshVm();
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { cores: 4, name: "renamed", onboot: 1 });
    const current = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`, { current: 1 })).body.data;
    expect(current.cores).toBe(2);
    expect(current.name).toBe("renamed");
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.cores).toBe(4);
    const pending = (await c.call("GET", `/nodes/pve1/qemu/${vmid}/pending`)).body.data;
    expect(pending.find((p: { key: string }) => p.key === "cores")).toEqual({ key: "cores", value: 2, pending: 4 });
    expect(pending.find((p: { key: string }) => p.key === "name")).toEqual({ key: "name", value: "renamed" });
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`, { current: 1 })).body.data.cores).toBe(4);
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
  });

  it("15. handles power-op edge cases as PVE does", async () => {
    const vmid = await freshVm();
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`)).exitstatus).toBe("OK");
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/shutdown`)).exitstatus).toBe("OK");
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`)).exitstatus).toBe(`VM ${vmid} already running`);
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/suspend`);
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/status/current`)).body.data.qmpstatus).toBe("paused");
    const paused = await c.call("POST", `/nodes/pve1/qemu/${vmid}/status/shutdown`);
    expect(paused.status).toBe(500);
    expect(paused.reason).toBe("VM is paused - cannot shutdown");
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/resume`);
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { acpi: 0 });
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/shutdown`, { timeout: 9 })).exitstatus).toBe("VM quit/powerdown failed - got timeout");
    expect((await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/shutdown`, { timeout: 9, forceStop: 1 })).exitstatus).toBe("OK");
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/status/current`)).body.data.status).toBe("stopped");
  });

  it("16. checks protection and running state before destroying, then frees the VMID", async () => {
    const vmid = await freshVm();
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { protection: 1 });
    const prot = await c.call("DELETE", `/nodes/pve1/qemu/${vmid}`);
    expect(prot.body.message).toBe(`can't remove VM ${vmid} - protection mode enabled\n`);
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { delete: "protection" });
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/start`);
    const running = await c.call("DELETE", `/nodes/pve1/qemu/${vmid}`);
    expect(running.status).toBe(500);
    expect(running.reason).toBe(`VM ${vmid} is running - destroy failed`);
    await runTask("POST", `/nodes/pve1/qemu/${vmid}/status/stop`);
    expect((await runTask("DELETE", `/nodes/pve1/qemu/${vmid}`, { purge: 1, "destroy-unreferenced-disks": 1 })).exitstatus).toBe("OK");
    expect((await c.call("GET", "/cluster/nextid", { vmid })).body.data).toBe(String(vmid));
    const vols = (await c.call("GET", "/nodes/pve1/storage/local-lvm/content", { vmid })).body.data;
    expect(vols).toEqual([]);
  });

  it("17. only grows disks, rewriting size= in the drive string", async () => {
    const vmid = await freshVm();
    expect((await runTask("PUT", `/nodes/pve1/qemu/${vmid}/resize`, { disk: "scsi0", size: "+2G" })).exitstatus).toBe("OK");
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.scsi0).toBe(`local-lvm:vm-${vmid}-disk-0,size=4G`);
    expect((await runTask("PUT", `/nodes/pve1/qemu/${vmid}/resize`, { disk: "scsi0", size: "3G" })).exitstatus).toBe("shrinking disks is not supported");
    expect((await runTask("PUT", `/nodes/pve1/qemu/${vmid}/resize`, { disk: "scsi1", size: "+1G" })).exitstatus).toBe("disk 'scsi1' does not exist");
    await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { ide2: "none,media=cdrom" });
    expect((await runTask("PUT", `/nodes/pve1/qemu/${vmid}/resize`, { disk: "ide2", size: "+1G" })).exitstatus).toBe("you can't resize a cdrom");
    expect((await runTask("PUT", `/nodes/pve1/qemu/${vmid}/resize`, { disk: "scsi0", size: "10G" })).exitstatus).toBe("OK");
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.scsi0).toBe(`local-lvm:vm-${vmid}-disk-0,size=10G`);
  });

  it("18. uploads ISOs with PVE's multipart field order and storage checks, and deletes them with a task", async () => {
    const data = Buffer.alloc(70_000, 7);
    const sha = createHash("sha256").update(data).digest("hex");
    const ok = await upload("local", [
      { name: "content", value: "iso" }, { name: "checksum-algorithm", value: "sha256" }, { name: "checksum", value: sha.toUpperCase() },
      { name: "filename", value: data, filename: "seed ä.iso" },
    ]);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.data).toMatch(/:imgcopy::root@pam!pvefleet:$/);
    expect((await c.waitTask(ok.body.data)).exitstatus).toBe("OK");
    const content = (await c.call("GET", "/nodes/pve1/storage/local/content", { content: "iso" })).body.data;
    expect(content).toContainEqual(expect.objectContaining({ volid: "local:iso/seed___.iso", content: "iso", format: "iso", size: 70_000 }));

    const wrongName = await upload("local", [{ name: "content", value: "iso" }, { name: "file", value: data, filename: "x.iso" }]);
    expect(wrongName.status).toBe(500);
    expect(wrongName.reason).toMatch(/^wrong field name 'file' for file upload, expected 'filename'/);
    const lvm = await upload("local-lvm", [{ name: "content", value: "iso" }, { name: "filename", value: data, filename: "x.iso" }]);
    expect(lvm.body.message).toBe("can't upload to storage type 'lvmthin'\n");
    const ext = await upload("local", [{ name: "content", value: "iso" }, { name: "filename", value: data, filename: "x.txt" }]);
    expect(ext.body.errors).toEqual({ filename: "wrong file extension" });
    const mismatch = await upload("local", [
      { name: "content", value: "iso" }, { name: "checksum-algorithm", value: "sha256" }, { name: "checksum", value: "00" },
      { name: "filename", value: data, filename: "y.iso" },
    ]);
    expect((await c.waitTask(mismatch.body.data)).exitstatus).toBe(`checksum mismatch: got '${sha}' != expect '00'`);

    const del = await c.call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent("local:iso/seed___.iso")}`);
    expect(del.body.data).toMatch(/:imgdel:local:/);
    expect((await c.waitTask(del.body.data)).exitstatus).toBe("OK");
    expect((await c.call("GET", "/nodes/pve1/storage/local/content")).body.data.some((v: { volid: string }) => v.volid === "local:iso/seed___.iso")).toBe(false);
  });

  it("19. requires cdrom drives to name an existing iso volume and new disks a storage with images", async () => {
    const vmid = await freshVm();
    const notIso = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { ide2: "local:vztmpl/debian.tar.zst,media=cdrom" });
    expect(notIso.status).toBe(400);
    expect(notIso.body.errors).toEqual({ ide2: "content type needs to be 'images' or 'iso'" });
    const noImages = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { scsi1: "local:4" });
    expect(noImages.body.errors).toEqual({ scsi1: "storage 'local' does not support vm images" });
    // A missing ISO is found by create_disks when it asks the volume's size (qemu-server
    // stable-bookworm Qemu.pm:697-700): unquoted, a 500 for PUT, the task's exit status for POST.
    const absent = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { ide2: "local:iso/absent.iso,media=cdrom" });
    expect(absent.status).toBe(500);
    expect(absent.body.message).toBe("volume local:iso/absent.iso does not exist\n");
    const absentPost = await c.call("POST", `/nodes/pve1/qemu/${vmid}/config`, { ide2: "local:iso/absent.iso,media=cdrom" });
    expect((await c.waitTask(absentPost.body.data)).exitstatus).toBe("volume local:iso/absent.iso does not exist");
    const none = await c.call("PUT", `/nodes/pve1/qemu/${vmid}/config`, { ide2: "none,media=cdrom", scsi1: "local-lvm:4" });
    expect(none.status).toBe(200);
    expect((await c.call("GET", `/nodes/pve1/qemu/${vmid}/config`)).body.data.scsi1).toBe(`local-lvm:vm-${vmid}-disk-1,size=4G`);
  });

  it("20. lists /cluster/resources?type=vm as qemu entries in lexicographic VMID order with lock/tags only when set", async () => {
    const data = (await c.call("GET", "/cluster/resources", { type: "vm" })).body.data as Array<Record<string, unknown>>;
    const ids = data.map((x) => String(x.vmid));
    expect(ids).toEqual([...ids].sort());
    expect(ids.indexOf("9000")).toBeGreaterThan(ids.indexOf("200"));
    for (const x of data) {
      expect(x.type).toBe("qemu");
      expect(x.id).toBe(`qemu/${x.vmid}`);
      expect(typeof x.vmid).toBe("number");
      expect([0, 1]).toContain(x.template);
      if ("tags" in x) expect(x.tags).not.toBe("");
      if ("lock" in x) expect(typeof x.lock).toBe("string");
    }
    const tpl = data.find((x) => x.vmid === 9000)!;
    expect(tpl).toMatchObject({ node: "pve1", status: "stopped", name: "debian-13-template", template: 1, maxcpu: 2, maxmem: 2147483648 });
    expect("lock" in tpl || "tags" in tpl).toBe(false);
    const nodes = (await c.call("GET", "/cluster/resources", { type: "node" })).body.data;
    expect(nodes.map((n: { id: string }) => n.id)).toEqual(["node/pve1", "node/pve2", "node/pve3"]);
  });
});
