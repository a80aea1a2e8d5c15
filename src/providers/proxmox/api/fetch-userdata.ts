/**
 * Userdata given as a URL, fetched at create time as Nstance does: with a timeout, and no more bytes
 * than the userdata cap (compressed or not) — a larger answer is refused, never buffered whole.
 * In api/ because only this folder speaks HTTP (test/architecture.test.ts).
 */
import { request } from "undici";
import { MAX_USERDATA_BYTES } from "../../../config/limits.js";
import { ProxmoxError } from "./errors.js";

const USERDATA_FETCH_TIMEOUT_MS = 30_000;

export async function fetchUserdata(url: string): Promise<Uint8Array> {
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { headersTimeout: USERDATA_FETCH_TIMEOUT_MS, bodyTimeout: USERDATA_FETCH_TIMEOUT_MS });
  } catch (e) {
    throw new ProxmoxError("NETWORK", `userdata ${url}: ${(e as Error).message}`, {}, { cause: e });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new ProxmoxError(res.statusCode >= 500 ? "NETWORK" : "VALIDATION", `userdata ${url}: HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_USERDATA_BYTES) {
      res.body.destroy();
      throw new ProxmoxError("VALIDATION", `userdata ${url}: larger than ${MAX_USERDATA_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
