/**
 * Cloud-init ISO build time (buildCloudInitIso) for 1 KiB and 3 MiB of user-data.
 * Run: npx tsx bench/iso.ts
 */
import { buildCloudInitIso, cloudInitFiles } from "../src/providers/proxmox/cloud-init/cloud-init.js";

function bench(label: string, userData: string, iterations: number): void {
  const seed = cloudInitFiles("tst06dx9xy919t3v9kzd2xdsyzb3g", userData, "version: 2\n");
  for (let i = 0; i < Math.min(5, iterations); i++) buildCloudInitIso(seed); // warm-up
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    bytes = buildCloudInitIso(seed).length;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const p95 = times[Math.floor(times.length * 0.95)];
  console.log(`${label.padEnd(16)} image ${String(bytes).padStart(8)} bytes  median ${median.toFixed(3)} ms  p95 ${p95.toFixed(3)} ms  (${iterations} builds)`);
}

const line = "echo 'pvefleet bench line of user-data'\n";
bench("1 KiB user-data", `#!/bin/bash\n${line.repeat(Math.ceil(1024 / line.length))}`.slice(0, 1024), 2000);
bench("3 MiB user-data", `#!/bin/bash\n${line.repeat(Math.ceil((3 * 1024 * 1024) / line.length))}`.slice(0, 3 * 1024 * 1024), 40);
