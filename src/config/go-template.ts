/**
 * Go's text/template, as Nstance runs it for userdata and for every string in `args`:
 * `template.New(name).Option("missingkey=zero").Parse(src)` then `Execute` over Nstance's
 * template data. The whole language of Go 1.19 — actions, trim markers, comments, variables,
 * `if`/`with`/`range`/`break`/`continue`, `define`/`template`/`block`, every built-in function
 * and `fmt` verb — rendering the same bytes and failing where Go fails; a differential test
 * (test/config/go-template-differential.test.ts) checks that against Go itself.
 *
 * Files: go-template-parse.ts (lexer, parser), go-template-exec.ts (execution, built-ins),
 * go-template-fmt.ts (`fmt` verbs, escapers), go-template-value.ts (Go values and Nstance's data
 * types), go-template-error.ts. Every error is a GoTemplateError with an offset into the template
 * text, so validate can point into the shard file.
 *
 * Bounds (limits.ts): control structures (`if`, `else if`, `range`, `with`, `block`) and
 * parentheses nest at most MAX_NESTING (256) deep, template calls at most 256 deep, and rendered
 * text — and any string a function makes — is at most MAX_USERDATA_BYTES (1 MiB). Go itself has
 * no such bounds; these are the only templates Go renders that pvefleet refuses, besides slicing
 * into the middle of a multi-byte UTF-8 character (see go-template-value.ts).
 */

import { GoTemplateError } from "./go-template-error.js";
import { executeSet } from "./go-template-exec.js";
import { BUILTIN_FUNCTIONS, parseTemplateSet, type Arg, type Node, type Pipe, type TemplateSet } from "./go-template-parse.js";
import { toGoData } from "./go-template-value.js";

export { GoTemplateError } from "./go-template-error.js";

/** One node of a parsed template; `{ t: "text", text }` is a template without actions. */
export type TemplateNode = Node;

export const TEMPLATE_FUNCTIONS = BUILTIN_FUNCTIONS;

/** The name Nstance gives a userdata template (args templates are named "args"). */
export const DEFAULT_TEMPLATE_NAME = "userdata";

const SETS = new WeakMap<TemplateNode[], TemplateSet>();

/**
 * Parses a template; throws GoTemplateError with the offset of the first problem. `name` is the
 * template's own name (what `{{template "userdata"}}` and a `{{define "userdata"}}` refer to).
 */
export function parseTemplate(src: string, name: string = DEFAULT_TEMPLATE_NAME): TemplateNode[] {
  const set = parseTemplateSet(src, name);
  let root = set.trees.get(name);
  if (!root) {
    root = [];
    set.trees.set(name, root);
  }
  SETS.set(root, set);
  return root;
}

/**
 * Runs a parsed template over template data (`TemplateData`, typed as Nstance's
 * `UserdataTemplateData`; absent parts are Go zero values). Throws GoTemplateError for execution
 * errors (e.g. comparing a string with a number), as Go's Execute returns an error.
 */
export function executeTemplate(nodes: TemplateNode[], data: unknown): string {
  const set = SETS.get(nodes) ?? { name: DEFAULT_TEMPLATE_NAME, trees: new Map([[DEFAULT_TEMPLATE_NAME, nodes]]) };
  return executeSet(set, toGoData(data));
}

/** Parse and execute in one go. */
export function renderGoTemplate(src: string, data: unknown, name: string = DEFAULT_TEMPLATE_NAME): string {
  if (!src.includes("{{")) return src;
  return executeTemplate(parseTemplate(src, name), data);
}

// ---------------------------------------------------------------- static checks

/** The shape of the data a template may read: nested objects of field names; "map" allows any key. */
export type DataShape = { [field: string]: DataShape | "string" | "map" };

/**
 * Calls `onField` for every field chain that certainly starts at the template data: `.A.B` outside
 * `with`/`range` bodies and `$.A.B` anywhere in the template's own tree (not in `define`d ones,
 * whose dot is whatever the caller passes). For static checks against a DataShape.
 */
export function walkFields(nodes: TemplateNode[], onField: (path: string[], offset: number, isDot: boolean) => void): void {
  const walkArg = (a: Arg, dotIsRoot: boolean): void => {
    switch (a.t) {
      case "field":
        if (dotIsRoot) onField(a.ident, a.pos, false);
        return;
      case "dot":
        if (dotIsRoot) onField([], a.pos, true);
        return;
      case "var":
        if (a.ident[0] === "$" && a.ident.length > 1) onField(a.ident.slice(1), a.pos, false);
        return;
      case "chain":
        return walkArg(a.node, dotIsRoot);
      case "pipe":
        return walkPipe(a.pipe, dotIsRoot);
    }
  };
  const walkPipe = (p: Pipe | null, dotIsRoot: boolean): void => {
    for (const c of p?.cmds ?? []) for (const a of c.args) walkArg(a, dotIsRoot);
  };
  const walkList = (list: Node[] | null, dotIsRoot: boolean): void => {
    for (const n of list ?? []) {
      switch (n.t) {
        case "action":
        case "template":
          walkPipe(n.pipe, dotIsRoot);
          break;
        case "if":
        case "with":
        case "range":
          walkPipe(n.pipe, dotIsRoot);
          walkList(n.list, dotIsRoot && n.t === "if");
          walkList(n.elseList, dotIsRoot);
          break;
      }
    }
  };
  walkList(nodes, true);
}

/** The first problem of a field path against a shape, or undefined. */
export function fieldProblem(shape: DataShape, path: string[]): string | undefined {
  let cur: DataShape | "string" | "map" = shape;
  let typeName = "data";
  for (const name of path) {
    if (cur === "map") {
      cur = "string";
      typeName = "string";
      continue;
    }
    if (cur === "string") return `can't evaluate field ${name} in type string`;
    const next: DataShape | "string" | "map" | undefined = Object.prototype.hasOwnProperty.call(cur, name) ? cur[name] : undefined;
    if (next === undefined) {
      const known = Object.keys(cur);
      const lower = known.find((k) => k.toLowerCase() === name.toLowerCase());
      return `can't evaluate field ${name} in ${typeName} (fields: ${known.join(", ")})${lower ? ` (did you mean ${JSON.stringify(lower)}?)` : ""}`;
    }
    typeName = `.${path.slice(0, path.indexOf(name) + 1).join(".")}`;
    cur = next;
  }
  return undefined;
}

void GoTemplateError;
