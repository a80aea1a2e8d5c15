/**
 * Placement throughput: VMs placed per second through the ledger on a 64-node cluster, for both
 * schedulers (each placement ranks every candidate node with TOPSIS and books the VM).
 * Run: npx tsx bench/topsis.ts
 */
import { createPlacementLedger, type SchedulerName } from "../src/providers/proxmox/placement/ledger.js";
import type { LiveNode } from "../src/providers/proxmox/types.js";

const GiB = 1024 ** 3;
const NODES = 64;

function cluster(): LiveNode[] {
  // Deterministic spread of sizes and loads.
  return Array.from({ length: NODES }, (_, i) => ({
    node: `pve${String(i + 1).padStart(2, "0")}`,
    online: true,
    maxcpu: 16 + (i % 4) * 16,
    cpu: ((i * 37) % 100) / 200,
    maxmem: (128 + (i % 3) * 128) * GiB,
    mem: (((i * 53) % 100) / 200) * 128 * GiB,
  }));
}

function bench(scheduler: SchedulerName, placements: number): void {
  const ledger = createPlacementLedger(cluster(), scheduler);
  const t0 = performance.now();
  for (let i = 0; i < placements; i++) {
    const r = ledger.place({ cores: 2, memoryBytes: 2 * GiB });
    if ("error" in r) throw new Error(r.error);
  }
  const ms = performance.now() - t0;
  console.log(`${scheduler.padEnd(10)} ${NODES} nodes  ${placements} placements in ${ms.toFixed(1)} ms  ${Math.round((placements / ms) * 1000)} placements/s`);
}

bench("nstance", 200); // warm-up
bench("nstance", 2000);
bench("pve-static", 50); // warm-up
bench("pve-static", 500);
