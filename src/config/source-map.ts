/**
 * Positions in a shard file. Every problem found in a shard file is reported as `file:line:col`;
 * a SourceMap turns a model path (`["groups", "default", "web", "size"]`) into that place.
 */
import type { Where } from "../errors.js";

export type Path = (string | number)[];

export interface SourceMap {
  file: string;
  /** The value at `path` (or its key, with `key`), else the nearest ancestor that exists. */
  locate(path: Path, opts?: { key?: boolean }): Where;
  /** Character `index` of the string `value` found at `path`. */
  locateInString(path: Path, index: number, value?: string): Where;
}

/** Turns offsets into 1-based line and column. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  where(file: string, offset: number): Where {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: o - this.starts[lo]! + 1 };
  }
  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line - 1, this.starts.length - 1))]!;
  }
}

/** `groups.default.web` — how a path is printed in messages. */
export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z0-9_-]+$/.test(p) ? (i ? "." : "") + p : `[${JSON.stringify(p)}]`)).join("");
}
