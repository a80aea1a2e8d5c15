/**
 * How each kind of change is named and drawn, in one place, for every renderer: the symbol and
 * colour of the text plan, the sentence of its comment line, and the Terraform-style action pair of
 * the JSON schema. Order of LEGEND is the order Terraform prints its legend in.
 */
import type { InstanceChange, Plan } from "../../planner/types.js";

export type Tone = "green" | "yellow" | "red" | "cyan" | "plain";

/** A change as people read it; `replace` splits into the two orders Terraform distinguishes. */
export type Display =
  | "create" | "update" | "start" | "delete" | "replace-delete-first" | "replace-create-first"
  | "adopt" | "forget" | "record";

export interface DisplayInfo {
  symbol: string; // always 3 columns
  legend: string;
  tone: Tone;
  /** JSON `actions`, as in `terraform show -json`. */
  actions: string[];
  /** Terraform `-json` UI `action` word. */
  uiAction: string;
}

export const DISPLAY: Record<Display, DisplayInfo> = {
  create: { symbol: "  +", legend: "create", tone: "green", actions: ["create"], uiAction: "create" },
  update: { symbol: "  ~", legend: "update in-place", tone: "yellow", actions: ["update"], uiAction: "update" },
  start: { symbol: "  ~", legend: "update in-place", tone: "yellow", actions: ["update"], uiAction: "update" },
  delete: { symbol: "  -", legend: "destroy", tone: "red", actions: ["delete"], uiAction: "delete" },
  "replace-delete-first": { symbol: "-/+", legend: "destroy and then create replacement", tone: "red", actions: ["delete", "create"], uiAction: "replace" },
  "replace-create-first": { symbol: "+/-", legend: "create replacement and then destroy", tone: "green", actions: ["create", "delete"], uiAction: "replace" },
  adopt: { symbol: "  >", legend: "adopt into the state (the VM is not changed)", tone: "cyan", actions: ["import"], uiAction: "import" },
  forget: { symbol: "  .", legend: "forget (removed from the state, the VM is kept)", tone: "red", actions: ["forget"], uiAction: "remove" },
  record: { symbol: " <=", legend: "record what Proxmox reports in the state", tone: "cyan", actions: ["read"], uiAction: "read" },
};

/** Legend order: create, update, delete, delete-then-create, create-then-delete, read, then ours. */
export const LEGEND_ORDER: Display[] = [
  "create", "update", "delete", "replace-delete-first", "replace-create-first", "record", "adopt", "forget",
];

/** How a change is drawn; a replacement's order is the plan's (`replaceOrder`), not guessed from the graph. */
export function displayOf(change: InstanceChange, _plan?: Pick<Plan, "actions">): Display {
  switch (change.kind) {
    case "replace":
      return change.replaceOrder === "create-first" ? "replace-create-first" : "replace-delete-first";
    default:
      return change.kind;
  }
}

/** The comment line's verb phrase: `# <address> will be created`. */
export function sentenceOf(display: Display, change: InstanceChange): string {
  switch (display) {
    case "create": return change.resumeFrom ? `will be created (resuming at step ${change.resumeFrom})` : "will be created";
    case "update": return "will be updated in-place";
    case "start": return "will be started";
    case "delete": return "will be destroyed";
    case "replace-delete-first":
    case "replace-create-first": return "must be replaced";
    case "adopt": return `will be adopted into ${groupName(change)}`;
    case "forget": return "will be removed from the state; the VM is kept";
    case "record": return "will be recorded in the state";
  }
}

export function groupName(change: Pick<InstanceChange, "group">): string {
  return `${change.group.tenant}.${change.group.group}`;
}

/** The stable address of an instance in every output: `tenant.group/instanceId`. */
export function addressOf(change: Pick<InstanceChange, "group" | "instanceId">): string {
  return `${groupName(change)}/${change.instanceId}`;
}

export interface Counts {
  add: number;
  change: number;
  destroy: number;
  adopt: number;
  forget: number;
  record: number;
}

/** Terraform's counting rule: a replacement counts once in add and once in destroy. */
export function countChanges(plan: Pick<Plan, "changes" | "actions">): Counts {
  const c: Counts = { add: 0, change: 0, destroy: 0, adopt: 0, forget: 0, record: 0 };
  for (const ch of plan.changes) {
    switch (ch.kind) {
      case "create": c.add++; break;
      case "update": case "start": c.change++; break;
      case "delete": c.destroy++; break;
      case "replace": c.add++; c.destroy++; break;
      case "adopt": c.adopt++; break;
      case "forget": c.forget++; break;
      case "record": c.record++; break;
    }
  }
  return c;
}

/** `Plan: X to add, Y to change, Z to destroy.` (with adopt/forget when present). */
export function summarySentence(summary: { add: number; change: number; destroy: number }, extra?: Partial<Counts>): string {
  const head = extra?.adopt ? `${extra.adopt} to adopt, ` : "";
  const tail = extra?.forget ? `, ${extra.forget} to forget` : "";
  return `Plan: ${head}${summary.add} to add, ${summary.change} to change, ${summary.destroy} to destroy${tail}.`;
}

export function hasChanges(plan: Pick<Plan, "changes">): boolean {
  return plan.changes.length > 0;
}

export function noChangesSentence(mode: Plan["mode"]): string {
  switch (mode) {
    case "refresh-only": return "No changes. The cluster still matches the state.";
    case "destroy": return "No changes. No VMs need to be destroyed.";
    default: return "No changes. The cluster matches the shard file.";
  }
}

/** `1 attribute change`, `2 attribute changes`: a count and its noun, agreeing. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

const COLLATOR = new Intl.Collator("en", { numeric: true, sensitivity: "variant" });

/** Natural order for names with numbers: pve2 before pve10 (every listing of nodes and instances). */
export function naturalCompare(a: string, b: string): number {
  return COLLATOR.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** `instanceId` → `instance_id`, `memoryMiB` → `memory_mib`: the JSON spelling of every machine output. */
export function snakeCase(key: string): string {
  return key.replace(/([KMGT])iB\b|([KMGT])iB(?=[A-Z])/g, "$1$2ib").replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2").toLowerCase();
}

/** A value with every object key in snake_case (arrays and nested objects too). */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeCase(k), snakeKeys(v)]));
  return value;
}

/**
 * Attribute names as people read them: the unit goes with the value, not the name, so a name never
 * disagrees with what is shown (`disk: 4 GiB`, not `diskBytes: 4 GiB`). Names without a unit pass through.
 */
const LABELS: Record<string, string> = { memoryMiB: "memory", diskBytes: "disk", memoryBytes: "memory", maxmemBytes: "memory" };

export function attributeLabel(attribute: string): string {
  return LABELS[attribute] ?? attribute;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${s} ${UNITS[i]}`;
}

/** A value as it appears in a change line: strings quoted, sizes humanised, objects as JSON. */
export function formatValue(attribute: string, value: unknown): string {
  if (value === undefined || value === null) return "(none)";
  if (typeof value === "number" && /bytes$/i.test(attribute)) return formatBytes(value);
  if (typeof value === "number" && /MiB$/.test(attribute)) return formatBytes(value * 1024 * 1024);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Attributes holding multi-line text, shown as a unified diff instead of `before → after`. */
export function isTextAttribute(attribute: string, before: unknown, after: unknown): boolean {
  const texty = (v: unknown) => v === undefined || v === null || typeof v === "string";
  return /^(userdata|notes|description)$/i.test(attribute) && texty(before) && texty(after)
    && (String(before ?? "").includes("\n") || String(after ?? "").includes("\n") || attribute !== "description");
}

/** What a new VM will look like, as `[attribute, value]` pairs (for created and replacement VMs). */
export function specAttributes(spec: import("../../config/model.js").VmSpec): [string, unknown][] {
  const out: [string, unknown][] = [
    ["template", "name" in spec.template ? spec.template.name : spec.template.vmid],
    ["cores", spec.cores],
    ["memoryMiB", spec.memoryMiB],
  ];
  if (spec.diskBytes !== undefined) out.push(["diskBytes", spec.diskBytes]);
  out.push(["storage", spec.storage]);
  if (spec.bridge !== undefined) out.push(["bridge", spec.bridge]);
  if (spec.vlan !== undefined) out.push(["vlan", spec.vlan]);
  out.push(["onboot", spec.onboot]);
  if (spec.pool !== undefined) out.push(["pool", spec.pool]);
  if (spec.instanceType !== undefined) out.push(["instanceType", spec.instanceType]);
  if (spec.userdata) out.push(["userdata", `(${spec.userdata.content.split("\n").length} lines, ${spec.userdata.encoding})`]);
  return out;
}

/** What an existing VM looks like, from the refresh. */
export function liveAttributes(vm: import("../../providers/proxmox/types.js").LiveVm): [string, unknown][] {
  return [
    ["status", vm.status],
    ["cores", vm.cores],
    ["memoryMiB", Math.round(vm.memoryBytes / 1048576)],
    ["diskBytes", vm.diskBytes],
  ];
}
