/**
 * VM tags as Proxmox stores them (reference/pve-api.md §2.1) and the three ownership tags
 * (ARCHITECTURE.md rule 2). Compare tags only after `normaliseTags`, the way PVE's
 * `get_unique_tags` stores them, or every plan shows drift.
 */

/** `$PVE_TAG_RE`, case-insensitive: letters, digits, `_ - + .`, not starting with `- + .`. */
export const TAG_PATTERN = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

/** The tag every pvefleet / Nstance VM carries. */
export const OWNERSHIP_TAG = "nstance";

/** `nstance`, the cluster ID and the shard ID, in that order (Nstance writes them so). */
export function OWNERSHIP_TAGS(clusterId: string, shardId: string): string[] {
  return [OWNERSHIP_TAG, clusterId, shardId];
}

/** True when all three ownership tags are present (tags compared case-insensitively). */
export function hasOwnershipTags(tags: string | string[], clusterId: string, shardId: string): boolean {
  const have = new Set(normaliseTags(tags));
  return OWNERSHIP_TAGS(clusterId, shardId).every((t) => have.has(t.toLowerCase()));
}

/** PVE's `split_list`: `,` and `;` count as spaces, then split on runs of whitespace. */
export function splitTagList(value: string): string[] {
  return value.replace(/[,;]/g, " ").split(/\s+/).filter((t) => t !== "");
}

/**
 * `get_unique_tags` with datacenter defaults (alphabetical, case-insensitive): split, sort by the
 * lower-cased value, lower-case, drop duplicates. `"Prod,web web"` → `["prod", "web"]`.
 */
export function normaliseTags(tags: string | string[]): string[] {
  const list = (typeof tags === "string" ? [tags] : tags).flatMap(splitTagList).map((t) => t.toLowerCase());
  list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return list.filter((t, i) => i === 0 || t !== list[i - 1]);
}

/** The `tags` value to send: normalised and joined with `;` as PVE stores it. */
export function formatTags(tags: string[]): string {
  return normaliseTags(tags).join(";");
}

/** The tags that do not match PVE's tag syntax (PVE answers `invalid characters in tag` for them). */
export function invalidTags(tags: string | string[]): string[] {
  return (typeof tags === "string" ? [tags] : tags).flatMap(splitTagList).filter((t) => !TAG_PATTERN.test(t));
}

/** Operator tags kept, ownership tags added: the full list to store on a VM we own. */
export function withOwnershipTags(existing: string | string[], clusterId: string, shardId: string): string[] {
  const current = typeof existing === "string" ? [existing] : existing;
  return normaliseTags([...current, ...OWNERSHIP_TAGS(clusterId, shardId)]);
}

/** True when both lists store the same value in PVE. */
export function sameTags(a: string | string[], b: string | string[]): boolean {
  return formatTags(typeof a === "string" ? [a] : a) === formatTags(typeof b === "string" ? [b] : b);
}
