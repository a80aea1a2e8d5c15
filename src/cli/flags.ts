/**
 * Terraform's flag spelling, before commander sees the command line. One policy (src/cli/README.md,
 * "Flags the Terraform way"): a single dash followed by two or more characters is always a long
 * flag — `-out=tfplan`, `-auto-approve`, `-json`, `-target=acme.web` mean `--out=tfplan`, … —
 * and a name that is not one of the command's flags is refused here, naming what was typed. So
 * `-out=FILE` can never be read as `-o` plus the value `ut=FILE`, and an unknown word is never
 * split into single-letter flags. Short flags are single letters and take their value after a
 * space (`-c FILE`) or `=` (`-c=FILE`).
 *
 * A few Terraform flags have no pvefleet equivalent; they are refused with what to use instead,
 * except `-input=…` and `-lock=true`, which ask for what pvefleet always does (it never prompts for
 * values, it always locks) and are accepted and dropped.
 */
import type { Command, Option } from "commander";
import { UserError } from "../errors.js";
import { nearest } from "../config/did-you-mean.js";

/** The key of a command's options listing those given on the command line or through the environment (main.ts). */
export const GIVEN = "__given";

/** Whether an option was given (command line or environment), not a default. */
export function given(opts: Record<string, unknown>, key: string): boolean {
  return (opts[GIVEN] as string[] | undefined)?.includes(key) ?? opts[key] !== undefined;
}

/**
 * The output format of a command: `--format` (default text), or `--json`, its alias. Both given
 * and different is a mistake, said as one line.
 */
export function outputFormat<F extends string = "text" | "markdown" | "json">(opts: Record<string, unknown>): F {
  const format = (opts.format as string | undefined) ?? "text";
  if (opts.json !== true) return format as F;
  if (format !== "json" && given(opts, "format")) throw new UserError("E_FLAG", `--json and --format ${format} contradict each other: --json is --format json`);
  return "json" as F;
}

/** Terraform flags pvefleet does not have, and what to do instead. */
const NOT_HERE: Record<string, string> = {
  var: "pvefleet has no input variables: per-environment values live in the shard file (one shard per environment, or a template's args)",
  "var-file": "pvefleet has no input variables: per-environment values live in the shard file (one shard per environment, or a template's args)",
  chdir: "pvefleet does not change directory: name the shard file with -c DIR/shard.jsonc (and the state with --state-dir)",
  state: "the state's location is --storage with --state-dir, or --bucket and --prefix",
  "state-out": "the state's location is --storage with --state-dir, or --bucket and --prefix",
  backup: "the state's location is --storage with --state-dir, or --bucket and --prefix",
};

/** Terraform flags that only tune locking or concurrency: dropped where the command has no such flag. */
const QUIET_WHERE_ABSENT = new Set(["lock-timeout", "parallelism"]);

/** Flags whose Terraform values mean something pvefleet never does, by value. */
function special(name: string, value: string | undefined): { drop: true } | { refuse: string } | undefined {
  if (name === "input") return { drop: true }; // pvefleet never prompts for values; approval is --auto-approve
  if (name === "lock") {
    if (value === undefined || /^(true|1)$/i.test(value)) return { drop: true };
    return { refuse: "pvefleet always takes the state lock: wait for a busy one with --lock-timeout=DURATION, or remove a stuck one with pvefleet force-unlock LOCK_ID" };
  }
  if (name === "refresh" && value !== undefined && /^(false|0|true|1)$/i.test(value)) {
    return { refuse: "pvefleet always reads the cluster before it plans: --refresh=full (every VM's config, the default) or --refresh=listing (the two cluster listings only)" };
  }
  return undefined;
}

/**
 * `args` (without `node` and the script) rewritten to commander's spelling. Walks the command
 * path as commander will (subcommand names among the positionals), so a flag is looked up among
 * the options of the command it follows and of every command above it (global flags), and the
 * value of a flag that takes one is never taken for a flag.
 */
export function normaliseArgs(program: Command, args: readonly string[]): string[] {
  const out: string[] = [];
  const path: Command[] = [program];
  let positionals = 0;
  const options = () => path.flatMap((c) => c.options as readonly Option[]);
  const find = (flag: string) => options().find((o) => o.long === flag || o.short === flag);
  // "pvefleet plan", "pvefleet state list": what the unknown-flag line names.
  const where = () => path.map((c) => c.name()).join(" ");

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (arg.startsWith("--")) {
      out.push(arg);
      const o = find(arg.split("=", 1)[0]!);
      if (o && o.required && !arg.includes("=") && i + 1 < args.length) out.push(args[++i]!);
      continue;
    }
    if (arg === "-v" && !find("-v")) {
      out.push("--version"); // `terraform -v`
      continue;
    }
    if (/^-[^-]./s.test(arg)) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(1) : arg.slice(1, eq);
      const value = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name.length === 1) {
        // A short flag with `=`: `-c=FILE` is `-c FILE`.
        out.push(`-${name}`);
        if (value !== undefined) out.push(value);
        else if (find(`-${name}`)?.required && i + 1 < args.length) out.push(args[++i]!);
        continue;
      }
      const s = special(name, value);
      if (s && "drop" in s) continue;
      if (s) throw new UserError("E_FLAG", `-${name}=${value ?? ""}: ${s.refuse}`);
      if (NOT_HERE[name]) throw new UserError("E_FLAG", `-${name}: ${NOT_HERE[name]}`);
      const long = `--${name}`;
      const o = find(long);
      // `plan -lock-timeout=5m`, `plan -parallelism=4`: plan and drift take no lock and read with a
      // fixed pool, so there is nothing to wait for or limit; dropped (with the value after a space).
      if (!o && QUIET_WHERE_ABSENT.has(name)) {
        if (value === undefined && i + 1 < args.length && !args[i + 1]!.startsWith("-")) i++;
        continue;
      }
      if (!o && long !== "--help") {
        // Commander's help flag is not among `options`; the version flag is.
        const guess = nearest(long, [...options().map((x) => x.long).filter((x): x is string => !!x), "--help"]);
        const shown = arg.length > 40 ? `${arg.slice(0, 40)}…` : arg;
        throw new UserError("E_FLAG", `unknown flag ${shown} for ${where()}${guess ? ` (did you mean ${guess}?)` : ""}: flags are --name or Terraform's -name, short ones a single letter (-c FILE); see ${where()} --help`);
      }
      if (o && !o.required && !o.optional && value !== undefined) {
        // Terraform's on/off flags also take =true and =false (Go's flag package): `-auto-approve=true`.
        const on = /^(true|t|1)$/i.test(value) ? true : /^(false|f|0)$/i.test(value) ? false : undefined;
        if (on === undefined) throw new UserError("E_FLAG", `-${name}=${value.slice(0, 20)}: ${long} is on or off: -${name}, -${name}=true or -${name}=false`);
        if (on) out.push(long);
        continue;
      }
      out.push(value === undefined ? long : `${long}=${value}`);
      if (o?.required && value === undefined && i + 1 < args.length) out.push(args[++i]!);
      continue;
    }
    out.push(arg);
    // A positional: a subcommand name while the current command has subcommands and no positional yet.
    const current = path.at(-1)!;
    const sub = positionals === 0 ? (current.commands as Command[]).find((c) => c.name() === arg || c.aliases().includes(arg)) : undefined;
    if (sub) path.push(sub);
    else positionals++;
  }
  return out;
}
