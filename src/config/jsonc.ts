/** JSONC/JSON shard files: jsonc-parser keeps every node's offset, so every problem has a place. */
import { parseTree, findNodeAtLocation, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";
import { LineIndex, type Path, type SourceMap } from "./source-map.js";
import type { Where } from "../errors.js";
import { jsonNestingOffset, nestingMessage } from "./limits.js";

export interface SyntaxProblem {
  where: Where;
  message: string;
}

const MESSAGES: Record<string, string> = {
  InvalidSymbol: "invalid symbol",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "property name expected",
  ValueExpected: "value expected",
  ColonExpected: "':' expected",
  CommaExpected: "',' expected",
  CloseBraceExpected: "'}' expected",
  CloseBracketExpected: "']' expected",
  EndOfFileExpected: "end of file expected",
  InvalidCommentToken: "invalid comment",
  UnexpectedEndOfComment: "unterminated comment",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "unterminated number",
  InvalidUnicode: "invalid unicode escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character (control characters must be escaped in strings)",
};

/** Converts a node tree to plain values, reporting duplicate keys (JSON.parse would keep the last silently). */
function toValue(node: Node, problems: SyntaxProblem[], lines: LineIndex, file: string): unknown {
  switch (node.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const prop of node.children ?? []) {
        const [keyNode, valueNode] = prop.children ?? [];
        if (!keyNode || !valueNode) continue;
        const key = String(keyNode.value);
        if (Object.prototype.hasOwnProperty.call(out, key)) {
          problems.push({ where: lines.where(file, keyNode.offset), message: `duplicate key ${JSON.stringify(key)}` });
        }
        Object.defineProperty(out, key, { value: toValue(valueNode, problems, lines, file), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case "array":
      return (node.children ?? []).map((c) => toValue(c, problems, lines, file));
    default:
      return node.value;
  }
}

export interface ParsedJsonc {
  value: unknown;
  map: SourceMap;
  syntax: SyntaxProblem[];
}

export function parseJsonc(file: string, text: string): ParsedJsonc {
  const lines = new LineIndex(text);
  // jsonc-parser and toValue recurse once per level: refuse deep nesting before either runs.
  const deep = jsonNestingOffset(text);
  if (deep >= 0) return { value: undefined, map: { file, locate: () => lines.where(file, deep), locateInString: () => lines.where(file, deep) }, syntax: [{ where: lines.where(file, deep), message: nestingMessage() }] };
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const syntax: SyntaxProblem[] = errors.map((e) => ({
    where: lines.where(file, e.offset),
    message: `syntax error: ${MESSAGES[printParseErrorCode(e.error)] ?? printParseErrorCode(e.error)}`,
  }));
  const value = tree && syntax.length === 0 ? toValue(tree, syntax, lines, file) : undefined;
  if (!tree && syntax.length === 0) syntax.push({ where: lines.where(file, 0), message: "syntax error: the file is empty" });

  const nodeAt = (path: Path): Node | undefined => {
    if (!tree) return undefined;
    for (let n = path.length; n >= 0; n--) {
      const node = findNodeAtLocation(tree, path.slice(0, n));
      if (node) return node;
    }
    return tree;
  };
  const map: SourceMap = {
    file,
    locate(path, opts) {
      const node = nodeAt(path);
      if (!node) return lines.where(file, 0);
      const exact = tree ? findNodeAtLocation(tree, path) === node : false;
      if (opts?.key && exact && node.parent?.type === "property" && node.parent.children?.[0]) {
        return lines.where(file, node.parent.children[0].offset);
      }
      return lines.where(file, node.offset);
    },
    locateInString(path, index) {
      const node = tree ? findNodeAtLocation(tree, path) : undefined;
      if (!node || node.type !== "string") return this.locate(path);
      // Walk the raw text (escapes take more source characters than value characters).
      let offset = node.offset + 1;
      const end = node.offset + node.length - 1;
      for (let i = 0; i < index && offset < end; i++) offset += text[offset] === "\\" ? (text[offset + 1] === "u" ? 6 : 2) : 1;
      return lines.where(file, offset);
    },
  };
  return { value, map, syntax };
}
