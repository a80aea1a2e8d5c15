/**
 * The planner: desired shard × state × live cluster → a Plan (pure data), drift findings, the
 * action graph's order, and saved-plan checks. Pure: no network, no printing, no clock. See
 * README.md for the reconcile rules and the action chains.
 */
export { plan, summarise, PLAN_FORMAT_VERSION } from "./plan.js";
export { drift, driftReport, fingerprint, isDrift, INFO_KINDS, type InfoKind } from "./drift.js";
export { topoOrder, validateGraph } from "./graph.js";
export { serializePlan, parseSavedPlan, checkSavedPlan, checkVmDigests, vmsToRecheck } from "./saved-plan.js";
export { vmsNeedingDetails } from "./details.js";
export { replaceSpecOf, withReplaceSpecs } from "./replace-causes.js";
export { isoFilename, isoVolumeOf, CREATE_STEPS } from "./facts.js";
export type * from "./types.js";
