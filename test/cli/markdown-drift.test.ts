/**
 * The scheduled drift issue body (renderDriftMarkdown): its markers, the in-sync sentence, the
 * counts and rows of a drifted shard, and the budget that keeps rows of every kind.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { driftDigest, renderDriftMarkdown } from "../../src/cli/render/markdown.js";
import type { DriftFinding } from "../../src/planner/types.js";

const fp = (n: number) => `sha256:${n.toString(16).padStart(16, "0")}${"f".repeat(48)}`;
const unmanaged = (n: number): DriftFinding => ({ fingerprint: fp(1000 + n), kind: "unmanaged", vmid: 900 + n, node: "pve1", message: `VM ${900 + n} has no ownership tags` });
const suspicious = (n: number): DriftFinding => ({ fingerprint: fp(2000 + n), kind: "suspicious", vmid: 800 + n, node: "pve2", message: "some marks" });
const stopped: DriftFinding = { fingerprint: fp(3), kind: "stopped", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3h", vmid: 10002, node: "pve1", message: "stopped out of band" };
const cores: DriftFinding = { fingerprint: `sha256:bbbb${"0".repeat(60)}`, kind: "attribute", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g", vmid: 10001, node: "pve1", attribute: "memoryMiB", expected: 4096, actual: 2048, message: "memory" };
const REPORT = { clusterId: "lab", shardId: "dev" };
const GITHUB = { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "55", GITHUB_SHA: "abc1234def5678abc1234def5678abc1234def56" };
const RUN = "Drift check for `abc1234` · [run 55](https://github.com/acme/fleet/actions/runs/55) · full report: the job's artifacts on [run 55](https://github.com/acme/fleet/actions/runs/55#artifacts)";

describe("drift issue markers", () => {
  it("starts with the shard's marker and a hidden summary: cluster, shard, digest of the fingerprints, count", () => {
    const findings = [cores, stopped];
    const lines = renderDriftMarkdown({ ...REPORT, findings }, { env: {} }).split("\n");
    expect(lines[0]).toBe("<!-- pvefleet:drift lab/dev -->");
    expect(lines[1]).toBe(`<!-- pvefleet-drift {"cluster":"lab","shard":"dev","digest":"${driftDigest(findings)}","findings":2} -->`);
    expect(lines.slice(2, 5)).toEqual(["", "## pvefleet drift for `lab/dev`", ""]);
  });

  it("digests the sorted fingerprints one per line, so the order of findings does not matter", () => {
    const sorted = [fp(3), `sha256:bbbb${"0".repeat(60)}`];
    expect(driftDigest([cores, stopped])).toBe(`sha256:${createHash("sha256").update(sorted.map((f) => `${f}\n`).join("")).digest("hex")}`);
    expect(driftDigest([stopped, cores])).toBe(driftDigest([cores, stopped]));
    expect(driftDigest([])).toBe(`sha256:${createHash("sha256").digest("hex")}`);
  });
});

describe("drift issue when in sync", () => {
  it("says so, with the commit/run line and how the cluster was read", () => {
    const md = renderDriftMarkdown({ ...REPORT, findings: [], refresh: { policy: "listing", listings: 1, configReads: 0, statusReads: 2 } }, { env: GITHUB });
    expect(md.split("\n").slice(5)).toEqual([
      "**No drift.** The cluster matches the state.", "",
      RUN, "",
      "<sub>Refresh: listing (1 listing, 0 config reads, 2 status reads): pending cores/memory changes, onboot and notes edits are not seen; --refresh full reads them.</sub>", "",
    ]);
  });

  it("counts the VMs left alone and the findings ignored, in the singular and the plural", () => {
    const one = renderDriftMarkdown({ ...REPORT, findings: [unmanaged(1), suspicious(1)], ignored: 1 }, { env: {} });
    expect(one).toContain("\n**No drift.** The cluster matches the state. 1 VM on the cluster is not this shard's (left alone). 1 suspicious VM (some of this shard's marks, not all) left alone. 1 finding ignored by `drift.ignore`.\n\nFull report: `pvefleet drift --format json`\n");
    const many = renderDriftMarkdown({ ...REPORT, findings: [unmanaged(1), unmanaged(2), suspicious(1), suspicious(2)], ignored: 3 }, { env: {} });
    expect(many).toContain("**No drift.** The cluster matches the state. 2 VMs on the cluster are not this shard's (left alone). 2 suspicious VMs (some of this shard's marks, not all) left alone. 3 findings ignored by `drift.ignore`.\n");
    expect(many).not.toContain("| kind | count |");
    expect(many.endsWith("Full report: `pvefleet drift --format json`\n")).toBe(true);
  });
});

describe("drift issue with drift", () => {
  it("gives the count, a table of kinds in a fixed order and one row per finding, grouped by kind", () => {
    const findings = [unmanaged(1), cores, stopped, { ...stopped, fingerprint: fp(4), vmid: 10007 }];
    const md = renderDriftMarkdown({ ...REPORT, findings, failOn: [], refresh: { policy: "full", listings: 2, configReads: 1, statusReads: 1 } }, { env: GITHUB });
    expect(md.split("\n").slice(5)).toEqual([
      RUN, "",
      "<sub>Refresh: full (2 listings, 1 config read, 1 status read): every VM of the shard read, so edits the listing cannot show (cores/memory awaiting a restart, onboot, notes) are compared.</sub>", "",
      "**4 findings.**", "",
      "| kind | count |", "|---|--:|",
      "| attribute | 1 |", "| stopped | 2 |", "| unmanaged | 1 |", "",
      "| fingerprint | kind | instance | vmid | node | attribute | expected | actual |", "|---|---|---|--:|---|---|---|---|",
      "| `bbbb000000000000` | attribute | `tst06dx9xy919t3v9kzd2xdsyzb3g` | 10001 | pve1 | memory | 4 GiB | 2 GiB |",
      "| `0000000000000003` | stopped | `tst06dx9xy919t3v9kzd2xdsyzb3h` | 10002 | pve1 |  |  |  |",
      "| `0000000000000004` | stopped | `tst06dx9xy919t3v9kzd2xdsyzb3h` | 10007 | pve1 |  |  |  |",
      "| `00000000000003e9` | unmanaged |  | 901 | pve1 |  |  |  |",
      "",
    ]);
  });

  it("shows sensitive values as (sensitive), never their content, and keeps cells to one table-safe line", () => {
    const findings: DriftFinding[] = [
      { fingerprint: fp(5), kind: "attribute", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g", vmid: 1, node: "pve|1", attribute: "vars.TOKEN", expected: "s3cr3t", actual: "other", message: "m" },
      { fingerprint: fp(6), kind: "attribute", instanceId: "tst06dx9xy919t3v9kzd2xdsyzb3g", vmid: 1, node: "pve1", attribute: "notes", expected: "a|b\n<c>", message: "m" },
      { fingerprint: fp(7), kind: "missing", message: "gone" },
    ];
    const md = renderDriftMarkdown({ ...REPORT, findings }, { env: {} });
    expect(md).not.toContain("s3cr3t");
    expect(md).toContain("| `0000000000000005` | attribute | `tst06dx9xy919t3v9kzd2xdsyzb3g` | 1 | pve\\|1 | vars.TOKEN | (sensitive) | (sensitive) |");
    expect(md).toContain('| `0000000000000006` | attribute | `tst06dx9xy919t3v9kzd2xdsyzb3g` | 1 | pve1 | notes | "a\\|b\\n&lt;c&gt;" |  |');
    expect(md).toContain("| `0000000000000007` | missing |  |  |  |  |  |  |");
    expect(md).toContain("\n\nFull report: `pvefleet drift --format json`\n\n**3 findings.**\n");
  });

  it("under a tight limit keeps rows of every kind, round-robin, and says how many were left out", () => {
    const findings: DriftFinding[] = [];
    for (let i = 0; i < 200; i++) findings.push({ ...cores, fingerprint: fp(10_000 + i), vmid: 20_000 + i });
    for (let i = 0; i < 3; i++) findings.push({ ...stopped, fingerprint: fp(20_000 + i), vmid: 30_000 + i }, unmanaged(i));
    const limit = 6_000;
    const md = renderDriftMarkdown({ ...REPORT, findings }, { env: {}, limit });
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(limit);
    const rows = (kind: string) => md.split("\n").filter((l) => l.includes(` | ${kind} | `) && l.startsWith("| `")).length;
    expect(rows("stopped")).toBe(3);
    expect(rows("unmanaged")).toBe(3);
    const attribute = rows("attribute");
    expect(attribute).toBeGreaterThan(3);
    expect(attribute).toBeLessThan(200);
    expect(md.endsWith(`\n\n> [!NOTE]\n> ${200 - attribute} findings left out to fit GitHub's comment limit. Run \`pvefleet drift --format json\` for all of them.\n`)).toBe(true);
    // Rows stay grouped by kind in the fixed order.
    const kinds = md.split("\n").filter((l) => l.startsWith("| `")).map((l) => l.split(" | ")[1]);
    expect(kinds).toEqual([...Array(attribute).fill("attribute"), "stopped", "stopped", "stopped", "unmanaged", "unmanaged", "unmanaged"]);
    expect(renderDriftMarkdown({ ...REPORT, findings }, { env: {} })).not.toContain("left out");
    // Room for no row at all: every finding counted as left out, the tables' headers alone.
    const none = renderDriftMarkdown({ ...REPORT, findings }, { env: {}, limit: 1_600 });
    expect(none.split("\n").filter((l) => l.startsWith("| `"))).toEqual([]);
    expect(none).toContain("|---|---|---|--:|---|---|---|---|\n\n> [!NOTE]\n> 206 findings left out to fit GitHub's comment limit.");
  });
});
