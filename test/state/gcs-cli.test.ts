/**
 * `--storage gcs` and `gs://` shard files through the state commands, in-process, against the GCS
 * JSON-API test server. STORAGE_EMULATOR_HOST is set in process.env here, as a user would set it,
 * so the client's own handling of that variable is what runs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { newStateDoc, readGcsObject, readRemoteObject } from "../../src/state/index.js";
import { loadShardFile } from "../../src/config/index.js";
import { UserError } from "../../src/errors.js";
import { startGcsServer, type GcsTestServer } from "./gcs-server/server.js";
import { tempDir } from "./helpers.js";

const ID = "tst06dx9xy919t3v9kzd2xdsyzb3g";
const SHARD_FILE = `{
  "cluster": { "id": "demo" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva" } },
  "templates": { "web": { "kind": "tst", "arch": "amd64", "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13", "Memory": 1024, "Cores": 1 } } },
  "groups": { "acme": { "web": { "template": "web", "size": 1 } } },
}
`;
const BUCKET = "fleet-state";

let server: GcsTestServer;
let tmp: { dir: string; cleanup: () => void };
const saved = process.env.STORAGE_EMULATOR_HOST;

beforeAll(async () => {
  server = await startGcsServer();
  server.createBucket(BUCKET);
  process.env.STORAGE_EMULATOR_HOST = server.endpoint;
  const { createGcsClient } = await import("../../src/state/gcs-backend.js");
  const { storage } = await createGcsClient();
  await storage.bucket(BUCKET).file("shards/dev.jsonc").save(SHARD_FILE, { resumable: false });
  tmp = tempDir("gcs-cli");
});
afterAll(async () => {
  if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
  else process.env.STORAGE_EMULATOR_HOST = saved;
  tmp.cleanup();
  await server.close();
});

/** Runs a state command module the way main() does (UserError → one "Error:" line, exit 1). */
async function cli(command: string, positional: string[], opts: Record<string, unknown>): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const mod = (await import(`../../src/cli/commands/${command}.ts`)) as { run: (opts: object, ...a: unknown[]) => Promise<number> };
    return { code: await mod.run({ format: "text", stateDir: "./.pvefleet", ...opts }, ...positional), out, err };
  } catch (x) {
    if (!(x instanceof UserError)) throw x;
    return { code: 1, out, err: `${err}Error: ${x.line()}\n` };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe("state commands and gs:// shard files on the GCS test server", () => {
  it("reads a shard file from gs://bucket/object, and says when there is none", async () => {
    expect(new TextDecoder().decode(await readGcsObject(`gs://${BUCKET}/shards/dev.jsonc`))).toContain('"demo"');
    expect(new TextDecoder().decode(await readRemoteObject(`gs://${BUCKET}/shards/dev.jsonc`))).toContain('"demo"');
    const missing = await readGcsObject(`gs://${BUCKET}/shards/none.jsonc`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as UserError).message).toBe(`cannot read gs://${BUCKET}/shards/none.jsonc at ${server.endpoint}: no such object`);
  });

  it("loads a gs:// shard file through the injected reader and refuses one without a reader", async () => {
    const shard = await loadShardFile(`gs://${BUCKET}/shards/dev.jsonc`, { readRemote: (url) => readRemoteObject(url) });
    expect(shard).toMatchObject({ clusterId: "demo", shardId: "dev" });
    await expect(loadShardFile(`gs://${BUCKET}/shards/dev.jsonc`)).rejects.toThrow(/reading shard files from GCS is not available here/);
  });

  it("pushes and lists state in the bucket with --storage gcs, the shard file read from gs://", async () => {
    const doc = { ...newStateDoc("demo", "dev"), serial: 1, instances: {} };
    const file = path.join(tmp.dir, "push.json");
    writeFileSync(file, JSON.stringify(doc));
    const common = { config: `gs://${BUCKET}/shards/dev.jsonc`, storage: "gcs", bucket: BUCKET, prefix: "fleet" };
    const push = await cli("state-push", [file], common);
    expect(push.err).toBe("");
    expect(push.code).toBe(0);
    expect(push.out).toContain("serial 2");
    const stored = server.object(BUCKET, "fleet/shard/dev/state.json")!;
    expect(JSON.parse(stored.data.toString())).toMatchObject({ lineage: doc.lineage, serial: 2 });
    const list = await cli("state-list", [], common);
    expect(list.code).toBe(0);
    expect(list.out).toContain(`gs://${BUCKET}/fleet/shard/dev/state.json`);
    expect(list.out).not.toContain(ID);
    // The lock was taken and released around the push: nothing is left but the state.
    expect(server.objectNames(BUCKET).filter((n) => n.startsWith("fleet/"))).toEqual(["fleet/shard/dev/state.json"]);
  });

  it("refuses an unknown --storage, naming the three it supports", async () => {
    const r = await cli("state-list", [], { config: `gs://${BUCKET}/shards/dev.jsonc`, storage: "azure", bucket: BUCKET });
    expect(r.code).toBe(1);
    expect(r.err).toContain('unknown --storage "azure" (supported: file, s3, gcs)');
  });
});
