/**
 * The ink apply screen on a short terminal: never as tall as the terminal, so ink 6 never falls
 * back to `clearTerminal` (ESC[2J ESC[3J ESC[H), whose ESC[3J erases the scrollback — the plan the
 * operator just approved. Drawn by ink itself into a fake 24-row TTY, every byte checked.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import type { Action, Plan } from "../../src/planner/types.js";
import { layout } from "../../src/cli/ui/layout.js";
import { ProgressStore } from "../../src/cli/ui/store.js";
import { basePlan, spec } from "./fixtures.js";

// ink reads CI once, when it loads (is-in-ci), and then draws only the last frame: load it as a terminal would.
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;

class FakeTty extends EventEmitter {
  isTTY = true;
  chunks: string[] = [];
  constructor(public rows: number, public columns: number) { super(); }
  write(s: string): boolean { this.chunks.push(s); return true; }
}

const STEPS = ["clone", "upload-iso", "configure", "start"] as const;
const id = (i: number) => `web06h2pfp5f5rbse3rm1088${String(i).padStart(4, "0")}`;

function plan(n: number): Plan {
  const ids = Array.from({ length: n }, (_, i) => id(i));
  return basePlan({
    changes: ids.map((x, i) => ({ instanceId: x, group: i % 3 ? { tenant: "acme", group: "web" } : { tenant: "globex", group: "batch" }, kind: "create" as const, reason: "create_because_scale_up" as const, reasons: [], attributes: [], after: spec() })),
    actions: ids.flatMap((x, i) => STEPS.map((s) => ({ id: `${x}:${s}`, instanceId: x, type: s, node: `pve${(i % 3) + 1}`, vmid: 10000 + i, dependsOn: [], params: {} }) as unknown as Action)),
    summary: { add: n, change: 0, destroy: 0 },
  });
}

const ev = (type: "start" | "done" | "failed", i: number, action: string, extra: object = {}) =>
  ({ type, instanceId: id(i), actionId: `${id(i)}:${action}`, action, node: `pve${(i % 3) + 1}`, vmid: 10000 + i, elapsedMs: 1000, ...extra }) as never;

/** Pushes a run of `n` VMs: a few fail, the rest go through all steps, some of them in parallel. */
function drive(store: ProgressStore, n: number, after?: () => void) {
  for (let i = 0; i < n; i++) {
    store.push(ev("start", i, "clone"));
    store.push(ev("start", i, "upload-iso"));
    after?.();
    if (i % 7 === 3) {
      store.push(ev("failed", i, "clone", { error: { code: "TASK_FAILED", message: "storage local-lvm is full" } }));
      continue;
    }
    for (const s of STEPS.slice(1)) {
      if (s !== "upload-iso") store.push(ev("start", i, s));
      store.push(ev("done", i, s));
    }
    store.push(ev("done", i, "clone"));
    after?.();
  }
}

describe("apply screen height", () => {
  it("lays out no more than rows-1 lines, none wider than the terminal, at every step of a run", () => {
    for (const [rows, columns] of [[24, 100], [10, 60], [6, 40], [3, 80], [60, 200]] as const) {
      let t = 0;
      const store = new ProgressStore(plan(40), () => t);
      const check = () => {
        t += 700;
        const lines = layout({ model: store.model, now: t, screen: { rows, columns }, outcome: store.outcome });
        expect(lines.length).toBeLessThanOrEqual(rows - 1);
        for (const l of lines) expect(l.map((s) => (s.spinner ? "*" : s.text)).join("").length).toBeLessThanOrEqual(columns);
      };
      drive(store, 40, check);
      store.finish(false, "5 actions failed");
      check();
    }
  });

  it("counts the VMs it leaves out", () => {
    const store = new ProgressStore(plan(40), () => 0);
    drive(store, 10);
    const text = layout({ model: store.model, now: 0, screen: { rows: 24, columns: 100 } }).map((l) => l.map((s) => s.text).join("")).join("\n");
    // 23 lines: blank and bar, the failed VM (2 lines), 18 of the 30 waiting ones, the count line.
    expect(text).toContain("… and 21 more (9 done, 12 waiting)");
    expect(text).toContain("9/40 ready · 0 in flight · 1 failed");
  });

  it("shows VMs with a step running before VMs queued between steps", () => {
    const store = new ProgressStore(plan(30), () => 0);
    for (let i = 0; i < 20; i++) { store.push(ev("start", i, "clone")); store.push(ev("done", i, "clone")); } // queued
    for (let i = 20; i < 30; i++) store.push(ev("start", i, "clone"));
    const text = layout({ model: store.model, now: 0, screen: { rows: 16, columns: 100 } }).map((l) => l.map((s) => s.text).join("")).join("\n");
    for (let i = 20; i < 30; i++) expect(text).toContain(id(i));
    expect(text).toContain("… and 18 more (0 done, 18 running)");
    expect(text).toContain("0/30 ready · 30 in flight · 0 failed");
  });

  it("never sends ESC[3J (clearTerminal) to a 24-row terminal, so the approved plan stays in the scrollback", async () => {
    const [{ render }, React, { ApplyApp }] = await Promise.all([import("ink"), import("react"), import("../../src/cli/ui/ink-app.js")]);
    const tty = new FakeTty(24, 100);
    tty.write("Plan: 30 to add, 0 to change, 0 to destroy.\n");
    let t = 0;
    const store = new ProgressStore(plan(30), () => t);
    const app = render(React.createElement(ApplyApp, { store }), { stdout: tty as unknown as NodeJS.WriteStream, exitOnCtrlC: false, patchConsole: false });
    const frame = () => new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 30; i++) {
      t += 1000;
      store.push(ev("start", i, "clone"));
      await frame();
      if (i % 7 === 3) store.push(ev("failed", i, "clone", { error: { code: "TASK_FAILED", message: "storage local-lvm is full" } }));
      else for (const s of ["upload-iso", "clone", "configure", "start"]) { store.push(ev("start", i, s)); store.push(ev("done", i, s)); }
      await frame();
    }
    store.finish(false, "4 actions failed");
    await new Promise((r) => setTimeout(r, 40));
    app.unmount();
    await app.waitUntilExit();
    const out = tty.chunks.join("");
    expect(out).toContain("Apply failed. Resources: 26 added, 0 changed, 0 destroyed.");
    expect(out).not.toContain("\u001b[3J");
    expect(out).not.toContain("\u001b[2J");
    // The last frame ends with a newline: the shell prompt starts on a line of its own.
    expect(out.replace(/(\u001b\[\?\d+[hl])+$/, "")).toMatch(/destroyed\.\n$/);
  });
});
