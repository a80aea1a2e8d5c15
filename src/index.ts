/**
 * pvefleet as a library: the engine without the CLI. Each area adds its public entry points here.
 */
export { VERSION } from "./version.js";
export { UserError, UserErrors } from "./errors.js";
export type * from "./config/model.js";
export * from "./config/index.js";
export type * from "./state/types.js";
export type * from "./providers/proxmox/types.js";
export { CREATE_STEPS, ACTION_TYPES, ACTION_PARAMS, type Provider, type PlanningHooks, type ProviderAction, type RunContext, type ActionOutcome, type ActionParams } from "./providers/types.js";
export { proxmoxPlanningHooks } from "./providers/proxmox/hooks.js";
export { openShard, withShard, forEachShard, openProvider, makePlan, makeDrift, readDetails, replanSavedPlan, applyPlan, type ShardLocation, type ShardSession, type EnginePlanOptions, type DriftResult } from "./engine/index.js";
export { createProxmoxProvider, ProxmoxError, isProxmoxError, privilegesFor, ALL_PRIVILEGES, type ProxmoxProvider, type ProxmoxProviderOptions } from "./providers/proxmox/index.js";
export { buildCloudInitIso, cloudInitFiles, isoFileName, type CloudInitSeed } from "./providers/proxmox/cloud-init/cloud-init.js";
export { rankByTopsis, type TopsisRanking } from "./providers/proxmox/placement/topsis.js";
export { createPlacementLedger, type PlacementLedger, type Placement, type SchedulerName } from "./providers/proxmox/placement/ledger.js";
export type * from "./planner/types.js";
export { startSimulator, parseFaults, type Simulator, type SimulatorOptions, type SimStats, type Topology as SimTopology } from "./sim/index.js";
export { plan, drift, topoOrder, validateGraph, serializePlan, parseSavedPlan, checkSavedPlan, checkVmDigests, vmsNeedingDetails } from "./planner/index.js";
export { readSavedPlan, checkSameAsFresh } from "./planner/saved-plan.js";
export { openStateStore, readS3Object, readGcsObject, newStateDoc, ShardStateStore, StoreConflictError, formatLockInfo, type OpenStateStoreOptions, type LockOptions } from "./state/index.js";
export { apply, installSignalHandlers, checkPlanFreshness, INTERRUPT_MESSAGE, SECOND_INTERRUPT_MESSAGE, type ApplyDeps, type ApplyResult, type ApplyEvent, type ApplyEventType, type ActionFailure } from "./applier/index.js";
export { renderPlanText, renderDriftText, type DriftReport, type TextOptions } from "./cli/render/text.js";
export { renderPlanMarkdown, renderDriftMarkdown, planHash, driftDigest, planMarker, driftMarker, GITHUB_COMMENT_LIMIT } from "./cli/render/markdown.js";
export { renderPlanJson, planToJson, renderDriftJson, driftToJson, PLAN_JSON_FORMAT_VERSION, DRIFT_JSON_FORMAT_VERSION, type PlanJson, type DriftJson } from "./cli/render/json.js";
