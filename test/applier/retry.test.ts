import { describe, expect, it } from "vitest";
import { backoffMs, DEFAULT_RETRY, retryClass } from "../../src/applier/retry.js";
import { ProxmoxError } from "../../src/providers/proxmox/api/errors.js";
import { UserError } from "../../src/errors.js";

describe("retry policy", () => {
  it("retries lock contention, network errors and 5xx, and nothing a retry cannot fix", () => {
    expect(retryClass(new ProxmoxError("LOCK_TIMEOUT", "can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout"))).toBe("lock");
    expect(retryClass(new ProxmoxError("VM_LOCKED", "VM is locked (clone)"))).toBe("lock");
    expect(retryClass(new ProxmoxError("NETWORK", "ECONNRESET"))).toBe("transient");
    expect(retryClass(new ProxmoxError("SERVER", "proxy loop detected", { status: 500 }))).toBe("transient");
    expect(retryClass(new ProxmoxError("VALIDATION", "bad cores", { status: 400 }))).toBeUndefined();
    expect(retryClass(new ProxmoxError("CONFLICT", "checksum mismatch (file change by other user?)"))).toBeUndefined();
    expect(retryClass(new UserError("STATE_CONFLICT", "someone else wrote the state"))).toBeUndefined();
  });

  it("backs off exponentially with jitter inside [d/2, d] and never past the cap", () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(policy, 1, () => 0)).toBe(50);
    expect(backoffMs(policy, 1, () => 1)).toBe(100);
    expect(backoffMs(policy, 3, () => 1)).toBe(400);
    expect(backoffMs(policy, 10, () => 1)).toBe(1000);
    expect(backoffMs(policy, 10, () => 0)).toBe(500);
  });
});
