/**
 * `--state FILE`: the cluster's VMs, volumes and node power state as JSON, written atomically
 * (temp file + rename) a short while after each change, and read back at start. Nodes, storages
 * and bridges come from the topology each time; the file keeps what the API changed.
 */
import { readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import type { Cluster, SimVm, Volume } from "./cluster.js";
import { UserError } from "../errors.js";

interface StateFile {
  format: "pvefleet-sim-state";
  version: 1;
  vms: SimVm[];
  volumes: Volume[];
  nodesOnline: Record<string, boolean>;
  /** The simulator's own token secret, so the exported variables stay valid across restarts. */
  tokenSecret?: string;
}

/** Loads a state file into the cluster; undefined when the file does not exist yet. */
export function loadState(cluster: Cluster, file: string): { tokenSecret?: string } | undefined {
  if (!existsSync(file)) return undefined;
  let doc: StateFile;
  try {
    doc = JSON.parse(readFileSync(file, "utf8")) as StateFile;
  } catch (e) {
    throw new UserError("E_SIM_STATE", `${file}: cannot read simulator state: ${(e as Error).message}`);
  }
  if (doc.format !== "pvefleet-sim-state" || doc.version !== 1) {
    throw new UserError("E_SIM_STATE", `${file}: not a pvefleet simulator state file (format ${String(doc.format)} version ${String(doc.version)})`);
  }
  for (const vm of doc.vms) {
    if (!cluster.nodes.has(vm.node)) throw new UserError("E_SIM_STATE", `${file}: VM ${vm.vmid} is on node '${vm.node}', which the topology does not have`);
    cluster.vms.set(vm.vmid, { ...vm, published: undefined });
    cluster.publish(cluster.vms.get(vm.vmid)!);
  }
  for (const v of doc.volumes) cluster.volumes.set(`${v.node}|${v.volid}`, v);
  for (const [name, online] of Object.entries(doc.nodesOnline ?? {})) {
    const n = cluster.nodes.get(name);
    if (n) n.online = online;
  }
  cluster.vmidsChanged();
  cluster.touch();
  return { tokenSecret: doc.tokenSecret };
}

export function saveState(cluster: Cluster, file: string, tokenSecret?: string): void {
  const doc: StateFile = {
    format: "pvefleet-sim-state",
    version: 1,
    vms: [...cluster.vms.values()].map((vm) => ({ ...vm, published: undefined })),
    volumes: [...cluster.volumes.values()],
    nodesOnline: Object.fromEntries([...cluster.nodes.values()].map((n) => [n.name, n.online])),
    tokenSecret,
  };
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(doc));
  renameSync(tmp, file);
}

/**
 * Debounces writes: at most one every `delayMs`, or every 4× the last write's duration when that is
 * longer (a 10,000-VM cluster's file takes a while to write; without this, a busy simulator would
 * spend most of its time rewriting it), and a final one on flush().
 */
export class StateWriter {
  private timer: NodeJS.Timeout | undefined;
  private lastSaveMs = 0;
  constructor(
    private readonly cluster: Cluster,
    private readonly file: string,
    private readonly tokenSecret: string,
    private readonly delayMs = 200,
  ) {}

  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, Math.min(MAX_DELAY_MS, Math.max(this.delayMs, 4 * this.lastSaveMs)));
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.save();
  }

  private save(): void {
    const t0 = performance.now();
    saveState(this.cluster, this.file, this.tokenSecret);
    this.lastSaveMs = performance.now() - t0;
  }
}

const MAX_DELAY_MS = 5000;
