/**
 * The one failure every backend reports the same way: a conditional write lost. `exists` = a
 * create-only write found the key; `changed` = the version moved; `gone` = an If-Match write found
 * no object (S3 answers 404 or 412 there; RGW 412).
 */
export class StoreConflictError extends Error {
  constructor(
    readonly key: string,
    readonly reason: "exists" | "changed" | "gone" | "lost",
    options?: { cause?: unknown },
  ) {
    super(`conditional write of ${key} lost (${reason})`, options);
    this.name = "StoreConflictError";
  }
}

export function isStoreConflict(e: unknown): e is StoreConflictError {
  return e instanceof StoreConflictError;
}
