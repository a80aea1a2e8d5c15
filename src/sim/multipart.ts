/**
 * The upload body parser, streaming and order-sensitive like pve-http-server's
 * `file_upload_multipart` (pve-api.md §6): the form fields `content`, `checksum-algorithm`,
 * `checksum` are taken from the start of the body in that order (each optional), then the file part
 * must follow and be named `filename`. The file bytes are never held in memory: they are counted
 * and hashed (with the algorithm the earlier field named, which is why PVE needs that order).
 */
import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";

export interface UploadBody {
  fields: Record<string, string>;
  /** The file part's `filename="…"` attribute (becomes the `filename` parameter). */
  filename: string;
  sizeBytes: number;
  /** Hex digest with `checksum-algorithm`, when one was given and supported. */
  digest?: string;
}

/** A die inside the HTTP server: PVE answers 500 with the text as the message. */
export class UploadError extends Error {}

const FIELD_ORDER = ["content", "checksum-algorithm", "checksum"];
const HASHES: Record<string, string> = { md5: "md5", sha1: "sha1", sha224: "sha224", sha256: "sha256", sha384: "sha384", sha512: "sha512" };
const PERL_AT = " at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 1174.\n";

export async function parseUpload(body: Readable, boundary: string): Promise<UploadBody> {
  const open = Buffer.from(`--${boundary}\r\n`);
  const delim = Buffer.from(`\r\n--${boundary}`);
  let buf: Buffer = Buffer.alloc(0);
  type State = "preamble" | "headers" | "field" | "file" | "done" | "stalled";
  let state = "preamble" as State;
  let fieldName = "";
  let nextField = 0;
  const fields: Record<string, string> = {};
  let filename = "";
  let sizeBytes = 0;
  let hash: Hash | undefined;
  let failure: UploadError | undefined;

  const step = (): boolean => {
    switch (state) {
      case "preamble": {
        const i = buf.indexOf(open);
        if (i < 0) return false;
        buf = buf.subarray(i + open.length);
        state = "headers";
        return true;
      }
      case "headers": {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return false;
        const headers = buf.subarray(0, end).toString("latin1");
        buf = buf.subarray(end + 4);
        const disp = /Content-Disposition:\s*(form-data|attachment);\s*name="([^"]*)"(?:;\s*filename="([^"]*)")?/i.exec(headers);
        if (!disp) {
          state = "stalled";
          return false;
        }
        if (disp[3] !== undefined) {
          if (disp[2] !== "filename") {
            failure = new UploadError(`wrong field name '${disp[2]}' for file upload, expected 'filename'${PERL_AT}`);
            state = "stalled";
            return false;
          }
          filename = disp[3];
          const algo = HASHES[fields["checksum-algorithm"] ?? ""];
          if (algo) hash = createHash(algo);
          state = "file";
          return true;
        }
        const idx = FIELD_ORDER.indexOf(disp[2]!, nextField);
        if (idx < 0) {
          // PVE's regexes no longer match: it waits for a file part that never comes.
          state = "stalled";
          return false;
        }
        nextField = idx + 1;
        fieldName = disp[2]!;
        state = "field";
        return true;
      }
      case "field": {
        const i = buf.indexOf(delim);
        if (i < 0) return false;
        fields[fieldName] = buf.subarray(0, i).toString("utf8");
        const after = buf.subarray(i + delim.length);
        if (after.length < 2) return false;
        if (after.subarray(0, 2).toString() === "--") {
          state = "stalled";
          return false;
        }
        buf = after.subarray(after.indexOf("\r\n") + 2);
        state = "headers";
        return true;
      }
      case "file": {
        const i = buf.indexOf(delim);
        if (i >= 0) {
          const data = buf.subarray(0, i);
          sizeBytes += data.length;
          hash?.update(data);
          buf = Buffer.alloc(0);
          state = "done";
          return false;
        }
        const keep = delim.length - 1;
        if (buf.length > keep) {
          const data = buf.subarray(0, buf.length - keep);
          sizeBytes += data.length;
          hash?.update(data);
          buf = buf.subarray(buf.length - keep);
        }
        return false;
      }
      default:
        buf = Buffer.alloc(0);
        return false;
    }
  };

  for await (const chunk of body) {
    buf = buf.length === 0 ? (chunk as Buffer) : Buffer.concat([buf, chunk as Buffer]);
    while (step()) { /* consume as far as the buffer allows */ }
    if (state === "done" || state === "stalled") buf = Buffer.alloc(0);
  }
  if (failure) throw failure;
  if (state !== "done") throw new UploadError(`upload failed${PERL_AT}`);
  return { fields, filename, sizeBytes, digest: hash?.digest("hex") };
}
