/**
 * The pvefleet command line: flags, help and exit codes. Each command lives in
 * `commands/<name>.ts` and is imported only when it runs, so `--version` and `validate`
 * stay fast (no ink, AWS SDK or HCL parser unless a command needs them).
 *
 * A command module exports `run(opts, ...args): Promise<number>` returning the exit code.
 * Bad input is a UserError: one line on stderr, exit 1, no stack trace.
 */
import { Argument, Command, Option } from "commander";
import { VERSION } from "../version.js";
import { isUserError } from "../errors.js";
import { GIVEN, normaliseArgs } from "./flags.js";
import { applyEnvAliases, checkEnvAliases } from "./env.js";

export type Opts = Record<string, unknown>;
type RunFn = (opts: Opts, ...args: unknown[]) => Promise<number>;

let exitCode = 0;
/** Malformed PROXMOX_VE_* aliases (env.ts), reported by the commands that talk to the cluster. */
let envProblems: string[] = [];
/** Commands that read the cluster's API. */
const API_COMMANDS = new Set(["plan", "apply", "drift", "destroy", "graph", "place"]);

/**
 * Command modules, imported only when their command runs. Spelled out (not a template-literal
 * import) so that bundlers and vitest can resolve them statically.
 */
const COMMANDS: Record<string, () => Promise<{ run: RunFn }>> = {
  validate: () => import("./commands/validate.js") as Promise<{ run: RunFn }>,
  plan: () => import("./commands/plan.js") as Promise<{ run: RunFn }>,
  apply: () => import("./commands/apply.js") as Promise<{ run: RunFn }>,
  drift: () => import("./commands/drift.js") as Promise<{ run: RunFn }>,
  show: () => import("./commands/show.js") as Promise<{ run: RunFn }>,
  destroy: () => import("./commands/destroy.js") as Promise<{ run: RunFn }>,
  init: () => import("./commands/init.js") as Promise<{ run: RunFn }>,
  sim: () => import("./commands/sim.js") as Promise<{ run: RunFn }>,
  place: () => import("./commands/place.js") as Promise<{ run: RunFn }>,
  "state-list": () => import("./commands/state-list.js") as Promise<{ run: RunFn }>,
  "state-show": () => import("./commands/state-show.js") as Promise<{ run: RunFn }>,
  "state-pull": () => import("./commands/state-pull.js") as Promise<{ run: RunFn }>,
  "state-push": () => import("./commands/state-push.js") as Promise<{ run: RunFn }>,
  "force-unlock": () => import("./commands/force-unlock.js") as Promise<{ run: RunFn }>,
  graph: () => import("./commands/graph.js") as Promise<{ run: RunFn }>,
  completion: () => import("./commands/completion.js") as Promise<{ run: RunFn }>,
  version: () => import("./commands/version.js") as Promise<{ run: RunFn }>,
};

/** Commands that may write the file backend's state (and so wait for its writer lock). */
const STATE_COMMANDS = new Set(["plan", "apply", "drift", "show", "destroy", "graph", "state-list", "state-show", "state-pull", "state-push", "force-unlock"]);

/** A write stalled behind someone's writer lock is said once, instead of a silent wait of up to 30 s. */
async function reportWriterLockWaits(): Promise<void> {
  const { setWriterLockWaitListener } = await import("../state/file-backend.js");
  setWriterLockWaitListener((w) => {
    const host = w.host ? ` on ${w.host}` : "";
    process.stderr.write(`Waiting for writer lock ${w.lockPath}: held by pid ${w.pid}${host} since ${w.since.toISOString()}; it is taken over once it is ${w.staleAfterMs / 1000} s old.\n`);
  });
}

/** Calls the command module's run() with the command's merged options (globals included). */
function lazy(name: keyof typeof COMMANDS & string) {
  return async (...actionArgs: unknown[]) => {
    const cmd = actionArgs[actionArgs.length - 1] as Command;
    const positional = actionArgs.slice(0, -2);
    const opts = cmd.optsWithGlobals() as Opts;
    // Which options the command line or the environment set (not a default): `apply PLANFILE`
    // takes the shard file and state location from the plan unless they were given.
    opts[GIVEN] = Object.keys(opts).filter((k) => ["cli", "env"].includes(cmd.getOptionValueSourceWithGlobals(k) ?? ""));
    // The client reads the permission from the environment, like every other connection setting.
    if (opts.allowInsecureHttp === true) process.env.PVEFLEET_ALLOW_INSECURE_HTTP = "1";
    if (API_COMMANDS.has(name)) checkEnvAliases(envProblems);
    if (STATE_COMMANDS.has(name)) await reportWriterLockWaits();
    const mod = await COMMANDS[name]!();
    exitCode = await mod.run(opts, ...positional);
  };
}

/** Options shared by every command that reads a shard file and a state store; `--help` shows each one's variable. */
function shardOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-c, --config <file>", "shard file (.jsonc, .json, .hcl), s3://bucket/key or gs://bucket/object (default ./shard.jsonc, then ./shard.hcl)").env("PVEFLEET_CONFIG"))
    .addOption(new Option("--shard <id>", "shard to use when the file holds several").env("PVEFLEET_SHARD"))
    .addOption(new Option("--storage <kind>", "state backend").choices(["file", "s3", "gcs"]).default("file").env("PVEFLEET_STORAGE"))
    .addOption(new Option("--bucket <name>", "S3 or GCS bucket for the state (with --storage s3 or gcs)").env("PVEFLEET_BUCKET"))
    .addOption(new Option("--prefix <prefix>", "key prefix inside the bucket").default("", "none").env("PVEFLEET_PREFIX"))
    .addOption(new Option("--state-dir <dir>", "directory of the file state backend").default("./.pvefleet", "./.pvefleet").env("PVEFLEET_STATE_DIR"));
}

/**
 * Machine output has one spelling on every command: `--format json` (the primary, next to text and
 * markdown), with `--json` — Terraform's `-json` — as its alias.
 */
function formatOption(cmd: Command, choices: string[] = ["text", "markdown", "json"]): Command {
  return cmd
    .addOption(new Option("--format <format>", "output format").choices(choices).default("text"))
    .option("--json", "the same as --format json (Terraform's -json)");
}

/** One refresh policy for plan, apply and drift (ARCHITECTURE.md rule 9); no default here, so a saved plan can tell it was not given. */
function refreshOption(): Option {
  return new Option("--refresh <policy>", "how the cluster is read: full (the two listings and every VM's config: sees pending changes, onboot and notes; default) or listing (the two listings only, per-VM reads only where they flag a change: for very large fleets; cannot see pending changes, onboot or notes)")
    .choices(["full", "listing"]);
}

function planSelectors(cmd: Command): Command {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  return cmd
    .option("--target <group|instance>", "limit the plan to a group (tenant.group) or an instance; repeatable", collect)
    .option("--replace <instance>", "force replacement of an instance; repeatable", collect)
    .option("--refresh-only", "record what was observed in the state, change nothing")
    .option("--destroy", "plan the removal of everything this shard owns")
    .option("--gc", "delete orphans (VMs with our tags and name that the state does not know)")
    .option("--adopt", "adopt orphans into the group their notes name, when it is below size")
    .option("--ignore-capacity", "plan even when a node's memory would pass the headroom")
    .addOption(refreshOption())
    .option("--deep", "the same as --refresh full (kept for older scripts)")
    .option("--allow-restart", "restart running VMs whose cores/memory change is pending until a restart");
}

export function buildProgram(): Command {
  const program = new Command("pvefleet")
    .description("Declarative fleets of Proxmox VE virtual machines: plan, apply, drift.")
    .version(VERSION, "-V, --version")
    .option("--no-color", "never colour output (env: NO_COLOR)")
    .option("--allow-insecure-http", "allow an http:// PROXMOX_API_URL (the API token then travels in cleartext) (env: PVEFLEET_ALLOW_INSECURE_HTTP=1)")
    .showHelpAfterError("(run pvefleet help for usage)")
    // Commander's own usage errors read like ours: `Error: …`.
    .configureOutput({ outputError: (s, write) => write(s.replace(/^error: /, "Error: ")) })
    .addHelpText("after", ENVIRONMENT_HELP)
    .exitOverride();

  formatOption(shardOptions(program.command("validate").description("check a shard file; print a summary or every problem with file:line:col")), ["text", "json"])
    .action(lazy("validate"));

  formatOption(planSelectors(shardOptions(program.command("plan").description("show what apply would change"))))
    .option("-o, --out <file>", "save the plan for `apply FILE` (signed with PVEFLEET_PLAN_KEY when set)")
    .option("--detailed-exitcode", "exit 0 no changes, 1 error, 2 changes present")
    .option("--all-shards", "plan every shard of the file in turn")
    .action(lazy("plan"));

  formatOption(planSelectors(shardOptions(program.command("apply [planfile]").description("make the cluster match the shard file, or apply a saved plan (it records its shard file and state: nothing else needed)"))), ["text", "json"])
    .option("--auto-approve", "do not ask for confirmation")
    .addOption(new Option("--parallelism <n>", "actions in flight at once").default("10", "10"))
    .addOption(new Option("--lock-timeout <duration>", "wait this long for the state lock (e.g. 30s, 5m)").default("0s", "0s"))
    .action(lazy("apply"));

  formatOption(shardOptions(program.command("drift").description("compare the cluster with the shard; exit 0 in sync, 2 drift, 1 error")))
    .addOption(refreshOption())
    .option("--fail-on <kinds>", "also exit 2 for these information kinds: unmanaged, suspicious (comma-separated or repeated)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--all-shards", "check every shard of the file in turn")
    .action(lazy("drift"));

  formatOption(shardOptions(program.command("show [planfile]").description("show a saved plan, or the state when no plan is given")))
    .action(lazy("show"));

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  formatOption(shardOptions(program.command("destroy").description("remove every VM this shard owns (or, with --out, save that plan for review, like plan --destroy)")))
    .option("--target <group|instance>", "destroy only a group (tenant.group) or an instance; repeatable", collect)
    .option("-o, --out <file>", "save the destroy plan for `apply FILE` and change nothing (the same as plan --destroy --out)")
    .option("--auto-approve", "do not ask for confirmation")
    .addOption(refreshOption())
    .addOption(new Option("--parallelism <n>", "actions in flight at once").default("10", "10"))
    .addOption(new Option("--lock-timeout <duration>", "wait this long for the state lock").default("0s", "0s"))
    .action(lazy("destroy"));

  planSelectors(shardOptions(program.command("graph [planfile]").description("print the action graph of a new plan, or of a saved one, as DOT (Graphviz: | dot -Tsvg > plan.svg)")))
    .action(lazy("graph"));

  program.command("init").description("write a starter shard file")
    .option("-c, --config <file>", "file to write", "shard.jsonc")
    .option("--cluster-id <id>", "cluster ID", "my-cluster")
    .option("--shard <id>", "shard ID", "dev")
    .option("--region <region>", "region label", "dev")
    .option("--zone <zone>", "zone label", "deva")
    .option("--storage-pool <storage>", "VM disk storage", "local-lvm")
    .option("--template-name <name>", "template VM name on every node", "debian-13-template")
    .option("--bridge <bridge>", "network bridge", "vmbr0")
    .option("--vlan <tag>", "VLAN tag")
    .option("--force", "overwrite an existing file")
    .action(lazy("init"));

  program.command("sim").description("run a local Proxmox VE 8.4 API simulator")
    .addOption(new Option("--port <port>", "port (0 = any free port)").default("8006", "8006"))
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--http", "serve plain HTTP instead of HTTPS")
    .addOption(new Option("--nodes <n>", "number of nodes").default("3", "3"))
    .option("--topology <file>", "JSON topology file (nodes, storages, templates)")
    .option("--state <file>", "keep the cluster in this file across restarts")
    .addOption(new Option("--latency <profile>", "task durations").choices(["instant", "fast", "realistic"]).default("fast"))
    .option("--faults <spec>", "inject faults, e.g. rate=0.1,kinds=5xx+reset+slow+taskfail")
    .option("--seed <n>", "seed for reproducible faults and MACs")
    .option("--stats", "print per-endpoint request counts on exit")
    .action(lazy("sim"));

  program.command("place").description("rank nodes for the next VMs with TOPSIS")
    .requiredOption("--cores <n>", "cores per VM")
    .requiredOption("--memory <mib>", "memory per VM in MiB")
    .addOption(new Option("--count <k>", "number of VMs to place").default("1", "1"))
    .addOption(new Option("--scheduler <name>", "scheduler").choices(["nstance", "pve-static"]).default("nstance"))
    .option("--nodes-file <file>", "a /cluster/resources?type=node answer (bare array or {data: [...]})")
    .option("--insecure-tls", "skip TLS verification when reading the live cluster (env: PVEFLEET_INSECURE_TLS=1)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .option("--json", "the same as --format json (Terraform's -json)")
    .action(lazy("place"));

  const state = program.command("state").description("inspect and repair the state document");
  formatOption(shardOptions(state.command("list").description("list the instances in the state")), ["text", "json"]).action(lazy("state-list"));
  formatOption(shardOptions(state.command("show <instance>").description("show one instance record")), ["text", "json"]).action(lazy("state-show"));
  shardOptions(state.command("pull").description("print the state document")).action(lazy("state-pull"));
  shardOptions(state.command("push <file>").description("replace the state document (same lineage, higher serial)"))
    .option("--force", "override the lineage check").action(lazy("state-push"));

  shardOptions(program.command("force-unlock <lockId>").description("remove a stuck state lock"))
    .option("-f, --force", "do not ask for confirmation")
    .action(lazy("force-unlock"));

  formatOption(program.command("version").description("print the version, platform and Node.js version"), ["text", "json"])
    .action(lazy("version"));

  program.command("completion").description("print a shell completion script: source <(pvefleet completion bash)")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .action(lazy("completion"));

  return program;
}

/** The variables pvefleet reads, after `pvefleet --help`. */
const ENVIRONMENT_HELP = `
Environment:
  PROXMOX_API_URL       API base, e.g. https://pve1:8006/api2/json (alias: PROXMOX_VE_ENDPOINT)
  PROXMOX_TOKEN_ID      API token ID, user@realm!tokenid            (alias: PROXMOX_VE_API_TOKEN=user@realm!tokenid=secret)
  PROXMOX_TOKEN_SECRET  API token secret                            (alias: the same PROXMOX_VE_API_TOKEN)
  PROXMOX_CA_FILE       PEM file of the CA that signed the API's certificate
  PVEFLEET_INSECURE_TLS 1 = skip TLS verification                   (alias: PROXMOX_VE_INSECURE)
  PVEFLEET_PLAN_KEY     key that signs saved plans (plan --out) and is required to apply them
  PVEFLEET_CONFIG, PVEFLEET_SHARD, PVEFLEET_STORAGE, PVEFLEET_BUCKET, PVEFLEET_PREFIX, PVEFLEET_STATE_DIR:
                        the flags of the same name
  NO_COLOR              never colour output
When both a PROXMOX_VE_* alias and pvefleet's own variable are set, pvefleet's own wins.`;

let pipeGuarded = false;

/**
 * `pvefleet state list | head`: a reader that stops early closes the pipe; that ends the run
 * quietly (as SIGPIPE ends a Go program), never with an EPIPE stack trace.
 */
function guardClosedPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(exitCode);
    process.stderr.write(`Error: cannot write the output: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
}

/** Runs the CLI; resolves to the exit code. Never throws for bad input. */
export async function main(argv: string[]): Promise<number> {
  guardClosedPipe();
  const program = buildProgram();
  exitCode = 0;
  try {
    // Terraform's -name=value spelling becomes commander's (flags.ts); bad flags are one line.
    const args = normaliseArgs(program, argv.slice(2));
    if (args.includes("--no-color")) process.env.NO_COLOR = "1";
    envProblems = applyEnvAliases(process.env);
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === "string" && e.code.startsWith("commander.")) {
      // help and version exit 0; usage errors were already printed by commander.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help" ? 0 : 1;
    }
    if (isUserError(err)) {
      process.stderr.write(`Error: ${err.line()}\n`);
      return 1;
    }
    process.stderr.write(`pvefleet: unexpected failure (a bug; please report it):\n${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
