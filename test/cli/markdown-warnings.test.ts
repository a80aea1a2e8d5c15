/**
 * The plan's warnings aggregated by kind (src/cli/render/markdown-warnings.ts): one callout per
 * kind, in a fixed order, with its severity, count, groups, hint, a few examples and how many more.
 */
import { describe, expect, it } from "vitest";
import { warningCallouts } from "../../src/cli/render/markdown-warnings.js";

const iid = (n: number) => `web${String(n).padStart(26, "0")}`;
const none = () => undefined;

describe("warningCallouts", () => {
  it("gives each known kind its severity, headline and hint, in a fixed order whatever the warnings' order", () => {
    const warnings = [
      "node pve3 is offline; its VMs were not refreshed",
      "3 suspicious VM(s) (an instance-ID name without all ownership tags, or the reverse) are left alone",
      "vCPU overcommit on pve1: 40 vCPUs for 16 cores",
      "2 orphan VM(s) carry this shard's tags but are not in the state",
      `${iid(4)}: VM 104 lacks the ownership tag "nstance"`,
      `${iid(3)}: VM 103 carries this shard's tags but is named foo`,
      `${iid(2)}: clone may still be cloning (task running)`,
      `${iid(1)}: replacement deferred (max_surge is 0)`,
      `${iid(0)}: cores 1 → 2 will be pending until the VM restarts`,
      "something nobody planned for",
    ];
    expect(warningCallouts(warnings, none).map((c) => c.slice(0, 2).join("\n"))).toEqual([
      "> [!WARNING]\n> **1 VM: new cores/memory pending until the VM restarts**. Plan with `--allow-restart` to restart them (stop → start), or restart them yourself.",
      "> [!WARNING]\n> **1 replacement deferred**. `max_surge` leaves no room for a new VM before the old one is deleted; these VMs keep their old spec.",
      "> [!NOTE]\n> **1 interrupted create left alone while a clone may still run**. Plan again in a minute.",
      "> [!WARNING]\n> **1 renamed VM pvefleet will not change, replace or delete**.",
      "> [!WARNING]\n> **1 VM without all ownership tags pvefleet will not change, replace or delete**.",
      "> [!WARNING]\n> **Orphan VMs (1 warning)**. Adopt them with `--adopt` or remove them with `--gc`.",
      "> [!WARNING]\n> **vCPU overcommit on 1 node**. VMs there will wait for CPU time under load (the shard's `cpu_overcommit` sets the ratio warned about).",
      "> [!WARNING]\n> **1 warning about offline nodes**.",
      "> [!NOTE]\n> **Suspicious VMs left alone (1 warning)**.",
      "> [!WARNING]\n> **1 other warning**.",
    ]);
  });

  it("counts in the plural, and matches the first kind whose words a warning has", () => {
    const [pending, other] = warningCallouts([
      `${iid(0)}: cores 1 → 2 will be pending until the VM restarts (node offline)`,
      `${iid(1)}: memory 2 GiB → 4 GiB will be pending until the VM restarts`,
      "a", "b",
    ], none);
    expect(pending![1]).toBe("> **2 VMs: new cores/memory pending until the VM restarts**. Plan with `--allow-restart` to restart them (stop → start), or restart them yourself.");
    expect(other![1]).toBe("> **2 other warnings**.");
    expect(warningCallouts(["x", "y"].map((n) => `node ${n} vCPU overcommit`), none)[0]![1]).toMatch(/^> \*\*vCPU overcommit on 2 nodes\*\*/);
    expect(warningCallouts(["a orphan VM(s) x", "b orphan VM(s) y"], none)[0]![1]).toMatch(/^> \*\*Orphan VMs \(2 warnings\)\*\*/);
  });

  it("names the groups: from a tenant.group/ prefix, else from the instance's change, most warned first", () => {
    const groupOf = (id: string) => (id === iid(9) ? undefined : id < iid(5) ? "acme.api" : "acme.web");
    const warnings = [
      ...[0, 1, 2].map((i) => `${iid(i)}: cores 1 → 2 will be pending until the VM restarts`),
      ...[5, 6].map((i) => `${iid(i)}: cores 1 → 2 will be pending until the VM restarts`),
      `initech.db/${iid(7)}: cores 1 → 2 will be pending until the VM restarts`,
      `globex.batch/${iid(8)}: cores 1 → 2 will be pending until the VM restarts`,
      `${iid(9)}: cores 1 → 2 will be pending until the VM restarts`,
    ];
    const [callout] = warningCallouts(warnings, groupOf);
    expect(callout![1]).toMatch(/^> \*\*8 VMs: new cores\/memory pending until the VM restarts\*\* \(acme\.api 3, acme\.web 2, globex\.batch 1 and 1 more group\)\. Plan with/);
    // Without any group known: no parentheses.
    expect(warningCallouts([`${iid(9)}: cores 1 → 2 will be pending until the VM restarts`], groupOf)[0]![1]).toMatch(/^> \*\*1 VM: new cores\/memory pending until the VM restarts\*\*\. Plan/);
  });

  it("lists up to three distinct messages, most frequent first, with up to three instances each and how many more", () => {
    const warnings = [
      ...[0, 1, 2, 3, 4].map((i) => `${iid(i)}: cores 1 → 2 will be pending until the VM restarts`),
      ...[5, 6].map((i) => `${iid(i)}: memory 1 GiB → 2 GiB will be pending until the VM restarts`),
      "cores on pve1 will be pending until the VM restarts",
      "cores on pve2 will be pending until the VM restarts",
      "cores on pve2 will be pending until the VM restarts",
      "cores on pve3 will be pending until the VM restarts",
    ];
    const [callout] = warningCallouts(warnings, none);
    expect(callout).toEqual([
      "> [!WARNING]",
      "> **11 VMs: new cores/memory pending until the VM restarts**. Plan with `--allow-restart` to restart them (stop → start), or restart them yourself.",
      `> - 5× cores 1 → 2 will be pending until the VM restarts — \`${iid(0)}\`, \`${iid(1)}\`, \`${iid(2)}\` … and 2 more`,
      `> - 2× memory 1 GiB → 2 GiB will be pending until the VM restarts — \`${iid(5)}\`, \`${iid(6)}\``,
      "> - 2× cores on pve2 will be pending until the VM restarts",
      "> - … and 2 more warnings of this kind",
      "",
    ]);
    const [one] = warningCallouts([...warnings.slice(0, 5), "cores on pve1 will be pending until the VM restarts"], none);
    expect(one!.slice(2)).toEqual([
      `> - 5× cores 1 → 2 will be pending until the VM restarts — \`${iid(0)}\`, \`${iid(1)}\`, \`${iid(2)}\` … and 2 more`,
      "> - cores on pve1 will be pending until the VM restarts",
      "",
    ]);
    const [last] = warningCallouts([...warnings.slice(0, 7), "a will be pending until the VM restarts", "b will be pending until the VM restarts"], none);
    expect(last!.at(-2)).toBe("> - … and 1 more warning of this kind");
  });

  it("takes only an instance ID (a letter then 28 letters or digits) as the subject, and keeps each example to one table-safe cell", () => {
    const [callout] = warningCallouts([
      "Web00000000000000000000000000000: cores will be pending until the VM restarts",
      "web0000000000000000000000000: cores will be pending until the VM restarts",
      `${"x".repeat(300)} | <b> will be pending until the VM restarts`,
    ], () => "acme.web");
    expect(callout!.slice(1, 5)).toEqual([
      "> **3 VMs: new cores/memory pending until the VM restarts**. Plan with `--allow-restart` to restart them (stop → start), or restart them yourself.",
      "> - Web00000000000000000000000000000: cores will be pending until the VM restarts",
      "> - web0000000000000000000000000: cores will be pending until the VM restarts",
      `> - ${"x".repeat(219)}…`,
    ]);
    const [prefixed] = warningCallouts(["a b/web0000000000000000000000000: x | <b> will be pending until the VM restarts"], () => "acme.web");
    expect(prefixed!.slice(1, 3)).toEqual([
      "> **1 VM: new cores/memory pending until the VM restarts**. Plan with `--allow-restart` to restart them (stop → start), or restart them yourself.",
      "> - a b/web0000000000000000000000000: x \\| &lt;b&gt; will be pending until the VM restarts",
    ]);
    expect(warningCallouts([], none)).toEqual([]);
  });
});
