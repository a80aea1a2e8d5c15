/**
 * The commit/run line and the pointer to the full plan (src/cli/render/markdown-ci.ts): which CI
 * variables are believed, how they are normalised, and the exact words for each case.
 */
import { describe, expect, it } from "vitest";
import { ciContext, fullPointer, provenanceLine } from "../../src/cli/render/markdown-ci.js";

const SHA = "abc1234def5678abc1234def5678abc1234def56";
const RUN = { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "9876543210" };

describe("ciContext", () => {
  it("reads the commit, trimmed and lower-cased, PVEFLEET_COMMIT_SHA before GITHUB_SHA", () => {
    expect(ciContext({ GITHUB_SHA: ` ${SHA.toUpperCase()}\n` })).toEqual({ sha: SHA });
    expect(ciContext({ GITHUB_SHA: SHA, PVEFLEET_COMMIT_SHA: " FEEDFACE00 " })).toEqual({ sha: "feedface00" });
    // Blank counts as unset: GITHUB_SHA is used.
    expect(ciContext({ GITHUB_SHA: SHA, PVEFLEET_COMMIT_SHA: "  " })).toEqual({ sha: SHA });
  });

  it("takes a commit of 7 to 64 hex digits only", () => {
    expect(ciContext({ GITHUB_SHA: "abcdef1" })).toEqual({ sha: "abcdef1" });
    expect(ciContext({ GITHUB_SHA: "a".repeat(64) })).toEqual({ sha: "a".repeat(64) });
    for (const bad of ["abcdef", "a".repeat(65), "abcdefg1", "x abcdef12", "abcdef12 x"]) expect(ciContext({ GITHUB_SHA: bad }), bad).toEqual({});
  });

  it("links the run from server, repository and run ID, labelled by the run number when it is one", () => {
    expect(ciContext({ ...RUN, GITHUB_SERVER_URL: " https://github.example.com// ", GITHUB_RUN_NUMBER: " 123 " }))
      .toEqual({ runUrl: "https://github.example.com/acme/fleet/actions/runs/9876543210", runLabel: "#123" });
    expect(ciContext({ ...RUN, GITHUB_REPOSITORY: " my.org/fleet_2-x ", GITHUB_RUN_ID: " 42 " })).toEqual({ runUrl: "https://github.com/my.org/fleet_2-x/actions/runs/42", runLabel: "42" });
    expect(ciContext({ ...RUN, GITHUB_RUN_NUMBER: "12a" }).runLabel).toBe("9876543210");
    expect(ciContext({ ...RUN, GITHUB_RUN_NUMBER: "a12" }).runLabel).toBe("9876543210");
    expect(ciContext({ ...RUN, GITHUB_SERVER_URL: "http://ghe.local" }).runUrl).toBe("http://ghe.local/acme/fleet/actions/runs/9876543210");
  });

  it("links no run unless all three parts look like what they hold", () => {
    for (const over of [
      { GITHUB_SERVER_URL: undefined }, { GITHUB_REPOSITORY: undefined }, { GITHUB_RUN_ID: undefined },
      { GITHUB_SERVER_URL: "ftp://github.com" }, { GITHUB_SERVER_URL: "x https://github.com" }, { GITHUB_SERVER_URL: `https://${"a".repeat(401)}` },
      { GITHUB_REPOSITORY: "acme" }, { GITHUB_REPOSITORY: "acme/fleet/x" }, { GITHUB_REPOSITORY: "x acme/fleet" }, { GITHUB_REPOSITORY: "acme/fleet x" },
      { GITHUB_REPOSITORY: `${"a".repeat(101)}/fleet` }, { GITHUB_REPOSITORY: `acme/${"a".repeat(101)}` },
      { GITHUB_RUN_ID: "12x" }, { GITHUB_RUN_ID: "x12" },
    ]) expect(ciContext({ ...RUN, ...over }), JSON.stringify(over)).toEqual({});
    expect(ciContext({ ...RUN, GITHUB_REPOSITORY: `${"a".repeat(100)}/${"b".repeat(100)}` }).runLabel).toBe("9876543210");
  });

  it("takes PVEFLEET_PLAN_URL when it is an http(s) URL of at most 400 characters after the scheme", () => {
    expect(ciContext({ PVEFLEET_PLAN_URL: " https://ci.example.com/p " })).toEqual({ planUrl: "https://ci.example.com/p" });
    expect(ciContext({ PVEFLEET_PLAN_URL: `http://${"a".repeat(400)}` }).planUrl).toBe(`http://${"a".repeat(400)}`);
    for (const bad of [`http://${"a".repeat(401)}`, "https://", "https://x/(y)", "https://x/`y`", "https://x/<y>", "https://x/[y]", "https://x/'y'", 'https://x/"y"', "see https://x", "https://x y"]) {
      expect(ciContext({ PVEFLEET_PLAN_URL: bad }), bad).toEqual({});
    }
  });
});

describe("fullPointer", () => {
  const run = { runUrl: "https://github.com/acme/fleet/actions/runs/1", runLabel: "#7" };

  it("prefers the explicit plan URL, shown in full up to 60 characters and as 'link' beyond", () => {
    const short = `https://ci.example.com/${"p".repeat(60 - 23)}`;
    expect(short).toHaveLength(60);
    expect(fullPointer({ ...run, planUrl: short }, "plan", "f.json")).toBe(`[${short}](${short})`);
    expect(fullPointer({ planUrl: `${short}q` }, "drift")).toBe(`[link](${short}q)`);
  });

  it("else points to the run's artifacts, for a plan and for a drift report", () => {
    expect(fullPointer(run, "plan", "f.json")).toBe("the job's artifacts on [run #7](https://github.com/acme/fleet/actions/runs/1#artifacts)");
    expect(fullPointer(run, "drift")).toBe("the job's artifacts on [run #7](https://github.com/acme/fleet/actions/runs/1#artifacts)");
  });

  it("else says which command prints it", () => {
    expect(fullPointer({}, "drift", "f.json")).toBe("`pvefleet drift --format json`");
    expect(fullPointer({}, "plan", 'my "plan"`\\\n.json')).toBe('`pvefleet show "my plan.json"` (add `--format json` for machines)');
    expect(fullPointer({}, "plan")).toBe("save it with `pvefleet plan --out PLANFILE`, read it with `pvefleet show PLANFILE`");
  });
});

describe("provenanceLine", () => {
  const ci = { sha: SHA, runUrl: "https://github.com/acme/fleet/actions/runs/1", runLabel: "#7" };

  it("names the commit and the run, then the full plan or report", () => {
    expect(provenanceLine(ci, "plan")).toBe("Plan for `abc1234` · [run #7](https://github.com/acme/fleet/actions/runs/1) · full plan: the job's artifacts on [run #7](https://github.com/acme/fleet/actions/runs/1#artifacts)");
    expect(provenanceLine(ci, "drift")).toBe("Drift check for `abc1234` · [run #7](https://github.com/acme/fleet/actions/runs/1) · full report: the job's artifacts on [run #7](https://github.com/acme/fleet/actions/runs/1#artifacts)");
  });

  it("capitalises the pointer when it comes first", () => {
    expect(provenanceLine({}, "plan", "f.json")).toBe('Full plan: `pvefleet show "f.json"` (add `--format json` for machines)');
    expect(provenanceLine({}, "drift")).toBe("Full report: `pvefleet drift --format json`");
    expect(provenanceLine({ runUrl: ci.runUrl, runLabel: "#7" }, "drift")).toBe(`[run #7](${ci.runUrl}) · full report: the job's artifacts on [run #7](${ci.runUrl}#artifacts)`);
  });

  it("without the pointer is the commit and run alone", () => {
    expect(provenanceLine(ci, "plan", "f.json", false)).toBe("Plan for `abc1234` · [run #7](https://github.com/acme/fleet/actions/runs/1)");
    expect(provenanceLine({}, "plan", undefined, false)).toBe("");
  });
});
