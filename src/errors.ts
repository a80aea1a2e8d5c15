/**
 * Errors a person can act on. The CLI prints `UserError`s as one line (with `file:line:col` when
 * there is a place) and exits 1; anything else is a bug and keeps its stack and cause.
 */
export interface Where {
  file: string;
  line: number;
  column: number;
}

export class UserError extends Error {
  constructor(
    readonly code: string,
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
