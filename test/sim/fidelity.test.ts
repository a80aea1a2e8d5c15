/**
 * Simulator rules from the PVE fidelity audit that were lenient before (findings 9, 13, 14), each
 * with the PVE 8 source line it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClient, type Client } from "./helpers.js";

describe("PVE behaviours the simulator follows", () => {
  let c: Client;
  beforeAll(async () => {
    c = await startClient({
      latency: "fast",
      topology: {
        nodes: [{ name: "pve1" }],
        storages: [
          { id: "local", type: "dir", content: ["iso"], path: "/var/lib/vz" },
          { id: "local-lvm", type: "lvmthin", content: ["images"] },
        ],
        vms: { count: 2, firstVmid: 100, runningFraction: 0 },
        templates: [{ vmid: 9000, node: "pve1", storage: "local-lvm", diskGiB: 8 }],
      },
    });
  });
  afterAll(async () => c?.close());

  // pve-storage stable-8 src/PVE/API2/Storage/Status.pm:194: an unknown storage is a parameter error.
  it("answers 400 'No such storage.' for an unknown storage in the node's storage list", async () => {
    const r = await c.call("GET", "/nodes/pve1/storage", { storage: "nope" });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual({ storage: "No such storage." });
    expect((await c.call("GET", "/nodes/pve1/storage", { storage: "local" })).body.data.map((s: { storage: string }) => s.storage)).toEqual(["local"]);
  });

  // pve-storage src/PVE/Storage/Plugin.pm:1008 free_image: `warn "disk image '$path' does not exist\n"`
  // — a plain warn, not log_warn, so the task ends OK (pve-common RESTEnvironment.pm:640,749).
  it("ends the delete of a missing ISO with OK", async () => {
    const r = await c.call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent("local:iso/gone.iso")}`);
    expect(r.status).toBe(200);
    expect((await c.waitTask(r.body.data)).exitstatus).toBe("OK");
  });

  // qemu-server Qemu.pm:2528 lock_config (10 s, pve-guest-common AbstractConfig.pm:327-331); a
  // shutdown holds the VM's lock while it waits for the guest (QemuServer.pm:6774-6788).
  it("makes a config write wait for the VM lock a shutdown holds, and time out as PVE does", async () => {
    expect((await c.call("PUT", "/nodes/pve1/qemu/100/config", { acpi: 0 })).status).toBe(200);
    const start = await c.call("POST", "/nodes/pve1/qemu/100/status/start");
    expect((await c.waitTask(start.body.data)).exitstatus).toBe("OK");
    // The guest ignores ACPI: the shutdown waits its timeout (60 s → 600 ms in the fast profile) holding the lock.
    const shutdown = await c.call("POST", "/nodes/pve1/qemu/100/status/shutdown", { timeout: 60, forceStop: 1 });
    expect(shutdown.status).toBe(200);
    const post = await c.call("POST", "/nodes/pve1/qemu/100/config", { cores: 3 });
    expect(post.status).toBe(200);
    expect((await c.waitTask(post.body.data)).exitstatus).toBe("can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout");
    const put = await c.call("PUT", "/nodes/pve1/qemu/100/config", { cores: 3 });
    expect(put.status).toBe(500);
    expect(put.reason).toBe("can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout");
    expect((await c.waitTask(shutdown.body.data)).exitstatus).toBe("OK");
    // Once the shutdown is done, the write goes through.
    const again = await c.call("POST", "/nodes/pve1/qemu/100/config", { cores: 3 });
    expect((await c.waitTask(again.body.data)).exitstatus).toBe("OK");
    expect((await c.call("GET", "/nodes/pve1/qemu/100/config")).body.data.cores).toBe(3);
  });

  // qemu-server QemuServer.pm:6698 vm_stop: `$timeout = 60 if !defined($timeout)`. Compared by
  // which shutdown of two ACPI-deaf guests ends first, so the test holds whatever the machine's speed.
  it("waits 60 s by default for a guest that ignores ACPI: longer than 30 s, shorter than 90 s", async () => {
    expect((await c.call("PUT", "/nodes/pve1/qemu/101/config", { acpi: 0 })).status).toBe(200);
    const firstToEnd = async (otherTimeout: number): Promise<string> => {
      for (const vmid of [100, 101]) await c.waitTask((await c.call("POST", `/nodes/pve1/qemu/${vmid}/status/start`)).body.data);
      const [byDefault, given] = await Promise.all([
        c.call("POST", "/nodes/pve1/qemu/100/status/shutdown", { forceStop: 1 }),
        c.call("POST", "/nodes/pve1/qemu/101/status/shutdown", { forceStop: 1, timeout: otherTimeout }),
      ]);
      const first = await Promise.race([
        c.waitTask(byDefault.body.data).then(() => "default"),
        c.waitTask(given.body.data).then(() => `${otherTimeout} s`),
      ]);
      await Promise.all([c.waitTask(byDefault.body.data), c.waitTask(given.body.data)]);
      return first;
    };
    expect(await firstToEnd(90)).toBe("default");
    expect(await firstToEnd(30)).toBe("30 s");
  });

  // qemu-server QemuServer.pm:5806 (vmconfig_update_disk): `die "skip\n" if !$hotplug || $opt =~ m/(ide|sata)(\d+)/`
  // — a new IDE/SATA drive on a running VM waits for the next start; a new medium in an existing
  // CD-ROM drive is changed live (5690-5700).
  it("keeps a new IDE drive of a running VM pending, and changes an existing CD-ROM's medium at once", async () => {
    await c.waitTask((await c.call("POST", "/nodes/pve1/qemu/101/status/start")).body.data);
    const add = await c.call("POST", "/nodes/pve1/qemu/101/config", { ide2: "none,media=cdrom" });
    expect((await c.waitTask(add.body.data)).exitstatus).toBe("OK");
    const pending = (await c.call("GET", "/nodes/pve1/qemu/101/pending")).body.data as { key: string; value?: string; pending?: string }[];
    expect(pending.find((p) => p.key === "ide2")).toEqual({ key: "ide2", pending: "none,media=cdrom" });
    expect((await c.call("GET", "/nodes/pve1/qemu/101/config", { current: 1 })).body.data.ide2).toBeUndefined();
    // Stopped and started again, the drive is there; a new medium then goes in live.
    await c.waitTask((await c.call("POST", "/nodes/pve1/qemu/101/status/stop")).body.data);
    await c.waitTask((await c.call("POST", "/nodes/pve1/qemu/101/status/start")).body.data);
    const swap = await c.call("POST", "/nodes/pve1/qemu/101/config", { ide2: "cdrom,media=cdrom" });
    expect((await c.waitTask(swap.body.data)).exitstatus).toBe("OK");
    expect((await c.call("GET", "/nodes/pve1/qemu/101/config", { current: 1 })).body.data.ide2).toBe("cdrom,media=cdrom");
  });

  // qemu-server QemuServer.pm:6670-6677 _do_vm_stop: `return if !$pid;` before `check_lock`.
  it("stops and shuts down a stopped VM that is locked (a clone target) with OK", async () => {
    const clone = await c.call("POST", "/nodes/pve1/qemu/9000/clone", { newid: 150, full: 1, name: "target" });
    expect(clone.status).toBe(200);
    expect((await c.call("GET", "/nodes/pve1/qemu/150/config")).body.data.lock).toBe("clone");
    const stop = await c.call("POST", "/nodes/pve1/qemu/150/status/stop");
    const shutdown = await c.call("POST", "/nodes/pve1/qemu/150/status/shutdown");
    expect((await c.waitTask(stop.body.data)).exitstatus).toBe("OK");
    expect((await c.waitTask(shutdown.body.data)).exitstatus).toBe("OK");
    expect((await c.waitTask(clone.body.data)).exitstatus).toBe("OK");
  });
});
