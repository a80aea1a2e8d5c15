/**
 * Files the CLI reads and writes besides the shard file: saved plans (`plan --out`, `show FILE`,
 * `apply FILE`) and pushed state documents (`state push FILE`). Every failure is one line naming
 * the file — never an errno stack trace — and an input is read only when it is a regular file of
 * bounded size and nesting (a FIFO, `/dev/zero` or a 5,000-deep document must not hang or crash).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { UserError, type ErrorCode } from "../errors.js";
import { readBoundedFile } from "../config/read-file.js";
import { assertJsonNesting } from "../config/limits.js";

/**
 * A saved plan is about 4 KiB per created VM plus its rendered userdata, so 20,000 creates with
 * small userdata fit in ~100 MiB; 256 MiB stays well under V8's largest string (~512 MiB).
 */
export const MAX_PLAN_FILE_BYTES = 256 * 1024 * 1024;
/** A state document is about 500 bytes per instance (10,000 instances ≈ 5 MiB). */
export const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024;

/** Reads a JSON input (a saved plan, a state document) as text: regular file, size cap, nesting cap. */
export async function readJsonInput(file: string, o: { what: string; maxBytes: number; code: ErrorCode }): Promise<string> {
  const bytes = await readBoundedFile(file, { maxBytes: o.maxBytes, code: o.code, label: `cannot read ${o.what} ${file}` });
  const text = bytes.toString("utf8");
  assertJsonNesting(file, text);
  return text;
}

/**
 * Checks before any work that `file` can be written: its directory exists and is a directory, and
 * `file` itself is not a directory. (The write can still fail later — a full disk — and then
 * `writeError` makes that one line too.)
 */
export async function checkWritable(file: string, flag: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const d = await fs.stat(dir).catch(() => undefined);
  if (!d) throw new UserError("E_WRITE", `${flag} ${file}: directory ${dir} does not exist`);
  if (!d.isDirectory()) throw new UserError("E_WRITE", `${flag} ${file}: ${dir} is not a directory`);
  const f = await fs.stat(file).catch(() => undefined);
  if (f?.isDirectory()) throw new UserError("E_WRITE", `${flag} ${file}: is a directory; name a file inside it`);
  if (f && !f.isFile()) throw new UserError("E_WRITE", `${flag} ${file}: is not a regular file`);
}

/** A failed write as one line. */
export function writeError(file: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = {
    ENOENT: "the directory does not exist",
    EISDIR: "is a directory",
    EACCES: "permission denied",
    EPERM: "permission denied",
    ENOSPC: "no space left on the device",
    EROFS: "read-only file system",
    ENOTDIR: "a part of the path is not a directory",
  };
  return new UserError("E_WRITE", `cannot write ${file}: ${(code && why[code]) ?? code ?? (e as Error)?.message ?? String(e)}`, undefined, { cause: e });
}
