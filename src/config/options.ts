/** Provider options (`shard.infra.options`) with their defaults; README "Provider options" documents each. */
import type { ProxmoxOptions } from "./model.js";
import type { OptionsFile } from "./schema.js";

export const DEFAULT_OPTIONS: ProxmoxOptions = {
  insecureTls: false,
  cloudInitIsoStorage: "local",
  vmidRange: { min: 10000, max: 999999999 },
  scheduler: "nstance",
  placementSpread: "group",
  // Measured against PVE's storage-allocation lock (24 full clones onto one storage): 2 → 2.0 s,
  // 4 → 1.14 s, 8 → 0.99 s, 12 → 1.0 s with lock retries. 4 takes most of the gain; more only adds
  // lock contention, and full clones on one storage also share its disk bandwidth.
  cloneConcurrencyPerStorage: 4,
  memoryHeadroom: 0.9,
  cpuOvercommit: 4,
  fullClone: true,
  shutdownTimeoutSec: 60,
  scaleDownOrder: "newest",
  maxSurge: 1,
};

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Go duration syntax ("30s", "5m", "1h30m") → seconds; throws with a one-line message. */
export function parseDurationSec(text: string): number {
  if (!/^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    throw new Error(`duration ${JSON.stringify(text)} must look like "30s", "5m" or "1h30m"`);
  }
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return total;
}

/** Options file → ProxmoxOptions; problems are returned as [option key, message]. */
export function resolveOptions(file: OptionsFile | undefined, problems: [string, string][]): ProxmoxOptions {
  const o = file ?? {};
  let shutdownTimeoutSec = DEFAULT_OPTIONS.shutdownTimeoutSec;
  if (o.shutdown_timeout !== undefined) {
    try {
      shutdownTimeoutSec = parseDurationSec(o.shutdown_timeout);
    } catch (err) {
      problems.push(["shutdown_timeout", (err as Error).message]);
    }
  }
  const vmidRange = o.vmid_range ? { min: o.vmid_range.min, max: o.vmid_range.max } : { ...DEFAULT_OPTIONS.vmidRange };
  if (vmidRange.min > vmidRange.max) problems.push(["vmid_range", `min ${vmidRange.min} is above max ${vmidRange.max}`]);
  return {
    insecureTls: o.insecure_tls ?? DEFAULT_OPTIONS.insecureTls,
    cloudInitIsoStorage: o.cloud_init_iso_storage ?? DEFAULT_OPTIONS.cloudInitIsoStorage,
    vmidRange,
    scheduler: o.scheduler ?? DEFAULT_OPTIONS.scheduler,
    placementSpread: o.placement_spread ?? DEFAULT_OPTIONS.placementSpread,
    cloneConcurrencyPerStorage: o.clone_concurrency_per_storage ?? DEFAULT_OPTIONS.cloneConcurrencyPerStorage,
    memoryHeadroom: o.memory_headroom ?? DEFAULT_OPTIONS.memoryHeadroom,
    cpuOvercommit: o.cpu_overcommit ?? DEFAULT_OPTIONS.cpuOvercommit,
    fullClone: o.full_clone ?? DEFAULT_OPTIONS.fullClone,
    shutdownTimeoutSec,
    scaleDownOrder: o.scale_down_order ?? DEFAULT_OPTIONS.scaleDownOrder,
    maxSurge: o.max_surge ?? DEFAULT_OPTIONS.maxSurge,
  };
}
