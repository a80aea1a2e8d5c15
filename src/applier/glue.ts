/**
 * The few helpers the applier borrows from src/config and the provider's codecs, behind one small
 * seam so a signature change over there is a one-file change here.
 */
import type { DesiredGroup, DesiredShard } from "../config/model.js";
import { renderUserdata, templateDataFor } from "../config/index.js";
import { buildCloudInitIso, cloudInitFiles, isoFileName } from "../providers/proxmox/cloud-init.js";
import { composeDescription, renderNotesBlock } from "../providers/proxmox/notes-block.js";

export { isoFileName };

/** The three ownership tags (ARCHITECTURE.md rule 2), normalised like PVE stores them. */
export function ownershipTags(shard: DesiredShard): string[] {
  return normaliseTags(["nstance", shard.clusterId, shard.shardId]);
}

/** Split on , ; and space, lower-case, sorted, de-duplicated (the LiveVm.tags contract). */
export function normaliseTags(tags: string[]): string[] {
  const out = new Set<string>();
  for (const t of tags) for (const part of t.split(/[,; ]+/)) if (part) out.add(part.toLowerCase());
  return [...out].sort();
}

/** The cloud-init ISO for one instance: userdata rendered for it, NoCloud files, ISO 9660 bytes. */
export async function cloudInitIso(shard: DesiredShard, group: DesiredGroup, instanceId: string): Promise<{ filename: string; bytes: Uint8Array }> {
  const userData = await renderUserdata(group.spec, templateDataFor(shard, group, instanceId));
  const bytes = await buildCloudInitIso(cloudInitFiles(instanceId, userData));
  return { filename: isoFileName(instanceId), bytes };
}

/** The VM description: operator text kept, the managed notes block written over. */
export function describe(existing: string, shard: DesiredShard, group: DesiredGroup, instanceId: string, createdAt: string): string {
  return composeDescription(existing, renderNotesBlock({ group: `${group.ref.tenant}.${group.ref.group}`, kind: group.spec.kind, created: createdAt, instanceId, shard }));
}
