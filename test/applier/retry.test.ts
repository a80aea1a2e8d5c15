import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { backoffMs, DEFAULT_RETRY, errorCode, maxAttempts, retryClass, sleep } from "../../src/applier/retry.js";
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

describe("retry policy: every class boundary", () => {
  const err = (code: string, message = "x", extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, ...extra });

  it("never retries what another attempt cannot change, even when it came as a 500", () => {
    for (const code of ["NOT_FOUND", "PERMISSION", "AUTH", "VALIDATION", "NOT_OURS", "CONFIG"]) {
      expect(retryClass(err(code, "can't lock file - got timeout", { status: 500 })), code).toBeUndefined();
    }
  });

  it("classes the provider's codes: lock contention apart from transient failures", () => {
    for (const code of ["LOCK_TIMEOUT", "VM_LOCKED"]) expect(retryClass(err(code)), code).toBe("lock");
    for (const code of ["NETWORK", "SERVER", "TIMEOUT", "TASK_TIMEOUT"]) expect(retryClass(err(code)), code).toBe("transient");
  });

  it("an unknown code is judged by its HTTP status: 5xx is transient except 501; 4xx is not", () => {
    expect(retryClass(err("OTHER", "x", { status: 500 }))).toBe("transient");
    expect(retryClass(err("OTHER", "x", { status: 599 }))).toBe("transient");
    expect(retryClass(err("OTHER", "x", { statusCode: 503 }))).toBe("transient");
    expect(retryClass(err("OTHER", "x", { status: 501 }))).toBeUndefined();
    expect(retryClass(err("OTHER", "x", { status: 499 }))).toBeUndefined();
    expect(retryClass(err("OTHER", "x", { status: "500" }))).toBeUndefined();
  });

  it("a failed task's lock message is contention, whatever its code; other messages are not retried", () => {
    for (const m of [
      "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout",
      "cfs-lock 'storage-local-lvm' error: got lock request timeout",
      "trying to acquire lock... got timeout",
      "VM IS LOCKED (backup)",
    ]) expect(retryClass(new Error(m)), m).toBe("lock");
    expect(retryClass("cfs-lock 'file-user_cfg' error")).toBe("lock");
    expect(retryClass(new Error("disk full"))).toBeUndefined();
    expect(retryClass(undefined)).toBeUndefined();
  });

  it("errorCode reads a string code and calls everything else UNKNOWN", () => {
    expect(errorCode(err("NETWORK"))).toBe("NETWORK");
    expect(errorCode({ code: 42 })).toBe("UNKNOWN");
    expect(errorCode(null)).toBe("UNKNOWN");
  });

  it("lock contention gets its own attempt budget", () => {
    const policy = { ...DEFAULT_RETRY, attempts: 3, lockAttempts: 7 };
    expect(maxAttempts(policy, "lock")).toBe(7);
    expect(maxAttempts(policy, "transient")).toBe(3);
  });

  it("the backoff doubles from the base: attempt n waits within [b·2ⁿ⁻¹/2, b·2ⁿ⁻¹]", () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 100_000 };
    expect([1, 2, 3, 4].map((n) => backoffMs(policy, n, () => 1))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3, 4].map((n) => backoffMs(policy, n, () => 0.5))).toEqual([75, 150, 300, 600]);
  });

  it("sleep resolves at once when already aborted, and early when aborted meanwhile", async () => {
    // Which settles first: the 60 s sleep or a 2 s marker (only an honoured abort lets the sleep win).
    const first = (p: Promise<void>) => Promise.race([p.then(() => "sleep"), new Promise((r) => setTimeout(() => r("marker"), 2000))]);
    const aborted = new AbortController();
    aborted.abort();
    expect(await first(sleep(60_000, aborted.signal))).toBe("sleep");
    const later = new AbortController();
    const waiting = sleep(60_000, later.signal);
    setTimeout(() => later.abort(), 10);
    expect(await first(waiting)).toBe("sleep");
    expect(await first(sleep(5))).toBe("sleep");
    // and without an abort it does wait: a 60 s sleep loses to the marker
    expect(await first(sleep(60_000, new AbortController().signal))).toBe("marker");
  });

  it("sleep leaves no listener on the signal, whether it ran out or was aborted", async () => {
    const kept = new AbortController();
    await sleep(1, kept.signal);
    expect(getEventListeners(kept.signal, "abort")).toHaveLength(0);
    const cut = new AbortController();
    const waiting = sleep(60_000, cut.signal);
    expect(getEventListeners(cut.signal, "abort")).toHaveLength(1);
    cut.abort();
    await waiting;
    expect(getEventListeners(cut.signal, "abort")).toHaveLength(0);
  });
});
