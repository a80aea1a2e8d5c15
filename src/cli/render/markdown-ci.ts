/**
 * Where a comment came from and where the full plan is: the commit/run line of the pull-request
 * comment and the drift issue, read from the CI's environment (GitHub Actions' default variables,
 * `PVEFLEET_PLAN_URL` and `PVEFLEET_COMMIT_SHA` for any CI). Values that do not look like what the variable holds are ignored,
 * so a stray value never puts markup or a foreign link in a comment.
 */

export interface CiContext {
  /** Full commit SHA (PVEFLEET_COMMIT_SHA, else GITHUB_SHA). */
  sha?: string;
  /** The run's page (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID). */
  runUrl?: string;
  /** What people call the run: `#GITHUB_RUN_NUMBER`, else the run ID. */
  runLabel?: string;
  /** Explicit link to the full plan (PVEFLEET_PLAN_URL), e.g. an artifact or a job log. */
  planUrl?: string;
}

const URL_RE = /^https?:\/\/[^\s<>()[\]`"']{1,400}$/;

export function ciContext(env: Readonly<Record<string, string | undefined>>): CiContext {
  const ctx: CiContext = {};
  // GITHUB_SHA cannot be overridden in a workflow and is the merge commit on pull_request events.
  // An empty PVEFLEET_COMMIT_SHA (a pull-request expression on a push event) is unset.
  const sha = env.PVEFLEET_COMMIT_SHA?.trim() || env.GITHUB_SHA?.trim();
  if (sha && /^[0-9a-f]{7,64}$/i.test(sha)) ctx.sha = sha.toLowerCase();
  const server = env.GITHUB_SERVER_URL?.trim().replace(/\/+$/, "");
  const repo = env.GITHUB_REPOSITORY?.trim();
  const runId = env.GITHUB_RUN_ID?.trim();
  if (server && URL_RE.test(server) && repo && /^[\w.-]{1,100}\/[\w.-]{1,100}$/.test(repo) && runId && /^\d+$/.test(runId)) {
    ctx.runUrl = `${server}/${repo}/actions/runs/${runId}`;
    const number = env.GITHUB_RUN_NUMBER?.trim();
    ctx.runLabel = number && /^\d+$/.test(number) ? `#${number}` : runId;
  }
  const planUrl = env.PVEFLEET_PLAN_URL?.trim();
  if (planUrl && URL_RE.test(planUrl)) ctx.planUrl = planUrl;
  return ctx;
}

/** Where the whole plan (or drift report) is: the CI link, else how to read it from the saved plan file. */
export function fullPointer(ci: CiContext, what: "plan" | "drift", savedTo?: string): string {
  if (ci.planUrl) return `[${ci.planUrl.length > 60 ? "link" : ci.planUrl}](${ci.planUrl})`;
  if (ci.runUrl) return `the job's artifacts on [run ${ci.runLabel}](${ci.runUrl}#artifacts)`;
  if (what === "drift") return "`pvefleet drift --format json`";
  if (savedTo) return `\`pvefleet show "${savedTo.replace(/["`\\\n]/g, "")}"\` (add \`--format json\` for machines)`;
  return "save it with `pvefleet plan --out PLANFILE`, read it with `pvefleet show PLANFILE`";
}

/**
 * "Plan for `abc1234` · [run #12](…) · full plan: the job's artifacts on [run #12](…#artifacts)";
 * without any CI variable, "Full plan: " and how to read it from the saved plan file.
 */
export function provenanceLine(ci: CiContext, what: "plan" | "drift", savedTo?: string, pointer = true): string {
  const parts: string[] = [];
  if (ci.sha) parts.push(`${what === "plan" ? "Plan" : "Drift check"} for \`${ci.sha.slice(0, 7)}\``);
  if (ci.runUrl) parts.push(`[run ${ci.runLabel}](${ci.runUrl})`);
  if (!pointer) return parts.join(" · ");
  const label = what === "plan" ? "full plan" : "full report";
  parts.push(`${parts.length ? label : label[0]!.toUpperCase() + label.slice(1)}: ${fullPointer(ci, what, savedTo)}`);
  return parts.join(" · ");
}
