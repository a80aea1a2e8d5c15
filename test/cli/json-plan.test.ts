/**
 * `plan --format json` / `show FILE --format json` (format 2.0): `before` and `after` share one
 * schema in bytes, every change has Terraform's `type`, and userdata and vars are sensitive — marked
 * in `before_sensitive`/`after_sensitive` and never written, in the JSON, the markdown, or what
 * `show` renders from a saved plan (through the real CLI against the simulator).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { startSimulator } from "../../src/sim/index.js";
import { planToJson, renderPlanJson, SENSITIVE, type VmValuesJson } from "../../src/cli/render/json.js";
import { renderPlanMarkdown } from "../../src/cli/render/markdown.js";
import type { Plan } from "../../src/planner/types.js";
import { mixedPlan, spec } from "./fixtures.js";
import { cli, workspace, type Sim, type Workspace } from "./helpers.js";

const UD_SECRET = "ud-secret-7f3a9c";
const VAR_SECRET = "var-secret-51be02";

/** The mixed plan with userdata and vars holding secrets everywhere they can be: specs, attributes, forcedBy, drift. */
function secretPlan(): Plan {
  const p = mixedPlan();
  const userdata = { source: "inline" as const, encoding: "plain" as const, content: `#cloud-config\npassword: ${UD_SECRET}\n` };
  for (const c of p.changes) if (c.after) c.after = spec({ ...c.after, userdata, vars: { token: VAR_SECRET, motd: "hello" } });
  const replace = p.changes.find((c) => c.kind === "replace")!;
  replace.attributes = [
    { attribute: "userdata", before: `old ${UD_SECRET}`, after: `new ${UD_SECRET}`, forcesReplacement: true },
    { attribute: "vars.token", before: "old", after: VAR_SECRET, forcesReplacement: true },
  ];
  replace.forcedBy = [
    { attribute: "userdata", sensitive: true, linesChanged: 2, message: "userdata changed (sensitive, 2 lines changed)" },
    { attribute: "vars.token", sensitive: true, message: "vars.token changed (sensitive)" },
    { attribute: "diskBytes", before: 64, after: 32, sensitive: false, message: "disk cannot shrink" },
  ];
  p.drift.push({ fingerprint: "sha256:dddd", kind: "attribute", instanceId: replace.instanceId, attribute: "userdata", expected: UD_SECRET, actual: "x", message: "userdata differs" });
  return p;
}

const KEYS = (v: VmValuesJson | null) => (v ? Object.keys(v) : []);

describe("JSON plan 2.0", () => {
  it("gives before and after the same keys, in bytes, and every change Terraform's type", () => {
    const j = planToJson(secretPlan());
    expect(j.format_version).toBe("2.0");
    for (const rc of j.resource_changes) {
      expect(rc).toMatchObject({ type: "pvefleet_vm", mode: "managed", provider_name: "pvefleet/proxmox", index: rc.instance_id });
      if (rc.change.before && rc.change.after) expect(KEYS(rc.change.after)).toEqual(KEYS(rc.change.before));
    }
    const update = j.resource_changes.find((r) => r.kind === "update")!;
    // One unit: a policy can compare before.memory_bytes with after.memory_bytes.
    expect(update.change.before!.memory_bytes).toBe(2048 * 1024 * 1024);
    expect(update.change.after!.memory_bytes).toBe(4096 * 1024 * 1024);
    expect(j.resource_changes.find((r) => r.kind === "create")!.change).toMatchObject({ before: null, before_sensitive: false, after: { node: "pve2", vmid: 10004 } });
    expect(j.resource_changes.find((r) => r.kind === "delete")!.change).toMatchObject({ after: null, after_sensitive: false });
  });

  it("marks userdata and vars sensitive and never writes their values", () => {
    const p = secretPlan();
    const text = renderPlanJson(p);
    expect(text).not.toContain(UD_SECRET);
    expect(text).not.toContain(VAR_SECRET);
    expect(renderPlanMarkdown(p)).not.toContain(UD_SECRET);
    expect(renderPlanMarkdown(p)).not.toContain(VAR_SECRET);
    const replace = planToJson(p).resource_changes.find((r) => r.kind === "replace")!;
    expect(replace.change.after).toMatchObject({ userdata: SENSITIVE, vars: { token: SENSITIVE, motd: SENSITIVE } });
    expect(replace.change.after_sensitive).toEqual({ userdata: true, vars: true });
    expect(replace.change.attributes.map((a) => [a.attribute, a.after, a.sensitive])).toEqual([["userdata", SENSITIVE, true], ["vars.token", SENSITIVE, true]]);
    // What forces the replacement, as Terraform's replace_paths in the `after` schema.
    expect(replace.change.replace_paths).toEqual([["userdata"], ["vars", "token"], ["disk_bytes"]]);
    expect(planToJson(p).resource_drift.at(-1)).toMatchObject({ attribute: "userdata", expected: SENSITIVE, actual: SENSITIVE });
  });
});

const SHARD = `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "cloud_init_iso_storage": "local" } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" },
      "vars": { "db_password": "${VAR_SECRET}" },
      "userdata": { "content": "#cloud-config\\nhostname: {{ .Instance.ID }}\\npassword: ${UD_SECRET}\\n" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 3 } } }
}
`;

describe("sensitive values through the CLI", () => {
  let sim: Sim;
  let ws: Workspace;
  beforeEach(async () => {
    sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
    ws = await workspace(sim, SHARD);
  });
  afterEach(async () => {
    await sim?.stop();
    if (ws) await rm(ws.dir, { recursive: true, force: true });
  });

  it("plan --format json, and show FILE in every format, never print userdata or vars", async () => {
    const file = join(ws.dir, "p.json");
    const planned = await cli(ws, ["plan", "--format", "json", "--out", file]);
    expect(planned.stderr).toBe("");
    expect(planned.code).toBe(0);
    const j = JSON.parse(planned.stdout) as ReturnType<typeof planToJson>;
    expect(j.resource_changes).toHaveLength(3);
    expect(j.resource_changes[0]!.change.after).toMatchObject({ userdata: SENSITIVE, vars: { db_password: SENSITIVE } });
    for (const out of [planned.stdout, ...(await Promise.all(["json", "markdown", "text"].map(async (f) => (await cli(ws, ["show", file, "--format", f])).stdout)))]) {
      expect(out.length).toBeGreaterThan(100);
      expect(out).not.toContain(UD_SECRET);
      expect(out).not.toContain(VAR_SECRET);
    }
    // show FILE --format json is the plan's JSON (same plan, same plan_hash).
    const shown = JSON.parse((await cli(ws, ["show", file, "--format", "json"])).stdout) as ReturnType<typeof planToJson>;
    expect(shown.plan_hash).toBe(j.plan_hash);
    expect(shown.resource_changes).toEqual(j.resource_changes);
    // The file itself holds the shard's userdata once (like Terraform's plan file: keep it with the state).
    expect((await readFile(file, "utf8")).split(UD_SECRET).length - 1).toBe(1);
  });
});
