/**
 * Latency profiles: how long each task type runs, how long a storage lock waits, how late
 * pvestatd publishes VM stats. `realistic` follows numbers seen on real clusters
 * (~5 s per GiB for a full clone, 10 s storage-lock timeout, 10 s pvestatd cycle); `fast` is
 * `realistic` divided by 100 (tests); `instant` is zero everywhere (benchmarks of the engine).
 */
export type LatencyProfile = "instant" | "fast" | "realistic";

export interface Timings {
  /** Fixed part of every task. */
  taskBaseMs: number;
  cloneMsPerGiB: number;
  createMs: number;
  startMs: number;
  stopMs: number;
  shutdownMs: number;
  resizeMs: number;
  destroyMs: number;
  templateMs: number;
  configMs: number;
  uploadBytesPerMs: number;
  /** How long a full clone waits for the storage lock before `got timeout`. */
  storageLockTimeoutMs: number;
  /** pvestatd cycle: VM stats in /cluster/resources lag by up to this (0 = immediate). */
  statsIntervalMs: number;
  /** Delay before a 401 for bad credentials (real PVE: 3 s). */
  authFailDelayMs: number;
  /** Extra delay of a `slow` fault. */
  slowFaultMs: number;
  /** Shutdown waits this long for an ACPI-deaf guest (`acpi: 0`) unless `timeout` is given. */
  shutdownTimeoutMs: number;
  /** A volume allocation (alloc_image/clone_image), the only step run under the storage lock. */
  storageAllocMs: number;
}

const REALISTIC: Timings = {
  taskBaseMs: 1000, cloneMsPerGiB: 5000, createMs: 2000, startMs: 3000, stopMs: 1500, shutdownMs: 5000, resizeMs: 1000,
  destroyMs: 2000, templateMs: 3000, configMs: 500, uploadBytesPerMs: 100_000, storageLockTimeoutMs: 10_000,
  statsIntervalMs: 10_000, authFailDelayMs: 3000, slowFaultMs: 5000, shutdownTimeoutMs: 180_000, storageAllocMs: 1000,
};

export function timings(profile: LatencyProfile): Timings {
  if (profile === "realistic") return REALISTIC;
  if (profile === "fast") {
    const t = Object.fromEntries(Object.entries(REALISTIC).map(([k, v]) => [k, v / 100])) as unknown as Timings;
    return { ...t, uploadBytesPerMs: REALISTIC.uploadBytesPerMs * 100, statsIntervalMs: 0, authFailDelayMs: 50, slowFaultMs: 200 };
  }
  return {
    taskBaseMs: 0, cloneMsPerGiB: 0, createMs: 0, startMs: 0, stopMs: 0, shutdownMs: 0, resizeMs: 0, destroyMs: 0, templateMs: 0,
    configMs: 0, uploadBytesPerMs: Infinity, storageLockTimeoutMs: 0, statsIntervalMs: 0, authFailDelayMs: 10, slowFaultMs: 50,
    shutdownTimeoutMs: 0, storageAllocMs: 0,
  };
}
