/**
 * What the example tests share: the example shard files and what each says about the simulator,
 * the CI workflows parsed as YAML, and running a workflow's shell step as GitHub's runner would.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { ROOT } from "../cli/helpers.js";

export { ROOT };
const execFileAsync = promisify(execFile);
export const EXAMPLES = join(ROOT, "examples");

/** Every shard file under examples/ (not the CI, systemd, Kubernetes or simulator files). */
export function exampleShardFiles(): string[] {
  return readdirSync(EXAMPLES).filter((f) => /\.(jsonc|json|hcl)$/.test(f)).sort();
}

/** What a shard file's header says: runs on the default simulator, on one with a topology, or not at all. */
export type SimStatement = { runs: true; topology?: string } | { runs: false };

export function simStatement(file: string): SimStatement | undefined {
  const header = readFileSync(join(EXAMPLES, file), "utf8").split("\n").filter((l) => /^\s*(\/\/|#)/.test(l)).join("\n");
  const topology = /pvefleet sim --topology (\S+)/.exec(header);
  if (topology) return { runs: true, topology: topology[1] };
  if (/Runs on the simulator as is/.test(header)) return { runs: true };
  if (/Does not run on the simulator/.test(header)) return { runs: false };
  return undefined;
}

export type Workflow = {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, { if?: string; "runs-on": string | string[]; env?: Record<string, string>; steps: Step[]; strategy?: unknown }>;
};
export type Step = { name?: string; id?: string; uses?: string; run?: string; shell?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };

export function workflowFiles(): string[] {
  return readdirSync(join(EXAMPLES, "ci")).filter((f) => f.endsWith(".yml")).sort();
}

export function readWorkflow(file: string): Workflow {
  return parse(readFileSync(join(EXAMPLES, "ci", file), "utf8")) as Workflow;
}

export function readYamlDocuments(path: string): Array<Record<string, unknown>> {
  return parseAllDocuments(readFileSync(path, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${path}: ${d.errors[0]!.message}`);
    return d.toJS() as Record<string, unknown>;
  });
}

export function step(wf: Workflow, name: string): Step {
  for (const job of Object.values(wf.jobs)) {
    const s = job.steps.find((x) => x.name === name);
    if (s) return s;
  }
  throw new Error(`no step named ${JSON.stringify(name)} in workflow ${wf.name}`);
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a workflow's `run:` script as GitHub does for `shell: bash` (bash --noprofile --norc -eo pipefail). */
export function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return runProgram("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], { cwd, env });
}

/** Runs a program and collects its output (no shell); a non-zero exit is a result, not an error. */
export async function runProgram(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw e;
    return { code: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

const help = new Map<string, string>();

/** `pvefleet [global flags] <command> [args]`: the command exists and every flag is in its --help (or the global one). */
export async function checkInvocation(tokens: string[], where: string): Promise<void> {
  const globalHelp = help.get("") ?? (await runProgram(process.execPath, [join(ROOT, "bin", "pvefleet.js"), "--help"])).stdout;
  help.set("", globalHelp);
  const command = tokens.find((t) => !t.startsWith("-"));
  expect(command, `${where}: no command in "pvefleet ${tokens.join(" ")}"`).toBeDefined();
  expect(globalHelp, `${where}: pvefleet has no command "${command}"`).toMatch(new RegExp(`^  ${command}\\b`, "m"));
  if (!help.has(command!)) help.set(command!, (await runProgram(process.execPath, [join(ROOT, "bin", "pvefleet.js"), command!, "--help"])).stdout);
  for (const flag of tokens.filter((t) => /^-{1,2}[a-z]/.test(t)).map((t) => t.replace(/=.*$/, ""))) {
    const inHelp = new RegExp(`(^|[ ,])${flag.replace(/-/g, "\\-")}([ ,=<]|$)`, "m");
    expect(inHelp.test(help.get(command!)!) || inHelp.test(globalHelp), `${where}: pvefleet ${command} has no flag ${flag}`).toBe(true);
  }
}
