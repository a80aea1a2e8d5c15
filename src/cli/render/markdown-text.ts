/**
 * Small pieces of GitHub-flavoured markdown the plan and drift comments are made of, and the byte
 * budget they are assembled under. Sizes are counted in UTF-8 bytes: a body within N bytes is within
 * N characters however GitHub counts them (code points or UTF-16 units are never more than bytes).
 */

/** Lines joined with "\n" plus a final newline: what a list of lines costs in the body. */
export function cost(lines: readonly string[]): number {
  let n = 0;
  for (const l of lines) n += Buffer.byteLength(l) + 1;
  return n;
}

/** Lines appended while they fit; `take` refuses what would pass the limit. */
export class Budget {
  private used = 0;
  /** Something was left out for want of room. */
  refused = false;
  constructor(private readonly limit: number) {}
  get left(): number {
    return this.limit - this.used;
  }
  /** Reserve bytes up front (the closing note); never refused, may go negative. */
  reserve(bytes: number): void {
    this.used += bytes;
  }
  release(bytes: number): void {
    this.used -= bytes;
  }
  fits(lines: readonly string[]): boolean {
    return cost(lines) <= this.left;
  }
  /** Append `lines` whatever they cost (markers, summary, what was reserved). */
  force(out: string[], lines: readonly string[]): void {
    this.used += cost(lines);
    for (const l of lines) out.push(l);
  }
  /** Append `lines` to `out` if they fit; true when taken. */
  take(out: string[], lines: readonly string[]): boolean {
    const c = cost(lines);
    if (c > this.left) {
      this.refused = true;
      return false;
    }
    this.used += c;
    for (const l of lines) out.push(l);
    return true;
  }
}

/** At most `max` characters, ending in "…" when cut (never splits a surrogate pair). */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** Text safe in a table cell or a line of prose: no pipes breaking the row, no HTML, one line. */
export function cell(s: string, max = 160): string {
  return clip(s.replace(/\r?\n/g, " "), max).replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;")).replace(/\|/g, "\\|");
}

/** Inline code that survives backticks inside (CommonMark: a longer fence around the text). */
export function code(s: string, max = 120): string {
  const t = clip(s.replace(/\r?\n/g, " "), max).replace(/\|/g, "¦");
  const ticks = "`".repeat(Math.max(0, ...(t.match(/`+/g) ?? []).map((r) => r.length)) + 1);
  const pad = ticks.length > 1 || t.startsWith("`") || t.endsWith("`") ? " " : "";
  return `${ticks}${pad}${t}${pad}${ticks}`;
}

/** HTML-escaped text for `<summary>` and other inline HTML. */
export function html(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export type Alert = "NOTE" | "TIP" | "IMPORTANT" | "WARNING" | "CAUTION";

/** A GitHub alert: `> [!KIND]` on its own line, every following line quoted, a blank line after. */
export function alert(kind: Alert, lines: readonly string[]): string[] {
  return [`> [!${kind}]`, ...lines.map((l) => (l ? `> ${l.replace(/\n/g, " ")}` : ">")), ""];
}

/** A fenced block whose fence no line inside can close. */
export function fence(lang: string, lines: readonly string[]): string[] {
  let longest = 2;
  for (const l of lines) for (const run of l.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const ticks = "`".repeat(longest + 1);
  return [`${ticks}${lang}`, ...lines, ticks];
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export function num(n: number): string {
  return n.toLocaleString("en-US");
}

/** `a 3, b 2, c 1 and 4 more` for the top entries of a count map. */
export function topCounts(counts: ReadonlyMap<string, number>, max = 3, fmt: (k: string) => string = (k) => k): string {
  const entries = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = entries.slice(0, max).map(([k, n]) => `${fmt(k)} ${num(n)}`);
  const rest = entries.length - shown.length;
  return rest > 0 ? `${shown.join(", ")} and ${plural(rest, "more group")}` : shown.join(", ");
}
