/**
 * When to poll a task's status. A status poll is a request to pveproxy, which serves few workers
 * and is shared with other tools, so the waiter learns how long each task type runs and polls once
 * near the expected end instead of every second from the start.
 *
 * Per task type, the last `WINDOW` waits each leave a sample of the duration: the middle of the
 * bracket between the last poll that saw it running and the poll that saw it stopped, or — when
 * the first poll already saw it stopped — the time that poll was sent, pulled down by `PROBE_DOWN` (compounded
 * over a run of such stops), so the estimate keeps testing whether tasks got faster. The expected duration is the samples' median
 * (robust to the odd slow task). With an expectation the first poll comes at it; a task still
 * running then is polled after a gap of `FIRST_GAP` of the expectation, each gap `GROWTH` times
 * the last, never more than the type's interval. Without one (the first tasks of a type) the
 * schedule is the old one: at once, then 50 ms doubling up to the interval.
 *
 * Against a deterministic duration the estimate settles within a few percent of it: about 1.5
 * polls per task and a lateness of a few percent of the task's length.
 */

/** Samples kept per task type. */
const WINDOW = 9;
/** A first poll that finds the task stopped records this fraction of its time. */
const PROBE_DOWN = 0.985;
/** The first gap after the expected end, as a fraction of the expected duration. */
const FIRST_GAP = 0.02;
const GROWTH = 1.6;
/** Gaps shorter than this are not worth a request (and timers are not that precise). */
const MIN_GAP_MS = 1;
/** Before any sample: the first gap of the doubling schedule. */
const UNKNOWN_FIRST_GAP_MS = 50;

/**
 * What one wait saw, in ms since it began: when its last `running` poll was sent, when the
 * `stopped` one was sent and when its answer came.
 */
export interface TaskObservation {
  lastRunningMs?: number;
  stoppedSentMs: number;
  stoppedMs: number;
}

export class TaskSchedule {
  private readonly samples = new Map<string, number[]>();
  private readonly firstPollStops = new Map<string, number>();

  /** The median of the type's recent samples; undefined before the first. */
  expectedMs(type: string): number | undefined {
    const s = this.samples.get(type);
    if (!s || s.length === 0) return undefined;
    const sorted = [...s].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }

  /** The wait before the first poll. */
  firstDelayMs(type: string): number {
    return Math.round(this.expectedMs(type) ?? 0);
  }

  /** The wait before poll number `pollsDone + 1`, after `previousGapMs` (0 after the first poll). */
  nextGapMs(type: string, previousGapMs: number, intervalMs: number): number {
    if (previousGapMs > 0) return Math.max(MIN_GAP_MS, Math.min(intervalMs, previousGapMs * GROWTH));
    const expected = this.expectedMs(type);
    const first = expected === undefined ? UNKNOWN_FIRST_GAP_MS : expected * FIRST_GAP;
    return Math.max(MIN_GAP_MS, Math.min(intervalMs, first));
  }

  /** Records a wait that ended in success (a failed task may stop early and says little of the next). */
  record(type: string, o: TaskObservation): void {
    // Stops seen at the first poll in a row pull harder each time: a type that got faster is
    // followed within a window, while a poll that saw one running ends the streak.
    const streak = o.lastRunningMs === undefined ? (this.firstPollStops.get(type) ?? 0) + 1 : 0;
    this.firstPollStops.set(type, streak);
    // A first poll that found the task stopped bounds it by when that poll was sent, not answered:
    // otherwise the poll's own round trip would count as task time, and a task that is over at
    // once (an instant cluster, a no-op) would be polled a round trip late every time.
    const sample = o.lastRunningMs === undefined ? o.stoppedSentMs * PROBE_DOWN ** streak : (o.lastRunningMs + o.stoppedMs) / 2;
    let s = this.samples.get(type);
    if (!s) this.samples.set(type, (s = []));
    s.push(sample);
    if (s.length > WINDOW) s.shift();
  }
}
