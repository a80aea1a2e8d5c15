/**
 * `pvefleet init`: write a starter shard file (JSONC, or HCL when the name ends in .hcl) from the
 * flags; refuses to overwrite an existing file without --force.
 */
import { writeFile } from "node:fs/promises";
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { identifierProblem } from "../../config/identifiers.js";

interface InitValues {
  clusterId: string;
  shardId: string;
  region: string;
  zone: string;
  storagePool: string;
  templateName: string;
  bridge: string;
  vlan?: number;
}

function values(opts: Opts): InitValues {
  const str = (k: string, d: string) => (typeof opts[k] === "string" ? (opts[k] as string) : d);
  const v: InitValues = {
    clusterId: str("clusterId", "my-cluster"),
    shardId: str("shard", "dev"),
    region: str("region", "dev"),
    zone: str("zone", "deva"),
    storagePool: str("storagePool", "local-lvm"),
    templateName: str("templateName", "debian-13-template"),
    bridge: str("bridge", "vmbr0"),
  };
  for (const [what, value, flag] of [["cluster ID", v.clusterId, "--cluster-id"], ["shard ID", v.shardId, "--shard"]] as const) {
    const problem = identifierProblem(what, value);
    if (problem) throw new UserError("E_USAGE", `${flag}: ${problem}`);
  }
  for (const [flag, value] of [["--region", v.region], ["--zone", v.zone], ["--storage-pool", v.storagePool], ["--template-name", v.templateName]] as const) {
    if (value.trim() === "") throw new UserError("E_USAGE", `${flag} must not be empty`);
  }
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/.test(v.bridge)) throw new UserError("E_USAGE", `--bridge ${JSON.stringify(v.bridge)} is not a bridge name such as vmbr0`);
  if (opts.vlan !== undefined) {
    const n = Number(opts.vlan);
    if (!Number.isInteger(n) || n < 1 || n > 4094) throw new UserError("E_USAGE", `--vlan must be a whole number from 1 to 4094, got ${JSON.stringify(opts.vlan)}`);
    v.vlan = n;
  }
  return v;
}

const USERDATA = "#cloud-config\\nhostname: {{ .Instance.ID }}\\npackages:\\n  - qemu-guest-agent\\n";

export function starterJsonc(v: InitValues): string {
  const q = JSON.stringify;
  return `// pvefleet shard file: one PVE cluster. Reference: src/config/README.md
// Check it with:  pvefleet validate -c <this file>
{
  "cluster": { "id": ${q(v.clusterId)} },
  "shard": {
    "id": ${q(v.shardId)},
    "infra": {
      "provider": "proxmox",
      "region": ${q(v.region)},
      "zone": ${q(v.zone)},
      "options": { "insecure_tls": false, "cloud_init_iso_storage": "local" },
    },
    "subnet_pools": { "default": [${q(v.vlan ? `${v.bridge}.${v.vlan}` : v.bridge)}] },
  },
  "defaults": {
    "args": {
      "TemplateName": ${q(v.templateName)},
      "StoragePool": ${q(v.storagePool)},
      "Cores": 2,
      "Memory": 2048,
      "DiskSize": "20G",
      "StartOnBoot": true,
    },
    "vars": { "Environment": "dev" },
  },
  "templates": {
    "default": {
      "kind": "vms",
      "arch": "amd64",
      "subnet_pool": "default",
      "userdata": { "content": "${USERDATA}" },
    },
  },
  "groups": {
    "default": {
      "workers": { "template": "default", "size": 1 },
    },
  },
}
`;
}

export function starterHcl(v: InitValues): string {
  const q = JSON.stringify;
  return `# pvefleet shard file: one PVE cluster. Reference: src/config/README.md
# Check it with:  pvefleet validate -c <this file>
cluster {
  id = ${q(v.clusterId)}
}

shard {
  id = ${q(v.shardId)}
  infra {
    provider = "proxmox"
    region   = ${q(v.region)}
    zone     = ${q(v.zone)}
    options = {
      insecure_tls           = false
      cloud_init_iso_storage = "local"
    }
  }
  subnet_pools = {
    default = [${q(v.vlan ? `${v.bridge}.${v.vlan}` : v.bridge)}]
  }
}

defaults {
  args = {
    TemplateName = ${q(v.templateName)}
    StoragePool  = ${q(v.storagePool)}
    Cores        = 2
    Memory       = 2048
    DiskSize     = "20G"
    StartOnBoot  = true
  }
  vars = {
    Environment = "dev"
  }
}

template "default" {
  kind        = "vms"
  arch        = "amd64"
  subnet_pool = "default"
  userdata {
    content = "${USERDATA}"
  }
}

group "default" "workers" {
  template = "default"
  size     = 1
}
`;
}

export async function run(opts: Opts): Promise<number> {
  const file = typeof opts.config === "string" && opts.config ? opts.config : "shard.jsonc";
  if (!/\.(jsonc?|hcl)$/i.test(file)) throw new UserError("E_USAGE", `${file}: a shard file must end in .jsonc, .json or .hcl`);
  const v = values(opts);
  const text = /\.hcl$/i.test(file) ? starterHcl(v) : starterJsonc(v);
  try {
    await writeFile(file, text, { flag: opts.force ? "w" : "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UserError("E_EXISTS", `${file} already exists; pass --force to overwrite it`);
    throw new UserError("E_WRITE", `cannot write ${file}: ${code ?? (err as Error).message}`);
  }
  process.stdout.write(`wrote ${file} (cluster ${v.clusterId}, shard ${v.shardId}); check it with: pvefleet validate -c ${file}\n`);
  return 0;
}
