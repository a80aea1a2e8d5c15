/**
 * The managed notes block in a VM's description: annotations for people (group, kind, created),
 * never used to decide anything (ARCHITECTURE.md rule 3).
 *
 * We write the integration guide's form, one `key: value` per line between
 * `# DO NOT EDIT BELOW - managed by nstance #` and `# DO NOT EDIT ABOVE - managed by nstance #`.
 * We read that form and Nstance's own `**DO NOT EDIT BELOW - managed by nstance**` form (lines
 * joined by two spaces + LF). Unlike Nstance, operator text around the
 * block is kept on every write. PVE right-trims the stored description and caps it at 8192
 * characters (reference/pve-api.md §2.2).
 */
import { UserError } from "../../../errors.js";

export const NOTES_START = "# DO NOT EDIT BELOW - managed by nstance #";
export const NOTES_END = "# DO NOT EDIT ABOVE - managed by nstance #";
export const NSTANCE_NOTES_START = "**DO NOT EDIT BELOW - managed by nstance**";
export const NSTANCE_NOTES_END = "**DO NOT EDIT ABOVE - managed by nstance**";
const MARKERS: readonly [string, string][] = [
  [NOTES_START, NOTES_END],
  [NSTANCE_NOTES_START, NSTANCE_NOTES_END],
];

const KNOWN_KEYS = ["group", "kind", "template", "created"];

/** PVE's `description` maxLength (characters). */
export const MAX_DESCRIPTION_CHARS = 8192;

export interface NotesFields {
  group?: string;
  kind?: string;
  template?: string;
  /** RFC 3339; written in UTC with seconds precision (`2026-01-20T12:00:00Z`); "" or absent omits the line. */
  created?: Date | string;
  /** Further `key: value` lines, written after the known ones in key order. */
  extra?: Record<string, string>;
  /** Any other string field is a further line too (e.g. `instanceId`); non-string values are refused. */
  [key: string]: string | Date | Record<string, string> | undefined;
}

export interface ParsedNotes {
  group?: string;
  kind?: string;
  template?: string;
  /** UTC, seconds precision; absent when missing or unparsable. */
  created?: string;
  /** Every other `key: value` line of the block. */
  extra: Record<string, string>;
}

/** The block alone, guide form, no trailing newline. */
export function renderNotesBlock(fields: NotesFields): string {
  const lines = [NOTES_START];
  const add = (key: string, value: string | undefined) => {
    if (value === undefined || value === "") return;
    if (/[\r\n]/.test(value)) throw new Error(`notes value for ${key} must be one line`);
    lines.push(`${key}: ${value}`);
  };
  add("group", fields.group);
  add("kind", fields.kind);
  add("template", fields.template);
  add("created", fields.created === undefined || fields.created === "" ? undefined : rfc3339Seconds(fields.created));
  const extra: Record<string, string> = { ...fields.extra };
  for (const [key, value] of Object.entries(fields)) {
    if (KNOWN_KEYS.includes(key) || key === "extra" || value === undefined) continue;
    if (typeof value !== "string") throw new Error(`notes field ${JSON.stringify(key)} must be a string`);
    extra[key] = value;
  }
  for (const key of Object.keys(extra).sort()) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key) || KNOWN_KEYS.includes(key)) {
      throw new Error(`notes key ${JSON.stringify(key)} is not allowed`);
    }
    add(key, extra[key]);
  }
  lines.push(NOTES_END);
  return lines.join("\n");
}

/**
 * The description to write: the existing one with its managed block (either marker form) replaced
 * in place, or with the block appended after a blank line when it has none. Operator text is
 * kept; the result is right-trimmed as PVE would store it.
 */
export function composeDescription(existingDescription: string | undefined, block: string): string {
  const existing = existingDescription ?? "";
  const found = findBlock(existing);
  let result: string;
  if (found) {
    result = existing.slice(0, found.start) + block + existing.slice(found.end);
  } else {
    const operatorText = pveRightTrim(existing);
    result = operatorText === "" ? block : `${operatorText}\n\n${block}`;
  }
  result = pveRightTrim(result);
  const chars = [...result].length;
  if (chars > MAX_DESCRIPTION_CHARS) {
    throw new UserError(
      "E_NOTES_TOO_LONG",
      `VM description would be ${chars} characters with the managed notes block; Proxmox allows ${MAX_DESCRIPTION_CHARS}`,
    );
  }
  return result;
}

/**
 * The managed block's fields, or undefined when there is no block (or it names none of group,
 * kind and created, as Nstance reads it).
 */
export function parseNotesBlock(description: string | undefined): ParsedNotes | undefined {
  const found = findBlock(description ?? "");
  if (!found) return undefined;
  const parsed: ParsedNotes = { extra: {} };
  for (const raw of found.body.split("\n")) {
    const line = raw.trim();
    const colon = line.indexOf(":");
    if (line === "" || colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "group" || key === "kind" || key === "template") parsed[key] = value;
    else if (key === "created") {
      const when = new Date(value);
      if (value !== "" && !Number.isNaN(when.getTime())) parsed.created = rfc3339Seconds(when);
    } else parsed.extra[key] = value;
  }
  if (!parsed.group && !parsed.kind && !parsed.created) return undefined;
  return parsed;
}

/** PVE strips trailing whitespace (and newlines) from a stored description. */
export function pveRightTrim(description: string): string {
  return description.replace(/\s+$/u, "");
}

/** True when PVE would store both descriptions as the same text. */
export function sameDescription(a: string | undefined, b: string | undefined): boolean {
  return pveRightTrim(a ?? "") === pveRightTrim(b ?? "");
}

interface FoundBlock {
  start: number; // index of the start marker
  end: number; // index just after the end marker
  body: string; // text between the markers
}

/** The first start marker of either form, and the first matching end marker after it. */
function findBlock(description: string): FoundBlock | undefined {
  let best: FoundBlock | undefined;
  for (const [startMarker, endMarker] of MARKERS) {
    const start = description.indexOf(startMarker);
    if (start < 0) continue;
    const bodyStart = start + startMarker.length;
    const endAt = description.indexOf(endMarker, bodyStart);
    if (endAt < 0) continue;
    if (!best || start < best.start) {
      best = { start, end: endAt + endMarker.length, body: description.slice(bodyStart, endAt) };
    }
  }
  return best;
}

function rfc3339Seconds(when: Date | string): string {
  const date = typeof when === "string" ? new Date(when) : when;
  if (Number.isNaN(date.getTime())) throw new Error(`created ${JSON.stringify(String(when))} is not an RFC 3339 time`);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
