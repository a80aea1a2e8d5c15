import { describe, expect, it } from "vitest";
import { classifyHttpError, classifyTaskFailure, codeFromMessage, ProxmoxError } from "../../../src/providers/proxmox/api/errors.js";
import { UserError } from "../../../src/errors.js";

const at = { method: "POST", path: "/nodes/pve1/qemu/100/config" };

describe("classifyHttpError", () => {
  it("reads a locked VM from PVE 8.3+'s message field", () => {
    const e = classifyHttpError({ status: 500, reason: "VM is locked (clone)", message: "VM is locked (clone)\n", ...at });
    expect(e.code).toBe("VM_LOCKED");
    expect(e.lock).toBe("clone");
  });

  it("falls back to the reason phrase when an older PVE sends no message", () => {
    const e = classifyHttpError({ status: 500, reason: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout", ...at });
    expect(e.code).toBe("LOCK_TIMEOUT");
  });

  it("turns a stale digest into CONFLICT", () => {
    expect(classifyHttpError({ status: 500, message: "checksum mismatch (file change by other user?)\n", ...at }).code).toBe("CONFLICT");
  });

  it("carries PVE's errors object on a 400", () => {
    const e = classifyHttpError({ status: 400, reason: "Parameter verification failed.", errors: { net0: "invalid format - bridge" }, ...at });
    expect(e.code).toBe("VALIDATION");
    expect(e.errors).toEqual({ net0: "invalid format - bridge" });
    expect(e.message).toContain("net0: invalid format - bridge");
  });

  it("recognises a taken VMID from nextid's 400", () => {
    const e = classifyHttpError({ status: 400, reason: "Parameter verification failed.", errors: { vmid: "VM 200 already exists" }, method: "GET", path: "/cluster/nextid" });
    expect(e.code).toBe("VMID_TAKEN");
  });

  it("recognises a taken VMID from create and clone messages", () => {
    expect(codeFromMessage("unable to create VM 100 - VM 100 already exists on node 'pve1'")?.code).toBe("VMID_TAKEN");
    expect(codeFromMessage("unable to create VM 101: config file already exists")?.code).toBe("VMID_TAKEN");
  });

  it("maps a VM on another node or a missing VM to NOT_FOUND", () => {
    const e = classifyHttpError({ status: 500, message: "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist\n", ...at });
    expect(e.code).toBe("NOT_FOUND");
  });

  it("maps 401 to AUTH and 403 to PERMISSION", () => {
    expect(classifyHttpError({ status: 401, reason: "Authentication failed!", ...at }).code).toBe("AUTH");
    expect(classifyHttpError({ status: 403, reason: "Permission check failed (/vms/100, VM.Config.CPU)", ...at }).code).toBe("PERMISSION");
  });

  it("maps proxy failures (59x) to NETWORK and unknown 500s to SERVER", () => {
    expect(classifyHttpError({ status: 595, reason: "Connection refused", ...at }).code).toBe("NETWORK");
    expect(classifyHttpError({ status: 500, message: "something odd\n", ...at }).code).toBe("SERVER");
  });

  it("is a UserError whose message is one line", () => {
    const e = classifyHttpError({ status: 500, message: "first line\nsecond line\n", ...at });
    expect(e).toBeInstanceOf(UserError);
    expect(e).toBeInstanceOf(ProxmoxError);
    expect(e.line()).not.toContain("\n");
    expect(e.line()).toContain("first line; second line");
  });
});

describe("classifyTaskFailure", () => {
  it("classifies a task ending in a clone lock as VM_LOCKED with the exitstatus", () => {
    const e = classifyTaskFailure("VM is locked (clone)", "UPID:pve1:00000001:00000002:00000003:qmstart:100:root@pam:", "qmstart");
    expect(e.code).toBe("VM_LOCKED");
    expect(e.exitstatus).toBe("VM is locked (clone)");
  });

  it("classifies a storage lock timeout in a task as LOCK_TIMEOUT", () => {
    const e = classifyTaskFailure("can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout", "u", "qmclone");
    expect(e.code).toBe("LOCK_TIMEOUT");
  });

  it("reports any other exitstatus as TASK_FAILED", () => {
    const e = classifyTaskFailure("you can't start a vm if it's a template", "u", "qmstart");
    expect(e.code).toBe("TASK_FAILED");
    expect(e.exitstatus).toBe("you can't start a vm if it's a template");
  });
});
