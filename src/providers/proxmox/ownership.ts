/**
 * Whose a VM is, from what the listing shows (ARCHITECTURE.md rule 2): its name and its tags. Pure,
 * so the planner can be lent it (hooks.ts) without loading the HTTP client.
 */
import { OWNERSHIP_TAG } from "./codecs/tags.js";
import type { Ownership } from "../types.js";

/** Instance IDs: 3-letter kind + 26 lowercase Crockford base32 chars (Nstance's puidv7). */
export const INSTANCE_ID_RE = /^[a-z]{3}[0-9a-hj-km-np-tv-z]{26}$/;


/**
 * Ours = all three tags (`nstance`, cluster ID, shard) and an instance-ID name. The name without
 * all three tags, or all three tags without the name, is suspicious (never changed). Anything else
 * — no ownership tags, or some tags on a VM whose name is not an instance ID — is unmanaged.
 * A sibling shard's VM on the same cluster (instance-ID name, `nstance` and our cluster tag, not
 * our shard tag but another tag where its shard tag would be) is unmanaged too: it belongs to a
 * shard of the same file (`--all-shards`), and reporting it as suspicious would make every
 * shard's drift check fail forever.
 */
export function ownershipOf(vm: { name: string; tags: readonly string[] }, clusterId: string, shardId: string): Ownership {
  const tags = new Set(vm.tags);
  const cluster = clusterId.toLowerCase();
  const shard = shardId.toLowerCase();
  const allTags = tags.has(OWNERSHIP_TAG) && tags.has(cluster) && tags.has(shard);
  const nameOk = INSTANCE_ID_RE.test(vm.name);
  if (allTags && nameOk) return "ours";
  const siblingShard = nameOk && tags.has(OWNERSHIP_TAG) && tags.has(cluster) && !tags.has(shard) && tags.size > 2;
  if (siblingShard) return "unmanaged";
  if (allTags || nameOk) return "suspicious";
  return "unmanaged";
}

/**
 * PVE lists a VM whose name pvestatd has not yet republished as `VM <vmid>` (pve-api.md §2.3,
 * rule 20): for up to one status cycle after a clone or a rename the listing does not know the
 * name. `VM <vmid>` can never be a real name (PVE names are DNS names: no spaces), so it means
 * "not yet published", exactly like an empty name, and such a VM must be read by VMID before
 * anything is decided about it (ARCHITECTURE.md rule 7).
 */
export function publishedName(name: string | undefined, vmid: number): string {
  if (name === undefined || name === "" || name === `VM ${vmid}`) return "";
  return name;
}

