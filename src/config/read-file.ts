/**
 * Reading an input file of bounded size: a shard file here, and through the CLI's `files.ts` a
 * saved plan or a pushed state document. Only a regular file is read — a FIFO would block forever
 * and `/dev/zero` would fill memory — and never more than `maxBytes`: the size is checked with
 * stat before the open, and again while reading in case the file grows in between.
 */
import { constants as fsc, promises as fs } from "node:fs";
import { UserError, type ErrorCode } from "../errors.js";

export interface ReadBoundedOptions {
  maxBytes: number;
  /** UserError code (default E_READ). */
  code?: ErrorCode;
  /** Prefix of every message (default: the path), e.g. "cannot read plan file p.json". */
  label?: string;
}

export async function readBoundedFile(path: string, opts: ReadBoundedOptions): Promise<Buffer> {
  const code = opts.code ?? "E_READ";
  const label = opts.label ?? path;
  const fail = (why: string, cause?: unknown) => new UserError(code, `${label}: ${why}`, undefined, { cause });
  const st = await fs.stat(path).catch((e: unknown) => {
    throw fail(errnoText(e), e);
  });
  if (!st.isFile()) throw fail(kindText(st));
  if (st.size > opts.maxBytes) throw fail(tooBig(st.size, opts.maxBytes));
  // O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not wait for a writer.
  const fh = await fs.open(path, fsc.O_RDONLY | fsc.O_NONBLOCK).catch((e: unknown) => {
    throw fail(errnoText(e), e);
  });
  try {
    const again = await fh.stat();
    if (!again.isFile()) throw fail(kindText(again));
    const buf = Buffer.alloc(Math.min(opts.maxBytes, Math.max(again.size, 0)) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buf.length) {
        if (filled > opts.maxBytes) throw fail(tooBig(filled, opts.maxBytes));
        break;
      }
    }
    return buf.subarray(0, filled);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw fail(errnoText(e), e);
  } finally {
    await fh.close();
  }
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EISDIR":
      return "is a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "ELOOP":
      return "too many symbolic links";
    default:
      return code ?? String((e as Error)?.message ?? e);
  }
}

function kindText(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return "is a directory";
  const kind = st.isFIFO() ? "a FIFO" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : st.isSocket() ? "a socket" : undefined;
  return kind ? `is ${kind}, not a regular file` : "is not a regular file";
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / 1024 / 1024).toFixed(1))} MiB`;
  if (n >= 1024) return `${Number((n / 1024).toFixed(1))} KiB`;
  return `${n} bytes`;
}

function tooBig(size: number, max: number): string {
  return `file is larger than ${formatBytes(max)}${size > max + 1 ? ` (${formatBytes(size)})` : ""}, the limit for this input`;
}
