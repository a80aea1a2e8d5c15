/**
 * A flat pass over HCL source for the two things hcl2json cannot tell us: how deep brackets nest
 * (hcl2json recurses per level and dies with "Maximum call stack size exceeded" at position 1:1),
 * and keys given twice inside one object expression (`args = { Cores = 1 \n Cores = 2 }`: hcl2json
 * keeps the last silently; a block body's repeated attribute is already a parser error).
 *
 * It lexes just enough of HCL's native syntax: `#`, `//` and `/* *\/` comments; quoted strings
 * with escapes and `${…}` / `%{…}` (but not `$${` / `%%{`) template sequences; heredocs
 * `<<EOT`/`<<-EOT` (with template sequences); brackets. It never fails on malformed text — the
 * parser reports that.
 */
import { MAX_NESTING } from "./limits.js";

export interface HclScan {
  /** Offset of the bracket that opens level `limit + 1`, or -1. */
  nestingOffset: number;
  /** Every repeated key of an object expression, at the repeat. */
  duplicates: { offset: number; key: string }[];
}

type Mode = { t: "code" } | { t: "string" } | { t: "heredoc"; marker: string };
interface Frame {
  kind: "block" | "object" | "interp" | "other";
  resume?: Mode;
  keys?: Set<string>;
}

const IDENT_KEY = /[A-Za-z_][A-Za-z0-9_-]*(?=[ \t]*[=:](?![=>]))/y;
const STRING_KEY = /"((?:[^"\\\n]|\\.)*)"(?=[ \t]*[=:](?![=>]))/y;
const HEREDOC = /<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n/y;

export function scanHcl(text: string, limit = MAX_NESTING): HclScan {
  const duplicates: HclScan["duplicates"] = [];
  const frames: Frame[] = [];
  let mode: Mode = { t: "code" };
  // The last significant code token: a block `{` follows a name or label, an object `{` a value position.
  let prev: "ident" | "string" | "open-object" | "open-other" | "value-sep" | "other" | "none" = "none";
  let itemStart = true;
  const n = text.length;
  let i = 0;

  const open = (frame: Frame, at: number): boolean => {
    frames.push(frame);
    return frames.length > limit ? ((nestingAt = at), true) : false;
  };
  let nestingAt = -1;

  while (i < n) {
    if (mode.t === "string") {
      const c = text[i]!;
      if (c === "\\") i += 2;
      else if (c === '"' || c === "\n") {
        i++;
        mode = { t: "code" };
        prev = "string";
      } else if ((c === "$" || c === "%") && text[i + 1] === c && text[i + 2] === "{") i += 3;
      else if ((c === "$" || c === "%") && text[i + 1] === "{") {
        if (open({ kind: "interp", resume: mode }, i)) break;
        mode = { t: "code" };
        prev = "open-other";
        i += 2;
      } else i++;
      continue;
    }
    if (mode.t === "heredoc") {
      if (i === 0 || text[i - 1] === "\n") {
        const eol = text.indexOf("\n", i);
        const line = text.slice(i, eol < 0 ? n : eol).trim();
        if (line === mode.marker) {
          mode = { t: "code" };
          prev = "string";
          i = eol < 0 ? n : eol;
          continue;
        }
      }
      const c = text[i]!;
      if ((c === "$" || c === "%") && text[i + 1] === c && text[i + 2] === "{") i += 3;
      else if ((c === "$" || c === "%") && text[i + 1] === "{") {
        if (open({ kind: "interp", resume: mode }, i)) break;
        mode = { t: "code" };
        prev = "open-other";
        i += 2;
      } else i++;
      continue;
    }

    const c = text[i]!;
    const top = frames[frames.length - 1];
    if (c === "\n") {
      if (top?.kind === "object") itemStart = true;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      const eol = text.indexOf("\n", i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (top?.kind === "object" && itemStart) {
      const key = readKey(text, i);
      if (key) {
        if (top.keys!.has(key.name)) duplicates.push({ offset: i, key: key.name });
        top.keys!.add(key.name);
        i = key.end;
        prev = "other";
        itemStart = false;
        continue;
      }
    }
    itemStart = false;
    if (c === '"') {
      mode = { t: "string" };
      i++;
      continue;
    }
    if (c === "<" && text[i + 1] === "<") {
      HEREDOC.lastIndex = i;
      const m = HEREDOC.exec(text);
      if (m) {
        mode = { t: "heredoc", marker: m[2]! };
        i += m[0].length;
        continue;
      }
    }
    if (c === "{") {
      const isBlock: boolean = (prev === "ident" || prev === "string") && (top === undefined || top.kind === "block");
      const frame: Frame = isBlock ? { kind: "block" } : { kind: "object", keys: new Set() };
      if (open(frame, i)) break;
      prev = isBlock ? "open-other" : "open-object";
      itemStart = !isBlock;
      i++;
      continue;
    }
    if (c === "[" || c === "(") {
      if (open({ kind: "other" }, i)) break;
      prev = "open-other";
      i++;
      continue;
    }
    if (c === "}" || c === "]" || c === ")") {
      const f = frames.pop();
      i++;
      if (f?.kind === "interp" && f.resume) {
        mode = f.resume;
        continue;
      }
      prev = "other";
      continue;
    }
    if (c === ",") {
      if (top?.kind === "object") itemStart = true;
      prev = "value-sep";
      i++;
      continue;
    }
    if (c === "=" || c === ":") {
      prev = "value-sep";
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_-]/.test(text[j]!)) j++;
      prev = "ident";
      i = j;
      continue;
    }
    prev = "other";
    i++;
  }
  return { nestingOffset: nestingAt, duplicates };
}

function readKey(text: string, at: number): { name: string; end: number } | undefined {
  IDENT_KEY.lastIndex = at;
  const ident = IDENT_KEY.exec(text);
  if (ident) return { name: ident[0], end: at + ident[0].length };
  STRING_KEY.lastIndex = at;
  const quoted = STRING_KEY.exec(text);
  if (!quoted) return undefined;
  let name: string;
  try {
    name = JSON.parse(`"${quoted[1]!}"`) as string;
  } catch {
    name = quoted[1]!;
  }
  return { name, end: at + quoted[0].length };
}
