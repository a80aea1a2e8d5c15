/**
 * The adaptive task-poll schedule (src/providers/proxmox/api/task-schedule.ts), as pure arithmetic:
 * a task of a fixed duration is "polled" on the schedule's times, and the estimate must settle
 * near the duration with few polls and little lateness.
 */
import { describe, expect, it } from "vitest";
import { TaskSchedule } from "../../../src/providers/proxmox/api/task-schedule.js";

/** One wait on the schedule for a task lasting `durationMs` (each poll answered in `rttMs`). */
function waitFor(s: TaskSchedule, type: string, durationMs: number, intervalMs: number, rttMs = 2): { polls: number; lateMs: number } {
  let t = s.firstDelayMs(type);
  let gap = 0;
  let lastRunningMs: number | undefined;
  for (let polls = 1; ; polls++) {
    if (t >= durationMs) {
      s.record(type, { lastRunningMs, stoppedSentMs: t, stoppedMs: t + rttMs });
      return { polls, lateMs: t + rttMs - durationMs };
    }
    lastRunningMs = t;
    gap = s.nextGapMs(type, gap, intervalMs);
    t += rttMs + gap;
  }
}

describe("TaskSchedule", () => {
  it("polls a type it knows nothing of at once, then 50 ms growing to the interval", () => {
    const s = new TaskSchedule();
    expect(s.expectedMs("qmclone")).toBeUndefined();
    expect(s.firstDelayMs("qmclone")).toBe(0);
    const gaps = [s.nextGapMs("qmclone", 0, 2000)];
    for (let i = 0; i < 8; i++) gaps.push(s.nextGapMs("qmclone", gaps.at(-1)!, 2000));
    expect(gaps[0]).toBe(50);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! - 1);
    expect(gaps.at(-1)).toBe(2000);
  });

  it("settles near a fixed duration: about one or two polls per task, lateness a few percent", () => {
    const s = new TaskSchedule();
    const runs = Array.from({ length: 60 }, () => waitFor(s, "qmclone", 11_000, 2000));
    const settled = runs.slice(20);
    const polls = settled.reduce((n, r) => n + r.polls, 0) / settled.length;
    const late = settled.reduce((n, r) => n + r.lateMs, 0) / settled.length;
    expect(polls).toBeLessThanOrEqual(2);
    expect(late).toBeLessThan(11_000 * 0.06);
    expect(s.expectedMs("qmclone")!).toBeGreaterThan(11_000 * 0.9);
    expect(s.expectedMs("qmclone")!).toBeLessThan(11_000 * 1.1);
    // The first tasks, before any estimate, paid the doubling schedule.
    expect(runs[0]!.polls).toBeGreaterThan(5);
  });

  it("follows a type that got faster or slower, and keeps types apart", () => {
    const s = new TaskSchedule();
    for (let i = 0; i < 20; i++) waitFor(s, "qmstart", 3000, 1000);
    for (let i = 0; i < 20; i++) waitFor(s, "qmconfig", 500, 500);
    for (let i = 0; i < 60; i++) waitFor(s, "qmstart", 1000, 1000);
    expect(s.expectedMs("qmstart")!).toBeLessThan(1200);
    for (let i = 0; i < 40; i++) waitFor(s, "qmstart", 5000, 1000);
    expect(s.expectedMs("qmstart")!).toBeGreaterThan(4500);
    expect(s.expectedMs("qmconfig")!).toBeLessThan(600);
  });

  it("polls a type that is over at once without waiting (the poll's round trip is not task time)", () => {
    const s = new TaskSchedule();
    for (let i = 0; i < 30; i++) waitFor(s, "qmconfig", 0, 500, 20);
    expect(s.firstDelayMs("qmconfig")).toBe(0);
    expect(waitFor(s, "qmconfig", 0, 500, 20).polls).toBe(1);
  });

  it("never waits longer than the interval between polls of a task that outlives its estimate", () => {
    const s = new TaskSchedule();
    for (let i = 0; i < 20; i++) waitFor(s, "qmclone", 1000, 2000);
    const slow = waitFor(s, "qmclone", 60_000, 2000);
    expect(slow.lateMs).toBeLessThanOrEqual(2000 + 2);
  });
});
