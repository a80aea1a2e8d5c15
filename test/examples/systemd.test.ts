/**
 * The systemd units (examples/ci/pvefleet-drift.service and .timer): `systemd-analyze verify`
 * finds nothing (in a scratch root that has the unit's ExecStart binary, as an installed host
 * has), `systemd-analyze security --offline=true` rates the service at most 4.0, and the units do
 * what the issue asks: /etc/pvefleet created, OnCalendar with Persistent=true, the CA copied where
 * the service user can read it, the S3 state — and a pvefleet command line that exists.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXAMPLES, checkInvocation, runProgram } from "./helpers.js";

const SERVICE = join(EXAMPLES, "ci", "pvefleet-drift.service");
const TIMER = join(EXAMPLES, "ci", "pvefleet-drift.timer");
const service = readFileSync(SERVICE, "utf8");
const timer = readFileSync(TIMER, "utf8");

/** Settings of a unit file, comments and blank lines left out (a key may repeat). */
function settings(text: string): Array<[string, string]> {
  return text.split("\n").filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]);
}
const values = (text: string, key: string) => settings(text).filter(([k]) => k === key).map(([, v]) => v);

async function systemdAnalyze(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const which = await runProgram("sh", ["-c", "command -v systemd-analyze"]);
  expect(which.code, "systemd-analyze is not installed: apt-get install systemd (scripts/test.sh installs it when run as root)").toBe(0);
  return runProgram("systemd-analyze", args);
}

let root: string;
beforeAll(async () => {
  // A scratch root: systemd's own units (for the targets the units order against) and an
  // executable where ExecStart expects pvefleet, as on a host where it is installed.
  root = await mkdtemp(join(tmpdir(), "pvefleet-systemd-"));
  mkdirSync(join(root, "usr", "lib", "systemd"), { recursive: true });
  cpSync("/usr/lib/systemd/system", join(root, "usr", "lib", "systemd", "system"), { recursive: true, verbatimSymlinks: true });
  const exec = values(service, "ExecStart")[0]!.split(/\s+/)[0]!;
  mkdirSync(join(root, exec, ".."), { recursive: true });
  writeFileSync(join(root, exec), "#!/bin/sh\n");
  chmodSync(join(root, exec), 0o755);
  mkdirSync(join(root, "etc", "systemd", "system"), { recursive: true });
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function verify(files: Record<string, string>): Promise<{ code: number; out: string }> {
  for (const [name, path] of Object.entries(files)) copyFileSync(path, join(root, "etc", "systemd", "system", name));
  const r = await systemdAnalyze(["verify", `--root=${root}`, ...Object.keys(files).map((n) => `/etc/systemd/system/${n}`)]);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe("examples/ci/pvefleet-drift.service and .timer", () => {
  it("pass systemd-analyze verify", async () => {
    const r = await verify({ "pvefleet-drift.service": SERVICE, "pvefleet-drift.timer": TIMER });
    expect(r.out.split("\n").filter((l) => l.includes("pvefleet"))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it("fail verify with a misspelt setting (the scratch root hides no errors)", async () => {
    const broken = join(root, "broken.service");
    writeFileSync(broken, service.replace("SuccessExitStatus=2", "SuccessExitStatus=2\nExecStartt=/bin/true\nUser=root\nType=oneshoot"));
    const r = await verify({ "pvefleet-broken.service": broken });
    expect(r.out).toMatch(/pvefleet-broken\.service/);
  });

  it("rate at most 4.0 in systemd-analyze security", async () => {
    const r = await systemdAnalyze(["security", "--offline=true", "--no-pager", SERVICE]);
    expect(r.stderr, "this systemd-analyze does not support --offline (systemd >= 250 does)").not.toMatch(/unrecognized option|invalid option/);
    const score = /Overall exposure level for pvefleet-drift\.service: (\d+\.\d+)/.exec(r.stdout);
    expect(score, r.stdout.slice(-500)).not.toBeNull();
    expect(Number(score![1])).toBeLessThanOrEqual(4.0);
    expect(service).toContain(`rates this unit ${score![1]} `);
  });

  it("run on a calendar that catches up after downtime", () => {
    expect(values(timer, "OnCalendar")).toEqual(["*-*-* 00/4:17:00"]);
    expect(values(timer, "Persistent")).toEqual(["true"]);
    expect(values(timer, "OnUnitActiveSec")).toEqual([]); // Persistent= only acts on OnCalendar=
    expect(values(timer, "WantedBy")).toEqual(["timers.target"]);
  });

  it("create /etc/pvefleet, read the CA and shard file as credentials, use the S3 state", async () => {
    expect(values(service, "ConfigurationDirectory")).toEqual(["pvefleet"]);
    expect(values(service, "LoadCredential")).toEqual(["ca.pem:/etc/pvefleet/ca.pem", "shard.jsonc:/etc/pvefleet/shard.jsonc"]);
    expect(values(service, "Environment").join(" ")).toMatch(/(^| )PROXMOX_CA_FILE=%d\/ca\.pem( |$)/);
    expect(values(service, "Environment").join(" ")).toMatch(/(^| )PVEFLEET_STORAGE=s3( |$)/);
    expect(values(service, "DynamicUser")).toEqual(["yes"]);
    expect(values(service, "SuccessExitStatus")).toEqual(["2"]);
    const exec = values(service, "ExecStart")[0]!.split(/\s+/);
    expect(exec).not.toContain("--state-dir");
    expect(exec.slice(exec.indexOf("-c"), exec.indexOf("-c") + 2)).toEqual(["-c", "%d/shard.jsonc"]);
    await checkInvocation(exec.slice(1), "pvefleet-drift.service ExecStart");
    // The install steps in the header create the directory before writing into it.
    expect(service.indexOf("install -d -m 0700 /etc/pvefleet")).toBeGreaterThan(0);
    expect(service.indexOf("install -d -m 0700 /etc/pvefleet")).toBeLessThan(service.indexOf("/etc/pvefleet/env "));
    expect(readFileSync(join(EXAMPLES, "ci", "pvefleet.env.example"), "utf8")).toMatch(/^PVEFLEET_BUCKET=/m);
  });
});
