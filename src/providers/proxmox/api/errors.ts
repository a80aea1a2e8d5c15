/**
 * Typed Proxmox failures. Every error the provider throws is a `ProxmoxError` with a stable code,
 * classified from the HTTP status, PVE's `message` body field and — for PVE < 8.3, whose bodies
 * lack `message` — the HTTP reason phrase (pve-api.md §2.10). Task failures are classified from
 * the task's `exitstatus` with the same matchers (pve-api.md §2.7, §2.11).
 *
 * It extends UserError so the CLI prints one line; the message never contains credentials.
 */
import { UserError } from "../../../errors.js";

export type ProxmoxErrorCode =
  | "VMID_TAKEN" // the VMID is used by another guest (nextid 400, clone/create "already exists")
  | "VM_LOCKED" // `VM is locked (<lock>)`
  | "LOCK_TIMEOUT" // `can't lock file '…' - got timeout` (storage or VM config lock)
  | "NOT_FOUND" // VM/storage/volume/disk does not exist (or lives on another node)
  | "PERMISSION" // 403, or missing privileges found by the preflight
  | "AUTH" // 401: unknown token, wrong secret
  | "VALIDATION" // 400 with PVE's `errors` object, or a request we refuse to send
  | "TASK_FAILED" // a task stopped with an exitstatus other than OK / WARNINGS: n
  | "TASK_TIMEOUT" // a task was still running when our wait ended
  | "NETWORK" // connection refused/reset, TLS failure, timeout, 59x proxy failures
  | "CONFLICT" // `checksum mismatch (file change by other user?)`: stale config digest
  | "NOT_OURS" // the VM re-read before a change is not this instance (tags or name): refused, nothing sent
  | "SERVER" // any other 5xx
  | "CONFIG"; // missing environment or unreadable CA file (before any request)

export interface ProxmoxErrorDetails {
  status?: number;
  method?: string;
  path?: string;
  /** PVE's per-parameter messages (400). */
  errors?: Record<string, string>;
  /** The task's exitstatus (task failures). */
  exitstatus?: string;
  upid?: string;
  /** The lock named in `VM is locked (<lock>)`. */
  lock?: string;
}

export class ProxmoxError extends UserError {
  readonly status?: number;
  readonly method?: string;
  readonly path?: string;
  readonly errors?: Record<string, string>;
  readonly exitstatus?: string;
  readonly upid?: string;
  readonly lock?: string;

  constructor(
    override readonly code: ProxmoxErrorCode,
    message: string,
    details: ProxmoxErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(code, oneLine(message), undefined, options);
    this.name = "ProxmoxError";
    Object.assign(this, details);
  }
}

export function isProxmoxError(e: unknown, code?: ProxmoxErrorCode): e is ProxmoxError {
  return e instanceof ProxmoxError && (code === undefined || e.code === code);
}

function oneLine(s: string): string {
  return s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join("; ");
}

/**
 * Codes from an error text alone (a 500 message, a reason phrase or a task exitstatus).
 * Returns undefined when the text names no known condition.
 */
export function codeFromMessage(text: string): { code: ProxmoxErrorCode; lock?: string } | undefined {
  const locked = /VM is locked \(([\w-]+)\)/.exec(text);
  if (locked) return { code: "VM_LOCKED", lock: locked[1] };
  if (/can't lock file .*got timeout/i.test(text)) return { code: "LOCK_TIMEOUT" };
  if (/checksum mismatch \(file change by other user\?\)/.test(text)) return { code: "CONFLICT" };
  // create: `VM 100 already exists on node 'pve1'`; clone: `unable to create VM 101: config file already exists`
  if (/\b(VM|CT) \d+ already exists|config file already exists/.test(text)) return { code: "VMID_TAKEN" };
  // clone to a VMID held on another node: the task's temporary config write fails on pmxcfs
  // (qemu-server PVE/API2/Qemu.pm clone_vm `file_set_contents($conffile, "# qmclone temporary
  // file…")`; pve-common PVE/Tools.pm file_set_contents: `close (rename) atomic file '…' failed: $!`).
  if (/atomic file '[^']*\/(qemu-server|lxc)\/\d+\.conf' failed: File exists/.test(text)) return { code: "VMID_TAKEN" };
  if (/does not exist|no such (VM|volume|file|storage)/i.test(text)) return { code: "NOT_FOUND" };
  if (/^Permission check failed/i.test(text)) return { code: "PERMISSION" };
  return undefined;
}

/** Classifies a non-2xx answer. `message` is PVE ≥ 8.3's body field; `reason` is the status line. */
export function classifyHttpError(input: {
  status: number;
  reason?: string;
  message?: string;
  errors?: Record<string, string>;
  method: string;
  path: string;
}): ProxmoxError {
  const { status, method, path, errors } = input;
  const text = (input.message ?? "").trim() || (input.reason ?? "").trim() || `HTTP ${status}`;
  const where = `${method} ${path}`;
  const details: ProxmoxErrorDetails = { status, method, path, errors };

  if (status === 401) {
    return new ProxmoxError("AUTH", `Proxmox API ${where}: authentication failed (${text}); check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET`, details);
  }
  if (status === 403) return new ProxmoxError("PERMISSION", `Proxmox API ${where}: ${text}`, details);
  if (status === 400) {
    const vmidMsg = errors?.vmid;
    if (vmidMsg && /already exists/.test(vmidMsg)) return new ProxmoxError("VMID_TAKEN", `Proxmox API ${where}: ${vmidMsg}`, details);
    const list = errors ? Object.entries(errors).map(([k, v]) => `${k}: ${String(v).trim()}`).join("; ") : "";
    return new ProxmoxError("VALIDATION", `Proxmox API ${where}: ${text}${list ? ` ${list}` : ""}`, details);
  }
  // 59x: the receiving node could not proxy to the target node (pve-api.md §2.10, unverified codes).
  if (status >= 590 && status <= 599) return new ProxmoxError("NETWORK", `Proxmox API ${where}: ${text}`, details);
  const known = codeFromMessage(text);
  if (known) return new ProxmoxError(known.code, `Proxmox API ${where}: ${text}`, { ...details, lock: known.lock });
  return new ProxmoxError("SERVER", `Proxmox API ${where}: ${text}`, details);
}

/**
 * Classifies a task that stopped with an exitstatus other than OK / WARNINGS: n. The message names
 * what the task worked on — the UPID's id (a VMID for qm* tasks, the volume for imgdel) and its
 * node — because PVE's own texts often do not (`disk 'scsi0' does not exist`).
 */
export function classifyTaskFailure(exitstatus: string, upid: string, type: string): ProxmoxError {
  const known = codeFromMessage(exitstatus);
  // UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: (pve-common PVE/Tools.pm upid_decode)
  const [, node = "", , , , , id = ""] = upid.split(":");
  const subject = id === "" ? "" : /^\d+$/.test(id) ? ` for VM ${id}` : ` for ${id}`;
  const where = node === "" ? "" : ` on node ${node}`;
  return new ProxmoxError(known?.code ?? "TASK_FAILED", `Proxmox task ${type}${subject}${where} failed: ${exitstatus}`, {
    exitstatus,
    upid,
    lock: known?.lock,
  });
}

/** Node's network error codes we turn into NETWORK (undici wraps them as `cause`). */
export function classifyNetworkError(e: unknown, method: string, path: string): ProxmoxError {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code ?? "";
  const reason = err.cause?.message ?? err.message ?? String(e);
  const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code + reason);
  const hint = tls ? " (TLS verification failed: set PROXMOX_CA_FILE or insecure_tls)" : "";
  return new ProxmoxError("NETWORK", `Proxmox API ${method} ${path}: ${code ? `${code} ` : ""}${reason}${hint}`, { method, path }, { cause: e });
}
