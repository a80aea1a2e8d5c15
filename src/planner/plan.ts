/**
 * plan(): desired × state × live (+ details) → Plan. Pure: no network, no printing, no awaits, and
 * no clock (the time is `options.now`, else the refresh time).
 */
import type { DesiredShard } from "../config/model.js";
import { newInstanceId as defaultNewInstanceId } from "../config/instance-id.js";
import { UserError } from "../errors.js";
import type { LiveShard, VmDetail } from "../providers/types.js";
import type { StateDoc } from "../state/types.js";
import { ActionList, createChain, deleteChain, memberChain } from "./actions.js";
import { CapacityLedger } from "./capacity.js";
import { checkPlanBounds, checkTemplateDisks } from "./bounds.js";
import { computeDrift } from "./drift.js";
import { cmp, groupKey, indexFacts, MIB, type Facts } from "./facts.js";
import { validateGraph } from "./graph.js";
import { now, reconcile, type Intent } from "./reconcile.js";
import type { InstanceChange, PlacementLedger, Plan, PlanOptions } from "./types.js";

/** 2: typed action params with a separate journal, a typed reason per change, the replace order. */
export const PLAN_FORMAT_VERSION = 2;

export function plan(desired: DesiredShard, state: StateDoc | undefined, live: LiveShard, options: PlanOptions, details?: VmDetail[]): Plan {
  if (state && (state.clusterId !== desired.clusterId || state.shardId !== desired.shardId)) {
    throw new UserError("E_STATE_MISMATCH", `the state belongs to ${state.clusterId}/${state.shardId}, not ${desired.clusterId}/${desired.shardId}`);
  }
  checkPlanBounds(desired); // before anything is allocated per instance
  const facts = indexFacts(desired, state, live, options, details);
  const mode = options.mode ?? "normal";
  const createdAt = now(facts);
  const rec = reconcile(facts);
  const popts = desired.provider.options;
  refuseEmptyStateBeforeFleet(facts, rec.orphans, rec.intents.some((i) => i.change.kind === "create"));

  // Every VMID in use cluster-wide (containers share the space), and every VMID a record holds (a
  // create whose clone has not run yet keeps its VMID there).
  const liveVmids = new Set(live.usedVmids ?? live.vms.map((vm) => vm.vmid));
  const vmids = facts.hooks.createVmidAllocator([...liveVmids, ...facts.records.map((r) => r.vmid)], popts.vmidRange);
  const capacity = new CapacityLedger(facts.live); // sizes as read per VM where read (a stale listing lags)
  const list = new ActionList();
  const vmDigests: Record<string, string> = {};
  const warnings = [...rec.warnings];
  let ledger: PlacementLedger | undefined;
  const newId = options.newInstanceId ?? ((kind: string) => defaultNewInstanceId(kind, Date.parse(createdAt)));

  // Per group, its instances per node: the records' VMs (where they are now), then this plan's new ones.
  const spreads = new Map<string, Record<string, number>>();
  const groupSpread = (key: string): Record<string, number> => {
    let counts = spreads.get(key);
    if (!counts) {
      counts = {};
      for (const r of facts.records) {
        if (groupKey(r) !== key || r.phase === "deleting") continue;
        const node = facts.byName.get(r.instanceId)?.find((vm) => vm.vmid === r.vmid)?.node ?? r.node;
        counts[node] = (counts[node] ?? 0) + 1;
      }
      spreads.set(key, counts);
    }
    return counts;
  };

  const place = (intent: Intent) => {
    const c = intent.create!;
    const spec = c.group.spec;
    const memoryBytes = spec.memoryMiB * MIB;
    if (c.node !== undefined && c.vmid !== undefined) {
      // A resumed create keeps its node and, when nobody took it meanwhile, its VMID.
      let vmid = c.vmid;
      if (!c.existingVm && liveVmids.has(vmid)) vmid = vmids.next();
      if (c.existingVm) capacity.shift(c.node, spec.cores - c.existingVm.cores, memoryBytes - c.existingVm.memoryBytes);
      else capacity.shift(c.node, spec.cores, memoryBytes);
      return { instanceId: c.instanceId, node: c.node, vmid, scores: {}, createdAt: c.createdAt ?? createdAt };
    }
    ledger ??= facts.hooks.createPlacementLedger(live.nodes, popts.scheduler);
    const key = groupKey(c.group.ref);
    const members = popts.placementSpread === "group" ? groupSpread(key) : undefined;
    const placed = ledger.place({ cores: spec.cores, memoryBytes }, members);
    if ("error" in placed) throw new UserError("E_PLACEMENT", `cannot place a new VM of ${groupKey(c.group.ref)}: ${placed.error}`);
    capacity.shift(placed.node, spec.cores, memoryBytes);
    if (members) members[placed.node] = (members[placed.node] ?? 0) + 1;
    return { instanceId: newId(spec.kind), node: placed.node, vmid: vmids.next(), scores: placed.scores, createdAt };
  };

  for (const intent of rec.intents) {
    const change = intent.change;
    const digest = intent.vm ? facts.details.get(intent.vm.vmid)?.digest : undefined;
    if (digest && intent.vm && change.kind !== "record" && change.kind !== "forget") vmDigests[String(intent.vm.vmid)] = digest;

    if (intent.create) {
      const p = place(intent);
      change.placement = { node: p.node, vmid: p.vmid, scores: p.scores };
      if (change.kind === "replace") change.replaces = p.instanceId;
      else change.instanceId = p.instanceId;
      const started = createChain(list, facts, { ...p, group: intent.create.group, stepsDone: intent.create.stepsDone });
      if (intent.remove) {
        const vm = intent.remove.vm;
        if (vm) capacity.shift(vm.node, -vm.cores, -vm.memoryBytes);
        deleteChain(list, facts, intent.record!.instanceId, intent.remove, started, digest);
      }
      continue;
    }
    if (intent.remove) {
      const vm = intent.remove.vm;
      if (vm) capacity.shift(vm.node, -vm.cores, -vm.memoryBytes);
      deleteChain(list, facts, change.instanceId, intent.remove, undefined, digest);
      continue;
    }
    if (intent.vm) {
      const d = intent.diff;
      if (d?.configure.cores !== undefined) capacity.shift(intent.vm.node, d.configure.cores - intent.vm.cores, 0);
      if (d?.configure.memoryMiB !== undefined) capacity.shift(intent.vm.node, 0, d.configure.memoryMiB * MIB - intent.vm.memoryBytes);
      memberChain(list, intent, digest);
    }
  }

  const actions = list.actions;
  rollReplacements(actions, rec.intents, facts);
  validateGraph(actions);
  if (mode === "normal" && !options.ignoreCapacity) capacity.check(popts.memoryHeadroom);
  if (mode === "normal") warnings.push(...capacity.overcommitWarnings(popts.cpuOvercommit));

  const changes = rec.intents.map((i) => i.change).sort(changeOrder);
  checkTemplateDisks(desired, live, changes);
  const drift = computeDrift(facts);
  const counts = countOwnership(facts, rec.orphans.length);
  if (rec.orphans.length > 0 && !options.gc) {
    warnings.push(`${rec.orphans.length} orphan VM(s) carry this shard's tags but are not in the state: ${rec.orphans.slice(0, 5).map((v) => `${v.name} (${v.vmid})`).join(", ")}${rec.orphans.length > 5 ? ", …" : ""}; --adopt or --gc`);
  }
  if (counts.suspicious > 0) warnings.push(`${counts.suspicious} suspicious VM(s) (an instance-ID name without all ownership tags, or the reverse) are left alone`);

  return {
    formatVersion: PLAN_FORMAT_VERSION,
    createdAt,
    clusterId: desired.clusterId,
    shardId: desired.shardId,
    state: { lineage: state?.lineage ?? "", serial: state?.serial ?? 0 },
    configDigest: desired.source.digest,
    mode,
    changes,
    actions,
    vmDigests,
    drift,
    capacity: capacity.nodes(),
    summary: summarise(changes),
    counts,
    warnings,
  };
}

/**
 * `max_surge` replacements of a group at once, rolling through all of them within one apply: the
 * (k + max_surge)-th replacement's new VM is cloned only after the k-th's old VM is gone (its
 * forget-state), so a group never holds more than max_surge extra VMs, and a failed replacement
 * stops the rest of its group's roll (their actions are skipped) instead of spreading.
 */
function rollReplacements(actions: Plan["actions"], intents: Intent[], facts: Facts): void {
  const byGroup = new Map<string, { oldId: string; newId: string }[]>();
  for (const i of intents) {
    if (i.change.kind !== "replace" || !i.create || i.change.replaces === undefined) continue;
    const key = groupKey(i.change.group);
    byGroup.set(key, [...(byGroup.get(key) ?? []), { oldId: i.change.instanceId, newId: i.change.replaces }]);
  }
  if (byGroup.size === 0) return;
  const ids = new Set(actions.map((a) => a.id));
  const roots = new Map<string, Plan["actions"]>();
  for (const a of actions) if (a.dependsOn.length === 0) roots.set(a.instanceId, [...(roots.get(a.instanceId) ?? []), a]);
  const maxSurge = Math.max(1, facts.options.maxSurge ?? facts.desired.provider.options.maxSurge);
  for (const wave of byGroup.values()) {
    for (let k = maxSurge; k < wave.length; k++) {
      const done = `${wave[k - maxSurge]!.oldId}:forget-state`;
      if (!ids.has(done)) continue;
      for (const a of roots.get(wave[k]!.newId) ?? []) a.dependsOn.push(done);
    }
  }
}

/** Terraform's rule: a replacement counts once in add and once in destroy. */
export function summarise(changes: InstanceChange[]): Plan["summary"] {
  const s = { add: 0, change: 0, destroy: 0 };
  for (const c of changes) {
    if (c.kind === "create" || c.kind === "replace") s.add++;
    if (c.kind === "update" || c.kind === "start" || c.kind === "adopt") s.change++;
    if (c.kind === "delete" || c.kind === "replace") s.destroy++;
  }
  return s;
}

function changeOrder(a: InstanceChange, b: InstanceChange): number {
  return cmp(groupKey(a.group), groupKey(b.group)) || cmp(a.instanceId, b.instanceId);
}

function countOwnership(facts: Facts, orphans: number): Plan["counts"] {
  const counts = { ours: 0, suspicious: 0, unmanaged: 0, orphans };
  for (const vm of facts.live.vms) {
    if (vm.template) continue;
    counts[vm.ownership]++;
  }
  return counts;
}

/**
 * A state that knows no instance while VMs carry this shard's three tags is the wrong state (an
 * empty `--state-dir`, another bucket or prefix), not an empty shard: planning from it would create
 * every instance a second time. Refused, naming the VMs and the two ways out.
 */
function refuseEmptyStateBeforeFleet(facts: Facts, orphans: { name: string; vmid: number; node: string }[], creates: boolean): void {
  const mode = facts.options.mode ?? "normal";
  if (mode !== "normal" || !creates || facts.records.length > 0 || orphans.length === 0) return;
  if (facts.options.adopt || facts.options.gc) return;
  const named = orphans.slice(0, 5).map((v) => `${v.name} (VMID ${v.vmid} on ${v.node})`).join(", ");
  throw new UserError(
    "E_STATE_EMPTY",
    `the state knows no instance of shard ${facts.desired.clusterId}/${facts.desired.shardId}, but ${orphans.length} VM(s) carry its tags: ${named}${orphans.length > 5 ? ", …" : ""}. ` +
      "Planning from this state would create them again: point pvefleet at the shard's state (--state-dir, --storage/--bucket/--prefix), or plan with --adopt to take these VMs into their groups",
  );
}
