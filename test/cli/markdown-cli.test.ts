/**
 * `plan --format markdown` and `show PLANFILE --format markdown` end to end: the real CLI against
 * the simulator. The commit/run line comes from the CI variables, the pointer to the full plan names
 * the saved plan file, and userdata and vars never reach the comment (create, then a replacement).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rm, writeFile } from "node:fs/promises";
import { startSimulator } from "../../src/sim/index.js";
import { cli, workspace, type Sim, type Workspace } from "./helpers.js";

const SECRET = "hunter2-db-password";

function shard(version: string): string {
  return `{
  "cluster": { "id": "test-cluster" },
  "shard": { "id": "dev", "infra": { "provider": "proxmox", "region": "dev", "zone": "deva", "options": { "full_clone": false } } },
  "templates": {
    "web": { "kind": "tst", "arch": "amd64",
      "args": { "StoragePool": "local-lvm", "TemplateName": "debian-13-template", "Cores": 1, "Memory": 512, "Bridge": "vmbr0" },
      "vars": { "DbPassword": "${SECRET}-${version}" },
      "userdata": { "content": "#cloud-config\\npassword: {{ .Vars.DbPassword }}\\nwrite_files: [{ path: /etc/v, content: ${version}-${SECRET} }]\\n" } }
  },
  "groups": { "acme": { "web": { "template": "web", "size": 2 } } }
}
`;
}

const NO_CI = { GITHUB_SHA: "", GITHUB_SERVER_URL: "", GITHUB_REPOSITORY: "", GITHUB_RUN_ID: "", GITHUB_RUN_NUMBER: "", PVEFLEET_PLAN_URL: "", PVEFLEET_COMMIT_SHA: "" };
const GITHUB = {
  ...NO_CI, GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "4242", GITHUB_RUN_NUMBER: "17",
  GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
};

let sim: Sim;
let ws: Workspace;

beforeAll(async () => {
  sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
  ws = await workspace(sim, shard("v1"));
});

afterAll(async () => {
  await sim?.stop();
  if (ws) await rm(ws.dir, { recursive: true, force: true });
});

describe("plan --format markdown", () => {
  it("names the commit and run from GitHub's variables and points to the run's artifacts", async () => {
    const r = await cli(ws, ["plan", "--format", "markdown"], GITHUB);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("<!-- pvefleet:plan test-cluster/dev -->");
    expect(r.stdout).toContain("Plan for `0123456` · [run #17](https://github.com/acme/fleet/actions/runs/4242) · full plan: the job's artifacts on [run #17](https://github.com/acme/fleet/actions/runs/4242#artifacts)");
    expect(r.stdout).toContain("**Plan: 2 to add, 0 to change, 0 to destroy.**");
    expect(r.stdout).toContain("Spec: template `debian-13-template` · 1 core · 512 MiB memory · the template's disk size · storage `local-lvm`");
    expect(r.stdout).toContain("userdata (sensitive) · vars (sensitive)");
    expect(r.stdout).not.toContain(SECRET);
  });

  it("without CI variables points to the saved plan file, and show PLANFILE to itself", async () => {
    const r = await cli(ws, ["plan", "--format", "markdown", "--out", "reviewed.plan.json"], NO_CI);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('\n\nFull plan: `pvefleet show "reviewed.plan.json"` (add `--format json` for machines)\n');
    expect(r.stdout).not.toMatch(/run `pvefleet plan`/i);
    const shown = await cli(ws, ["show", "reviewed.plan.json", "--format", "markdown"], { ...NO_CI, PVEFLEET_PLAN_URL: "https://ci.example.com/jobs/9/plan.txt" });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("\n\nFull plan: [https://ci.example.com/jobs/9/plan.txt](https://ci.example.com/jobs/9/plan.txt)\n");
    expect(shown.stdout).not.toContain(SECRET);
  });

  it("shows a userdata and vars change as names only, the replacement a warning", async () => {
    const applied = await cli(ws, ["apply", "--auto-approve"], NO_CI);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    await writeFile(ws.config, shard("v2"));
    const r = await cli(ws, ["plan", "--format", "markdown"], NO_CI);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/> \[!WARNING\]\n> \*\*2 VMs will be replaced\*\* \(acme\.web 2\)/);
    expect(r.stdout).not.toContain("[!CAUTION]");
    expect(r.stdout).toMatch(/\| replace \(create first\): forced by [^|]*userdata \(sensitive\)/);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toContain("password:");
  }, 60_000);
});
