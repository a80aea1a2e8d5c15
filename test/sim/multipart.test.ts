/**
 * The upload parser streams: the result must not depend on how the body is cut into chunks, and it
 * enforces pve-http-server's field order.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseUpload } from "../../src/sim/multipart.js";

const B = "XyZboundary";
function body(parts: Array<[name: string, value: string | Buffer, filename?: string]>): Buffer {
  const out: Buffer[] = [];
  for (const [name, value, filename] of parts) {
    out.push(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n${filename ? "Content-Type: application/octet-stream\r\n" : ""}\r\n`));
    out.push(Buffer.isBuffer(value) ? value : Buffer.from(value), Buffer.from("\r\n"));
  }
  out.push(Buffer.from(`--${B}--\r\n`));
  return Buffer.concat(out);
}

function chunked(buf: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) chunks.push(buf.subarray(i, i + size));
  return Readable.from(chunks);
}

describe("multipart upload parser", () => {
  // File content that contains CRLF and a near-boundary, to catch naive splitting.
  const file = Buffer.concat([Buffer.from(`\r\n--${B.slice(0, 5)}`), Buffer.alloc(5000, 0xab), Buffer.from("\r\n-")]);
  const md5 = createHash("md5").update(file).digest("hex");
  const good = body([["content", "iso"], ["checksum-algorithm", "md5"], ["checksum", md5], ["filename", file, "a.iso"]]);

  it.each([1, 7, 64, 4096, good.length])("gives the same fields, size and digest with %i-byte chunks", async (size) => {
    const r = await parseUpload(chunked(good, size), B);
    expect(r).toEqual({ fields: { content: "iso", "checksum-algorithm": "md5", checksum: md5 }, filename: "a.iso", sizeBytes: file.length, digest: md5 });
  });

  it("refuses a file part not named 'filename'", async () => {
    await expect(parseUpload(chunked(body([["content", "iso"], ["upload", file, "a.iso"]]), 100), B)).rejects.toThrow(/^wrong field name 'upload' for file upload, expected 'filename'/);
  });

  it("fails like PVE when the fields come in another order or the body is cut short", async () => {
    await expect(parseUpload(chunked(body([["checksum", "x"], ["content", "iso"], ["filename", file, "a.iso"]]), 100), B)).rejects.toThrow(/^upload failed/);
    await expect(parseUpload(chunked(good.subarray(0, good.length - 30), 100), B)).rejects.toThrow(/^upload failed/);
  });
});
