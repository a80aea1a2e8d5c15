/** Collects every problem of a shard file (each with its place) and the notices, then throws them together. */
import { UserError, type ErrorCode, UserErrors, type Where } from "../errors.js";
import { formatPath, type Path, type SourceMap } from "./source-map.js";

export class Problems {
  readonly errors: UserError[] = [];
  readonly notices: string[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly map: SourceMap) {}

  private text(path: Path, message: string): string {
    return path.length ? `${formatPath(path)}: ${message}` : message;
  }

  error(path: Path, message: string, opts: { where?: Where; key?: boolean; code?: ErrorCode } = {}): void {
    const where = opts.where ?? this.map.locate(path, { key: opts.key });
    const text = this.text(path, message);
    const id = `${where.line}:${where.column}:${text}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.errors.push(new UserError(opts.code ?? "E_CONFIG", text, where));
  }

  notice(path: Path, message: string, opts: { where?: Where; key?: boolean } = {}): void {
    const where = opts.where ?? this.map.locate(path, { key: opts.key });
    const line = `${where.file}:${where.line}:${where.column}: notice: ${this.text(path, message)}`;
    if (!this.notices.includes(line)) this.notices.push(line);
  }

  /** Throws every error so far (sorted by position) as one UserErrors. */
  throwIfAny(): void {
    if (this.errors.length === 0) return;
    const sorted = [...this.errors].sort((a, b) => (a.where!.line - b.where!.line) || (a.where!.column - b.where!.column));
    throw new UserErrors(sorted);
  }
}
