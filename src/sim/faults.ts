/**
 * Fault injection, reproducible with a seed. Grammar (comma-separated, `paths` last because its
 * regex may itself contain commas):
 *
 *   rate=<0..1>[,kinds=<kind>[+<kind>…]][,slow=<ms>][,count=<n>][,taskerr=<text>][,methods=GET+POST…][,paths=<regex>]
 *   kind ∈ 5xx | reset | slow | taskfail | 5xx-after | reset-after
 *   (default kinds: the first four; the `-after` kinds only when named, so a seed's draws stay the same)
 *
 * Each matching request draws once: with probability `rate` one kind is picked uniformly.
 * `count` stops the spec after that many faults (`rate=1,count=1`: the first matching request
 * only, the "fails once, then works" case); setting a spec starts its count again.
 * - `5xx` answers before the handler runs, so the cluster did not change (a proxy/daemon error).
 * - `reset` runs the handler, then drops the connection without an answer: the change happened but
 *   the client never heard (the case a client must not retry blindly).
 * - `slow` delays the answer by `slow` ms (default: the profile's slowFaultMs).
 * - `taskfail` makes the worker of an async call end with an error before it changes anything;
 *   on synchronous calls it does nothing. Its exit status is `taskerr` when given (PVE's own
 *   words, e.g. `VM is paused - cannot shutdown`; no commas), else `<type> failed: got timeout`.
 * - `5xx-after` runs the handler and, for an async call, waits for its task to end; then answers
 *   500 as if a proxy timed out: the change is complete, the client only heard "error". This is
 *   the case a client must never answer with a blind re-send of a clone, delete or upload.
 * - `reset-after` is `reset` that, like `5xx-after`, first waits for the task to end.
 */
import { UserError } from "../errors.js";
import { Rng } from "./rng.js";

export type FaultKind = "5xx" | "reset" | "slow" | "taskfail" | "5xx-after" | "reset-after";
const KINDS: FaultKind[] = ["5xx", "reset", "slow", "taskfail", "5xx-after", "reset-after"];
/** Drawn when `kinds` is not given: the original four (adding kinds must not change a seed's faults). */
const DEFAULT_KINDS: FaultKind[] = ["5xx", "reset", "slow", "taskfail"];

export interface FaultSpec {
  rate: number;
  kinds: FaultKind[];
  slowMs?: number;
  /** At most this many faults from this spec. */
  count?: number;
  /** The exit status of a `taskfail` worker. */
  taskError?: string;
  methods?: string[];
  paths?: RegExp;
}

export function parseFaults(spec: string): FaultSpec {
  const bad = (msg: string) => new UserError("E_FAULTS", `--faults '${spec}': ${msg}`);
  const out: FaultSpec = { rate: 0, kinds: [...DEFAULT_KINDS] };
  let rest = spec.trim();
  const pathsAt = rest.search(/(^|,)paths=/);
  if (pathsAt >= 0) {
    const src = rest.slice(rest.indexOf("paths=", pathsAt) + "paths=".length);
    try {
      out.paths = new RegExp(src);
    } catch (e) {
      throw bad(`paths is not a valid regular expression: ${(e as Error).message}`);
    }
    rest = rest.slice(0, pathsAt);
  }
  let sawRate = false;
  for (const part of rest.split(",").filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) throw bad(`'${part}' is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "rate") {
      const n = Number(value);
      if (!(n >= 0 && n <= 1) || value === "") throw bad("rate must be a number between 0 and 1");
      out.rate = n;
      sawRate = true;
    } else if (key === "kinds") {
      const kinds = value.split("+").map((k) => k.trim());
      for (const k of kinds) if (!KINDS.includes(k as FaultKind)) throw bad(`unknown kind '${k}' (expected ${KINDS.join(", ")})`);
      out.kinds = kinds as FaultKind[];
    } else if (key === "slow") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw bad("slow must be a whole number of milliseconds");
      out.slowMs = n;
    } else if (key === "count") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw bad("count must be a whole number of faults, at least 1");
      out.count = n;
    } else if (key === "taskerr") {
      if (value === "") throw bad("taskerr needs the task's exit status, e.g. taskerr=VM is paused - cannot shutdown");
      out.taskError = value;
    } else if (key === "methods") {
      out.methods = value.split("+").map((m) => m.trim().toUpperCase());
    } else {
      throw bad(`unknown key '${key}' (expected rate, kinds, slow, count, taskerr, methods, paths)`);
    }
  }
  if (!sawRate) throw bad("rate is required, e.g. rate=0.1");
  return out;
}

export class FaultInjector {
  private readonly rng: Rng;
  /** Faults injected under the current spec (for `count`). */
  private fired = 0;
  constructor(private current: FaultSpec | undefined, seed: number) {
    this.rng = new Rng(seed ^ 0x5eed);
  }

  get spec(): FaultSpec | undefined {
    return this.current;
  }

  setSpec(spec: FaultSpec | undefined): void {
    this.current = spec;
    this.fired = 0;
  }

  /** Draws the fault for one request (undefined: none). Deterministic for a seed and request order. */
  draw(method: string, relPath: string): FaultKind | undefined {
    const s = this.spec;
    if (!s || s.rate <= 0) return undefined;
    if (s.methods && !s.methods.includes(method)) return undefined;
    if (s.paths && !s.paths.test(relPath)) return undefined;
    if (s.count !== undefined && this.fired >= s.count) return undefined;
    if (this.rng.next() >= s.rate) return undefined;
    this.fired++;
    return s.kinds[this.rng.int(s.kinds.length)];
  }
}
