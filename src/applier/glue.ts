/**
 * The few helpers the applier borrows from src/config and the provider's codecs, behind one small
 * seam so a signature change over there is a one-file change here.
 */
import type { DesiredShard, TemplateData, UserdataSpec, VmSpec } from "../config/model.js";
import { renderUserdata } from "../config/index.js";
import { buildCloudInitIso, cloudInitFiles, isoFileName } from "../providers/proxmox/cloud-init.js";
import { composeDescription, renderNotesBlock, type NotesFields } from "../providers/proxmox/notes-block.js";
import { OWNERSHIP_TAGS, normaliseTags } from "../providers/proxmox/tags.js";

export { isoFileName, normaliseTags };

/** The three ownership tags (ARCHITECTURE.md rule 2), normalised like PVE stores them. */
export function ownershipTags(shard: DesiredShard): string[] {
  return normaliseTags(OWNERSHIP_TAGS(shard.clusterId, shard.shardId));
}

/**
 * The cloud-init ISO for one instance: userdata rendered for it (a `url` source is fetched here,
 * at create time, as Nstance does), NoCloud files, ISO 9660 bytes.
 */
export async function cloudInitIso(userdata: UserdataSpec | undefined, data: TemplateData, instanceId: string): Promise<Uint8Array> {
  const spec = { userdata } as VmSpec;
  let fetched: Uint8Array | undefined;
  if (userdata?.source === "url") {
    const res = await fetch(userdata.content);
    if (res.status !== 200) throw Object.assign(new Error(`userdata ${userdata.content}: HTTP ${res.status}`), { code: res.status >= 500 ? "NETWORK" : "USERDATA" });
    fetched = new Uint8Array(await res.arrayBuffer());
  }
  return buildCloudInitIso(cloudInitFiles(instanceId, renderUserdata(spec, data, fetched)));
}

/** The VM description: operator text kept, the managed notes block written over. */
export function describe(existing: string | undefined, notes: NotesFields): string {
  return composeDescription(existing, renderNotesBlock(notes));
}
