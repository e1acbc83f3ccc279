/**
 * The one door to the YAML library (npm `yaml`, YAML 1.2). Everything else sees plain nodes with source offsets,
 * so swapping the library touches only this file.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from "yaml";
import { ConfigError } from "./errors.ts";

/** A parsed YAML node with its source offset; maps keep their key nodes for error positions. */
export type YamlNode =
  & { offset: number; value: unknown }
  & (
    | { kind: "map"; entries: { key: string; keyNode: YamlNode; value: YamlNode }[] }
    | { kind: "seq"; items: YamlNode[] }
    | { kind: "scalar" }
    | { kind: "null" }
  );

/** Parses one YAML document; syntax errors become ConfigErrors with file, line and column. */
export function parseYamlDocument(
  text: string,
  file: string,
): { root: YamlNode | null; position: (offset: number) => { line: number; col: number } } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const p = counter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const problem = doc.errors[0];
  if (problem) {
    const where = position(problem.pos[0]);
    const what = problem.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
    throw new ConfigError(`invalid YAML: ${what}`, { file, ...where });
  }
  return { root: doc.contents ? convert(doc.contents as Node) : null, position };
}

function convert(node: Node): YamlNode {
  const offset = node.range?.[0] ?? 0;
  if (isMap(node)) {
    const entries = node.items.map((pair) => {
      const keyNode = convert(pair.key as Node);
      const value: YamlNode = pair.value
        ? convert(pair.value as Node)
        : { kind: "null", offset: keyNode.offset, value: null };
      return { key: String(keyNode.value), keyNode, value };
    });
    return { kind: "map", offset, entries, value: node.toJSON() };
  }
  if (isSeq(node)) {
    return { kind: "seq", offset, items: node.items.map((n) => convert(n as Node)), value: node.toJSON() };
  }
  if (isScalar(node)) {
    return node.value === null
      ? { kind: "null", offset, value: null }
      : { kind: "scalar", offset, value: node.value };
  }
  return { kind: "scalar", offset, value: (node as { toJSON(): unknown }).toJSON() };
}

/** Plain YAML parse (no positions) for data files that are not configs. */
export function parseYaml(text: string): unknown {
  return parseDocument(text, { prettyErrors: false }).toJS();
}

/** YAML text of a value in block style. */
export function toYaml(value: unknown, options: { sortKeys?: boolean } = {}): string {
  return stringify(value, { sortMapEntries: options.sortKeys ?? false, lineWidth: 0 });
}
