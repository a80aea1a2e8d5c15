/**
 * Storage endpoints: the node's storage list, volume listings, volume deletion and the ISO/template
 * upload (pve-api.md §6, rule 18). Upload bodies arrive already parsed by `multipart.ts`.
 */
import { nowSeconds, type SimStorage } from "./cluster.js";
import { fail, paramFail, type Handler, type SimContext } from "./context.js";
import { TaskError } from "./tasks.js";
import { requireNode } from "./api-cluster.js";

function storageOf(sim: SimContext, node: string, id: string): SimStorage {
  requireNode(sim.cluster, node);
  const s = sim.cluster.storageOnNode(id, node);
  if (!s) throw fail(`storage '${id}' does not exist`);
  if (!s.online) throw fail(`storage '${id}' is not online`);
  return s;
}

const listStorages: Handler = (sim, req) => {
  const node = req.params.node!;
  requireNode(sim.cluster, node);
  const c = sim.cluster;
  // An unknown storage ID is a parameter error (pve-storage stable-8 src/PVE/API2/Storage/Status.pm:194).
  if (req.params.storage !== undefined && !c.storages.has(req.params.storage)) throw paramFail({ storage: "No such storage." });
  const out: Array<Record<string, unknown>> = [];
  for (const s of c.storages.values()) {
    // storage_info lists every storage of storage.cfg; one not available on this node is `enabled: 0`,
    // and is left out only when a content filter is given (pve-storage src/PVE/Storage.pm storage_info,
    // storage_check_enabled → storage_check_node). An unreachable one is enabled but `active: 0`.
    const enabled = !s.nodes || s.nodes.includes(node);
    if (req.params.storage !== undefined && req.params.storage !== s.id) continue;
    if (req.params.content !== undefined && (!enabled || !req.params.content.split(",").some((ct) => s.content.includes(ct)))) continue;
    const base = { storage: s.id, type: s.type, content: s.content.join(","), shared: s.shared ? 1 : 0 };
    if (!enabled || !s.online) {
      out.push({ ...base, active: 0, enabled: enabled ? 1 : 0, total: 0, used: 0, avail: 0 });
      continue;
    }
    const used = c.storageUsedBytes(s, node);
    out.push({ ...base, active: 1, enabled: 1, total: s.totalBytes, used, avail: s.totalBytes - used, used_fraction: used / s.totalBytes });
  }
  return out;
};

const listContent: Handler = (sim, req) => {
  const node = req.params.node!;
  const s = storageOf(sim, node, req.params.storage!);
  const out: Array<Record<string, unknown>> = [];
  for (const v of sim.cluster.volumesOn(s, node)) {
    if (v.storage !== s.id || (!s.shared && v.node !== node)) continue;
    if (req.params.content !== undefined && v.content !== req.params.content) continue;
    if (req.params.vmid !== undefined && v.vmid !== Number(req.params.vmid)) continue;
    const item: Record<string, unknown> = { volid: v.volid, content: v.content, format: v.format, size: v.sizeBytes, ctime: v.ctime };
    if (v.vmid !== undefined) item.vmid = v.vmid;
    const parent = /:(?:\d+\/)?(base-\d+-disk-\d+(?:\.\w+)?)\//.exec(v.volid)?.[1];
    if (parent) item.parent = parent;
    if (v.content === "images") item.used = Math.round(v.sizeBytes * 0.3);
    out.push(item);
  }
  return out.sort((a, b) => String(a.volid).localeCompare(String(b.volid)));
};

const deleteContent: Handler = (sim, req) => {
  const node = req.params.node!;
  const s = storageOf(sim, node, req.params.storage!);
  const raw = req.params.volume!;
  const volid = raw.includes(":") ? raw : `${s.id}:${raw}`;
  const owner = /(?:^|\/)(?:vm|base)-(\d+)-/.exec(volid)?.[1];
  const c = sim.cluster;
  // The schema says `user => 'all'`; the handler checks Datastore.Allocate on the storage before
  // the worker (pve-storage stable-8 src/PVE/API2/Storage/Content.pm:492).
  c.acl.check(`/storage/${s.id}`, ["Datastore.Allocate"]);
  return sim.spawn(req, {
    node, type: "imgdel", id: owner ? `${owner}@${s.id}` : s.id,
    body: async (t) => {
      await t.sleep(sim.timings.taskBaseMs);
      // A missing file is only a plain `warn` in free_image, so the task ends OK (pve-storage
      // stable-8 src/PVE/Storage/Plugin.pm:1008; only log_warn counts to WARNINGS, RESTEnvironment.pm:640,749).
      if (!c.findVolume(volid, node)) return; // the task log would say `disk image '<path>' does not exist`
      c.removeVolume(volid, node);
      c.touchVolumes();
    },
  });
};

const ISO_EXT = /\.(iso|img)$/i;
const VZTMPL_EXT = /\.tar\.(gz|xz|zst|bz2)$/i;
const IMPORT_EXT = /^[a-zA-Z0-9\-.+=_]+\.(ova|qcow2|raw|vmdk)$/;

const upload: Handler = (sim, req) => {
  const p = req.params;
  const node = p.node!;
  const upload = req.upload!;
  const s = storageOf(sim, node, p.storage!);
  if (!sim.cluster.isPathBased(s)) throw fail(`can't upload to storage type '${s.type}'`);
  const filename = p.filename!.replace(/^.*[/\\]/, "").replace(/[^a-zA-Z0-9_.-]/g, "_");
  const content = p.content!;
  if (content === "iso" && !ISO_EXT.test(filename)) throw paramFail({ filename: "wrong file extension" });
  if (content === "vztmpl" && !VZTMPL_EXT.test(filename)) throw paramFail({ filename: "wrong file extension" });
  if (content === "import" && !IMPORT_EXT.test(filename)) throw paramFail({ filename: "invalid filename or wrong extension" });
  if (!s.content.includes(content)) throw fail(`storage '${s.id}' does not support '${content}' content`);
  const dir = content === "iso" ? "iso" : content === "vztmpl" ? "vztmpl" : "import";
  const volid = `${s.id}:${dir}/${filename}`;
  const expected = p.checksum;
  return sim.spawn(req, {
    node, type: "imgcopy", id: "",
    body: async (t) => {
      await t.sleep(sim.timings.taskBaseMs + upload.sizeBytes / sim.timings.uploadBytesPerMs);
      if (expected !== undefined && upload.digest !== undefined && upload.digest.toLowerCase() !== expected.toLowerCase()) {
        throw new TaskError(`checksum mismatch: got '${upload.digest}' != expect '${expected}'`);
      }
      // An existing file of the same name is silently overwritten.
      sim.cluster.addVolume({ volid, storage: s.id, content, format: content === "iso" ? "iso" : content === "vztmpl" ? "tgz" : "raw",
        sizeBytes: upload.sizeBytes, ctime: nowSeconds() }, node);
      sim.cluster.touchVolumes();
    },
  });
};

/**
 * Removes a storage definition (pve-storage src/PVE/API2/Storage/Config.pm `delete`; the schema's
 * check is Datastore.Allocate on /storage). Only the definition goes: the volumes stay where they
 * are, and VMs still reference them (operators do this when retiring a storage).
 */
const deleteStorage: Handler = (sim, req) => {
  const id = req.params.storage!;
  if (!sim.cluster.storages.has(id)) throw fail(`storage '${id}' does not exist`);
  sim.cluster.storages.delete(id);
  sim.cluster.touchVolumes();
  return null;
};

export function storageHandlers(): Record<string, Handler> {
  return {
    "DELETE /storage/{storage}": deleteStorage,
    "GET /nodes/{node}/storage": listStorages,
    "GET /nodes/{node}/storage/{storage}/content": listContent,
    "DELETE /nodes/{node}/storage/{storage}/content/{volume}": deleteContent,
    "POST /nodes/{node}/storage/{storage}/upload": upload,
  };
}
