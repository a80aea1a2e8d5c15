import { loadShardBytes } from "../../src/config/load.js";
import { UserErrors, isUserError } from "../../src/errors.js";
import type { ResolveResult } from "../../src/config/resolve.js";

export const BASE = {
  cluster: { id: "demo" },
  shard: { id: "dev", infra: { provider: "proxmox", region: "dev", zone: "deva" }, subnet_pools: { default: ["vmbr0"] } },
  defaults: { args: { TemplateName: "debian-13-template", StoragePool: "local-lvm", Cores: 1, Memory: 512 } },
  templates: { web: { kind: "web", arch: "amd64" } },
  groups: { default: { web: { template: "web", size: 2 } } },
};

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export async function load(text: string, name = "t.jsonc", shard?: string): Promise<ResolveResult> {
  return loadShardBytes(name, Buffer.from(text), { shard });
}

export async function loadObject(obj: unknown, shard?: string): Promise<ResolveResult> {
  return load(JSON.stringify(obj, null, 2), "t.jsonc", shard);
}

/** The problem lines of a failing load (fails the test when it loads). */
export async function problems(text: string, name = "t.jsonc", shard?: string): Promise<string[]> {
  try {
    await load(text, name, shard);
  } catch (err) {
    if (!isUserError(err)) throw err;
    return err instanceof UserErrors ? err.problems.map((p) => p.line()) : [err.line()];
  }
  throw new Error("expected the shard file to be rejected");
}

export async function problemsOf(obj: unknown, shard?: string): Promise<string[]> {
  return problems(JSON.stringify(obj, null, 2), "t.jsonc", shard);
}

/**
 * The HCL twin of BASE: one shard, one group of 2. `options` (lines, already indented) becomes the
 * infra's `options = { … }`; `after` is appended after the group (e.g. a `drift { … }` block).
 */
export function hclShard(p: { options?: string; after?: string } = {}): string {
  const options = p.options === undefined ? "" : `    options = {\n${p.options}\n    }\n`;
  return `
cluster { id = "demo" }
shard {
  id = "dev"
  infra {
    provider = "proxmox"
    region   = "dev"
    zone     = "deva"
${options}  }
  subnet_pools = { default = ["vmbr0"] }
}
defaults {
  args = { TemplateName = "debian-13-template", StoragePool = "local-lvm", Cores = 1, Memory = 512 }
}
template "web" {
  kind = "web"
  arch = "amd64"
}
group "default" "web" {
  template = "web"
  size     = 2
}
${p.after ?? ""}`;
}

