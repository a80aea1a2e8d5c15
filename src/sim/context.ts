/**
 * What every endpoint handler is given: the cluster, the task runner, the timings, and the
 * request's validated parameters. Handlers throw `PveError` for synchronous failures (500/400/403)
 * and `TaskError` inside task bodies.
 */
import type { Cluster } from "./cluster.js";
import type { TaskContext, TaskManager } from "./tasks.js";
import type { Timings } from "./profiles.js";
import type { Errors, Params } from "./validate.js";
import type { UploadBody } from "./multipart.js";
import type { LockTable } from "./locks.js";
import type { ApiSchema, SchemaProp } from "./schema.js";

export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Errors,
  ) {
    super(message);
  }
}

/** A Perl `die "…\n"` outside a worker: HTTP 500 with the text. */
export function fail(message: string): PveError {
  return new PveError(500, message);
}

/** raise_param_exc: HTTP 400 `Parameter verification failed.` with an errors object. */
export function paramFail(errors: Errors): PveError {
  return new PveError(400, "Parameter verification failed.", errors);
}

export interface ApiRequest {
  method: string;
  params: Params;
  /** `user@realm!tokenid` of the caller. */
  user: string;
  /** A `taskfail` fault was drawn for this request: its worker fails with this exit status. */
  taskFail?: string;
  upload?: UploadBody;
}

export interface TaskSpec {
  node: string;
  type: string;
  id: string;
  body: (ctx: TaskContext) => Promise<void>;
  /** Undo what the synchronous part prepared (e.g. the clone target) when the task fails. */
  onFail?: () => void;
}

export interface SimContext {
  cluster: Cluster;
  tasks: TaskManager;
  timings: Timings;
  locks: LockTable;
  /** PUT …/qemu/{vmid}/config's properties: what `option_exists` knows. */
  vmConfigOptions: Record<string, SchemaProp>;
  schema: ApiSchema;
  /** Starts a worker and returns its UPID; honours the request's `taskfail` fault. */
  spawn(req: ApiRequest, spec: TaskSpec): string;
}

export type Handler = (sim: SimContext, req: ApiRequest) => unknown;
