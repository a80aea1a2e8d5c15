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

/** Every run reads VM configs and storage listings. */
const ALWAYS: Privilege[] = ["VM.Audit", "Datastore.Audit"];

const BY_ACTION: Record<ActionType, Privilege[]> = {
  // nextid + clone target allocation; full clone allocates disk space; the clone copies net0 on a bridge.
  clone: ["VM.Allocate", "VM.Clone", "Datastore.AllocateSpace", "SDN.Use"],
  // one config POST: cores, memory, net0 (bridge → SDN.Use), onboot/description/tags, boot order,
  // and for a new VM the cloud-init ISO on ide2 (VM.Config.CDROM).
  configure: ["VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Config.Disk", "VM.Config.CDROM", "SDN.Use"],
  resize: ["VM.Config.Disk", "Datastore.AllocateSpace"],
  "upload-iso": ["Datastore.AllocateTemplate"],
  start: ["VM.PowerMgmt"],
  stop: ["VM.PowerMgmt"],
  "delete-iso": ["Datastore.Allocate"],
  "delete-vm": ["VM.Allocate", "VM.PowerMgmt"],
  "record-state": [],
  "forget-state": [],
};

/** The privileges a set of planned action types needs on `/`, in the guide's order. */
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
