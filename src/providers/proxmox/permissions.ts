/**
 * Permission preflight: the privileges each planned action needs (the guide's table of 16,
 * proxmox-guide.md "Required Proxmox Permissions"), checked against `GET /access/permissions`
 * on `/` before any change, so a run fails with the full missing list instead of halfway.
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
  "VM.Config.Options",
  "Datastore.Audit",
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "SDN.Use",
] as const;

export type Privilege = (typeof ALL_PRIVILEGES)[number];

export const ROLE_ADVICE = "Assign PVEVMAdmin + PVEDatastoreAdmin + PVEAuditor + PVESDNUser roles to the API token user";

/** Every run reads the cluster (resources, task status, storage listing). */
const ALWAYS: Privilege[] = ["Sys.Audit", "VM.Audit", "Datastore.Audit"];

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

/** Missing privileges on `/`; undefined when the token has no entry for `/` at all. */
export function missingPrivileges(tree: PermissionTree, needed: readonly string[]): string[] | undefined {
  const root = tree["/"];
  if (!root) return undefined;
  // A privilege granted on `/` without propagation does not reach /vms/… and /storage/…
  return needed.filter((p) => !(p in root) || !root[p]);
}

export async function checkPermissions(client: ProxmoxClient, needed: readonly string[]): Promise<void> {
  if (needed.length === 0) return;
  const tree = await client.get<PermissionTree>("/access/permissions", { path: "/" });
  const missing = missingPrivileges(tree ?? {}, needed);
  if (missing === undefined) {
    throw new ProxmoxError(
      "PERMISSION",
      "API token has no permissions on /: assign PVEVMAdmin + PVEDatastoreAdmin + PVEAuditor + PVESDNUser roles to the API token user on /",
    );
  }
  if (missing.length > 0) {
    throw new ProxmoxError("PERMISSION", `API token missing required permissions on /: [${missing.join(", ")}]. ${ROLE_ADVICE}`);
  }
}
