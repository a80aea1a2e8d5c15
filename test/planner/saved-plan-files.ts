/**
 * Saved-plan files for the saved-plan tests: a small plan, and the file edited as an editor would —
 * hash recomputed (no key), so only the reader's own checks can refuse it.
 */
import { plan } from "../../src/planner/plan.js";
import { readSavedPlan, savedPlanHash, serializePlan } from "../../src/planner/saved-plan.js";
import type { Plan } from "../../src/planner/types.js";
import { desired, detail, group, live, member, planOptions, state } from "./fixtures.js";

/** A saved plan's JSON, members as loose as an editor's. */
export type Body = Record<string, any>;

/** A plan with one existing VM to update (cores) and `size - 1` new VMs to create. */
export function updateAndCreate(size = 2): Plan {
  const m = member(1, { vm: { cores: 8 } });
  return plan(desired([group("web", size)]), state([m.record], 7), live([m.vm]), planOptions(), [detail(m.vm, m.record)]);
}

/** The file, with `edit` applied to it as parsed JSON; the plain hash recomputed unless `reseal` is false. */
export function edited(p: Plan, edit: (file: Body) => void, reseal = true): string {
  const file = JSON.parse(serializePlan(p)) as Body;
  edit(file);
  if (reseal && file.seal && typeof file.plan === "object" && file.plan !== null) file.seal.hash = savedPlanHash(JSON.stringify(file.plan), file.seal.options);
  return JSON.stringify(file);
}

/** How a lenient reader refuses `text` as `p.json` (code and message), or undefined when it reads it. */
export function refusal(text: string, check?: Parameters<typeof readSavedPlan>[2]): { code?: string; message: string } | undefined {
  try {
    readSavedPlan(text, "p.json", check ?? { strict: false });
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
  return undefined;
}
