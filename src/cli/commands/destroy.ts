/** `pvefleet destroy`: a destroy-mode plan, confirmation (or --auto-approve), then apply. */
import type { Opts } from "../main.js";
import { applyFlow } from "./apply.js";

export async function run(opts: Opts): Promise<number> {
  return applyFlow(opts, undefined, "destroy");
}
