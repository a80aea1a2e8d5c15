/**
 * What the planner borrows from Proxmox (the contract's PlanningHooks): ownership, the ownership
 * tags, the managed notes block, TOPSIS placement and PVE's size syntax. Every import here is pure,
 * so handing these to the planner never loads the HTTP client (test/architecture.test.ts).
 */
import type { PlanningHooks } from "../types.js";
import { composeDescription, parseNotesBlock, renderNotesBlock } from "./codecs/notes-block.js";
import { INSTANCE_ID_RE, ownershipOf } from "./ownership.js";
import { createPlacementLedger } from "./placement/ledger.js";
import { parseSize } from "./codecs/sizes.js";
import { normaliseTags, OWNERSHIP_TAGS, withOwnershipTags } from "./codecs/tags.js";
import { VmidAllocator } from "./placement/vmid.js";

export const proxmoxPlanningHooks: PlanningHooks = {
  ownershipOf,
  ownershipTags: (clusterId, shardId) => normaliseTags(OWNERSHIP_TAGS(clusterId, shardId)),
  withOwnershipTags: (tags, clusterId, shardId) => withOwnershipTags([...tags], clusterId, shardId),
  notes: {
    parse: (description) => parseNotesBlock(description),
    compose: (description, block) => composeDescription(description, renderNotesBlock({ ...block, created: block.created ?? "" })),
  },
  createPlacementLedger: (nodes, scheduler) => createPlacementLedger(nodes, scheduler),
  parseSize,
  isInstanceId: (name) => INSTANCE_ID_RE.test(name),
  createVmidAllocator: (used, range) => new VmidAllocator(used, range),
};
