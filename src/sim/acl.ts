/**
 * The token's ACL, evaluated as PVE 8 evaluates it (pve-access-control stable-bookworm 8.2.3):
 *
 *   - roles on a path: walk `/`, `/vms`, `/vms/100` and at each level where the token has ACL
 *     entries, the entries that apply (all of them on the final level, only `propagate` ones on an
 *     ancestor) *replace* what was inherited (src/PVE/AccessControl.pm:1778-1880, `roles`);
 *     `NoAccess` wins (:1878);
 *   - a VM or storage in a pool also gets the pool's roles, never propagated, unless NoAccess
 *     (src/PVE/RPCEnvironment.pm:39-81);
 *   - privileges: the union of the roles' privileges, flagged 1 when a propagating role carries it;
 *     a privilege is *held* when it is defined, whatever its flag (RPCEnvironment.pm:291-305 `check`);
 *   - `GET /access/permissions?path=P` answers `{P: privs}` (API2/AccessControl.pm:605); without
 *     `path`, every default top-level path, every ACL path and every pool member, minus the paths
 *     holding nothing (RPCEnvironment.pm:241-289).
 *
 * The built-in roles come from the privilege groups as `create_roles` builds them
 * (AccessControl.pm:1052-1190). The sim's token is treated as the ACL subject itself (no user,
 * group or privilege-separation intersection): enough for a client's permission preflight.
 */
import { PveError } from "./context.js";

const PRIV_GROUPS: Record<string, { root: string[]; admin: string[]; user: string[]; audit: string[] }> = {
  VM: {
    root: [],
    admin: ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options", "VM.Allocate",
      "VM.Clone", "VM.Migrate", "VM.Monitor", "VM.Snapshot", "VM.Snapshot.Rollback"],
    user: ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"],
    audit: ["VM.Audit"],
  },
  Sys: { root: ["Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"], admin: ["Sys.Console", "Sys.Syslog"], user: [], audit: ["Sys.Audit"] },
  Datastore: { root: [], admin: ["Datastore.Allocate", "Datastore.AllocateTemplate"], user: ["Datastore.AllocateSpace"], audit: ["Datastore.Audit"] },
  SDN: { root: [], admin: ["SDN.Allocate", "SDN.Audit"], user: ["SDN.Use"], audit: ["SDN.Audit"] },
  User: { root: ["Realm.Allocate"], admin: ["User.Modify", "Group.Allocate", "Realm.AllocateUser"], user: [], audit: [] },
  Pool: { root: [], admin: ["Pool.Allocate"], user: ["Pool.Audit"], audit: ["Pool.Audit"] },
  Mapping: { root: [], admin: ["Mapping.Modify"], user: ["Mapping.Use"], audit: ["Mapping.Audit"] },
};

/** PVE's built-in roles (create_roles), plus NoAccess and Administrator. */
export function builtinRoles(): Record<string, string[]> {
  const roles: Record<string, Set<string>> = { NoAccess: new Set(), Administrator: new Set(["Permissions.Modify"]), PVEAdmin: new Set(), PVEAuditor: new Set() };
  for (const [cat, g] of Object.entries(PRIV_GROUPS)) {
    for (const p of [...g.root, ...g.admin, ...g.user, ...g.audit]) roles.Administrator!.add(p);
    roles[`PVE${cat}Admin`] = new Set([...g.admin, ...g.user, ...g.audit]);
    for (const p of [...g.admin, ...g.user, ...g.audit]) roles.PVEAdmin!.add(p);
    if (g.user.length) roles[`PVE${cat}User`] = new Set([...g.user, ...g.audit]);
    for (const p of g.audit) roles.PVEAuditor!.add(p);
  }
  roles.PVEAdmin!.delete("Mapping.Modify");
  roles.PVETemplateUser = new Set(["VM.Clone", "VM.Audit"]);
  return Object.fromEntries(Object.entries(roles).map(([k, v]) => [k, [...v].sort()]));
}

export interface AclEntry {
  path: string;
  roles: string[];
  propagate: boolean;
}

export interface PoolSpec {
  id: string;
  vms: number[];
  storage: string[];
}

/** Privilege → propagate flag (0/1), as `permissions()` returns it. */
export type PrivMap = Record<string, 0 | 1>;

const DEFAULT_PATHS = ["/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"];

export class Acl {
  readonly roles: Record<string, string[]>;
  private readonly byPath = new Map<string, Map<string, boolean>>();
  private readonly cache = new Map<string, PrivMap>();

  constructor(
    entries: AclEntry[],
    /** Privileges no role grants (the topology's `dropPrivileges`). */
    private readonly dropped: ReadonlySet<string>,
    readonly pools: PoolSpec[],
    customRoles: Record<string, string[]> = {},
  ) {
    this.roles = { ...builtinRoles(), ...customRoles };
    for (const e of entries) {
      const path = normalisePath(e.path);
      const at = this.byPath.get(path) ?? new Map<string, boolean>();
      for (const r of e.roles) {
        if (!this.roles[r]) throw new Error(`unknown role '${r}'`);
        at.set(r, e.propagate);
      }
      this.byPath.set(path, at);
    }
  }

  /** The pool a VM belongs to (clone with `pool` adds it). */
  poolOfVm(vmid: number): string | undefined {
    return this.pools.find((p) => p.vms.includes(vmid))?.id;
  }

  addToPool(pool: string, vmid: number): void {
    this.pools.find((p) => p.id === pool)?.vms.push(vmid);
    this.cache.clear();
  }

  removeVm(vmid: number): void {
    for (const p of this.pools) p.vms = p.vms.filter((v) => v !== vmid);
    this.cache.clear();
  }

  private rolesAt(path: string): Map<string, boolean> {
    let roles = new Map<string, boolean>();
    const parts = path === "/" ? [""] : path.split("/");
    let cur = "";
    parts.forEach((p, i) => {
      const final = i === parts.length - 1;
      cur = p === "" ? "/" : cur === "/" ? `/${p}` : `${cur}/${p}`;
      const here = this.byPath.get(cur);
      if (!here) return;
      const next = new Map<string, boolean>();
      for (const [role, propagate] of here) if (final || propagate) next.set(role, propagate);
      if (next.size > 0) roles = next; // overwrite previous settings (AccessControl.pm:1837)
    });
    if (roles.has("NoAccess")) return new Map([["NoAccess", roles.get("NoAccess")!]]);
    return roles;
  }

  /** `$rpcenv->permissions($token, $path)`. */
  privilegesAt(rawPath: string): PrivMap {
    const path = normalisePath(rawPath);
    const hit = this.cache.get(path);
    if (hit) return hit;
    const roles = this.rolesAt(path);
    const member = /^\/vms\/(\d+)$/.exec(path);
    const store = /^\/storage\/([^/]+)$/.exec(path);
    const pool = member ? this.poolOfVm(Number(member[1])) : store ? this.pools.find((p) => p.storage.includes(store[1]!))?.id : undefined;
    if (pool !== undefined && !roles.has("NoAccess")) {
      const poolRoles = this.rolesAt(`/pool/${pool}`);
      if (poolRoles.has("NoAccess")) {
        roles.clear();
        roles.set("NoAccess", false);
      } else for (const r of poolRoles.keys()) if (!roles.has(r)) roles.set(r, false);
    }
    const privs: PrivMap = {};
    for (const [role, propagate] of roles) {
      for (const p of this.roles[role] ?? []) {
        if (this.dropped.has(p)) continue;
        privs[p] = (privs[p] === 1 || propagate ? 1 : 0);
      }
    }
    this.cache.set(path, privs);
    return privs;
  }

  has(path: string, priv: string): boolean {
    return this.privilegesAt(path)[priv] !== undefined;
  }

  /** `$rpcenv->check`: 403 `Permission check failed (<path>, <priv>)` on the first one missing. */
  check(path: string, privs: readonly string[]): void {
    for (const p of privs) if (!this.has(path, p)) throw new PveError(403, `Permission check failed (${path}, ${p})`);
  }

  /** `$rpcenv->check_any`: one of them is enough; the text lists them all with `|`. */
  checkAny(path: string, privs: readonly string[]): void {
    if (!privs.some((p) => this.has(path, p))) throw new PveError(403, `Permission check failed (${path}, ${privs.join("|")})`);
  }

  /** `get_effective_permissions`: every default and ACL path, and every pool member, that holds something. */
  effective(): Record<string, PrivMap> {
    const paths = new Set(DEFAULT_PATHS);
    for (const p of this.byPath.keys()) paths.add(p);
    for (const pool of this.pools) {
      for (const v of pool.vms) paths.add(`/vms/${v}`);
      for (const s of pool.storage) paths.add(`/storage/${s}`);
    }
    const out: Record<string, PrivMap> = {};
    for (const p of [...paths].sort()) {
      const privs = this.privilegesAt(p);
      if (Object.keys(privs).length > 0) out[p] = sortedPrivs(privs);
    }
    return out;
  }
}

export function sortedPrivs(privs: PrivMap): PrivMap {
  return Object.fromEntries(Object.keys(privs).sort().map((k) => [k, privs[k]!]));
}

function normalisePath(path: string): string {
  const p = `/${path.split("/").filter((s) => s !== "").join("/")}`;
  return p;
}
