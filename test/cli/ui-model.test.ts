/** The progress model's pure parts: what a row says it is doing, VM counts, the ETA. */
import { describe, expect, it } from "vitest";
import { createModel, etaMs, reduce, stepLabel, vmCounts } from "../../src/cli/ui/model.js";
import type { ApplyEvent } from "../../src/applier/events.js";
import type { Action, Plan } from "../../src/planner/types.js";
import { basePlan, spec } from "./fixtures.js";

const STEPS = ["clone", "upload-iso", "configure", "start"] as const;
const id = (i: number) => `tst06dxa0000000000000000000${i}`;

function plan(n: number): Plan {
  const ids = Array.from({ length: n }, (_, i) => id(i));
  return basePlan({
    changes: ids.map((x) => ({ instanceId: x, group: { tenant: "acme", group: "web" }, kind: "create" as const, reason: "create_because_scale_up" as const, reasons: [], attributes: [], after: spec() })),
    actions: ids.flatMap((x, i) => STEPS.map((s) => ({ id: `${x}:${s}`, instanceId: x, type: s, node: "pve1", vmid: 100 + i, dependsOn: [], params: {} }) as unknown as Action)),
    summary: { add: n, change: 0, destroy: 0 },
  });
}

const ev = (type: ApplyEvent["type"], i: number, action: (typeof STEPS)[number], extra: Partial<ApplyEvent> = {}): ApplyEvent =>
  ({ type, instanceId: id(i), actionId: `${id(i)}:${action}`, action, node: "pve1", vmid: 100 + i, elapsedMs: 0, ...extra });

describe("a row's step", () => {
  it("lists the steps in flight, longest-running first, then what is left, then the outcome", () => {
    const m = createModel(plan(1), 0);
    const row = m.rows[0]!;
    expect(stepLabel(row)).toBe("waiting");
    reduce(m, ev("start", 0, "upload-iso"), 0);
    reduce(m, ev("start", 0, "clone"), 1);
    expect(stepLabel(row)).toBe("iso+clone");
    reduce(m, ev("done", 0, "upload-iso", { elapsedMs: 2000 }), 2000);
    expect(stepLabel(row)).toBe("clone");
    reduce(m, ev("retry", 0, "clone"), 3000);
    reduce(m, ev("start", 0, "clone", { attempt: 2 }), 4000);
    expect(stepLabel(row)).toBe("clone (try 2)");
    reduce(m, ev("done", 0, "clone", { elapsedMs: 9000 }), 9000);
    expect(stepLabel(row)).toBe("queued"); // started, its next step not yet running
    reduce(m, ev("start", 0, "configure"), 9000);
    reduce(m, ev("done", 0, "configure"), 9500);
    reduce(m, ev("start", 0, "start"), 9500);
    reduce(m, ev("done", 0, "start"), 10_000);
    expect(row.status).toBe("done");
    expect(stepLabel(row)).toBe("created");
  });

  it("names the failed step, not a parallel one that finished after it", () => {
    const m = createModel(plan(1), 0);
    reduce(m, ev("start", 0, "clone"), 0);
    reduce(m, ev("start", 0, "upload-iso"), 0);
    reduce(m, ev("failed", 0, "clone", { error: { code: "NOT_FOUND", message: "no template" } }), 1000);
    reduce(m, ev("done", 0, "upload-iso"), 2000);
    reduce(m, ev("skipped", 0, "configure"), 2000);
    expect(stepLabel(m.rows[0]!)).toBe("clone failed");
    expect(m.rows[0]!.error).toBe("NOT_FOUND: no template");
  });
});

describe("VM counts and ETA", () => {
  it("counts VMs, not steps, and estimates from the median of each step type over the VMs in flight", () => {
    const m = createModel(plan(4), 0);
    // VM 0 runs through: clone 10 s, upload-iso 2 s, configure 1 s, start 3 s.
    reduce(m, ev("start", 0, "clone"), 0);
    reduce(m, ev("start", 0, "upload-iso"), 0);
    reduce(m, ev("start", 1, "clone"), 0);
    reduce(m, ev("start", 1, "upload-iso"), 0);
    reduce(m, ev("done", 0, "upload-iso", { elapsedMs: 2000 }), 2000);
    reduce(m, ev("done", 1, "upload-iso", { elapsedMs: 2000 }), 2000);
    reduce(m, ev("done", 0, "clone", { elapsedMs: 10_000 }), 10_000);
    reduce(m, ev("start", 0, "configure"), 10_000);
    reduce(m, ev("done", 0, "configure", { elapsedMs: 1000 }), 11_000);
    reduce(m, ev("start", 0, "start"), 11_000);
    reduce(m, ev("done", 0, "start", { elapsedMs: 3000 }), 14_000);
    expect(vmCounts(m)).toEqual({ total: 4, ready: 1, inFlight: 1, failed: 0, skipped: 0, pending: 2 });
    // At 14 s, VM 1's clone ran 14 s (median 10 s: counts 0 left) → configure 1 + start 3 = 4 s;
    // VMs 2 and 3 wait: 10 + 2 + 1 + 3 = 16 s each. 36 s of work over 2 lanes (2 VMs were in flight at once) = 18 s.
    expect(etaMs(m, 14_000)).toBe(18_000);
  });

  it("has no ETA before every step still to run has finished once, nor after everything did", () => {
    const m = createModel(plan(1), 0);
    reduce(m, ev("start", 0, "clone"), 0);
    reduce(m, ev("start", 0, "upload-iso"), 0);
    expect(etaMs(m, 500)).toBeUndefined();
    reduce(m, ev("done", 0, "upload-iso", { elapsedMs: 1000 }), 1000);
    expect(etaMs(m, 5000)).toBeUndefined(); // clone, configure and start never ran: 1 s would be a wild guess
    for (const s of STEPS) {
      if (s === "upload-iso") continue;
      if (s !== "clone") reduce(m, ev("start", 0, s), 0);
      reduce(m, ev("done", 0, s, { elapsedMs: 1000 }), 1000);
    }
    expect(etaMs(m, 6000)).toBeUndefined();
  });
});
