/**
 * The container recipe (Containerfile, .dockerignore) and the Kubernetes CronJob example. No
 * container engine runs here, so the recipe is checked by what it says and by doing its runtime
 * stage by hand: production dependencies only (`npm ci --omit=dev`, from the lockfile), the
 * compiled code, then the CLI reads a shard file — so no devDependency is needed at run time.
 */
import { afterAll, describe, expect, it } from "vitest";
import { cpSync, existsSync, readFileSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLES, ROOT, checkInvocation, readYamlDocuments, runProgram } from "./helpers.js";

/** Containerfile instructions, continuation lines joined, comments left out. */
function instructions(text: string): Array<{ op: string; args: string }> {
  return text.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim() && !l.trimStart().startsWith("#"))
    .map((l) => ({ op: l.trim().split(/\s+/)[0]!.toUpperCase(), args: l.trim().replace(/^\S+\s+/, "") }));
}

const containerfile = instructions(readFileSync(join(ROOT, "Containerfile"), "utf8"));
const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const runtime = containerfile.slice(containerfile.map((i) => i.op).lastIndexOf("FROM"));

describe("Containerfile", () => {
  it("builds on node:20-bookworm-slim with npm ci and the TypeScript build", () => {
    const froms = containerfile.filter((i) => i.op === "FROM").map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBe(2);
    for (const f of froms) expect(f).toBe("docker.io/library/node:20-bookworm-slim");
    const runs = containerfile.filter((i) => i.op === "RUN").map((i) => i.args);
    expect(runs.some((r) => /^npm ci\b/.test(r) && !r.includes("--omit=dev"))).toBe(true);
    expect(runs.some((r) => r.includes("npx tsc -p ."))).toBe(true);
    expect(runtime.filter((i) => i.op === "RUN").some((r) => r.args.includes("npm ci --omit=dev"))).toBe(true);
  });

  it("runs as a non-root user with pvefleet as the entrypoint", () => {
    const user = runtime.filter((i) => i.op === "USER").map((i) => i.args).at(-1);
    expect(user).toBeDefined();
    expect(user!.split(":")[0]).not.toMatch(/^(0|root)$/);
    expect(runtime.filter((i) => i.op === "ENTRYPOINT").map((i) => JSON.parse(i.args))).toEqual([["pvefleet"]]);
    const link = runtime.find((i) => i.op === "RUN" && i.args.includes("/usr/local/bin/pvefleet"))!.args;
    expect(link).toContain("ln -s /opt/pvefleet/bin/pvefleet.js /usr/local/bin/pvefleet");
    expect(runtime.find((i) => i.op === "WORKDIR")!.args).toBe("/opt/pvefleet");
  });

  it("copies only files that exist and that .dockerignore lets through", () => {
    const sources = containerfile.filter((i) => i.op === "COPY" && !i.args.startsWith("--from")).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toContain("package-lock.json");
    for (const s of sources) {
      expect(existsSync(join(ROOT, s)), `COPY ${s}: not in the repository`).toBe(true);
      expect(ignored.filter((p) => s === p || s.startsWith(`${p}/`)), `COPY ${s} is excluded by .dockerignore`).toEqual([]);
    }
    for (const kept of ["node_modules", "dist", ".git", ".pvefleet"]) expect(ignored).toContain(kept);
  });

  const scratch: string[] = [];
  afterAll(async () => {
    for (const d of scratch) await rm(d, { recursive: true, force: true });
  });

  it("needs no devDependency at run time (its runtime stage, done by hand)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvefleet-image-"));
    scratch.push(dir);
    for (const f of ["package.json", "package-lock.json", ".npmrc", "bin", "data", "dist", "README.md", "LICENSE"]) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    const install = await runProgram("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir, env: { ...process.env, NODE_ENV: "production" } });
    expect(install.code, install.stderr).toBe(0);
    expect(existsSync(join(dir, "node_modules", "vitest"))).toBe(false);
    symlinkSync(join(dir, "bin", "pvefleet.js"), join(dir, "pvefleet"));
    const env = { PATH: process.env.PATH, NODE_ENV: "production", NO_COLOR: "1" };
    const version = await runProgram(join(dir, "pvefleet"), ["version"], { cwd: dir, env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^pvefleet v\d+\.\d+\.\d+/);
    const validate = await runProgram(join(dir, "pvefleet"), ["validate", "-c", join(EXAMPLES, "quickstart.jsonc")], { cwd: dir, env });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain("valid — shard dev (cluster demo)");
  }, 300_000);
});

describe("examples/kubernetes/pvefleet-cronjobs.yaml", () => {
  const file = join(EXAMPLES, "kubernetes", "pvefleet-cronjobs.yaml");
  const docs = readYamlDocuments(file) as Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: any; data?: Record<string, string> }>;
  const cronJobs = docs.filter((d) => d.kind === "CronJob");
  const text = readFileSync(file, "utf8");

  it("is one CronJob per shard, never overlapping its own runs", () => {
    expect(cronJobs.length).toBeGreaterThanOrEqual(2);
    const shardFiles = cronJobs.map((c) => {
      const args: string[] = c.spec.jobTemplate.spec.template.spec.containers[0].args;
      return args[args.indexOf("-c") + 1];
    });
    expect(new Set(shardFiles).size).toBe(cronJobs.length);
    for (const c of cronJobs) {
      expect(c.apiVersion).toBe("batch/v1");
      expect(c.spec.concurrencyPolicy).toBe("Forbid");
      expect(c.spec.schedule).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
      expect(c.spec.jobTemplate.spec.template.spec.restartPolicy).toBe("Never");
      expect(c.metadata.namespace).toBe("pvefleet");
    }
  });

  it("keeps the state in S3 or GCS and waits on the lease lock rather than overlapping another writer", async () => {
    const env = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "pvefleet-env")!.data!;
    expect(["s3", "gcs"]).toContain(env.PVEFLEET_STORAGE);
    expect(env.PVEFLEET_BUCKET).toBeTruthy();
    expect(env.PROXMOX_CA_FILE).toBe("/etc/pvefleet/ca/ca.pem");
    for (const c of cronJobs) {
      const pod = c.spec.jobTemplate.spec.template.spec;
      const container = pod.containers[0];
      const args: string[] = container.args;
      expect(args).not.toContain("--state-dir");
      expect(args[args.indexOf("-c") + 1]).toMatch(/^(s3|gs):\/\//);
      if (args[0] === "apply") expect(args).toEqual(expect.arrayContaining(["--auto-approve", "--lock-timeout"]));
      await checkInvocation(args, c.metadata.name);
      expect(container.envFrom).toEqual([{ configMapRef: { name: "pvefleet-env" } }, { secretRef: { name: "pvefleet-credentials" } }]);
      expect(container.volumeMounts).toContainEqual({ name: "ca", mountPath: "/etc/pvefleet/ca", readOnly: true });
      expect(container.image).toMatch(/:\d+\.\d+\.\d+$/);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    }
    // The Secret and the CA ConfigMap are created by the commands in the header, never committed.
    expect(text).toContain("kubectl -n pvefleet create secret generic pvefleet-credentials");
    expect(text).toContain("kubectl -n pvefleet create configmap pvefleet-ca --from-file=ca.pem=");
    expect(docs.some((d) => d.kind === "Secret")).toBe(false);
  });

  it("runs as the Containerfile's user", () => {
    expect(runtime.filter((i) => i.op === "USER").map((i) => i.args).at(-1)).toBe("10001:10001");
  });
});
