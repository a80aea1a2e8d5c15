/**
 * Errors a person can act on. The CLI prints `UserError`s as one line (with `file:line:col` when
 * there is a place) and exits 1; anything else is a bug and keeps its stack and cause.
 */
export interface Where {
  file: string;
  line: number;
  column: number;
}

/**
 * Every error code pvefleet reports, in one place. The codes are a published interface — scripts
 * match on them in `apply --json` events and error lines — so their spelling is kept as released:
 * `E_*` for input, plan and usage errors; the provider's bare codes (`NOT_FOUND`, `VM_LOCKED`, …,
 * as PVE conditions); `STATE_*`/`LOCK_*` for the state store. A code not listed here does not
 * compile.
 */
export const ERROR_CODES = [
  // input, configuration, usage
  "E_USAGE", "E_FLAG", "E_ARGS", "E_DURATION", "E_CONFIRM", "E_APPROVE", "E_NO_CONFIG", "E_CONFIG", "E_CONFIG_FORMAT", "E_CONFIG_READ",
  "E_CONFIG_URL", "E_READ", "E_WRITE", "E_EXISTS", "E_SYNTAX", "E_SCHEMA", "E_TEMPLATE", "E_NESTING", "E_SIZE", "E_SHARD_ID",
  "E_NOTES_TOO_LONG", "E_MULTIPLE", "E_STORAGE", "E_BUCKET", "E_PREFIX", "E_S3_URL", "E_S3_READ", "E_GCS_URL", "E_GCS_READ",
  // planning and saved plans
  "E_TARGET", "E_PLACEMENT", "E_CAPACITY", "E_VMID", "E_DISK_SIZE", "E_STATE_MISMATCH", "E_STATE_EMPTY", "E_PLAN_GRAPH", "E_PLAN_FILE",
  "E_PLAN_STALE", "E_PLAN_LINEAGE", "E_PLAN_MISMATCH", "E_PLAN_TAMPERED", "E_PLAN_KEY", "PLAN_INVALID", "E_PREFLIGHT",
  // the simulator's command line
  "E_TOPOLOGY", "E_NODES_FILE", "E_SIM_STATE", "E_SIM_TOKEN", "E_SIM_PORT", "E_FAULTS",
  // the provider (PVE conditions)
  "VMID_TAKEN", "VM_LOCKED", "LOCK_TIMEOUT", "NOT_FOUND", "PERMISSION", "AUTH", "VALIDATION", "TASK_FAILED", "TASK_TIMEOUT",
  "NETWORK", "CONFLICT", "SERVER", "CONFIG", "NOT_OURS",
  // the applier
  "VM_CHANGED", "DEPENDENCY_FAILED",
  // the state store and its lock
  "STATE_CONFLICT", "STATE_CORRUPT", "STATE_IO", "STATE_SERIAL", "STATE_VERSION", "STATE_LINEAGE", "STATE_MISMATCH", "STATE_NO_INSTANCE",
  "STATE_LOCKED", "STATE_S3", "STATE_GCS", "S3_NO_PRECONDITIONS", "GCS_NO_PRECONDITIONS",
  "LOCK_LOST", "LOCK_CORRUPT", "LOCK_NOT_FOUND", "LOCK_ID_MISMATCH", "LOCK_CHANGED",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class UserError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly where?: Where,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UserError";
  }

  /** The one line the CLI prints. */
  line(): string {
    return this.where ? `${this.where.file}:${this.where.line}:${this.where.column}: ${this.message}` : this.message;
  }
}

/** Several problems found at once (e.g. every validation error of a shard file). */
export class UserErrors extends UserError {
  constructor(readonly problems: UserError[]) {
    super(problems[0]?.code ?? "E_MULTIPLE", problems.map((p) => p.line()).join("\n"));
    this.name = "UserErrors";
  }
  override line(): string {
    return this.message;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
