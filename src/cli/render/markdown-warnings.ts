/**
 * A plan's warnings aggregated by kind for the pull-request comment: one callout per kind with the
 * count, the groups concerned and a few examples, however many VMs repeat the same warning (a
 * fleet-wide cores change on running VMs gives one warning per VM). Warnings are the planner's
 * sentences; an instance's warning starts with `<instanceId>: ` or `<tenant.group>/<instanceId>: `.
 */
import { alert, cell, code, num, plural, topCounts, type Alert } from "./markdown-text.js";

interface Kind {
  id: string;
  test: RegExp;
  severity: Alert;
  /** Headline for n warnings of this kind. */
  title: (n: number) => string;
  /** What to do about it. */
  hint?: string;
}

/** Known kinds, first match wins; anything else is "other". Patterns follow the planner's wording. */
const KINDS: Kind[] = [
  { id: "pending", test: /pending until the VM restarts/, severity: "WARNING",
    title: (n) => `${plural(n, "VM")}: new cores/memory pending until the VM restarts`,
    hint: "Plan with `--allow-restart` to restart them (stop → start), or restart them yourself." },
  { id: "deferred", test: /replacement deferred/, severity: "WARNING",
    title: (n) => `${plural(n, "replacement")} deferred`,
    hint: "`max_surge` leaves no room for a new VM before the old one is deleted; these VMs keep their old spec." },
  { id: "in-flight", test: /may still be cloning/, severity: "NOTE",
    title: (n) => `${plural(n, "interrupted create")} left alone while a clone may still run`,
    hint: "Plan again in a minute." },
  { id: "renamed", test: /carries this shard's tags but is named/, severity: "WARNING",
    title: (n) => `${plural(n, "renamed VM")} pvefleet will not change, replace or delete` },
  { id: "untagged", test: /lacks the ownership tag/, severity: "WARNING",
    title: (n) => `${plural(n, "VM")} without all ownership tags pvefleet will not change, replace or delete` },
  { id: "orphans", test: /orphan VM\(s\)/, severity: "WARNING", title: (n) => `Orphan VMs (${plural(n, "warning")})`, hint: "Adopt them with `--adopt` or remove them with `--gc`." },
  { id: "overcommit", test: /overcommit/, severity: "WARNING", title: (n) => `vCPU overcommit on ${plural(n, "node")}`,
    hint: "VMs there will wait for CPU time under load (the shard's `cpu_overcommit` sets the ratio warned about)." },
  { id: "offline", test: /offline/, severity: "WARNING", title: (n) => `${plural(n, "warning")} about offline nodes` },
  { id: "suspicious", test: /suspicious VM\(s\)/, severity: "NOTE", title: (n) => `Suspicious VMs left alone (${plural(n, "warning")})` },
];
const OTHER: Kind = { id: "other", test: /^/, severity: "WARNING", title: (n) => `${plural(n, "other warning")}` };

const SUBJECT = /^(?:([^\s/:]+)\/)?([a-z][a-z0-9]{28}): /;

interface Message {
  count: number;
  instances: string[];
}

interface Bucket {
  kind: Kind;
  count: number;
  groups: Map<string, number>;
  messages: Map<string, Message>;
}

/** How many examples of each kind a callout lists, and how long each may be. */
const EXAMPLES = 3;
const INSTANCES_PER_EXAMPLE = 3;
const EXAMPLE_CHARS = 220;

/**
 * One callout per kind, in KINDS order. `groupOf` names an instance's group (from the plan's
 * changes) when the warning does not say it.
 */
export function warningCallouts(warnings: readonly string[], groupOf: (instanceId: string) => string | undefined): string[][] {
  const buckets = new Map<string, Bucket>();
  for (const w of warnings) {
    const m = SUBJECT.exec(w);
    const instance = m?.[2];
    const text = m ? w.slice(m[0].length) : w;
    const kind = KINDS.find((k) => k.test.test(text)) ?? OTHER;
    let b = buckets.get(kind.id);
    if (!b) buckets.set(kind.id, (b = { kind, count: 0, groups: new Map(), messages: new Map() }));
    b.count++;
    const group = m?.[1] ?? (instance ? groupOf(instance) : undefined);
    if (group) b.groups.set(group, (b.groups.get(group) ?? 0) + 1);
    let msg = b.messages.get(text);
    if (!msg) b.messages.set(text, (msg = { count: 0, instances: [] }));
    msg.count++;
    if (instance && msg.instances.length < INSTANCES_PER_EXAMPLE) msg.instances.push(instance);
  }
  const out: string[][] = [];
  for (const kind of [...KINDS, OTHER]) {
    const b = buckets.get(kind.id);
    if (!b) continue;
    const where = b.groups.size ? ` (${topCounts(b.groups, 3)})` : "";
    const lines = [`**${kind.title(b.count)}**${where}.${kind.hint ? ` ${kind.hint}` : ""}`];
    const messages = [...b.messages].sort((x, y) => y[1].count - x[1].count);
    for (const [text, msg] of messages.slice(0, EXAMPLES)) {
      const times = msg.count > 1 ? `${num(msg.count)}× ` : "";
      const who = msg.instances.length ? ` — ${msg.instances.map((i) => code(i)).join(", ")}${msg.count > msg.instances.length ? ` … and ${num(msg.count - msg.instances.length)} more` : ""}` : "";
      lines.push(`- ${times}${cell(text, EXAMPLE_CHARS)}${who}`);
    }
    const rest = messages.slice(EXAMPLES);
    if (rest.length) {
      const n = rest.reduce((s, [, m]) => s + m.count, 0);
      lines.push(`- … and ${plural(n, "more warning")} of this kind`);
    }
    out.push(alert(kind.severity, lines));
  }
  return out;
}
