/**
 * The bounds on input, in one place (README "Limits" documents each and says why). Every recursive
 * step that reads a file — jsonc-parser, the JSONC value walk, hcl2json, the Go-template parser and
 * executor, zod — uses the JS stack, so nesting is checked *before* that code runs, by a flat scan.
 */
import { UserError, type Where } from "../errors.js";
import { LineIndex } from "./source-map.js";

/**
 * Deepest nesting of brackets in a shard file, a saved plan or a state document, and of
 * `{{ if }}`/`{{ else if }}`/parentheses in one Go template. A real shard file nests about 8 deep;
 * V8's default stack overflows somewhere between 1,500 and 2,000 levels in the parsers, so 256
 * leaves room both ways.
 */
export const MAX_NESTING = 256;

/** Largest shard file read (`-c`): 16 MiB, far above any real shard (a group of 10,000 VMs is one `size` number). */
export const MAX_SHARD_FILE_BYTES = 16 * 1024 * 1024;

/** Most instances one group may ask for (`size`). */
export const MAX_GROUP_SIZE = 10_000;

/** Most instances one shard may ask for, summed over its groups (twice the 10,000-VM design point). */
export const MAX_SHARD_INSTANCES = 20_000;

/** Largest userdata after decoding (base64, gzip) and after rendering: 1 MiB. */
export const MAX_USERDATA_BYTES = 1024 * 1024;

export function nestingMessage(limit = MAX_NESTING): string {
  return `nesting deeper than ${limit}`;
}

/**
 * The offset of the first `[` or `{` that opens level `limit + 1` of a JSON or JSONC text, or -1.
 * Strings (with escapes) and, for JSONC, `//` and `/* *\/` comments are skipped; the scan never
 * fails on malformed text (the parser reports that afterwards).
 */
export function jsonNestingOffset(text: string, limit = MAX_NESTING): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22 || d === 0x0a) break;
      }
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? n : end;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth > 0) depth--;
    }
  }
  return -1;
}

/** Throws `file:line:col: nesting deeper than N` when a JSON/JSONC text nests too deep. */
export function assertJsonNesting(file: string, text: string, limit = MAX_NESTING): void {
  const at = jsonNestingOffset(text, limit);
  if (at >= 0) throw new UserError("E_NESTING", nestingMessage(limit), whereIn(file, text, at));
}

export function whereIn(file: string, text: string, offset: number): Where {
  return new LineIndex(text).where(file, offset);
}
