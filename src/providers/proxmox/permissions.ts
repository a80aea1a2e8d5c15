/**
 * The apply-time permission backstop: the privileges each action type needs (the 16 of Nstance's
 * Proxmox integration guide, "Required Proxmox Permissions", plus VM.Config.Cloudinit), each held on some
 * path. The exact, per-path check is the plan-time preflight (preflight.ts).
 */
import type { ActionType } from "../types.js";
import type { ProxmoxClient } from "./api/client.js";
import { ProxmoxError } from "./api/errors.js";

export const ALL_PRIVILEGES = [
  "Sys.Audit",
  "VM.Allocate",
  "VM.Audit",
  "VM.Clone",
  "VM.PowerMgmt",
  "VM.Config.CPU",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Disk",
  "VM.Config.CDROM",
  "VM.Config.Cloudinit",
  "VM.Config.Options",
  "Datastore.Audit",
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "SDN.Use",
] as const;

export type Privilege = (typeof ALL_PRIVILEGES)[number];

export const ROLE_ADVICE = "Assign PVEVMAdmin + PVEDatastoreAdmin + PVEAuditor + PVESDNUser roles to the API token user";

/** Every change re-reads the VM's config first (the ownership guard): VM.Audit. */
const ALWAYS: Privilege[] = ["VM.Audit"];

/**
 * What an action of each type needs whatever its parameters — a subset of what the plan-time
 * preflight asks on exact paths (which adds the conditional ones: VM.Config.CPU only when cores
 * change, SDN.Use for the bridges in play, VM.Config.CDROM for the ISO, …), so this backstop never
 * refuses what the preflight passed.
 */
const BY_ACTION: Record<ActionType, Privilege[]> = {
  clone: ["VM.Allocate", "VM.Clone", "Datastore.AllocateSpace"],
  configure: [],
  resize: ["VM.Config.Disk", "Datastore.AllocateSpace"],
  "upload-iso": ["Datastore.AllocateTemplate"],
  start: ["VM.PowerMgmt"],
  stop: ["VM.PowerMgmt"],
  "delete-iso": ["Datastore.Allocate"],
  "delete-vm": ["VM.Allocate", "VM.PowerMgmt"],
  "record-state": [],
  "forget-state": [],
};

/** The privileges a set of planned action types needs on some path, in the guide's order. */
export function privilegesFor(actions: Iterable<ActionType>): Privilege[] {
  const needed = new Set<Privilege>(ALWAYS);
  for (const a of actions) for (const p of BY_ACTION[a] ?? []) needed.add(p);
  return ALL_PRIVILEGES.filter((p) => needed.has(p));
}

/** Map of path → privilege → propagate flag (0/1), as `GET /access/permissions` returns it. */
export type PermissionTree = Record<string, Record<string, number | boolean>>;

/**
 * The privileges held on no path at all. This is the apply-time backstop only: the plan-time
 * preflight (preflight.ts) checks each privilege on the exact path PVE checks it, so a token granted
 * PVEVMAdmin on /vms and PVEDatastoreAdmin on /storage is not refused here for lacking them on `/`.
 */
export function missingEverywhere(tree: PermissionTree, needed: readonly string[]): string[] {
  const held = new Set<string>();
  for (const privs of Object.values(tree)) for (const p of Object.keys(privs)) held.add(p);
  return needed.filter((p) => !held.has(p));
}

export async function checkPermissions(client: ProxmoxClient, needed: readonly string[]): Promise<void> {
  if (needed.length === 0) return;
  // The effective tree: every default path, ACL path and pool member (RPCEnvironment.pm:241-289).
  const tree = (await client.get<PermissionTree>("/access/permissions")) ?? {};
  const missing = missingEverywhere(tree, needed);
  if (missing.length > 0) {
    throw new ProxmoxError("PERMISSION", `API token ${client.tokenId} holds [${missing.join(", ")}] on no path. ${ROLE_ADVICE}`);
  }
}
