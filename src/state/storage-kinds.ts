/** The state backends `--storage` accepts (the CLI's choices and the store factory read this list). */
export const STORAGE_KINDS = ["file", "s3", "gcs"] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];
