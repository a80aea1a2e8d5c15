/**
 * Instance IDs: a 3-letter kind followed by a puidv7 — a UUIDv7 written as unpadded base32 in
 * RFC 4648 bit order with the lowercase Crockford alphabet (Nstance's puidv7). 29 characters that
 * sort by creation time as plain strings, because the alphabet is ASCII-ascending and a UUIDv7
 * leads with its millisecond timestamp.
 */
import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
export const INSTANCE_ID_RE = /^[a-z]{3}[0-9a-hj-km-np-tv-z]{26}$/;
export const KIND_RE = /^[a-z]{3}$/;

const DECODE: Record<string, number> = {};
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET[i]!] = i;
// Crockford's lenient reading: i and l look like 1, o like 0.
DECODE.i = 1;
DECODE.l = 1;
DECODE.o = 0;

function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  // RFC 4648 bit order pads the *last* character with zero bits (unlike ULID, which pads the first).
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = DECODE[ch];
    if (v === undefined) return undefined;
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 255);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Uint8Array.from(out);
}

function uuidString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${JSON.stringify(uuid)}`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Encodes a kind and the 16 bytes (or the hyphenated text) of a UUID as an instance ID. */
export function encodeInstanceId(kind: string, uuid: Uint8Array | string): string {
  if (!KIND_RE.test(kind)) throw new Error(`invalid prefix ${JSON.stringify(kind)}: must be 3 lowercase letters`);
  const bytes = typeof uuid === "string" ? uuidBytes(uuid) : uuid;
  if (bytes.length !== 16) throw new Error(`a UUID has 16 bytes, got ${bytes.length}`);
  return kind + base32(bytes);
}

/** Splits an instance ID into its kind, UUID and the creation time the UUIDv7 carries. */
export function decodeInstanceId(instanceId: string): { kind: string; uuid: string; timestampMs: number } {
  const normalised = instanceId.toLowerCase().replace(/[\s-]/g, "");
  const kind = normalised.slice(0, 3);
  const body = normalised.slice(3);
  const bytes = KIND_RE.test(kind) && body.length === 26 ? unbase32(body) : undefined;
  if (!bytes || bytes.length !== 16) throw new Error(`invalid instance ID ${JSON.stringify(instanceId)}: expected 3 letters and 26 base32 characters`);
  let timestampMs = 0;
  for (let i = 0; i < 6; i++) timestampMs = timestampMs * 256 + bytes[i]!;
  return { kind, uuid: uuidString(bytes), timestampMs };
}

let lastMs = -1;
let lastSeq = 0;

/** Random bytes drawn 4 KiB at a time (a plan of 10,000 creates made one system call per ID). */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

function random10(): Uint8Array {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 10;
  return pool.subarray(poolAt - 10, poolAt);
}

/**
 * A fresh instance ID. Within one process IDs are strictly increasing even inside one millisecond:
 * the 12 `rand_a` bits act as a counter (RFC 9562 §6.2 method 1), seeded with 11 random bits so a
 * burst of 2,048+ IDs still has room before borrowing the next millisecond.
 * Passing `random` (16 bytes, only bytes 6–15 are used) makes the result deterministic and skips the counter.
 */
export function newInstanceId(kind: string, now: number = Date.now(), random?: Uint8Array): string {
  const bytes = new Uint8Array(16);
  let ms = Math.floor(now);
  let seq: number;
  if (random) {
    if (random.length < 16) throw new Error("random must hold 16 bytes");
    bytes.set(random.subarray(6, 16), 6);
    seq = ((random[6]! & 0x0f) << 8) | random[7]!;
  } else {
    bytes.set(random10(), 6);
    if (ms > lastMs) {
      seq = ((bytes[6]! & 0x07) << 8) | bytes[7]!;
    } else {
      ms = lastMs;
      seq = lastSeq + 1;
      if (seq > 0xfff) {
        ms += 1;
        seq = 0;
      }
    }
    lastMs = ms;
    lastSeq = seq;
  }
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (seq >> 8);
  bytes[7] = seq & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  return encodeInstanceId(kind, bytes);
}
