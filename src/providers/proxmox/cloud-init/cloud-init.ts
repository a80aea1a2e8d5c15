/**
 * The cloud-init NoCloud seed for one instance: which files it holds (Nstance's rules),
 * what the ISO is called, and the ISO itself (label `cidata`, docs/reference/pve-api.md §5). Pure: bytes in, bytes out; the upload lives with the operations.
 */
import { buildIso9660, type IsoFile } from "./iso9660.js";

export interface CloudInitSeed {
  userData: string | Uint8Array;
  metaData: string | Uint8Array;
  /** Network config v1/v2 YAML without a top-level `network:` key; omitted from the ISO when undefined. */
  networkConfig?: string | Uint8Array;
}

/** NoCloud requires this volume label (cloud-init also accepts `CIDATA`). */
export const CIDATA_LABEL = "cidata";

/**
 * Builds the seed ISO: `user-data`, `meta-data` and, when given, `network-config`, with Rock Ridge
 * and Joliet names. Same input, same bytes.
 */
export function buildCloudInitIso(seed: CloudInitSeed): Uint8Array {
  const files: IsoFile[] = [
    { name: "user-data", data: bytesOf(seed.userData) },
    { name: "meta-data", data: bytesOf(seed.metaData) },
  ];
  if (seed.networkConfig !== undefined) files.push({ name: "network-config", data: bytesOf(seed.networkConfig) });
  return buildIso9660({ volumeId: CIDATA_LABEL, files });
}

/**
 * The seed files for an instance, as Nstance writes them: user-data gets `#!/bin/bash` + LF in
 * front unless, after leading whitespace, it already starts with `#!` or `#cloud-config` (the
 * untrimmed text is kept); meta-data names the instance as both instance-id and local-hostname,
 * so cloud-init treats every new instance as a first boot.
 */
export function cloudInitFiles(instanceId: string, userData: string, networkConfig?: string): CloudInitSeed {
  const head = userData.trimStart();
  const script = head.startsWith("#!") || head.startsWith("#cloud-config") ? userData : `#!/bin/bash\n${userData}`;
  const seed: CloudInitSeed = {
    userData: script,
    metaData: `instance-id: ${instanceId}\nlocal-hostname: ${instanceId}\n`,
  };
  if (networkConfig !== undefined) seed.networkConfig = networkConfig;
  return seed;
}

/**
 * The ISO's file name on the storage. Derived from the instance ID (not the VMID, which PVE
 * reuses) so every ISO on a storage can be traced to the VM that owns it.
 */
export function isoFileName(instanceId: string): string {
  // PVE's upload normalises other characters away; refusing them keeps the name predictable.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(instanceId)) {
    throw new Error(`instance ID ${JSON.stringify(instanceId)} cannot name an ISO file`);
  }
  return `${instanceId}-cidata.iso`;
}

function bytesOf(content: string | Uint8Array): Uint8Array {
  return typeof content === "string" ? new TextEncoder().encode(content) : content;
}
