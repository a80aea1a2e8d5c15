/**
 * Apply progress output: picks the ink UI on an interactive terminal, plain time-stamped lines in
 * pipes and CI, or Terraform-style JSON lines with `--json`. ink and react are imported only on
 * the ink path.
 */
import type { ApplyEvent } from "../../applier/events.js";
import type { Plan } from "../../planner/types.js";
import { JsonReporter } from "./json-stream.js";
import { PlainReporter, type Reporter } from "./plain.js";
import { ProgressStore } from "./store.js";

export type { Reporter } from "./plain.js";
export { ProgressStore } from "./store.js";

/** ink's own rule (is-in-ci): CI or CONTINUOUS_INTEGRATION set to anything but "0"/"false". */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI ?? env.CONTINUOUS_INTEGRATION;
  return v !== undefined && v !== "0" && v !== "false";
}

export interface ReporterOptions {
  json?: boolean;
  stdout?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  color?: boolean;
  destroyMode?: boolean;
  /** Force a style (tests, `--no-tty`); otherwise chosen from the stream and env. */
  style?: "ink" | "plain" | "json";
}

export function reporterStyle(o: ReporterOptions): "ink" | "plain" | "json" {
  if (o.style) return o.style;
  if (o.json) return "json";
  const out = o.stdout ?? process.stdout;
  return out.isTTY && !isCI(o.env ?? process.env) ? "ink" : "plain";
}

export async function createReporter(plan: Plan, o: ReporterOptions = {}): Promise<Reporter> {
  const out = o.stdout ?? process.stdout;
  const write = (s: string) => { out.write(s); };
  const store = new ProgressStore(plan, Date.now, o.destroyMode ?? false);
  const style = reporterStyle(o);
  if (style === "json") return new JsonReporter(store, write);
  if (style === "plain") return new PlainReporter(store, write, { color: o.color });

  const [{ render }, React, { ApplyApp }] = await Promise.all([import("ink"), import("react"), import("./ink-app.js")]);
  const instance = render(React.createElement(ApplyApp, { store }), { stdout: out, exitOnCtrlC: false, patchConsole: false });
  return {
    onEvent: (e: ApplyEvent) => store.push(e),
    finish: async (ok: boolean, error?: string) => {
      store.finish(ok, error);
      // Let React commit the final frame before unmounting, or the last line is lost.
      await new Promise((r) => setTimeout(r, 30));
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}
