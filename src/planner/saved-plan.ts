/**
 * Saved plans (`plan --out FILE`, `apply FILE`): the Plan as JSON, validated on the way back in, and
 * the checks that refuse a plan the world has moved away from — Terraform's wording for the state
 * (anchors.md §1.3), PVE's config `digest` for each VM the plan modifies (anchors.md §7).
 */
import { z } from "zod";
import { UserError } from "../errors.js";
import type { VmDetail } from "../providers/proxmox/types.js";
import type { StateDoc } from "../state/types.js";
import { validateGraph } from "./graph.js";
import { PLAN_FORMAT_VERSION } from "./plan.js";
import type { Plan } from "./types.js";

const CREATE_STEP = z.enum(["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start"]);
const GROUP_REF = z.object({ tenant: z.string(), group: z.string() });
const LIVE_VM = z.object({
  vmid: z.number().int(), name: z.string(), node: z.string(),
  status: z.enum(["running", "stopped", "suspended", "unknown"]),
  template: z.boolean(), tags: z.array(z.string()), cores: z.number(), memoryBytes: z.number(), diskBytes: z.number(),
  lock: z.string().optional(), pool: z.string().optional(),
});

const PLAN_SCHEMA = z.object({
  formatVersion: z.literal(PLAN_FORMAT_VERSION),
  createdAt: z.string(),
  clusterId: z.string(),
  shardId: z.string(),
  state: z.object({ lineage: z.string(), serial: z.number().int().nonnegative() }),
  configDigest: z.string(),
  mode: z.enum(["normal", "refresh-only", "destroy"]),
  changes: z.array(z.object({
    instanceId: z.string(),
    group: GROUP_REF,
    kind: z.enum(["create", "update", "replace", "start", "delete", "adopt", "forget", "record"]),
    reasons: z.array(z.string()),
    attributes: z.array(z.object({ attribute: z.string(), before: z.unknown(), after: z.unknown(), forcesReplacement: z.boolean() })),
    before: LIVE_VM.optional(),
    // The spec is the config model's; it is carried for display and for the applier's rendering.
    after: z.record(z.string(), z.unknown()).optional(),
    placement: z.object({ node: z.string(), vmid: z.number().int(), scores: z.record(z.string(), z.number()) }).optional(),
    replaces: z.string().optional(),
    resumeFrom: CREATE_STEP.optional(),
  })),
  actions: z.array(z.object({
    id: z.string(),
    instanceId: z.string(),
    type: z.enum(["clone", "configure", "resize", "upload-iso", "attach-iso", "tag", "start", "stop", "delete-iso", "delete-vm", "record-state", "forget-state"]),
    node: z.string(),
    vmid: z.number().int(),
    dependsOn: z.array(z.string()),
    params: z.record(z.string(), z.unknown()),
  })),
  vmDigests: z.record(z.string(), z.string()),
  drift: z.array(z.object({
    fingerprint: z.string(),
    kind: z.enum(["attribute", "missing", "stopped", "orphan", "suspicious", "unmanaged"]),
    instanceId: z.string().optional(), vmid: z.number().optional(), node: z.string().optional(),
    attribute: z.string().optional(), expected: z.unknown(), actual: z.unknown(), message: z.string(),
  })),
  capacity: z.array(z.object({
    node: z.string(), maxcpu: z.number(), maxmemBytes: z.number(),
    before: z.object({ cores: z.number(), memBytes: z.number() }),
    after: z.object({ cores: z.number(), memBytes: z.number() }),
  })),
  summary: z.object({ add: z.number(), change: z.number(), destroy: z.number() }),
  counts: z.object({ ours: z.number(), suspicious: z.number(), unmanaged: z.number(), orphans: z.number() }),
  warnings: z.array(z.string()),
});

/** The file format: the Plan itself as JSON (it holds no secrets: tokens and keys never enter it). */
export function serializePlan(plan: Plan): string {
  // Compact: a 10,000-VM plan is tens of MB indented; `show FILE` is how people read it.
  return `${JSON.stringify(plan)}\n`;
}

/** Reads a saved plan; any problem is one UserError line (E_PLAN_FILE). */
export function parseSavedPlan(text: string, file = "plan file"): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError("E_PLAN_FILE", `${file} is not a pvefleet plan (not JSON: ${(e as Error).message})`);
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof raw !== "object" || raw === null || version === undefined) {
    throw new UserError("E_PLAN_FILE", `${file} is not a pvefleet plan (no formatVersion)`);
  }
  if (version !== PLAN_FORMAT_VERSION) {
    throw new UserError("E_PLAN_FILE", `${file} has plan format version ${String(version)}; this pvefleet reads version ${PLAN_FORMAT_VERSION}`);
  }
  const parsed = PLAN_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError("E_PLAN_FILE", `${file} is not a valid pvefleet plan: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const plan = parsed.data as unknown as Plan;
  validateGraph(plan.actions);
  return plan;
}

/**
 * Refuses a saved plan whose state moved since it was made, with Terraform's wording. A plan made
 * before any state existed (lineage "") only checks the serial. `currentConfigDigest`, when given,
 * must match the shard file digest the plan was made from.
 */
export function checkSavedPlan(plan: Plan, currentState: StateDoc | undefined, currentConfigDigest?: string): void {
  const lineage = currentState?.lineage ?? "";
  const serial = currentState?.serial ?? 0;
  if (plan.state.lineage !== "" && plan.state.lineage !== lineage) {
    throw new UserError("E_PLAN_LINEAGE", "Saved plan does not match the given state: the plan file can not be applied because it was created from a different state lineage.");
  }
  if (plan.state.serial !== serial) {
    throw new UserError("E_PLAN_STALE", `Saved plan is stale: the plan file can no longer be applied because the state was changed by another operation after the plan was created (serial ${plan.state.serial} → ${serial}).`);
  }
  if (currentConfigDigest !== undefined && currentConfigDigest !== plan.configDigest) {
    throw new UserError("E_PLAN_STALE", "Saved plan is stale: the shard file changed after the plan was created; run plan again.");
  }
}

/**
 * Refuses a saved plan when any VM it modifies changed since the plan (PVE's config digest
 * differs, or the VM is gone). `details` are fresh reads of the VMs in `plan.vmDigests`.
 */
export function checkVmDigests(plan: Plan, details: VmDetail[]): void {
  const byVmid = new Map(details.map((d) => [String(d.vmid), d]));
  const moved: string[] = [];
  for (const [vmid, digest] of Object.entries(plan.vmDigests)) {
    const now = byVmid.get(vmid);
    if (!now) moved.push(`VM ${vmid} is gone`);
    else if (now.digest !== digest) moved.push(`VM ${vmid} config changed`);
  }
  if (moved.length > 0) {
    throw new UserError("E_PLAN_STALE", `Saved plan is stale: ${moved.join(", ")} since the plan was created; run plan again.`);
  }
}

/** The VMs `checkVmDigests` needs fresh details for. */
export function vmsToRecheck(plan: Plan): { node: string; vmid: number }[] {
  const nodeOf = new Map<string, string>();
  for (const a of plan.actions) if (!nodeOf.has(String(a.vmid))) nodeOf.set(String(a.vmid), a.node);
  return Object.keys(plan.vmDigests).map((vmid) => ({ vmid: Number(vmid), node: nodeOf.get(vmid) ?? "" }));
}
