import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";

// Runs the built CLI (the test command builds with tsc before vitest).
const BIN = resolve("bin/pvefleet.js");

function pvefleet(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", PVEFLEET_CONFIG: "" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("pvefleet validate (built CLI)", () => {
  it("exits 0 with a one-line summary for the quickstart", () => {
    const r = pvefleet(["validate", "-c", "examples/quickstart.jsonc"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("examples/quickstart.jsonc: valid — shard dev (cluster demo): 1 group, 2 instances, 1 template\n");
    expect(r.stderr).toBe("");
  });

  it("prints Terraform's validate -json document with --format json (and -json): valid, counts, diagnostics, the shard's groups", () => {
    for (const flag of [["--format", "json"], ["-json"]]) {
      const r = pvefleet(["validate", "-c", "examples/tenants.hcl", ...flag]);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ format_version: "1.0", valid: true, error_count: 0, warning_count: 0, diagnostics: [] });
      expect(j.shard.shard_id).toBe("eu-1");
      expect(j.shard.groups.map((g: { group: string }) => g.group)).toEqual(["acme.api", "acme.web", "globex.batch", "globex.web", "initech.api"]);
    }
  });

  it("prints notices as warning diagnostics with --json, and nothing on stderr", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    const file = join(dir, "n.jsonc");
    writeFileSync(file, readFileSync("examples/quickstart.jsonc", "utf8").replace('"DiskSize": "4G",', '"DiskSize": "4G", "Cpus": 2,'));
    const r = pvefleet(["validate", "-c", file, "--json"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ valid: true, error_count: 0, warning_count: 1 });
    expect(j.diagnostics[0]).toMatchObject({ severity: "warning", range: { filename: file } });
    expect(j.diagnostics[0].summary).toMatch(/unknown Proxmox arg "Cpus"/);
  });

  it("exits 1 with every problem as file:line:col and no stack trace", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    const file = join(dir, "bad.jsonc");
    writeFileSync(file, readFileSync("examples/quickstart.jsonc", "utf8").replace('"size": 2', '"size": -1').replace('"kind": "web"', '"kind": "WEB"'));
    const r = pvefleet(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2); // a schema error (group) and a semantic one (template kind), together
    for (const line of lines) expect(line).toMatch(new RegExp(`^${file}:\\d+:\\d+: \\S`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 1 with the parser's position for an HCL syntax error", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    const file = join(dir, "bad.hcl");
    writeFileSync(file, 'cluster {\n  id = \n}\n');
    const r = pvefleet(["validate", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${file}:2:8: syntax error: Invalid expression`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 1 with one line for a missing file and finds ./shard.jsonc by default", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    expect(pvefleet(["validate"], dir)).toMatchObject({ code: 1, stderr: expect.stringMatching(/^no shard file: pass -c FILE/) });
    writeFileSync(join(dir, "shard.jsonc"), readFileSync("examples/quickstart.jsonc"));
    expect(pvefleet(["validate"], dir)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^shard\.jsonc: valid/) });
  });

  it("prints notices on stderr and still exits 0", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    const file = join(dir, "n.jsonc");
    writeFileSync(file, readFileSync("examples/quickstart.jsonc", "utf8").replace('"DiskSize": "4G",', '"DiskSize": "4G", "Cpus": 2,'));
    const r = pvefleet(["validate", "-c", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/notice: defaults\.args\.Cpus: unknown Proxmox arg "Cpus" is not used/);
  });
});

describe("pvefleet validate on mutated files (built CLI)", () => {
  it("exits 1 with positioned lines and no stack trace, or 0, for truncated and flipped examples", () => {
    const dir = mkdtempSync("/tmp/pvefleet-validate-");
    const source = readFileSync("examples/tenants.jsonc", "utf8");
    const cases = [source.slice(0, 400), source.slice(0, 1200), source.replace('"arch": "amd64"', '"arch": 64'), source.replace("{{ .Vars.Tenant }}", "{{ .Vars.Tenant"), source.replace('"cluster"', '"clustr"'), source.replace('"size": 3', '"size": 3.5')];
    cases.forEach((text, i) => {
      const file = join(dir, `m${i}.jsonc`);
      writeFileSync(file, text);
      const r = pvefleet(["validate", "-c", file]);
      expect(r.code, `case ${i}: ${r.stderr}`).toBe(1);
      for (const line of r.stderr.trim().split("\n")) expect(line).toMatch(new RegExp(`^${file}:\\d+:\\d+: \\S`));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });
});

describe("pvefleet init (built CLI)", () => {
  it("writes a starter file that validates, and refuses to overwrite it without --force", () => {
    const dir = mkdtempSync("/tmp/pvefleet-init-");
    expect(pvefleet(["init", "--cluster-id", "lab", "--shard", "pve1", "--vlan", "20"], dir).code).toBe(0);
    expect(existsSync(join(dir, "shard.jsonc"))).toBe(true);
    const v = pvefleet(["validate", "--format", "json"], dir);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, shard: { cluster_id: "lab", shard_id: "pve1", groups: [{ spec: { bridge: "vmbr0", vlan: 20, userdata: true } }] } });
    const again = pvefleet(["init"], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/shard\.jsonc already exists; pass --force to overwrite it/);
    expect(pvefleet(["init", "--force"], dir).code).toBe(0);
  });

  it("writes HCL for a .hcl name and checks its flags", () => {
    const dir = mkdtempSync("/tmp/pvefleet-init-");
    expect(pvefleet(["init", "-c", "s.hcl"], dir).code).toBe(0);
    expect(pvefleet(["validate", "-c", "s.hcl"], dir)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^s\.hcl: valid — shard dev \(cluster my-cluster\)/) });
    const bad = pvefleet(["init", "-c", "x.jsonc", "--cluster-id", "Bad_ID"], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--cluster-id: cluster ID "Bad_ID" must contain only lowercase/);
  });
});
