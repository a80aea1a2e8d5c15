/**
 * Differential test: every case is rendered by Go's own text/template (test/config/go-oracle,
 * built with Debian's golang-go at test start) and by pvefleet's renderGoTemplate, and the two
 * must agree — the same output bytes, or an error on both sides. Without `go` the test fails and
 * says so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoTemplateError, renderGoTemplate } from "../../src/config/go-template.js";
import { CORPUS, generate, type Case } from "./go-template-cases.js";

const ORACLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "go-oracle");
const GENERATED = 5000;
const SEED = 20240917;

let work = "";
let oracle = "";
let buildError = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pvefleet-go-oracle-"));
  const version = spawnSync("go", ["version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    buildError = "the Go toolchain (`go`) is not installed: apt-get install golang-go (scripts/test.sh installs it when run as root)";
    return;
  }
  oracle = join(work, "go-oracle");
  // text/template is in the standard library: nothing is fetched (GOPROXY=off), and the caches
  // live in a temporary directory so this works as root in CI with no network.
  const env = { ...process.env, GOCACHE: join(work, "cache"), GOPATH: join(work, "gopath"), GOFLAGS: "-mod=mod", GOPROXY: "off", GO111MODULE: "on", CGO_ENABLED: "0" };
  const build = spawnSync("go", ["build", "-o", oracle, "."], { cwd: ORACLE_DIR, env, encoding: "utf8" });
  if (build.status !== 0) buildError = `go build of the oracle failed: ${build.stderr || build.error?.message}`;
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Outcome {
  ok: boolean;
  out?: string; // base64 of the output bytes
  err?: string;
}

function runGo(cases: Case[]): Outcome[] {
  if (buildError) throw new Error(buildError);
  const input = JSON.stringify(cases.map((c) => ({ name: c.name ?? "userdata", src: c.src, data: c.data })));
  const r = spawnSync(oracle, [], { input, encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`go-oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Outcome[];
}

function runPvefleet(c: Case): Outcome {
  try {
    return { ok: true, out: Buffer.from(renderGoTemplate(c.src, c.data, c.name ?? "userdata"), "utf8").toString("base64") };
  } catch (err) {
    if (err instanceof GoTemplateError) {
      if (!(err.offset >= 0 && err.offset <= c.src.length)) return { ok: false, err: `bad offset ${err.offset}: ${err.message}` };
      return { ok: false, err: err.message };
    }
    return { ok: false, err: `CRASH ${(err as Error).stack}` };
  }
}

function differences(cases: Case[]): string[] {
  const go = runGo(cases);
  const out: string[] = [];
  cases.forEach((c, i) => {
    const g = go[i]!;
    const p = runPvefleet(c);
    const same = g.ok ? p.ok && p.out === (g.out ?? "") : !p.ok && !p.err!.startsWith("CRASH") && !p.err!.startsWith("bad offset");
    if (!same) {
      const show = (o: Outcome) => (o.ok ? JSON.stringify(Buffer.from(o.out ?? "", "base64").toString("utf8")) : `error: ${o.err}`);
      out.push(`#${i} ${JSON.stringify(c.src)}\n    data: ${JSON.stringify(c.data)}\n    go:       ${show(g)}\n    pvefleet: ${show(p)}`);
    }
  });
  return out;
}

describe("Go templates rendered by pvefleet and by Go's text/template", () => {
  it("finds the Go toolchain and builds the oracle", () => {
    expect(buildError).toBe("");
  });

  it(`agrees with Go on the hand-written corpus (${CORPUS.length} cases)`, () => {
    expect(differences(CORPUS).slice(0, 15)).toEqual([]);
  });

  it(`agrees with Go on ${GENERATED} generated templates`, () => {
    const diffs = differences(generate(SEED, GENERATED));
    expect(diffs.length === 0 ? [] : [`${diffs.length} differences`, ...diffs.slice(0, 15)]).toEqual([]);
  }, 60_000);
});
