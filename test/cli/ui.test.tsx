import { describe, expect, it } from "vitest";
import { render } from "ink-testing-library";
import { ApplyApp } from "../../src/cli/ui/ink-app.js";
import { ProgressStore } from "../../src/cli/ui/store.js";
import { PlainReporter } from "../../src/cli/ui/plain.js";
import { JsonReporter } from "../../src/cli/ui/json-stream.js";
import { reporterStyle } from "../../src/cli/ui/index.js";
import type { Action, Plan } from "../../src/planner/types.js";
import { basePlan, spec } from "./fixtures.js";

const A = "tst06dxa00000000000000000001";
const B = "tst06dxa00000000000000000002";

function twoCreates(): Plan {
  const group = { tenant: "acme", group: "web" };
  const mk = (id: string, vmid: number): Action[] => [
    { id: `${id}:clone`, instanceId: id, type: "clone" as const, node: "pve1", vmid, dependsOn: [], params: { template: { name: "debian-13-template" }, storage: "local-lvm", full: true } },
    { id: `${id}:start`, instanceId: id, type: "start" as const, node: "pve1", vmid, dependsOn: [`${id}:clone`], params: {} },
  ];
  return basePlan({
    changes: [A, B].map((id, i) => ({ instanceId: id, group, kind: "create" as const, reason: "create_because_scale_up" as const, reasons: [], attributes: [], after: spec(), placement: { node: "pve1", vmid: 10001 + i, scores: {} } })),
    actions: [...mk(A, 10001), ...mk(B, 10002)],
    summary: { add: 2, change: 0, destroy: 0 },
  });
}

function clock(start = Date.parse("2026-11-26T00:00:00Z")) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

const ev = (type: "start" | "done" | "failed", id: string, action: "clone" | "start", extra: object = {}) =>
  ({ type, instanceId: id, actionId: `${id}:${action}`, action, node: "pve1", vmid: id === A ? 10001 : 10002, elapsedMs: 2000, ...extra });

describe("ink apply UI", () => {
  it("shows a line per instance with its step, the progress bar and the final sentence", async () => {
    const c = clock();
    const store = new ProgressStore(twoCreates(), c.now);
    const ui = render(<ApplyApp store={store} />);
    store.push(ev("start", A, "clone"));
    c.advance(3000);
    store.push(ev("done", A, "clone"));
    store.push(ev("start", A, "start"));
    await new Promise((r) => setTimeout(r, 20));
    const mid = ui.lastFrame()!;
    expect(mid).toMatch(new RegExp(`create  acme.web/${A}  start\\s+pve1 10001\\s+3s`));
    expect(mid).toContain("1/4 steps 25%");
    store.push(ev("done", A, "start"));
    store.push(ev("start", B, "clone"));
    store.push(ev("done", B, "clone"));
    store.push(ev("start", B, "start"));
    store.push(ev("done", B, "start"));
    store.finish(true);
    await new Promise((r) => setTimeout(r, 20));
    const end = ui.lastFrame()!;
    expect(end).toContain(`✔ create  acme.web/${B}`);
    expect(end).toContain("4/4 steps 100%");
    expect(end).toContain("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.");
    ui.unmount();
  });

  it("highlights a failed instance with its error and does not count it as added", async () => {
    const store = new ProgressStore(twoCreates(), clock().now);
    const ui = render(<ApplyApp store={store} />);
    store.push(ev("start", A, "clone"));
    store.push(ev("failed", A, "clone", { error: { code: "TASK_FAILED", message: "storage local-lvm is full" } }));
    store.push(ev("start", B, "clone"));
    store.push(ev("done", B, "clone"));
    store.push(ev("start", B, "start"));
    store.push(ev("done", B, "start"));
    store.finish(false, "1 action failed");
    await new Promise((r) => setTimeout(r, 20));
    const frame = ui.lastFrame()!;
    expect(frame).toContain(`✖ create  acme.web/${A}  clone`);
    expect(frame).toContain("TASK_FAILED: storage local-lvm is full");
    expect(frame).toContain("1 failed");
    expect(frame).toContain("Apply failed. Resources: 1 added, 0 changed, 0 destroyed.");
    ui.unmount();
  });
});

describe("plain progress lines", () => {
  it("prints one time-stamped line per step and a still-creating tick every 10 s", async () => {
    const c = clock();
    const lines: string[] = [];
    const store = new ProgressStore(twoCreates(), c.now);
    const r = new PlainReporter(store, (s) => lines.push(s), { tickMs: 0 });
    r.onEvent(ev("start", A, "clone"));
    c.advance(10_500);
    r.tick();
    c.advance(5_000);
    r.tick();
    r.onEvent(ev("done", A, "clone"));
    r.onEvent(ev("start", A, "start"));
    r.onEvent(ev("done", A, "start"));
    await r.finish(false);
    const out = lines.join("");
    expect(out).toContain(`2026-11-26T00:00:00Z acme.web/${A}: Creating...\n`);
    expect(out).toContain(`2026-11-26T00:00:00Z acme.web/${A}: clone started (pve1, vmid 10001)\n`);
    expect(out).toContain(`2026-11-26T00:00:10Z acme.web/${A}: Still creating... [10s elapsed] (clone)\n`);
    expect(out.match(/Still creating/g)).toHaveLength(1);
    expect(out).toContain(`acme.web/${A}: Creation complete after 15s [vmid=10001]`);
    expect(out).not.toContain("\u001b[");
  });
});

describe("JSON progress stream", () => {
  it("writes Terraform-shaped UI messages, one per line", async () => {
    const c = clock();
    const lines: string[] = [];
    const r = new JsonReporter(new ProgressStore(twoCreates(), c.now), (s) => lines.push(s));
    r.onEvent(ev("start", A, "clone"));
    c.advance(4000);
    r.onEvent(ev("done", A, "clone"));
    r.onEvent(ev("start", A, "start"));
    r.onEvent(ev("done", A, "start"));
    r.onEvent(ev("start", B, "clone"));
    r.onEvent(ev("failed", B, "clone", { error: { code: "X", message: "boom" } }));
    await r.finish(false, "1 action failed");
    const msgs = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { hook?: { action: string; resource: { addr: string } } });
    expect(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    expect(msgs.map((m) => m.type)).toEqual([
      "version", "planned_change", "planned_change", "change_summary",
      "apply_start", "apply_progress", "apply_complete", "apply_start", "apply_errored", "diagnostic", "change_summary",
    ]);
    for (const m of msgs) expect(Object.keys(m).slice(0, 5)).toEqual(["@level", "@message", "@module", "@timestamp", "type"]);
    const complete = msgs.find((m) => m.type === "apply_complete")!;
    expect(complete["@message"]).toBe(`acme.web/${A}: Creation complete after 4s [vmid=10001]`);
    expect(complete.hook).toMatchObject({ action: "create", id_key: "vmid", id_value: "10001", elapsed_seconds: 4 });
    expect(msgs.at(-1)).toMatchObject({ "@level": "error", changes: { add: 1, change: 0, remove: 0, operation: "apply" } });
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
