/**
 * `pvefleet destroy`: a destroy-mode plan, confirmation (or --auto-approve), then apply. It takes
 * plan --destroy's flags: `--target` destroys only those groups or instances, and `--out FILE`
 * only saves the destroy plan (printed in `--format text|markdown|json`) for review and
 * `pvefleet apply FILE`, changing nothing — the same as `plan --destroy --out FILE`.
 */
import type { Opts } from "../main.js";
import { UserError } from "../../errors.js";
import { outputFormat } from "../flags.js";
import { applyFlow } from "./apply.js";

export async function run(opts: Opts): Promise<number> {
  if (typeof opts.out === "string") {
    const { run: plan } = await import("./plan.js");
    return plan({ ...opts, destroy: true });
  }
  const format = outputFormat(opts);
  if (format === "markdown") {
    throw new UserError("E_FLAG", "destroy --format markdown renders a destroy plan for review: add --out FILE (then pvefleet apply FILE), or run plan --destroy --format markdown");
  }
  return applyFlow(opts, undefined, "destroy");
}
