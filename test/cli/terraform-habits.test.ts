/**
 * A Terraform user's habits on pvefleet's command line, without a cluster: the single-dash long
 * flags as they are typed (`-out=tfplan`, `-auto-approve`, `-json`, …) become pvefleet's flags or
 * are refused with what to use instead, never split into short flags; one spelling for machine
 * output; the bpg provider's environment variables; the wording of the text plan (units, plurals,
 * natural node order, the "Groups:" table); `version --json`, `validate --json` for a valid and an
 * invalid file, `graph` as DOT and the completion scripts.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildProgram } from "../../src/cli/main.js";
import { normaliseArgs, outputFormat, GIVEN } from "../../src/cli/flags.js";
import { applyEnvAliases } from "../../src/cli/env.js";
import { renderPlanText, driftCountsLine, findingSentence, renderCapacity } from "../../src/cli/render/text.js";
import { palette } from "../../src/cli/render/ansi.js";
import { attributeLabel, formatValue, naturalCompare, plural, snakeKeys } from "../../src/cli/render/vocabulary.js";
import { renderPlanDot } from "../../src/cli/commands/graph.js";
import { bashScript, commandTree, fishScript, zshScript } from "../../src/cli/commands/completion.js";
import { cliInProcess } from "./helpers.js";
import { mixedPlan } from "./fixtures.js";

const norm = (...args: string[]) => normaliseArgs(buildProgram(), args);
const refusal = (...args: string[]) => {
  try {
    norm(...args);
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
};

describe("Terraform's single-dash long flags", () => {
  it("become pvefleet's long flags, with = or a space before the value", () => {
    expect(norm("plan", "-out=tfplan")).toEqual(["plan", "--out=tfplan"]);
    expect(norm("plan", "-out", "tfplan")).toEqual(["plan", "--out", "tfplan"]);
    expect(norm("plan", "-detailed-exitcode", "-no-color", "-json")).toEqual(["plan", "--detailed-exitcode", "--no-color", "--json"]);
    expect(norm("plan", "-target=acme.web", "-target", "acme.db", "-replace=abc")).toEqual(["plan", "--target=acme.web", "--target", "acme.db", "--replace=abc"]);
    expect(norm("apply", "-auto-approve", "-parallelism=4", "-lock-timeout=5m", "tfplan")).toEqual(["apply", "--auto-approve", "--parallelism=4", "--lock-timeout=5m", "tfplan"]);
    expect(norm("destroy", "-auto-approve", "-target=acme.web")).toEqual(["destroy", "--auto-approve", "--target=acme.web"]);
    expect(norm("state", "list", "-json")).toEqual(["state", "list", "--json"]);
    expect(norm("-version")).toEqual(["--version"]);
    expect(norm("-v")).toEqual(["--version"]);
    expect(norm("plan", "-help")).toEqual(["plan", "--help"]);
  });

  it("take Terraform's =true and =false on on/off flags", () => {
    expect(norm("apply", "-auto-approve=true", "-no-color=false", "tfplan")).toEqual(["apply", "--auto-approve", "tfplan"]);
    expect(norm("plan", "-detailed-exitcode=1", "-refresh-only=false")).toEqual(["plan", "--detailed-exitcode"]);
    expect(refusal("apply", "-auto-approve=yes please")).toBe("-auto-approve=yes please: --auto-approve is on or off: -auto-approve, -auto-approve=true or -auto-approve=false");
  });

  it("drop -input=… and -lock=true, which ask for what pvefleet always does", () => {
    expect(norm("apply", "-input=false", "-auto-approve", "tfplan")).toEqual(["apply", "--auto-approve", "tfplan"]);
    expect(norm("plan", "-lock=true", "-input=true")).toEqual(["plan"]);
    // plan takes no lock and has no parallelism to set; apply has both.
    expect(norm("plan", "-lock-timeout=5m", "-parallelism", "4", "-out=p")).toEqual(["plan", "--out=p"]);
    expect(norm("apply", "-lock-timeout=5m", "-parallelism", "4")).toEqual(["apply", "--lock-timeout=5m", "--parallelism", "4"]);
  });

  it("refuse what pvefleet does not have, saying what to use instead", () => {
    expect(refusal("plan", "-lock=false")).toMatch(/^-lock=false: pvefleet always takes the state lock: .*--lock-timeout/);
    expect(refusal("plan", "-var", "size=3")).toMatch(/^-var: pvefleet has no input variables/);
    expect(refusal("plan", "-var-file=prod.tfvars")).toMatch(/^-var-file: pvefleet has no input variables/);
    expect(refusal("plan", "-refresh=false")).toMatch(/--refresh=listing/);
    expect(refusal("-chdir=infra", "plan")).toMatch(/-c DIR\/shard.jsonc/);
  });

  it("never split an unknown word into short flags: it is refused by the name typed", () => {
    // `-out=FILE` used to be `-o` with the value `ut=FILE`; an unknown word must not be read that way either.
    expect(refusal("plan", "-outt=tfplan")).toMatch(/^unknown flag -outt=tfplan for pvefleet plan \(did you mean --out\?\)/);
    expect(refusal("plan", "-cshard.jsonc")).toMatch(/^unknown flag -cshard\.jsonc for pvefleet plan/);
    expect(refusal("apply", "-detailed-exitcode")).toMatch(/^unknown flag -detailed-exitcode for pvefleet apply/);
    expect(refusal("plan", "-compact-warnings")).toMatch(/^unknown flag -compact-warnings/);
  });

  it("leave short flags, values that start with a dash and everything after -- alone", () => {
    expect(norm("plan", "-c", "shard.jsonc", "-o", "p.json")).toEqual(["plan", "-c", "shard.jsonc", "-o", "p.json"]);
    expect(norm("plan", "-c=shard.jsonc")).toEqual(["plan", "-c", "shard.jsonc"]);
    expect(norm("plan", "--prefix", "-odd-prefix", "--state-dir", "-dir")).toEqual(["plan", "--prefix", "-odd-prefix", "--state-dir", "-dir"]);
    expect(norm("state", "show", "--", "-weird")).toEqual(["state", "show", "--", "-weird"]);
  });

  it("`plan -out=FILE` writes FILE, never ut=FILE (in-process, no cluster needed to see the refusal path)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvefleet-tf-"));
    // No shard file: the plan fails, but the flag must have been read as --out, so the error is about the shard file.
    const r = await cliInProcess(["plan", "-c", join(dir, "nope.jsonc"), `-out=${join(dir, "tfplan")}`, "-no-color"], { PVEFLEET_CONFIG: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: ${join(dir, "nope.jsonc")}: no such file\n`);
    const bad = await cliInProcess(["plan", "-frobnicate"], {});
    expect(bad).toMatchObject({ code: 1, stdout: "" });
    expect(bad.stderr).toMatch(/^Error: unknown flag -frobnicate for pvefleet plan/);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("commander's own errors read `Error: …` too", async () => {
    const r = await cliInProcess(["plan", "--frobnicate"], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: unknown option '--frobnicate'/);
  });
});

describe("what a saved plan records of where it was made", () => {
  it("the shard file and the state directory as absolute paths, a URL as it is, the shard", async () => {
    const { planOrigin } = await import("../../src/cli/context.js");
    const desired = { source: { location: "shard.jsonc", digest: "sha256:x" }, shardId: "dev" };
    expect(planOrigin({ storage: "file", stateDir: ".pvefleet", prefix: "" }, desired)).toEqual({
      config: join(process.cwd(), "shard.jsonc"), shard: "dev", storage: "file", stateDir: join(process.cwd(), ".pvefleet"),
    });
    expect(planOrigin({ storage: "s3", stateDir: ".pvefleet", bucket: "b", prefix: "fleet/" }, { ...desired, source: { location: "s3://b/shard.jsonc", digest: "d" } }))
      .toEqual({ config: "s3://b/shard.jsonc", shard: "dev", storage: "s3", bucket: "b", prefix: "fleet/" });
  });
});

describe("one spelling for machine output", () => {
  it("--json is --format json on every command that prints JSON; both given and different is one line", () => {
    const tree = commandTree(buildProgram());
    for (const n of tree) {
      const flags = n.flags.map((f) => f.long);
      if (flags.includes("--format") && n.flags.find((f) => f.long === "--format")!.choices!.includes("json")) expect(flags, n.path).toContain("--json");
    }
    for (const cmd of ["plan", "apply", "destroy", "drift", "show", "validate", "state list", "state show", "place", "version"]) {
      expect(tree.find((n) => n.path === cmd)!.flags.map((f) => f.long), cmd).toEqual(expect.arrayContaining(["--format", "--json"]));
    }
    expect(outputFormat({ json: true, format: "text", [GIVEN]: ["json"] })).toBe("json");
    expect(() => outputFormat({ json: true, format: "markdown", [GIVEN]: ["format", "json"] })).toThrow("--json and --format markdown contradict each other");
  });

  it("version --json is Terraform's shape", async () => {
    const r = await cliInProcess(["version", "-json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, string>;
    expect(Object.keys(j)).toEqual(["format_version", "pvefleet_version", "platform", "node_version"]);
    expect(j.platform).toMatch(/^[a-z0-9]+_[a-z0-9]+$/);
    expect(j.node_version).toBe(process.version);
    expect((await cliInProcess(["version"])).stdout).toMatch(/^pvefleet v\d+\.\d+\.\d+\non \w+_\w+/);
  });

  it("validate --json prints Terraform's diagnostics for an invalid file, with the range of each problem", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvefleet-validate-"));
    const file = join(dir, "bad.jsonc");
    await writeFile(file, (await readFile("examples/quickstart.jsonc", "utf8")).replace('"size": 2', '"size": -1').replace('"kind": "web"', '"kind": "WEB"'));
    const r = await cliInProcess(["validate", "-c", file, "-json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout) as { format_version: string; valid: boolean; error_count: number; warning_count: number; diagnostics: { severity: string; summary: string; range: { filename: string; start: { line: number; column: number } } }[] };
    expect(j).toMatchObject({ format_version: "1.0", valid: false, error_count: 2, warning_count: 0 });
    for (const d of j.diagnostics) {
      expect(d.severity).toBe("error");
      expect(d.range.filename).toBe(file);
      expect(d.range.start.line).toBeGreaterThan(1);
      expect(d.range.start.column).toBeGreaterThan(0);
    }
    const ok = await cliInProcess(["validate", "-c", "examples/quickstart.jsonc", "--format", "json"]);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, error_count: 0, shard: { shard_id: "dev", cluster_id: "demo", instance_count: 2 } });
  });

  it("place -json carries format_version; its text says 1 core, not 1 cores", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvefleet-place-"));
    const nodes = join(dir, "nodes.json");
    await writeFile(nodes, JSON.stringify([{ node: "pve1", status: "online", maxcpu: 8, maxmem: 16 * 1024 ** 3, cpu: 0.1, mem: 1e9 }]));
    const j = await cliInProcess(["place", "-cores=1", "-memory=512", `-nodes-file=${nodes}`, "-json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ format_version: "1.0", placements: [{ node: "pve1" }] });
    expect((await cliInProcess(["place", "--cores", "1", "--memory", "512", "--nodes-file", nodes])).stdout).toContain("(1 core, 512 MiB");
  });

  it("snake_case keys for JSON made from records", () => {
    expect(snakeKeys({ instanceId: "a", applied: { memoryMiB: 1, diskBytes: 2 }, stepsDone: ["clone"] })).toEqual({ instance_id: "a", applied: { memory_mib: 1, disk_bytes: 2 }, steps_done: ["clone"] });
  });
});

describe("the bpg provider's environment variables", () => {
  it("fill pvefleet's, which win when both are set; a malformed token never shows its secret", () => {
    const env: NodeJS.ProcessEnv = { PROXMOX_VE_ENDPOINT: "https://pve:8006/", PROXMOX_VE_API_TOKEN: "terraform@pve!provider=s3cr3t-uuid", PROXMOX_VE_INSECURE: "true" };
    expect(applyEnvAliases(env)).toEqual([]);
    expect(env).toMatchObject({ PROXMOX_API_URL: "https://pve:8006/", PROXMOX_TOKEN_ID: "terraform@pve!provider", PROXMOX_TOKEN_SECRET: "s3cr3t-uuid", PVEFLEET_INSECURE_TLS: "1" });

    const ours: NodeJS.ProcessEnv = { PROXMOX_API_URL: "https://a:8006/api2/json", PROXMOX_TOKEN_ID: "root@pam!x", PROXMOX_TOKEN_SECRET: "mine", PVEFLEET_INSECURE_TLS: "0",
      PROXMOX_VE_ENDPOINT: "https://b:8006/", PROXMOX_VE_API_TOKEN: "u@pve!t=theirs", PROXMOX_VE_INSECURE: "true" };
    applyEnvAliases(ours);
    expect(ours).toMatchObject({ PROXMOX_API_URL: "https://a:8006/api2/json", PROXMOX_TOKEN_ID: "root@pam!x", PROXMOX_TOKEN_SECRET: "mine", PVEFLEET_INSECURE_TLS: "0" });

    for (const token of ["no-bang-here=secretvalue", "u@pve!t", "u@pve!t=", "justsecretvalue"]) {
      const bad: NodeJS.ProcessEnv = { PROXMOX_VE_API_TOKEN: token };
      const problems = applyEnvAliases(bad);
      expect(problems, token).toEqual(["PROXMOX_VE_API_TOKEN must look like user@realm!tokenid=secret (the value is not shown)"]);
      expect(bad.PROXMOX_TOKEN_SECRET).toBeUndefined();
    }
    expect(applyEnvAliases({ PROXMOX_VE_INSECURE: "maybe" })).toEqual(['PROXMOX_VE_INSECURE must be true or false, not "maybe"']);
  });

  it("a malformed alias stops the commands that talk to the cluster with one line, and not validate", async () => {
    const env = { PROXMOX_VE_API_TOKEN: "u@pve!t=", PROXMOX_TOKEN_ID: undefined, PROXMOX_TOKEN_SECRET: undefined };
    const r = await cliInProcess(["plan", "-c", "examples/quickstart.jsonc"], env);
    expect(r).toMatchObject({ code: 1, stderr: "Error: PROXMOX_VE_API_TOKEN must look like user@realm!tokenid=secret (the value is not shown)\n" });
    expect((await cliInProcess(["validate", "-c", "examples/quickstart.jsonc"], env)).code).toBe(0);
  });

  it("--help shows numbers and durations as typed, not as quoted strings", async () => {
    const apply = (await cliInProcess(["apply", "--help"])).stdout.replace(/\s+/g, " ");
    expect(apply).toContain("(default: 10)");
    expect(apply).toContain("(default: 0s)");
    expect((await cliInProcess(["sim", "--help"])).stdout.replace(/\s+/g, " ")).toContain("(default: 8006)");
  });

  it("--help names the variable of every option that has one, and the aliases", async () => {
    const plan = (await cliInProcess(["plan", "--help"])).stdout.replace(/\s+/g, " ");
    for (const v of ["PVEFLEET_CONFIG", "PVEFLEET_SHARD", "PVEFLEET_STORAGE", "PVEFLEET_BUCKET", "PVEFLEET_PREFIX", "PVEFLEET_STATE_DIR"]) expect(plan).toContain(`env: ${v}`);
    const top = (await cliInProcess(["--help"])).stdout.replace(/\s+/g, " ");
    for (const v of ["NO_COLOR", "PVEFLEET_ALLOW_INSECURE_HTTP", "PROXMOX_VE_ENDPOINT", "PROXMOX_VE_API_TOKEN", "PROXMOX_VE_INSECURE", "PVEFLEET_PLAN_KEY"]) expect(top).toContain(v);
  });
});

describe("the text plan's wording", () => {
  it("names a size by what it is, with its unit on the value: disk: 32 GiB, memory: 2 GiB", () => {
    const text = renderPlanText(mixedPlan());
    expect(text).not.toMatch(/diskBytes|memoryMiB/);
    expect(text).toMatch(/\+ disk: +32 GiB/);
    expect(text).toMatch(/~ memory: +2 GiB → 4 GiB/);
    expect(attributeLabel("diskBytes")).toBe("disk");
    expect(formatValue("memoryMiB", 512)).toBe("512 MiB");
    expect(formatValue("diskBytes", 4 * 1024 ** 3)).toBe("4 GiB");
  });

  it("says a drifted size with its unit on the value, in the drift report's finding lines", () => {
    const f = { fingerprint: "sha256:f", kind: "attribute" as const, instanceId: "tst1", attribute: "diskBytes", expected: 4 * 1024 ** 3, actual: 8 * 1024 ** 3, message: "tst1: diskBytes is 8589934592, expected 4294967296" };
    expect(findingSentence(f)).toBe("tst1: disk is 8 GiB, expected 4 GiB");
    expect(findingSentence({ ...f, attribute: "memoryMiB", expected: 512, actual: 1024 })).toBe("tst1: memory is 1 GiB, expected 512 MiB");
    expect(findingSentence({ ...f, kind: "stopped", message: "tst1 (VMID 1) is stopped" })).toBe("tst1 (VMID 1) is stopped");
  });

  it("makes counts and nouns agree", () => {
    expect(plural(1, "attribute change")).toBe("1 attribute change");
    expect(plural(2, "attribute change")).toBe("2 attribute changes");
    const one = driftCountsLine([{ fingerprint: "f", kind: "attribute", message: "m" }, { fingerprint: "g", kind: "orphan", message: "m" }]);
    expect(one).toBe("Drift: 1 attribute change, 0 missing, 0 stopped, 1 orphan, 0 suspicious, 0 unmanaged.\n");
  });

  it("lists nodes in natural order: pve2 before pve10", () => {
    expect(["pve10", "pve2", "pve1", "pve11"].sort(naturalCompare)).toEqual(["pve1", "pve2", "pve10", "pve11"]);
    const cap = (node: string) => ({ node, maxcpu: 8, maxmemBytes: 8 * 1024 ** 3, before: { cores: 0, memBytes: 0 }, after: { cores: 1, memBytes: 1024 ** 3 } });
    const rows = renderCapacity([cap("pve10"), cap("pve2"), cap("pve1")], palette(false)).slice(2, 5).map((l) => l.trim().split(/\s+/)[0]);
    expect(rows).toEqual(["pve1", "pve2", "pve10"]);
  });

  it("counts each group's changes in a Groups: table before the summary", () => {
    const text = renderPlanText(mixedPlan(), { groupSizes: new Map([["acme.web", 3], ["acme.db", 1], ["acme.batch", 1]]) });
    const at = text.indexOf("Groups:");
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(text.indexOf("Plan: 2 to add"));
    const table = text.slice(at).split("\n").slice(1, 5).map((l) => l.trim().split(/\s+/));
    expect(table).toEqual([
      ["group", "size", "+create", "~update", "-/+replace", "-destroy"],
      ["acme.batch", "1", "0", "0", "0", "1"],
      ["acme.db", "1", "0", "0", "1", "0"],
      ["acme.web", "3", "1", "2", "0", "0"],
    ]);
    expect(renderPlanText(mixedPlan())).toMatch(/acme\.web +- +1 +2/);
  });
});

/** A small DOT reader: the grammar `pvefleet graph` uses (statements, attribute lists, subgraphs, edges). */
function parseDot(text: string): { nodes: Set<string>; edges: [string, string, Record<string, string>][] } {
  const tokens = [...text.matchAll(/"(?:[^"\\]|\\.)*"|->|[{}[\];=,]|[A-Za-z_][A-Za-z0-9_]*|\d+|\S/g)].map((m) => m[0]);
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`DOT: expected ${want ?? "a token"} at token ${i - 1}, got ${t}`);
    return t;
  };
  const isId = (t: string | undefined) => t !== undefined && /^("|[A-Za-z_]|\d)/.test(t);
  const unq = (t: string) => (t.startsWith('"') ? t.slice(1, -1) : t);
  const nodes = new Set<string>();
  const edges: [string, string, Record<string, string>][] = [];
  const attrs = () => {
    const a: Record<string, string> = {};
    take("[");
    while (peek() !== "]") {
      const k = take();
      take("=");
      const v = take();
      if (!isId(k) || !isId(v)) throw new Error(`DOT: bad attribute ${k}=${v}`);
      a[unq(k)] = unq(v);
      if (peek() === "," || peek() === ";") take();
    }
    take("]");
    return a;
  };
  const block = () => {
    take("{");
    while (peek() !== "}") {
      const t = take();
      if (t === "subgraph") {
        if (isId(peek())) take();
        block();
      } else if ((t === "node" || t === "edge" || t === "graph") && peek() === "[") attrs();
      else if (isId(t) && peek() === "=") {
        take("=");
        if (!isId(take())) throw new Error("DOT: bad graph attribute");
      } else if (isId(t) && peek() === "->") {
        take("->");
        const to = take();
        if (!isId(to)) throw new Error("DOT: bad edge");
        edges.push([unq(t), unq(to), peek() === "[" ? attrs() : {}]);
      } else if (isId(t)) {
        nodes.add(unq(t));
        if (peek() === "[") attrs();
      } else throw new Error(`DOT: unexpected ${t}`);
      if (peek() === ";") take();
    }
    take("}");
  };
  take("digraph");
  if (isId(peek())) take();
  block();
  if (i !== tokens.length) throw new Error("DOT: text after the graph");
  return { nodes, edges };
}

describe("pvefleet graph", () => {
  it("is valid DOT: every action a node, every dependency an edge, a replacement's order labelled", () => {
    const plan = mixedPlan();
    const dot = renderPlanDot(plan);
    const g = parseDot(dot);
    expect([...g.nodes].sort()).toEqual(plan.actions.map((a) => a.id).sort());
    for (const [from, to] of g.edges) {
      expect(g.nodes.has(from)).toBe(true);
      expect(g.nodes.has(to)).toBe(true);
    }
    // The old db VM stops after its successor is cloned: create before destroy.
    expect(g.edges).toContainEqual(["dbs06dxa00000000000000000009:clone", "dbs06dx9xy919t3v9kzd2xdsyzb3k:stop", expect.objectContaining({ label: "create before destroy" })]);
    expect(dot).toContain('label = "+/- acme.db/dbs06dx9xy919t3v9kzd2xdsyzb3k must be replaced"');
    expect(() => parseDot(dot.replace(/\}\n$/, ""))).toThrow(/DOT/);
  });
});

describe("pvefleet completion", () => {
  const tree = commandTree(buildProgram());

  it("bash: a script bash accepts, completing commands, subcommands, flags and flag choices", () => {
    const script = bashScript(tree);
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
    const complete = (...words: string[]) => {
      const r = spawnSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _pvefleet; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      return r.stdout.trim().split("\n").filter(Boolean);
    };
    expect(complete("pvefleet", "pl").sort()).toEqual(["place", "plan"]);
    expect(complete("pvefleet", "state", "")).toEqual(["list", "show", "pull", "push"]);
    expect(complete("pvefleet", "plan", "--for")).toEqual(["--format"]);
    expect(complete("pvefleet", "plan", "--format", "")).toEqual(["text", "markdown", "json"]);
    expect(complete("pvefleet", "apply", "--format", "")).toEqual(["text", "json"]);
    expect(complete("pvefleet", "completion", "")).toEqual(["bash", "zsh", "fish"]);
    expect(complete("pvefleet", "plan", "--no-c")).toEqual(["--no-color"]);
  });

  it("zsh and fish: every command and flag of the tree", () => {
    const zsh = zshScript(tree);
    const fish = fishScript(tree);
    expect(zsh.startsWith("#compdef pvefleet\n")).toBe(true);
    for (const n of tree.filter((x) => x.path !== "")) {
      expect(zsh).toContain(`"${n.path}")`);
      const last = n.path.split(" ").at(-1)!;
      expect(fish).toMatch(new RegExp(`-a ${last}\\b`));
    }
    expect(fish).toContain("complete -c pvefleet -n '__fish_seen_subcommand_from plan; and not __fish_seen_subcommand_from state' -l format -x -a 'text markdown json'");
    expect(zsh).toContain("'--format[output format]:value:(text markdown json)'");
  });

  it("ends quietly when the reader closes the pipe (pvefleet … | head), never with an EPIPE stack trace", async () => {
    const { spawn } = await import("node:child_process");
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(import.meta.dirname, "..", "..", "bin", "pvefleet.js"), "completion", "fish"], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      child.on("close", (code) => resolve({ code, stderr }));
    });
    expect(r).toEqual({ code: 0, stderr: "" });
  });

  it("is printed by pvefleet completion SHELL", async () => {
    const r = await cliInProcess(["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("complete -o default -F _pvefleet pvefleet");
    expect((await cliInProcess(["completion", "tcsh"])).code).toBe(1);
  });
});
