/**
 * The GitHub Actions examples (examples/ci/*.yml): they parse, their steps are well formed, every
 * `pvefleet` command and flag they use exists, they install a pinned release (the package is not
 * on the npm registry), warn about fork PRs and public runners, pass shellcheck — and their shell
 * steps do what the headers say when run against the simulator: one sticky comment per shard for
 * failed and passing plans alike (the github-script steps run against an in-memory stand-in for
 * GitHub's REST API), the reviewed saved plans applied after the merge, a stale one refused and
 * reported, one drift job per shard.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent } from "undici";
import { startSimulator } from "../../src/sim/index.js";
import { BIN, apiUrl, type Sim } from "../cli/helpers.js";
import { EXAMPLES, ROOT, checkInvocation, readWorkflow, runBash, runProgram, step, workflowFiles, type Workflow } from "./helpers.js";

const files = workflowFiles();
/** Every `pvefleet …` command line in a shell script, continuation lines joined, up to a redirection or pipe. */
function pvefleetCommands(script: string): string[][] {
  return script.replace(/\\\n\s*/g, " ").split("\n")
    .map((l) => /^\s*(?:if !\s+)?pvefleet\s+(.*)$/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined)
    .map((l) => l.split(/\s+(?:\d?>|\|)/)[0]!.trim().split(/\s+/));
}

describe.each(files)("examples/ci/%s", (file) => {
  const text = readFileSync(join(EXAMPLES, "ci", file), "utf8");
  const wf: Workflow = readWorkflow(file);

  it("is a workflow whose steps each use an action pinned to a major version or run a script", () => {
    expect(typeof wf.name).toBe("string");
    expect(Object.keys(wf.on).length).toBeGreaterThan(0);
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(job["runs-on"], name).toBeDefined();
      for (const s of job.steps) {
        expect((s.uses === undefined) !== (s.run === undefined), `${name}: a step needs exactly one of uses/run: ${JSON.stringify(s)}`).toBe(true);
        if (s.uses) expect(s.uses, name).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
      }
    }
  });

  it("uses only pvefleet commands and flags that exist", async () => {
    const scripts = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ""));
    const commands = scripts.flatMap(pvefleetCommands);
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) await checkInvocation(c, file);
  });

  it("installs a pinned release tarball, never the unpublished registry name, and says so", () => {
    expect(text).not.toMatch(/npm (install|i) (-g |--global )?pvefleet(@\S*)?\s*$/m);
    expect(wf.env?.PVEFLEET_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    const installs = Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => s.run?.includes("npm install -g"));
    expect(installs.length).toBe(Object.values(wf.jobs).filter((j) => j.steps.some((s) => s.run?.includes("pvefleet"))).length);
    for (const s of installs) expect(s.run).toContain('"https://github.com/${PVEFLEET_REPO}/releases/download/v${PVEFLEET_VERSION}/pvefleet-${PVEFLEET_VERSION}.tgz"');
    expect(text).toMatch(/not (published )?on the npm registry/);
  });

  it("gives every job that talks to Proxmox the cluster's CA and warns about public runners", () => {
    for (const job of Object.values(wf.jobs).filter((j) => j.env?.PROXMOX_TOKEN_SECRET)) {
      expect(job.env!.PROXMOX_CA_FILE).toBeDefined();
      expect(job.steps.some((s) => s.name === "Trust the cluster's CA")).toBe(true);
      expect(job["runs-on"]).toContain("self-hosted");
    }
    expect(text).toMatch(/SECURITY/);
    expect(text).toMatch(/private repositor/i);
  });

  it("passes shellcheck", async () => {
    const which = await runProgram("sh", ["-c", "command -v shellcheck"]);
    expect(which.code, "shellcheck is not installed: apt-get install shellcheck (scripts/test.sh installs it when run as root)").toBe(0);
    const dir = await mkdtemp(join(tmpdir(), "pvefleet-shellcheck-"));
    try {
      let n = 0;
      for (const job of Object.values(wf.jobs)) {
        for (const s of job.steps.filter((x) => x.run)) {
          const path = join(dir, `step${n++}.sh`);
          // GitHub substitutes ${{ … }} before the shell runs: a plain word stands in for it.
          writeFileSync(path, `#!/bin/bash\n${s.run!.replace(/\$\{\{[^}]*\}\}/g, "EXPR")}`);
          const r = await runProgram("shellcheck", ["-s", "bash", path]);
          expect(r.code, `${file}, step "${s.name ?? s.run!.slice(0, 40)}":\n${r.stdout}`).toBe(0);
        }
      }
      expect(n).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the pull-request workflows fit together", () => {
  const plan = readWorkflow("plan-comment.yml");
  const apply = readWorkflow("apply-on-merge.yml");

  it("skips fork pull requests, which get no secrets and must not reach a self-hosted runner", () => {
    expect(plan.jobs.plan!.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    expect(Object.keys(plan.on)).toEqual(["pull_request"]);
    expect(readFileSync(join(EXAMPLES, "ci", "plan-comment.yml"), "utf8")).toMatch(/fork/);
  });

  it("apply downloads the artifact the plan workflow uploads, from the plan workflow's file name", () => {
    const upload = step(plan, "Keep the reviewed plans (apply-on-merge.yml applies exactly these)");
    expect(upload.with!.name).toBe("pvefleet-plans-${{ github.event.pull_request.head.sha }}");
    expect(String(upload.with!.path)).toContain("plans/index.tsv");
    expect(String(upload.with!.path)).toContain("plans/*.plan.bin");
    const find = step(apply, "Find the reviewed plan of the merged pull request");
    expect(String(find.with!.script)).toContain('core.setOutput("artifact", `pvefleet-plans-${pr.head.sha}`)');
    expect(String(find.with!.script)).toContain('workflow_id: "pvefleet-plan.yml"');
    expect(readFileSync(join(EXAMPLES, "ci", "plan-comment.yml"), "utf8")).toContain("Copy to .github/workflows/pvefleet-plan.yml");
    const download = apply.jobs.apply!.steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!;
    expect(download.with).toMatchObject({ name: "${{ steps.reviewed.outputs.artifact }}", "run-id": "${{ steps.reviewed.outputs.run_id }}", path: "plans" });
    expect(apply.permissions).toMatchObject({ actions: "read", contents: "read" });
    expect(apply.on).toEqual({ push: { branches: ["main"], paths: ["shards/**"] } });
  });
});

// ---------------------------------------------------------------------------------------------
// The shell and github-script steps, run against the simulator.

type Comment = { id: number; body: string; user: { type: string } };

/** An in-memory stand-in for the part of GitHub's REST API the workflows call. */
class FakeGitHub {
  comments: Comment[] = [];
  issues: Array<{ number: number; body: string; title: string; state: string; labels: string[] }> = [];
  calls: string[] = [];
  private next = 1;
  readonly github = {
    paginate: async <T>(fn: (p: unknown) => Promise<{ data: T[] }>, params: unknown): Promise<T[]> => (await fn(params)).data,
    rest: {
      issues: {
        listComments: async () => ({ data: this.comments.map((c) => ({ ...c })) }),
        createComment: async (p: { body: string; issue_number: number }) => {
          this.calls.push(`createComment ${p.issue_number}`);
          this.comments.push({ id: this.next++, body: p.body, user: { type: "Bot" } });
        },
        updateComment: async (p: { comment_id: number; body: string }) => {
          this.calls.push(`updateComment ${p.comment_id}`);
          this.comments.find((c) => c.id === p.comment_id)!.body = p.body;
        },
        deleteComment: async (p: { comment_id: number }) => {
          this.calls.push(`deleteComment ${p.comment_id}`);
          this.comments = this.comments.filter((c) => c.id !== p.comment_id);
        },
        listForRepo: async () => ({ data: this.issues.filter((i) => i.state === "open").map((i) => ({ ...i })) }),
        create: async (p: { title: string; body: string; labels: string[] }) => {
          this.calls.push("create issue");
          this.issues.push({ number: this.next++, title: p.title, body: p.body, labels: p.labels, state: "open" });
        },
        update: async (p: { issue_number: number; body?: string; state?: string }) => {
          this.calls.push(`update issue ${p.issue_number}${p.state ? ` ${p.state}` : ""}`);
          const issue = this.issues.find((i) => i.number === p.issue_number)!;
          if (p.body !== undefined) issue.body = p.body;
          if (p.state !== undefined) issue.state = p.state;
        },
      },
    },
  };

  bodyOf(marker: string): string | undefined {
    return this.comments.find((c) => c.user.type === "Bot" && c.body.split("\n", 1)[0] === marker)?.body;
  }
}

const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>;

/** Runs an actions/github-script `script:` in `cwd` with the given stand-ins. */
async function githubScript(script: string, cwd: string, gh: FakeGitHub, context: Record<string, unknown>): Promise<void> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    const core = { setFailed: (m: string) => { throw new Error(`setFailed: ${m}`); }, setOutput: () => undefined };
    await new AsyncFunction("github", "context", "core", "require", script)(gh.github, context, core, createRequire(import.meta.url));
  } finally {
    process.chdir(before);
  }
}

describe("the workflows' steps against pvefleet sim", () => {
  let sim: Sim;
  let dir: string;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  const planWf = readWorkflow("plan-comment.yml");
  const applyWf = readWorkflow("apply-on-merge.yml");
  const driftWf = readWorkflow("drift-issue.yml");
  const planScript = step(planWf, "Plan every shard of every shard file").run!;
  const commentScript = String(step(planWf, "Create or update one sticky comment per shard").with!.script);
  const applyScript = step(applyWf, "Apply each reviewed plan (a stale one is refused)").run!;
  const pr = { payload: { pull_request: { number: 7 } }, repo: { owner: "acme", repo: "fleet" } };
  const quickstart = readFileSync(join(EXAMPLES, "quickstart.jsonc"), "utf8");
  const tooBig = quickstart.replace('"Memory": 512', '"Memory": 200000'); // no node can place it: plan fails
  const gh = new FakeGitHub();

  beforeAll(async () => {
    sim = (await startSimulator({ port: 0, latency: "instant" })) as Sim;
    dir = await mkdtemp(join(tmpdir(), "pvefleet-workflows-"));
    repo = join(dir, "repo");
    const bin = join(dir, "bin");
    const npmRoot = join(dir, "npm-root");
    mkdirSync(join(repo, "shards"), { recursive: true });
    mkdirSync(bin);
    mkdirSync(npmRoot);
    // `npm install -g` of the release gives $(npm root -g)/pvefleet and pvefleet on PATH: this checkout stands in.
    symlinkSync(ROOT, join(npmRoot, "pvefleet"));
    writeFileSync(join(bin, "pvefleet"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    writeFileSync(join(bin, "npm"), `#!/bin/sh\n[ "$1 $2" = "root -g" ] && { echo "${npmRoot}"; exit 0; }\necho "npm $* is not available in this test" >&2; exit 1\n`);
    chmodSync(join(bin, "pvefleet"), 0o755);
    chmodSync(join(bin, "npm"), 0o755);
    for (const f of ["summary", "env", "output"]) writeFileSync(join(dir, f), "");
    env = {
      PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME, NO_COLOR: "1", CI: "true",
      PROXMOX_API_URL: apiUrl(sim), PROXMOX_TOKEN_ID: sim.tokenId, PROXMOX_TOKEN_SECRET: sim.tokenSecret,
      PROXMOX_CA_PEM: sim.caCertificate, PVEFLEET_STATE_DIR: join(dir, "state"), PVEFLEET_PLAN_KEY: "test-plan-key-0123456789",
      GITHUB_SERVER_URL: "https://github.example", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "4242", GITHUB_SHA: "a".repeat(40),
      GITHUB_STEP_SUMMARY: join(dir, "summary"), GITHUB_ENV: join(dir, "env"), GITHUB_OUTPUT: join(dir, "output"), RUNNER_TEMP: dir,
    };
    // The CA step writes the PEM to a file and exports PROXMOX_CA_FILE for the later steps.
    const ca = await runBash(step(planWf, "Trust the cluster's CA").run!, repo, env);
    expect(ca.code, ca.stderr).toBe(0);
    expect(readFileSync(join(dir, "env"), "utf8")).toBe(`PROXMOX_CA_FILE=${dir}/pve-ca.pem\n`);
    env.PROXMOX_CA_FILE = join(dir, "pve-ca.pem");
  });

  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One push to the PR: a fresh checkout's plans/ directory, the plan step, then the comment step. */
  async function push(shards: Record<string, string | null>): Promise<{ code: number; stdout: string; stderr: string }> {
    for (const [name, text] of Object.entries(shards)) {
      if (text === null) rmSync(join(repo, "shards", name), { force: true });
      else writeFileSync(join(repo, "shards", name), text);
    }
    rmSync(join(repo, "plans"), { recursive: true, force: true });
    const r = await runBash(planScript, repo, env);
    await githubScript(commentScript, repo, gh, pr);
    return r;
  }

  it("plan-comment: one comment per shard, the same marker for a failed and a passing plan, one per unreadable file", async () => {
    gh.comments.push({ id: 900, body: "<!-- pvefleet-ci:plan shards/quickstart.jsonc#dev -->\nquoted by a person", user: { type: "User" } });
    const first = await push({
      "quickstart.jsonc": tooBig,
      "lab.jsonc": readFileSync(join(EXAMPLES, "multi-shard.jsonc"), "utf8"),
      "broken.jsonc": '{ "cluster": ',
    });
    expect(first.code).toBe(1);
    const markers = gh.comments.filter((c) => c.user.type === "Bot").map((c) => c.body.split("\n", 1)[0]).sort();
    expect(markers).toEqual([
      "<!-- pvefleet-ci:plan shards/broken.jsonc -->",
      "<!-- pvefleet-ci:plan shards/lab.jsonc#lab-a -->",
      "<!-- pvefleet-ci:plan shards/lab.jsonc#lab-b -->",
      "<!-- pvefleet-ci:plan shards/quickstart.jsonc#dev -->",
    ]);
    const failed = gh.bodyOf("<!-- pvefleet-ci:plan shards/quickstart.jsonc#dev -->")!;
    expect(failed).toContain("pvefleet plan failed for `shards/quickstart.jsonc` (shard `dev`)");
    expect(failed).toContain("no online node has 200000 MiB of memory free");
    expect(failed).toContain("Run: https://github.example/acme/fleet/actions/runs/4242");
    expect(gh.bodyOf("<!-- pvefleet-ci:plan shards/broken.jsonc -->")).toContain("shards/broken.jsonc:1:");
    const lab = gh.bodyOf("<!-- pvefleet-ci:plan shards/lab.jsonc#lab-a -->")!.split("\n");
    expect(lab[1]).toBe("<!-- pvefleet:plan lab/lab-a -->");
    expect(lab.join("\n")).toContain("Plan: 2 to add");
    expect(readFileSync(join(repo, "plans", "lab.jsonc.lab-a.plan.txt"), "utf8")).toContain("Plan: 2 to add, 0 to change, 0 to destroy.");
    expect(readFileSync(join(repo, "plans", "index.tsv"), "utf8")).toBe(
      "plans/lab.jsonc.lab-a.plan.bin\tshards/lab.jsonc\tlab-a\t2\nplans/lab.jsonc.lab-b.plan.bin\tshards/lab.jsonc\tlab-b\t2\n");
    const failedId = gh.comments.find((c) => c.body === failed)!.id;

    // The next push fixes both: the failed shard's comment is edited in place, the file's comment goes.
    gh.calls.length = 0;
    const second = await push({ "quickstart.jsonc": quickstart, "broken.jsonc": readFileSync(join(EXAMPLES, "tenants.jsonc"), "utf8") });
    expect(second.code, second.stderr).toBe(0);
    const fixed = gh.comments.find((c) => c.id === failedId)!.body.split("\n");
    expect(fixed[0]).toBe("<!-- pvefleet-ci:plan shards/quickstart.jsonc#dev -->");
    expect(fixed[1]).toBe("<!-- pvefleet:plan demo/dev -->");
    expect(gh.bodyOf("<!-- pvefleet-ci:plan shards/broken.jsonc -->")).toBeUndefined();
    expect(gh.bodyOf("<!-- pvefleet-ci:plan shards/broken.jsonc#eu-1 -->")).toContain("<!-- pvefleet:plan saas/eu-1 -->");
    expect(gh.calls.filter((c) => c.startsWith("createComment"))).toEqual(["createComment 7"]); // only broken.jsonc#eu-1 is new
    expect(gh.comments.find((c) => c.id === 900)!.body).toContain("quoted by a person");
    expect(gh.comments.filter((c) => c.user.type === "Bot")).toHaveLength(4);
  });

  it("apply-on-merge: applies the reviewed plans; a plan whose shard file changed is refused and reported", async () => {
    // What the download step leaves: the artifact of the last plan run, in plans/.
    const applied = await runBash(applyScript, repo, env);
    expect(applied.code, applied.stderr).toBe(0);
    const outcome = readFileSync(join(repo, "outcome.md"), "utf8");
    for (const s of ["`shards/quickstart.jsonc` shard `dev`", "`shards/lab.jsonc` shard `lab-a`", "`shards/lab.jsonc` shard `lab-b`", "`shards/broken.jsonc` shard `eu-1`"]) {
      expect(outcome).toContain(`- ${s}: applied the reviewed plan.`);
    }
    expect(readFileSync(join(dir, "summary"), "utf8")).toContain(outcome);

    // A new PR is planned and reviewed; then the shard file changes before its plan is applied.
    const planned = await push({ "quickstart.jsonc": quickstart.replace('"size": 2', '"size": 3') });
    expect(planned.code, planned.stderr).toBe(0);
    writeFileSync(join(repo, "shards", "quickstart.jsonc"), quickstart.replace('"size": 2', '"size": 4'));
    const stale = await runBash(applyScript, repo, env);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/^::error file=shards\/quickstart.jsonc::shard dev: the reviewed plan is stale, nothing applied: .*Saved plan is stale/m);
    const report = readFileSync(join(repo, "outcome.md"), "utf8");
    expect(report).toContain("`shards/quickstart.jsonc` shard `dev`: **the reviewed plan is stale; nothing was applied.**");
    expect(report).toContain("- `shards/lab.jsonc` shard `lab-a`: no changes were planned; nothing to apply.");
    const state = await runProgram(process.execPath, [BIN, "state", "list", "-c", join(repo, "shards", "quickstart.jsonc")], { cwd: repo, env });
    expect(state.stdout).toMatch(/ 2 instances/);
  });

  it("drift-issue: one matrix entry per shard, found offline; one job's drift check and its issue", async () => {
    writeFileSync(join(dir, "output"), "");
    const list = await runBash(step(driftWf, "List every shard of every shard file").run!, repo, env);
    expect(list.code, list.stderr).toBe(0);
    const matrix = JSON.parse(readFileSync(join(dir, "output"), "utf8").replace(/^matrix=/, "")) as { include: Array<{ file: string; shard: string }> };
    expect(matrix.include).toEqual([
      { file: "shards/broken.jsonc", shard: "eu-1" },
      { file: "shards/lab.jsonc", shard: "lab-a" },
      { file: "shards/lab.jsonc", shard: "lab-b" },
      { file: "shards/quickstart.jsonc", shard: "dev" },
    ]);

    writeFileSync(join(repo, "shards", "quickstart.jsonc"), quickstart);
    const check = step(driftWf, "Check the shard for drift").run!;
    const issueScript = String(step(driftWf, "Open, update or close the shard's issue").with!.script);
    const job = { ...env, SHARD_FILE: "shards/quickstart.jsonc", SHARD_ID: "dev" };
    const ctx = { repo: { owner: "acme", repo: "fleet" } };
    const inSync = await runBash(check, repo, job);
    expect(inSync.code, inSync.stderr).toBe(0);
    expect(readFileSync(join(repo, "drift", "rc"), "utf8").trim()).toBe("0");
    await githubScript(issueScript, repo, gh, ctx);
    expect(gh.issues).toEqual([]);

    // Stop one of the shard's VMs behind pvefleet's back, with the ordinary API.
    const agent = new Agent({ connect: { ca: sim.caCertificate } });
    const pve = async (method: string, path: string) => {
      // @ts-expect-error undici's dispatcher option on Node's fetch
      const r = await fetch(`${apiUrl(sim)}${path}`, { method, dispatcher: agent, headers: { Authorization: `PVEAPIToken=${sim.tokenId}=${sim.tokenSecret}` } });
      expect(r.status, `${method} ${path}`).toBe(200);
      return ((await r.json()) as { data: unknown }).data;
    };
    const vms = (await pve("GET", "/cluster/resources?type=vm")) as Array<{ vmid: number; node: string; tags?: string; template?: number }>;
    const ours = vms.find((v) => !v.template && (v.tags ?? "").split(";").includes("demo") && (v.tags ?? "").split(";").includes("dev"))!;
    expect(ours).toBeDefined();
    await pve("POST", `/nodes/${ours.node}/qemu/${ours.vmid}/status/stop`);
    const drifted = await runBash(check, repo, job);
    expect(drifted.code, drifted.stderr).toBe(0); // exit 2 is a finding, not a failed step
    expect(readFileSync(join(repo, "drift", "rc"), "utf8").trim()).toBe("2");
    await githubScript(issueScript, repo, gh, ctx);
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0]).toMatchObject({ title: "Drift on demo/dev", state: "open", labels: ["drift"] });
    expect(gh.issues[0]!.body.split("\n", 1)[0]).toBe("<!-- pvefleet:drift demo/dev -->");
    gh.calls.length = 0;
    await githubScript(issueScript, repo, gh, ctx); // same findings: nobody is notified again
    expect(gh.calls).toEqual([]);
    expect(existsSync(join(repo, "drift", "report.md"))).toBe(true);
  });
});
