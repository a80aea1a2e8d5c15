/**
 * What each part of the plan comment says (renderPlanMarkdown), exactly: the heading and summary per
 * mode, the callouts' wording, the counts table's columns, a group's section (kinds, spec, rows) and
 * the per-instance <details> (diff lines, sensitive values, caps).
 */
import { describe, expect, it } from "vitest";
import { driftMarker, isSensitiveAttribute, planHash, planMarker, renderPlanMarkdown } from "../../src/cli/render/markdown.js";
import type { AttributeChange, InstanceChange, Plan } from "../../src/planner/types.js";
import { basePlan, live, mixedPlan, spec } from "./fixtures.js";

const env = {};
const web = { tenant: "acme", group: "web" };
const iid = (p: string, n: number) => `${p}${String(n).padStart(26, "0")}`;

function change(over: Partial<InstanceChange> & Pick<InstanceChange, "kind">): InstanceChange {
  return { instanceId: iid("tst", 0), group: web, reason: "update_because_changed", reasons: [], attributes: [], ...over } as InstanceChange;
}

/** One update of `attributes` in its own plan, rendered. */
function renderUpdate(attributes: AttributeChange[], over: Partial<InstanceChange> = {}): string {
  return renderPlanMarkdown(basePlan({ changes: [change({ kind: "update", attributes, before: live(), after: spec(), ...over })], summary: { add: 0, change: 1, destroy: 0 } }), { env });
}

/** The lines of the first ```diff block. */
function diffOf(md: string): string[] {
  const m = /^(`{3,})diff\n([\s\S]*?)\n\1$/m.exec(md);
  expect(m, md).not.toBeNull();
  return m![2]!.split("\n");
}

/** The table rows (after the header and delimiter) of the first section. */
function rowsOf(md: string): string[] {
  return md.split("\n").filter((l) => /^\| \S+ \| `/.test(l));
}

describe("plan comment heading and summary", () => {
  it("names the shard and the mode, with the mode's words when nothing changes", () => {
    for (const [mode, words] of [["normal", "No changes. The cluster matches the shard file."], ["refresh-only", "No changes. The cluster still matches the state."], ["destroy", "No changes. No VMs need to be destroyed."]] as const) {
      const md = renderPlanMarkdown(basePlan({ mode }), { env });
      const heading = mode === "normal" ? "## pvefleet plan for `my-cluster/dev`" : `## pvefleet plan for \`my-cluster/dev\` (${mode})`;
      expect(md.split("\n").slice(2)).toEqual(["", heading, "", `**${words}**`, ""]);
    }
  });

  it("gives a plan without changes the commit or the run line alone when only one is known", () => {
    const lines = (e: Record<string, string>) => renderPlanMarkdown(basePlan(), { env: e }).split("\n").slice(5);
    expect(lines({ GITHUB_SHA: "abc1234def" })).toEqual(["**No changes. The cluster matches the shard file.**", "", "Plan for `abc1234`", ""]);
    expect(lines({ GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/fleet", GITHUB_RUN_ID: "5" }))
      .toEqual(["**No changes. The cluster matches the shard file.**", "", "[run 5](https://github.com/acme/fleet/actions/runs/5)", ""]);
  });

  it("writes the markers: the shard's sticky marker, then the plan's hash, state and digest", () => {
    const plan = basePlan();
    expect(planMarker(plan)).toBe("<!-- pvefleet:plan my-cluster/dev -->");
    expect(driftMarker(plan)).toBe("<!-- pvefleet:drift my-cluster/dev -->");
    expect(renderPlanMarkdown(plan, { env }).split("\n").slice(0, 2)).toEqual([
      "<!-- pvefleet:plan my-cluster/dev -->",
      `<!-- pvefleet-plan {"cluster":"my-cluster","shard":"dev","plan_hash":"${planHash(plan)}","lineage":"5d1c1e4e-7a39-4d0e-9a55-3f8e2f0c9b11","serial":7,"config_digest":"sha256:1111","truncated":false} -->`,
    ]);
  });

  it("hashes the plan's JSON: keys whose value is undefined are left out as JSON.stringify leaves them", async () => {
    const { createHash } = await import("node:crypto");
    const plan = { ...mixedPlan(), refresh: undefined } as Plan;
    expect(planHash(plan)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(plan)).digest("hex")}`);
    expect(planHash(plan)).toBe(planHash(mixedPlan()));
    // Functions and symbols are left out the same way (a plan read back never has them, but a hash must not throw).
    const odd = { ...mixedPlan(), f: () => 1, s: Symbol("s") } as unknown as Plan;
    expect(planHash(odd)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(odd)).digest("hex")}`);
    // A long top-level string is hashed whole, and 512 changes are exactly two slices.
    const long = basePlan({ clusterId: "c".repeat(300) });
    expect(planHash(long)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(long)).digest("hex")}`);
    const p512 = basePlan({ changes: Array.from({ length: 512 }, (_, i) => change({ kind: "create", instanceId: iid("c", i), after: spec() })) });
    expect(planHash(p512)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(p512)).digest("hex")}`);
    const p257 = basePlan({ changes: Array.from({ length: 257 }, (_, i) => change({ kind: "create", instanceId: iid("c", i), after: spec() })) });
    expect(planHash(p257)).toBe(`sha256:${createHash("sha256").update(JSON.stringify(p257)).digest("hex")}`);
  });

  it("says how the cluster was read under the summary, and the drift found on the way", () => {
    const plan = mixedPlan();
    plan.refresh = { policy: "full", listings: 1, configReads: 3, statusReads: 3 };
    plan.drift = plan.drift.filter((f) => f.kind !== "unmanaged").slice(0, 1);
    const md = renderPlanMarkdown(plan, { env });
    expect(md).toContain("\n\n<sub>Refresh: full (1 listing, 3 config reads, 3 status reads): every VM of the shard read");
    expect(md).toContain("> [!NOTE]\n> **Objects have changed outside of pvefleet:** 1 finding on managed VMs. Run `pvefleet drift` for details.\n");
    // A plan without changes keeps the refresh line too, but no pointer to a full plan.
    const quiet = renderPlanMarkdown(basePlan({ refresh: plan.refresh }), { env });
    expect(quiet).toContain("**No changes. The cluster matches the shard file.**\n\n<sub>Refresh: full");
    expect(quiet).not.toContain("Full plan");
    expect(quiet.endsWith("</sub>\n")).toBe(true);
  });
});

describe("plan comment callouts", () => {
  const replace = (n: number, order: "create-first" | "delete-first", group = web): InstanceChange =>
    change({ kind: "replace", instanceId: iid(order[0]!, n), group, replaceOrder: order, reasons: ["template changed"], before: live({ vmid: 100 + n }), after: spec(), placement: { node: "pve1", vmid: 200 + n, scores: {} } });

  it("says in which order replacements happen: all destroy first, all create first, or how many of each", () => {
    const callout = (changes: InstanceChange[]) => /\*\*.* will be replaced\*\* .*/.exec(renderPlanMarkdown(basePlan({ changes }), { env }))![0];
    expect(callout([replace(0, "delete-first"), replace(1, "delete-first")])).toBe("**2 VMs will be replaced** (acme.web 2): each old VM is destroyed before its successor is created. New VMs get new instance IDs; marked ♻️ below.");
    expect(callout([replace(0, "create-first")])).toBe("**1 VM will be replaced** (acme.web 1): each new VM is created and started before the old one is destroyed. New VMs get new instance IDs; marked ♻️ below.");
    expect(callout([replace(0, "delete-first"), replace(1, "create-first"), replace(2, "delete-first")]))
      .toBe("**3 VMs will be replaced** (acme.web 3): 1 create their successor first, 2 destroy the old VM first. New VMs get new instance IDs; marked ♻️ below.");
    // No order given counts as destroy first.
    expect(callout([{ ...replace(0, "delete-first"), replaceOrder: undefined }])).toContain("each old VM is destroyed before its successor is created");
  });

  it("names the five groups that destroy most, and how many more", () => {
    const changes: InstanceChange[] = [];
    for (let g = 0; g < 7; g++) {
      for (let i = 0; i <= g; i++) changes.push(change({ kind: "delete", instanceId: iid(`g${g}`, i), group: { tenant: "t", group: `g${g}` }, before: live() }));
    }
    const md = renderPlanMarkdown(basePlan({ changes }), { env });
    expect(md).toContain("> [!CAUTION]\n> **This plan destroys 28 VMs** (t.g6 7, t.g5 6, t.g4 5, t.g3 4, t.g2 3 and 2 more groups), marked 🗑️ below. Their disks are deleted with them.\n");
    expect(md).not.toContain("will be replaced");
  });
});

describe("plan comment counts table", () => {
  it("shows adopt, forget and record columns only when the plan has them, and no total row for one group", () => {
    const md = renderPlanMarkdown(basePlan({ changes: [
      change({ kind: "adopt", before: live() }), change({ kind: "forget", instanceId: iid("f", 1), before: live() }), change({ kind: "start", instanceId: iid("s", 1), before: live() }),
    ] }), { env });
    expect(md).toContain("| group | ➕ create | 🔄 update | ♻️ replace | 🗑️ destroy | 📥 adopt | 📤 forget |\n|---|--:|--:|--:|--:|--:|--:|\n| acme.web | 0 | 1 | 0 | 0 | 1 | 1 |\n\n");
    const rec = renderPlanMarkdown(basePlan({ changes: [change({ kind: "record", before: live() })] }), { env });
    expect(rec).toContain("| group | ➕ create | 🔄 update | ♻️ replace | 🗑️ destroy | 📝 record |\n");
    expect(rec).not.toContain("**all groups**");
  });
});

describe("plan comment group section", () => {
  it("lists the group's kinds loudest first and its spec: template, cores, memory, disk, then where it goes", () => {
    const md = renderPlanMarkdown(basePlan({ changes: [
      change({ kind: "create", instanceId: iid("c", 1), after: spec({ cores: 1, vlan: 20, pool: "prod", onboot: false, userdata: { content: "a\nb", encoding: "utf8" }, vars: { x: "1" } } as never), placement: { node: "pve2", vmid: 301, scores: {} } }),
      change({ kind: "delete", instanceId: iid("d", 1), before: live() }),
      change({ kind: "update", instanceId: iid("u", 1), attributes: [{ attribute: "cores", before: 1, after: 2, forcesReplacement: false }], before: live() }),
    ] }), { env });
    expect(md).toContain("### acme.web\n\n**1 to destroy, 1 to update, 1 to create**\n\nSpec: template `debian-13-template` · 1 core · 2 GiB memory · 32 GiB disk · storage `local-lvm` · bridge `vmbr0` · vlan `20` · no start on boot · pool `prod` · userdata (sensitive) · vars (sensitive)\n\n");
    expect(md).not.toContain("a\nb");
  });

  it("takes a group's spec from its first change that has one, and clips a long template name at 80 characters", () => {
    const name = "t".repeat(70);
    const md = renderPlanMarkdown(basePlan({ changes: [
      change({ kind: "delete", instanceId: iid("d", 1), before: live(), after: spec({ cores: 9 }) }),
      change({ kind: "create", instanceId: iid("c", 1), after: spec({ cores: 3, template: { name } }) }),
      change({ kind: "create", instanceId: iid("c", 2), after: spec({ cores: 5 }) }),
    ] }), { env });
    expect(md.match(/^Spec: .*$/gm)).toEqual([`Spec: template \`${name}\` · 3 cores · 2 GiB memory · 32 GiB disk · storage \`local-lvm\` · bridge \`vmbr0\` · starts on boot`]);
  });

  it("says the template's disk size is kept when the spec has none, in the disk's place", () => {
    const md = renderPlanMarkdown(basePlan({ changes: [change({ kind: "create", after: spec({ diskBytes: undefined, template: { vmid: 9000 } } as never) })] }), { env });
    expect(md).toContain("Spec: template `9000` · 2 cores · 2 GiB memory · the template's disk size · storage `local-lvm` · bridge `vmbr0` · starts on boot\n");
    // A group of deletes only has no spec line.
    expect(renderPlanMarkdown(basePlan({ changes: [change({ kind: "delete", before: live() })] }), { env })).not.toContain("Spec:");
  });

  it("shows a move as old → new node and VMID, and a VM staying put once", () => {
    const rows = rowsOf(renderPlanMarkdown(basePlan({ changes: [
      change({ kind: "replace", instanceId: iid("a", 1), replaceOrder: "delete-first", reasons: ["r"], before: live({ node: "pve3", vmid: 103 }), after: spec(), placement: { node: "pve3", vmid: 203, scores: {} } }),
      change({ kind: "replace", instanceId: iid("b", 1), replaceOrder: "delete-first", reasons: ["r"], before: live({ node: "pve3", vmid: 104 }), after: spec(), placement: { node: "pve4", vmid: 104, scores: {} } }),
      change({ kind: "replace", instanceId: iid("c", 1), replaceOrder: "delete-first", reasons: ["r"], before: live({ node: "pve3", vmid: 105 }), after: spec(), placement: { node: "pve3", vmid: 105, scores: {} } }),
      change({ kind: "create", instanceId: iid("e", 1), reasons: [], after: spec() }),
    ] }), { env }));
    expect(rows).toEqual([
      `| ♻️ | \`${iid("a", 1)}\` | pve3 → pve3 | 103 → 203 | replace (destroy first): r |`,
      `| ♻️ | \`${iid("b", 1)}\` | pve3 → pve4 | 104 → 104 | replace (destroy first): r |`,
      `| ♻️ | \`${iid("c", 1)}\` | pve3 | 105 | replace (destroy first): r |`,
      `| ➕ | \`${iid("e", 1)}\` |  |  | create |`,
    ]);
  });

  it("sums a change up in its row: what forces a replacement, then values, at most three parts", () => {
    const attrs: AttributeChange[] = [
      { attribute: "cores", before: 1, after: 2, forcesReplacement: false },
      { attribute: "memoryMiB", before: 1024, after: 2048, forcesReplacement: false },
      { attribute: "notes", before: "a\nb", after: "a\nc", forcesReplacement: false },
      { attribute: "vars.TOKEN", before: "x", after: "y", forcesReplacement: false },
    ];
    expect(rowsOf(renderUpdate(attrs))).toEqual([`| 🔄 | \`${iid("tst", 0)}\` | pve1 | 10001 | update: cores 1 → 2, memory 1 GiB → 2 GiB, notes, +1 more |`]);
    expect(rowsOf(renderUpdate(attrs.slice(1)))).toEqual([`| 🔄 | \`${iid("tst", 0)}\` | pve1 | 10001 | update: memory 1 GiB → 2 GiB, notes, vars.TOKEN (sensitive) |`]);
    expect(rowsOf(renderUpdate(attrs.slice(2)))).toEqual([`| 🔄 | \`${iid("tst", 0)}\` | pve1 | 10001 | update: notes, vars.TOKEN (sensitive) |`]);
    const forced = renderUpdate([{ attribute: "template", before: "a", after: "b", forcesReplacement: true }, attrs[0]!], { kind: "replace", forcedBy: [{ attribute: "template", before: "a", after: "b", message: "m" }] } as never);
    expect(rowsOf(forced)[0]).toMatch(/\| replace \(destroy first\): forced by template, cores 1 → 2 \|$/);
  });
});

describe("plan comment details", () => {
  it("lists a destroyed VM's live attributes and why", () => {
    const md = renderPlanMarkdown(basePlan({ changes: [change({ kind: "delete", reasons: ["size 2 > 1"], before: live({ status: "stopped", cores: 3 }) })] }), { env });
    expect(md).toContain(`<details><summary>🗑️ <code>acme.web/${iid("tst", 0)}</code> will be destroyed</summary>\n\n\`\`\`diff\n- status: "stopped"\n- cores: 3\n- memory: 2 GiB\n- disk: 32 GiB\n# because size 2 > 1\n\`\`\`\n\n</details>\n`);
  });

  it("marks additions, removals and changes, sensitive ones without their values", () => {
    expect(diffOf(renderUpdate([
      { attribute: "pool", before: undefined, after: "prod", forcesReplacement: false },
      { attribute: "vlan", before: 20, after: undefined, forcesReplacement: false },
      { attribute: "cores", before: 1, after: 2, forcesReplacement: true },
      { attribute: "vars.A", before: undefined, after: "new-secret", forcesReplacement: false },
      { attribute: "vars.B", before: "old-secret", after: undefined, forcesReplacement: false },
      { attribute: "vars[2]", before: "x-secret", after: "y-secret", forcesReplacement: true },
      { attribute: "tags", before: "a", after: "b", forcesReplacement: false, sensitive: true } as AttributeChange,
    ]))).toEqual([
      '+ pool: "prod"',
      "- vlan: 20",
      "! cores: 1 → 2   # forces replacement",
      "+ vars.A: (sensitive value)",
      "- vars.B: (sensitive value)",
      "! vars[2]: (sensitive value changed)   # forces replacement",
      "! tags: (sensitive value changed)",
    ]);
  });

  it("shows text attributes as a unified diff with its hunk headers as comments", () => {
    const lines = diffOf(renderUpdate([{ attribute: "notes", before: "one\ntwo\n", after: "one\nthree\n", forcesReplacement: false }], { reasons: ["notes changed"] }));
    expect(lines[0]).toBe("! notes:");
    expect(lines.slice(1, -1).every((l) => /^(# @@ |[ +-])/.test(l))).toBe(true);
    expect(lines).toContain("-two");
    expect(lines).toContain("+three");
    expect(lines.find((l) => l.includes("@@"))).toMatch(/^# @@ /);
    expect(lines.at(-1)).toBe("# because notes changed");
    // Only hunk headers become comments, not a line of the text that ends in "@@".
    const at = diffOf(renderUpdate([{ attribute: "notes", before: "a\nb @@", after: "a\nc @@", forcesReplacement: false }]));
    expect(at).toContain("-b @@");
    expect(at).toContain("+c @@");
    // Set from nothing, or cleared: only added, or only removed lines.
    const added = diffOf(renderUpdate([{ attribute: "notes", before: undefined, after: "one\ntwo", forcesReplacement: false }]));
    expect(added.filter((l) => /^[-+ ]/.test(l))).toEqual(["+one", "+two"]);
    const cleared = diffOf(renderUpdate([{ attribute: "notes", before: "one\ntwo", after: undefined, forcesReplacement: false }]));
    expect(cleared.filter((l) => /^[-+ ]/.test(l))).toEqual(["-one", "-two"]);
  });

  it("names causes of a replacement that no attribute line shows", () => {
    const md = renderUpdate([{ attribute: "cores", before: 1, after: 2, forcesReplacement: true }], {
      kind: "replace", reasons: ["r"],
      forcedBy: [{ attribute: "cores", before: 1, after: 2, message: "c" }, { attribute: "userdata", message: "u" }, { attribute: "memoryMiB", message: "m" }],
    } as never);
    expect(diffOf(md)).toEqual(["! cores: 1 → 2   # forces replacement", "# replacement forced by userdata (sensitive), memory", "# because r"]);
  });

  it("marks a cause sensitive when the planner says so, and names a cause whose attribute line does not say it forces", () => {
    const md = renderUpdate([{ attribute: "memoryMiB", before: 1024, after: 2048, forcesReplacement: false }], {
      kind: "replace", reasons: [],
      forcedBy: [{ attribute: "tags", sensitive: true, message: "t" }, { attribute: "memoryMiB", before: 1024, after: 2048, message: "m" }],
    } as never);
    expect(diffOf(md)).toEqual(["! memory: 1 GiB → 2 GiB", "# replacement forced by tags (sensitive), memory"]);
    expect(rowsOf(md)[0]).toMatch(/\| replace \(destroy first\): forced by tags \(sensitive\), memory, memory 1 GiB → 2 GiB \|$/);
  });

  it("lists the live attributes only for a destroy without attribute changes", () => {
    const adopt = renderPlanMarkdown(basePlan({ changes: [change({ kind: "adopt", reasons: ["tagged"], before: live() })] }), { env });
    expect(diffOf(adopt)).toEqual(["# because tagged"]);
    const del = renderPlanMarkdown(basePlan({ changes: [change({ kind: "delete", reasons: ["gone"], attributes: [{ attribute: "cores", before: 2, after: undefined, forcesReplacement: false }], before: live() })] }), { env });
    expect(diffOf(del)).toEqual(["- cores: 2", "# because gone"]);
  });

  it("keeps a diff to 40 lines of at most 200 characters, and says how many more", () => {
    const attrs: AttributeChange[] = Array.from({ length: 45 }, (_, i) => ({ attribute: `a${i}`, before: i, after: i + 1, forcesReplacement: false }));
    attrs[0] = { attribute: "a0", before: "x".repeat(300), after: "y", forcesReplacement: false };
    const lines = diffOf(renderUpdate(attrs, { reasons: ["r"] }));
    expect(lines).toHaveLength(41);
    expect(lines[0]).toBe(`! a0: "${"x".repeat(192)}…`);
    expect(lines[0]).toHaveLength(200);
    expect(lines[39]).toBe("! a39: 39 → 40");
    expect(lines[40]).toBe("# … 6 more lines in the full plan");
    const forty = diffOf(renderUpdate(attrs.slice(0, 39), { reasons: ["r"] }));
    expect(forty).toHaveLength(40);
    expect(forty.at(-1)).toBe("# because r");
  });

  it("gives creates and starts without attribute changes no details, every other change one", () => {
    const md = renderPlanMarkdown(basePlan({ changes: [
      change({ kind: "create", instanceId: iid("c", 1), after: spec() }),
      change({ kind: "start", instanceId: iid("s", 1), reasons: ["stopped"], before: live() }),
      change({ kind: "start", instanceId: iid("s", 2), attributes: [{ attribute: "onboot", before: false, after: true, forcesReplacement: false }], before: live() }),
      change({ kind: "adopt", instanceId: iid("a", 1), reasons: ["tagged"], before: live() }),
    ] }), { env });
    const summaries = [...md.matchAll(/<summary>(.*)<\/summary>/g)].map((m) => m[1]);
    expect(summaries).toEqual([
      `▶️ <code>acme.web/${iid("s", 2)}</code> will be started`,
      `📥 <code>acme.web/${iid("a", 1)}</code> will be adopted into acme.web`,
    ]);
    expect(md).toContain("#### Changes by instance\n\n<details>");
  });

  it("gives a group at most five distinct details, and one for identical changes saying how many share it", () => {
    const cores = (n: number): AttributeChange[] => [{ attribute: "cores", before: 1, after: n, forcesReplacement: false }];
    const changes = [
      ...[0, 1].map((i) => change({ kind: "update", instanceId: iid("same", i), attributes: cores(2), before: live() })),
      ...[3, 4, 5, 6, 7, 8].map((n) => change({ kind: "update", instanceId: iid("u", n), attributes: cores(n), before: live() })),
    ];
    const md = renderPlanMarkdown(basePlan({ changes }), { env });
    const summaries = [...md.matchAll(/<summary>(.*)<\/summary>/g)].map((m) => m[1]);
    expect(summaries).toEqual([
      `🔄 <code>acme.web/${iid("same", 0)}</code> will be updated in-place (and 1 more row above with the same change)`,
      ...[3, 4, 5, 6].map((n) => `🔄 <code>acme.web/${iid("u", n)}</code> will be updated in-place`),
    ]);
    // Not a cut: all rows are shown and nothing is said to be left out.
    expect(md).not.toContain("left out");
  });
});

describe("isSensitiveAttribute", () => {
  it("covers userdata and vars and what is inside them, whatever the case, and nothing else", () => {
    for (const a of ["userdata", "Userdata", "vars", "VARS", "vars.TOKEN", "vars[0]", "userdata.content", "vars-x"]) expect(isSensitiveAttribute(a), a).toBe(true);
    for (const a of ["userdata_x", "varsity", "myvars", "x.userdata", "notes", "tags"]) expect(isSensitiveAttribute(a), a).toBe(false);
  });
});
