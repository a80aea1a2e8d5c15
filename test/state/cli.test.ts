/**
 * The state commands, in-process, against the file backend and
 * the S3 test server. Output is captured from process.stdout/stderr.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { newStateDoc, openStateStore, readS3Object } from "../../src/state/index.js";
import { createS3Client } from "../../src/state/s3-backend.js";
import { UserError } from "../../src/errors.js";
import { makeBucket, s3Env, tempDir } from "./helpers.js";

const record = (instanceId: string) => ({
  instanceId,
  tenant: "acme",
  group: "web",
  template: "web",
  kind: "tst",
  vmid: 10001,
  node: "pve1",
  replaceHash: "sha256:a",
  updateHash: "sha256:b",
  phase: "ready" as const,
  stepsDone: [],
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-02T00:00:00Z",
});

/**
 * Runs a state command the way main() does (UserError → one "Error:" line, exit 1). main()'s lazy
 * `import(\`./commands/${name}.js\`)` cannot be resolved by vitest's module loader, so the command
 * modules are called directly with the options commander would give them.
 */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { name, positional, opts } = parseArgs(argv);
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const mod = (await import(`../../src/cli/commands/${name}.ts`)) as { run: (opts: object, ...a: unknown[]) => Promise<number> };
    const code = await mod.run(opts, ...positional);
    return { code, out, err };
  } catch (x) {
    if (!(x instanceof UserError)) throw x;
    err += `Error: ${x.line()}\n`;
    return { code: 1, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

function parseArgs(argv: string[]): { name: string; positional: string[]; opts: Record<string, unknown> } {
  const words = [...argv];
  const name = words[0] === "state" ? `state-${words.splice(0, 2)[1]}` : words.shift()!;
  const opts: Record<string, unknown> = { storage: "file", prefix: "", stateDir: "./.pvefleet", format: "text" };
  const positional: string[] = [];
  const names: Record<string, string> = { "-c": "config", "--state-dir": "stateDir", "--storage": "storage", "--bucket": "bucket", "--prefix": "prefix", "--format": "format", "--shard": "shard" };
  while (words.length) {
    const w = words.shift()!;
    if (w === "--force" || w === "-f") opts.force = true;
    else if (names[w]) opts[names[w]!] = words.shift();
    else positional.push(w);
  }
  return { name, positional, opts };
}

let tmp: { dir: string; cleanup: () => void };
let shardFile: string;
let stateDir: string;
const ID = "tst06dx9xy919t3v9kzd2xdsyzb3g";
const SHARD_FILE = `// a shard
{
  "cluster": { "id": "demo" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva" } },
  "templates": { "web": { "kind": "tst", "arch": "amd64", "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13", "Memory": 1024, "Cores": 1 } } },
  "groups": { "acme": { "web": { "template": "web", "size": 1 } } },
}
`;

beforeAll(() => {
  tmp = tempDir("cli");
  shardFile = path.join(tmp.dir, "shard.jsonc");
  stateDir = path.join(tmp.dir, "state");
  writeFileSync(shardFile, SHARD_FILE);
});
afterAll(() => tmp.cleanup());
afterEach(() => vi.restoreAllMocks());

describe("state commands on the file backend", () => {
  const common = () => ["-c", shardFile, "--state-dir", stateDir];

  it("says there is no state yet, in text and JSON", async () => {
    const text = await cli("state", "list", ...common());
    expect(text.code).toBe(0);
    expect(text.out).toContain("No state yet for shard dev");
    const json = await cli("state", "list", ...common(), "--format", "json");
    expect(JSON.parse(json.out)).toMatchObject({ serial: 0, instances: [] });
  });

  it("pushes a document, then lists, shows and pulls it", async () => {
    const doc = { ...newStateDoc("demo", "dev"), serial: 5, instances: { [ID]: record(ID) } };
    const file = path.join(tmp.dir, "push.json");
    writeFileSync(file, JSON.stringify(doc));
    const push = await cli("state", "push", file, ...common());
    expect(push.code).toBe(0);
    expect(push.out).toContain("serial 6");

    const list = await cli("state", "list", ...common());
    expect(list.out).toMatch(new RegExp(`${ID}\\s+acme\\.web\\s+10001\\s+pve1\\s+ready`));
    const listJson = JSON.parse((await cli("state", "list", ...common(), "--format", "json")).out);
    expect(listJson).toMatchObject({ format_version: "1.0", cluster_id: "demo", shard_id: "dev", serial: 6 });
    expect(listJson.instances[0]).toMatchObject({ instance_id: ID, address: `acme.web/${ID}`, group: "acme.web", vmid: 10001 });

    const show = await cli("state", "show", ID, ...common());
    expect(show.out).toMatch(/vmid:\s+10001/);
    const shown = JSON.parse((await cli("state", "show", ID, ...common(), "--format", "json")).out);
    expect(shown).toMatchObject({ format_version: "1.0", instance_id: ID, tenant: "acme", group: "acme.web", vmid: 10001, node: "pve1", phase: "ready", created_at: record(ID).createdAt });
    expect(Object.keys(shown).every((k) => /^[a-z0-9_]+$/.test(k))).toBe(true);

    const pull = JSON.parse((await cli("state", "pull", ...common())).out);
    expect(pull).toMatchObject({ lineage: doc.lineage, serial: 6, clusterId: "demo", shardId: "dev" });
  });

  it("refuses a push of a lower serial or another lineage, and --force overrides with a warning", async () => {
    const current = JSON.parse((await cli("state", "pull", ...common())).out);
    const older = path.join(tmp.dir, "older.json");
    writeFileSync(older, JSON.stringify({ ...current, serial: current.serial - 1 }));
    const r1 = await cli("state", "push", older, ...common());
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/^Error: .*not higher than the stored serial/);

    const foreign = path.join(tmp.dir, "foreign.json");
    writeFileSync(foreign, JSON.stringify({ ...newStateDoc("demo", "dev"), serial: 99 }));
    const r2 = await cli("state", "push", foreign, ...common());
    expect(r2.code).toBe(1);
    expect(r2.err).toContain("lineage");

    const r3 = await cli("state", "push", foreign, ...common(), "--force");
    expect(r3.code).toBe(0);
    expect(r3.err).toContain("Warning: replacing state lineage");
    expect(JSON.parse((await cli("state", "pull", ...common())).out).serial).toBe(100);
  });

  it("fails a show of an unknown instance with a did-you-mean", async () => {
    await cli("state", "push", path.join(tmp.dir, "push.json"), ...common(), "--force");
    const r = await cli("state", "show", "tst06dx", ...common());
    expect(r.code).toBe(1);
    expect(r.err).toContain(`did you mean ${ID}`);
  });

  it("force-unlock needs -f off a terminal, and with -f removes the named lock", async () => {
    const store = await openStateStore({ storage: "file", stateDir, clusterId: "demo", shardId: "dev" });
    const lock = await store.lock("apply");
    const refused = await cli("force-unlock", lock.info.id, ...common());
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("needs confirmation");
    expect(await store.currentLock()).toBeDefined();
    const done = await cli("force-unlock", lock.info.id, ...common(), "-f");
    expect(done.code).toBe(0);
    expect(await store.currentLock()).toBeUndefined();
  });

  it("refuses a push while another run holds the lock, showing Lock Info", async () => {
    const store = await openStateStore({ storage: "file", stateDir, clusterId: "demo", shardId: "dev" });
    const lock = await store.lock("apply");
    const r = await cli("state", "push", path.join(tmp.dir, "push.json"), ...common(), "--force");
    expect(r.code).toBe(1);
    expect(r.err).toContain("Error acquiring the state lock");
    expect(r.err).toContain(`ID:        ${lock.info.id}`);
    await lock.release();
  });
});

describe("state commands and s3:// shard files on the S3 server", () => {
  let bucket: string;

  beforeAll(async () => {
    Object.assign(process.env, s3Env()); // throws, failing the suite, when no server was started
    bucket = await makeBucket();
    const { client, mod } = await createS3Client();
    await client.send(new mod.PutObjectCommand({ Bucket: bucket, Key: "shards/dev.jsonc", Body: SHARD_FILE }));
    client.destroy();
  });

  it("reads a shard file from s3://bucket/key", async () => {
    const bytes = await readS3Object(`s3://${bucket}/shards/dev.jsonc`);
    expect(new TextDecoder().decode(bytes)).toContain('"demo"');
    const missing = await readS3Object(`s3://${bucket}/shards/none.jsonc`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as UserError).message).toContain("no such object");
  });

  it("pushes and lists state in the bucket, with the shard file read from s3://", async () => {
    const doc = { ...newStateDoc("demo", "dev"), serial: 1, instances: { [ID]: record(ID) } };
    const file = path.join(tmp.dir, "s3push.json");
    writeFileSync(file, JSON.stringify(doc));
    const common = ["-c", `s3://${bucket}/shards/dev.jsonc`, "--storage", "s3", "--bucket", bucket, "--prefix", "fleet"];
    const push = await cli("state", "push", file, ...common);
    expect(push.err).toBe("");
    expect(push.code).toBe(0);
    const list = await cli("state", "list", ...common);
    expect(list.out).toContain(`s3://${bucket}/fleet/shard/dev/state.json`);
    expect(list.out).toContain(ID);
    expect(list.out + list.err).not.toContain(s3Env().AWS_SECRET_ACCESS_KEY);
  });
});
