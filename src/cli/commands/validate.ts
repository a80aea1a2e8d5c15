/**
 * `pvefleet validate`: read the shard file, print a one-line summary (exit 0) or every problem as
 * `file:line:col: path: message` (exit 1). Notices go to stderr. No network, no credentials —
 * except reading an s3:// or gs:// shard file, which uses the state backend's S3 or GCS reader.
 * With `--format json` (`--json`) it prints Terraform's `validate -json` document for a valid and
 * an invalid file alike: format_version, valid, error_count, warning_count, diagnostics.
 */
import type { Opts } from "../main.js";
import { isUserError, UserErrors, type UserError } from "../../errors.js";
import { loadShardFileDetailed } from "../../config/load.js";
import type { ResolveResult } from "../../config/resolve.js";
import { outputFormat } from "../flags.js";
import { plural, snakeKeys } from "../render/vocabulary.js";

async function readRemote(url: string): Promise<Uint8Array> {
  const { readRemoteObject } = await import("../../state/index.js");
  return readRemoteObject(url);
}

/** Terraform's diagnostic: severity, summary, detail and, where there is a place, its range. */
interface Diagnostic {
  severity: "error" | "warning";
  summary: string;
  detail: string;
  code?: string;
  range?: { filename: string; start: { line: number; column: number }; end: { line: number; column: number } };
}

function rangeOf(file: string, line: number, column: number): Diagnostic["range"] {
  return { filename: file, start: { line, column }, end: { line, column } };
}

function errorDiagnostic(e: UserError): Diagnostic {
  const d: Diagnostic = { severity: "error", summary: e.message, detail: "", code: e.code };
  if (e.where) d.range = rangeOf(e.where.file, e.where.line, e.where.column);
  return d;
}

/** A notice line `file:line:col: notice: text` as a warning. */
function noticeDiagnostic(line: string): Diagnostic {
  const m = /^(.+?):(\d+):(\d+): (?:notice: )?(.*)$/s.exec(line);
  if (!m) return { severity: "warning", summary: line.replace(/^notice: /, ""), detail: "" };
  return { severity: "warning", summary: m[4]!, detail: "", range: rangeOf(m[1]!, Number(m[2]), Number(m[3])) };
}

function validateJson(diagnostics: Diagnostic[], result?: ResolveResult): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const shard = result?.shard;
  return `${JSON.stringify({
    format_version: "1.0",
    valid: errors === 0,
    error_count: errors,
    warning_count: diagnostics.length - errors,
    diagnostics,
    ...(shard ? {
      shard: {
        location: shard.source.location, digest: shard.source.digest, cluster_id: shard.clusterId, shard_id: shard.shardId,
        // Each group's spec without userdata, vars and args, which may hold secrets (they are never printed).
        groups: shard.groups.map((g) => {
          const { userdata, vars: _vars, args: _args, ...spec } = g.spec;
          return { group: `${g.ref.tenant}.${g.ref.group}`, size: g.size, template: g.templateName, spec: { ...(snakeKeys(spec) as object), userdata: userdata !== undefined } };
        }),
        instance_count: shard.groups.reduce((n, g) => n + g.size, 0), template_count: result.templateCount,
      },
    } : {}),
  }, null, 2)}\n`;
}

export async function run(opts: Opts): Promise<number> {
  const config = opts.config as string | undefined;
  const json = outputFormat<"text" | "json">(opts) === "json";
  const notices: string[] = [];
  try {
    const result = await loadShardFileDetailed(config, {
      shard: opts.shard as string | undefined,
      readRemote,
      onNotice: (line) => (json ? notices.push(line) : process.stderr.write(`${line}\n`)),
    });
    const shard = result.shard;
    if (json) {
      process.stdout.write(validateJson(notices.map(noticeDiagnostic), result));
      return 0;
    }
    const instances = shard.groups.reduce((n, g) => n + g.size, 0);
    process.stdout.write(
      `${shard.source.location}: valid — shard ${shard.shardId} (cluster ${shard.clusterId}): ` +
        `${plural(shard.groups.length, "group")}, ${plural(instances, "instance")}, ${plural(result.templateCount, "template")}\n`,
    );
    return 0;
  } catch (err) {
    if (!isUserError(err)) throw err;
    if (json) {
      const problems = err instanceof UserErrors ? err.problems : [err];
      process.stdout.write(validateJson([...problems.map(errorDiagnostic), ...notices.map(noticeDiagnostic)]));
      return 1;
    }
    const lines = err instanceof UserErrors ? err.problems.map((p) => p.line()) : [err.line()];
    for (const line of lines) process.stderr.write(`${line}\n`);
    return 1;
  }
}
