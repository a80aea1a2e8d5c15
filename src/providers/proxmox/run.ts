/**
 * The contract's `run(action)` for Proxmox: each action type of the plan (src/providers/types.ts)
 * to the operations that carry it out. The switch is exhaustive, so a new action type is a compile
 * error here until it is handled. Every operation that changes an existing VM checks ownership
 * first (operations.ts `guard`).
 */
import { renderUserdata } from "../../config/index.js";
import type { UserdataSpec, VmSpec } from "../../config/model.js";
import type { ActionOutcome, ProviderAction, RunContext } from "../types.js";
import { fetchUserdata } from "./api/fetch-userdata.js";
import { buildCloudInitIso, cloudInitFiles } from "./cloud-init/cloud-init.js";
import { composeDescription, renderNotesBlock } from "./codecs/notes-block.js";
import type { ConfigureRequest, ProxmoxOps } from "./types.js";
import { normaliseTags } from "./codecs/tags.js";

export async function runAction(ops: ProxmoxOps, action: ProviderAction, ctx: RunContext): Promise<ActionOutcome> {
  const target = ctx.target;
  switch (action.type) {
    case "clone": {
      const p = action.params;
      const got = await ops.clone({
        instanceId: target.instanceId,
        node: target.node,
        vmid: target.vmid,
        template: p.template,
        storage: p.storage,
        ...(p.pool ? { pool: p.pool } : {}),
        full: p.full,
        ...(ctx.resumed ? { resumed: true } : {}),
      });
      return { node: got.node, vmid: got.vmid };
    }
    case "upload-iso": {
      const p = action.params;
      const bytes = await cloudInitIso(ctx.userdata, p.templateData, target.instanceId);
      const { volume } = await ops.uploadIso({ node: target.node, storage: p.storage, filename: p.filename, bytes });
      return { isoVolume: volume };
    }
    case "configure": {
      const p = action.params;
      const req: ConfigureRequest = { ...target };
      if (p.fresh) req.fresh = true;
      if (p.cores !== undefined) req.cores = p.cores;
      if (p.memoryMiB !== undefined) req.memoryMiB = p.memoryMiB;
      if (p.onboot !== undefined) req.onboot = p.onboot;
      if (p.net) req.net = p.net;
      if (p.tags) req.tags = normaliseTags(p.tags);
      if (p.description !== undefined) req.description = p.description;
      // A fresh clone carries the template's description; the block replaces it (as Nstance does).
      else if (p.notes) req.description = composeDescription(undefined, renderNotesBlock({ ...p.notes, created: p.notes.created ?? "" }));
      if (p.isoVolume !== undefined) req.isoVolume = p.isoVolume;
      if (p.digest !== undefined) req.digest = p.digest;
      await ops.configure(req);
      return {};
    }
    case "resize":
      await ops.resize({ ...target, ...(action.params.disk !== undefined ? { disk: action.params.disk } : {}), bytes: action.params.bytes });
      return {};
    case "start":
      await ops.start(target);
      return {};
    case "stop":
      await ops.stop({ ...target, timeoutSec: action.params.timeoutSec ?? ctx.shutdownTimeoutSec });
      return {};
    case "delete-vm":
      await ops.deleteVm(target);
      return {};
    case "delete-iso":
      await ops.deleteVolume({ node: target.node, volume: action.params.volume, instanceId: target.instanceId, vmid: target.vmid });
      return {};
    case "record-state":
    case "forget-state":
      return {};
  }
}

/**
 * The cloud-init ISO for one instance: userdata rendered for it (a `url` source is fetched here, at
 * create time, as Nstance does: with a timeout, and no more bytes than the userdata cap), NoCloud
 * files, ISO 9660 bytes.
 */
export async function cloudInitIso(userdata: UserdataSpec | undefined, data: Parameters<typeof renderUserdata>[1], instanceId: string): Promise<Uint8Array> {
  const spec = { userdata } as VmSpec;
  const fetched = userdata?.source === "url" ? await fetchUserdata(userdata.content) : undefined;
  return buildCloudInitIso(cloudInitFiles(instanceId, renderUserdata(spec, data, fetched)));
}
