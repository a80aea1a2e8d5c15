import { describe, expect, it } from "vitest";
import { render } from "ink-testing-library";
import { ApplyApp } from "../../src/cli/ui/ink-app.js";
import { ProgressStore } from "../../src/cli/ui/store.js";
import { PlainReporter } from "../../src/cli/ui/plain.js";
import { JsonReporter } from "../../src/cli/ui/json-stream.js";
import { reporterStyle } from "../../src/cli/ui/index.js";
import type { Action, Plan } from "../../src/planner/types.js";
import { CHANGE_REASONS } from "../../src/planner/types.js";
import { basePlan, spec } from "./fixtures.js";

const A = "tst06dxa00000000000000000001";
const B = "tst06dxa00000000000000000002";
const SCREEN = { rows: 24, columns: 100 };

/** Creates as the planner makes them: clone ∥ upload-iso, then configure, then start. */
function creates(ids: string[]): Plan {
  const group = { tenant: "acme", group: "web" };
  const mk = (id: string, vmid: number): Action[] => [
    { id: `${id}:clone`, instanceId: id, type: "clone" as const, node: "pve1", vmid, dependsOn: [], params: { template: { name: "debian-13-template" }, storage: "local-lvm", full: true } } as Action,
    { id: `${id}:upload-iso`, instanceId: id, type: "upload-iso" as const, node: "pve1", vmid, dependsOn: [], params: {} } as unknown as Action,
    { id: `${id}:configure`, instanceId: id, type: "configure" as const, node: "pve1", vmid, dependsOn: [`${id}:clone`, `${id}:upload-iso`], params: {} } as unknown as Action,
    { id: `${id}:start`, instanceId: id, type: "start" as const, node: "pve1", vmid, dependsOn: [`${id}:configure`], params: {} } as Action,
  ];
  return basePlan({
    changes: ids.map((id, i) => ({ instanceId: id, group, kind: "create" as const, reason: "create_because_scale_up" as const, reasons: ["size 0 < 2"], attributes: [], after: spec(), placement: { node: "pve1", vmid: 10001 + i, scores: {} } })),
    actions: ids.flatMap((id, i) => mk(id, 10001 + i)),
    summary: { add: ids.length, change: 0, destroy: 0 },
  });
}

function clock(start = Date.parse("2026-11-26T00:00:00Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

type Step = "clone" | "upload-iso" | "configure" | "start";
const ev = (type: "start" | "done" | "failed" | "skipped", id: string, action: Step, extra: object = {}) =>
  ({ type, instanceId: id, actionId: `${id}:${action}`, action, node: "pve1", vmid: 10001 + Number(id.slice(-2)) - 1, elapsedMs: 2000, ...extra });

/** Runs every step of `id`, `ms` apart on the clock (clone and upload-iso side by side). */
function runAll(push: (e: ReturnType<typeof ev>) => void, c: ReturnType<typeof clock>, id: string, ms = 1000) {
  push(ev("start", id, "clone"));
  push(ev("start", id, "upload-iso"));
  c.advance(ms);
  push(ev("done", id, "upload-iso", { elapsedMs: ms }));
  c.advance(ms);
  push(ev("done", id, "clone", { elapsedMs: 2 * ms }));
  push(ev("start", id, "configure"));
  c.advance(ms);
  push(ev("done", id, "configure", { elapsedMs: ms }));
  push(ev("start", id, "start"));
  c.advance(ms);
  push(ev("done", id, "start", { elapsedMs: ms }));
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe("ink apply UI", () => {
  it("names the steps in flight (clone+iso, then clone), counts VMs and shows an ETA from step medians", async () => {
    const c = clock();
    const store = new ProgressStore(creates([A, B]), c.now);
    const ui = render(<ApplyApp store={store} screen={SCREEN} frameMs={0} />);
    store.push(ev("start", A, "clone"));
    store.push(ev("start", A, "upload-iso"));
    c.advance(1000);
    await tick();
    expect(ui.lastFrame()!).toMatch(new RegExp(`create acme\\.web/${A}  clone\\+iso\\s+pve1 10001\\s+1s`));
    expect(ui.lastFrame()!).toContain("0/2 ready · 1 in flight · 0 failed");
    expect(ui.lastFrame()!).toContain("ETA …"); // no step finished yet: nothing to estimate from
    store.push(ev("done", A, "upload-iso", { elapsedMs: 1000 }));
    c.advance(9000);
    await tick();
    const mid = ui.lastFrame()!;
    // The 10 s clone is what runs now, not the upload that finished 9 s ago.
    expect(mid).toMatch(new RegExp(`create acme\\.web/${A}  clone\\s+pve1 10001\\s+10s`));
    expect(mid).not.toContain("upload-iso");
    expect(mid).toContain("ETA …"); // configure and start have not run yet: no honest guess
    store.push(ev("done", A, "clone", { elapsedMs: 10_000 }));
    store.push(ev("start", A, "configure"));
    store.push(ev("done", A, "configure", { elapsedMs: 500 }));
    store.push(ev("start", A, "start"));
    store.push(ev("done", A, "start", { elapsedMs: 500 }));
    store.push(ev("start", B, "clone"));
    store.push(ev("start", B, "upload-iso"));
    c.advance(2000);
    await tick();
    // B: clone 10 s median, 2 s in → 8 s, then configure 0.5 s and start 0.5 s.
    expect(ui.lastFrame()!).toContain("1/2 ready · 1 in flight · 0 failed · 12s · ETA ~9s");
    store.push(ev("done", B, "upload-iso", { elapsedMs: 1000 }));
    store.push(ev("done", B, "clone", { elapsedMs: 10_000 }));
    for (const s of ["configure", "start"] as const) { store.push(ev("start", B, s)); store.push(ev("done", B, s)); }
    store.finish(true);
    await tick();
    const end = ui.lastFrame()!;
    expect(end).toMatch(new RegExp(`✔ create acme\\.web/${B}  created\\s+pve1 10002`));
    expect(end).toContain("2/2 ready · 0 in flight · 0 failed");
    expect(end).not.toContain("ETA");
    expect(end).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    ui.unmount();
  });

  it("keeps the failed step on a failed row even when a parallel step finishes after it", async () => {
    const store = new ProgressStore(creates([A, B]), clock().now);
    const ui = render(<ApplyApp store={store} screen={SCREEN} frameMs={0} />);
    store.push(ev("start", A, "clone"));
    store.push(ev("start", A, "upload-iso"));
    store.push(ev("failed", A, "clone", { error: { code: "TASK_FAILED", message: "storage local-lvm is full" } }));
    store.push(ev("done", A, "upload-iso"));
    store.push(ev("skipped", A, "configure"));
    runAll((e) => store.push(e), clock(), B);
    store.finish(false, "1 action failed");
    await tick();
    const frame = ui.lastFrame()!;
    expect(frame).toMatch(new RegExp(`✖ create acme\\.web/${A}  clone failed`));
    expect(frame).toContain("TASK_FAILED: storage local-lvm is full");
    expect(frame).toContain("1/2 ready · 0 in flight · 1 failed");
    expect(frame).toContain("Apply failed. Resources: 1 added, 0 changed, 0 destroyed.");
    ui.unmount();
  });

  it("aligns the columns whatever the address lengths", async () => {
    const plan = creates([A, B]);
    plan.changes[1]!.group = { tenant: "globex", group: "batch" };
    const store = new ProgressStore(plan, clock().now);
    const ui = render(<ApplyApp store={store} screen={SCREEN} frameMs={0} />);
    store.push(ev("start", A, "clone"));
    store.push(ev("start", B, "configure"));
    await tick();
    const rows = ui.lastFrame()!.split("\n").filter((l) => l.includes("tst06dxa"));
    expect(rows).toHaveLength(2);
    expect(rows[0]!.indexOf("pve1")).toBe(rows[1]!.indexOf("pve1"));
    expect(rows[0]!.indexOf("clone")).toBe(rows[1]!.indexOf("configure"));
    ui.unmount();
  });
});

describe("plain progress lines (CI)", () => {
  it("prints 2–3 lines per VM and a still-creating tick every 10 s of each long step, naming it", async () => {
    const c = clock();
    const lines: string[] = [];
    const store = new ProgressStore(creates([A, B]), c.now);
    const r = new PlainReporter(store, (s) => lines.push(s), { tickMs: 0 });
    r.onEvent(ev("start", A, "clone"));
    r.onEvent(ev("start", A, "upload-iso"));
    c.advance(1000);
    r.onEvent(ev("done", A, "upload-iso"));
    c.advance(9500);
    r.tick(); // 10.5 s: the clone passed 10 s
    c.advance(5000);
    r.tick(); // 15.5 s: nothing new
    r.onEvent(ev("done", A, "clone"));
    r.onEvent(ev("start", A, "configure"));
    c.advance(10_000);
    r.tick(); // 25.5 s: configure passed 10 s
    r.onEvent(ev("done", A, "configure"));
    r.onEvent(ev("start", A, "start"));
    r.onEvent(ev("done", A, "start"));
    runAll((e) => r.onEvent(e), c, B);
    await r.finish(true);
    const out = lines.join("");
    expect(out).toContain(`2026-11-26T00:00:00Z acme.web/${A}: Creating... (pve1, vmid 10001)\n`);
    expect(out).toContain(`2026-11-26T00:00:10Z acme.web/${A}: Still creating... [10s elapsed] (clone: 10s)\n`);
    expect(out).toContain(`2026-11-26T00:00:25Z acme.web/${A}: Still creating... [25s elapsed] (configure: 10s)\n`);
    expect(out.match(/Still creating/g)).toHaveLength(2);
    expect(out).toContain(`acme.web/${A}: Creation complete after 25s [vmid=10001]`);
    // Terraform's density: A ran two long steps (4 lines), B only short ones (2 lines); no line per step.
    expect(out.split("\n").filter((l) => l.includes(A))).toHaveLength(4);
    expect(out.split("\n").filter((l) => l.includes(B))).toHaveLength(2);
    expect(out).not.toMatch(/started|done \[/);
    expect(out).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    expect(out).not.toContain("\u001b[");
  });

  it("ticks once per 10 s of a long step, and never for a VM whose steps are all short", () => {
    const c = clock();
    const lines: string[] = [];
    const store = new ProgressStore(creates([A, B]), c.now);
    const r = new PlainReporter(store, (s) => lines.push(s), { tickMs: 0 });
    r.onEvent(ev("start", A, "clone"));
    r.onEvent(ev("start", B, "clone"));
    // B runs its four steps one after the other, 6 s each (24 s in all); A clones for 30 s.
    const bSteps = ["clone", "upload-iso", "configure", "start"] as const;
    for (let s = 1; s <= 30; s++) {
      c.advance(1000);
      r.tick();
      const k = s / 6 - 1;
      if (Number.isInteger(k) && k < bSteps.length) {
        r.onEvent(ev("done", B, bSteps[k]!));
        if (k + 1 < bSteps.length) r.onEvent(ev("start", B, bSteps[k + 1]!));
      }
    }
    expect(lines.filter((l) => l.includes(`${A}: Still creating`)).map((l) => l.replace(/^\S+ /, ""))).toEqual([
      `acme.web/${A}: Still creating... [10s elapsed] (clone: 10s)\n`,
      `acme.web/${A}: Still creating... [20s elapsed] (clone: 20s)\n`,
      `acme.web/${A}: Still creating... [30s elapsed] (clone: 30s)\n`,
    ]);
    expect(lines.filter((l) => l.includes(`${B}: Still`))).toEqual([]);
    expect(lines.some((l) => l.includes(`${B}: Creation complete after 24s`))).toBe(true);
  });

  it("says a skipped VM once, not once per skipped step", () => {
    const lines: string[] = [];
    const r = new PlainReporter(new ProgressStore(creates([A]), clock().now), (s) => lines.push(s), { tickMs: 0 });
    for (const s of ["clone", "upload-iso", "configure", "start"] as const) r.onEvent(ev("skipped", A, s, { error: { code: "DEPENDENCY_FAILED", message: "skipped: x failed" } }));
    expect(lines.filter((l) => l.includes("skipped"))).toHaveLength(1);
  });
});

describe("JSON progress stream", () => {
  it("writes Terraform-shaped UI messages with typed reasons, drift, and a diagnostic per warning and per failed VM", async () => {
    const c = clock();
    const lines: string[] = [];
    const plan = creates([A, B]);
    plan.warnings = [`${A}: cores is pending until the VM restarts (use --allow-restart)`, "1 suspicious VM(s) (an instance-ID name without all ownership tags, or the reverse) are left alone"];
    plan.drift = [
      { fingerprint: "sha256:aa", kind: "attribute", instanceId: A, vmid: 10001, node: "pve1", attribute: "cores", expected: 2, actual: 4, message: "cores 2 → 4" },
      { fingerprint: "sha256:bb", kind: "orphan", vmid: 500, node: "pve2", message: "web99 (500) carries this shard's tags but is not in the state" },
      { fingerprint: "sha256:cc", kind: "unmanaged", vmid: 501, node: "pve2", message: "pet-vm (501) is not managed by pvefleet" },
    ];
    const r = new JsonReporter(new ProgressStore(plan, c.now), (s) => lines.push(s), { tickMs: 0 });
    runAll((e) => r.onEvent(e), c, A, 2000);
    r.onEvent(ev("start", B, "clone"));
    r.onEvent(ev("failed", B, "clone", { error: { code: "TASK_FAILED", message: "storage local-lvm is full" } }));
    await r.finish(false, "1 action failed");
    type Msg = Record<string, unknown> & { hook?: { action: string; step: string; resource: { addr: string } }; change?: Record<string, unknown>; diagnostic?: Record<string, unknown> };
    const msgs = lines.map((l) => JSON.parse(l) as Msg);
    expect(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    expect(msgs.map((m) => m.type)).toEqual([
      "version", "resource_drift", "resource_drift", "planned_change", "planned_change", "change_summary", "diagnostic", "diagnostic",
      "apply_start", "apply_progress", "apply_progress", "apply_progress", "apply_complete",
      "apply_start", "apply_errored", "diagnostic", "diagnostic", "change_summary",
    ]);
    for (const m of msgs) expect(Object.keys(m).slice(0, 5)).toEqual(["@level", "@message", "@module", "@timestamp", "type"]);

    const planned = msgs.filter((m) => m.type === "planned_change");
    for (const p of planned) expect(CHANGE_REASONS).toContain(p.change!.reason);
    expect(planned[0]!.change).toMatchObject({ action: "create", reason: "create_because_scale_up", resource: { addr: `acme.web/${A}` } });

    const drift = msgs.filter((m) => m.type === "resource_drift");
    expect(drift[0]).toMatchObject({ "@message": `acme.web/${A}: Drift detected (cores changed)`, change: { action: "update", resource: { addr: `acme.web/${A}` }, drift: { kind: "attribute", expected: 2, actual: 4 } } });
    expect(drift[1]).toMatchObject({ change: { action: "noop", resource: { addr: "vmid-500" }, drift: { kind: "orphan", vmid: 500 } } });
    expect(lines.join("")).not.toContain("pet-vm"); // not this shard's VM: no resource_drift

    const diags = msgs.filter((m) => m.type === "diagnostic");
    expect(diags[0]).toMatchObject({ "@level": "warn", "@message": "Warning: cores is pending until the VM restarts (use --allow-restart)", diagnostic: { severity: "warning", address: `acme.web/${A}` } });
    expect(diags[1]!.diagnostic).toEqual({ severity: "warning", summary: plan.warnings[1], detail: "" });
    expect(diags[2]).toMatchObject({ "@level": "error", diagnostic: { severity: "error", summary: "clone failed", detail: "TASK_FAILED: storage local-lvm is full", address: `acme.web/${B}` } });
    expect(diags[3]).toMatchObject({ diagnostic: { severity: "error", summary: "1 action failed", detail: "1 of 2 VMs ready, 1 failed, 0 skipped, 0 not finished." } });

    const complete = msgs.find((m) => m.type === "apply_complete")!;
    expect(complete["@message"]).toBe(`acme.web/${A}: Creation complete after 8s [vmid=10001]`);
    expect(complete.hook).toMatchObject({ action: "create", id_key: "vmid", id_value: "10001", elapsed_seconds: 8 });
    expect(msgs.at(-1)).toMatchObject({ "@level": "error", changes: { add: 1, change: 0, remove: 0, operation: "apply" } });
  });

  it("says Still creating every 10 s of a long step, naming the step(s)", () => {
    const c = clock();
    const lines: string[] = [];
    const r = new JsonReporter(new ProgressStore(creates([A]), c.now), (s) => lines.push(s), { tickMs: 0 });
    r.onEvent(ev("start", A, "clone"));
    r.onEvent(ev("start", A, "upload-iso"));
    c.advance(10_200);
    r.tick(10_000);
    const last = JSON.parse(lines.at(-1)!) as { "@message": string; type: string; hook: { step: string; steps: string[]; elapsed_seconds: number } };
    expect(last).toMatchObject({ "@message": `acme.web/${A}: Still creating... [10s elapsed]`, type: "apply_progress", hook: { step: "clone+iso", steps: ["clone", "upload-iso"], elapsed_seconds: 10, step_elapsed_seconds: 10 } });
  });
});

describe("choosing the progress style", () => {
  it("uses ink only on a TTY outside CI", () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const pipe = { isTTY: false } as NodeJS.WriteStream;
    expect(reporterStyle({ stdout: tty, env: {} })).toBe("ink");
    expect(reporterStyle({ stdout: tty, env: { CI: "true" } })).toBe("plain");
    expect(reporterStyle({ stdout: tty, env: { CI: "false" } })).toBe("ink");
    expect(reporterStyle({ stdout: pipe, env: {} })).toBe("plain");
    expect(reporterStyle({ stdout: tty, env: {}, json: true })).toBe("json");
  });
});
