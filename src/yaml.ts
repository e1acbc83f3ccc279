/**
 * The one door to the YAML library (npm `yaml`, YAML 1.2). Everything else sees plain nodes with source offsets,
 * so swapping the library touches only this file. PyYAML-exact writing (no library) lives in pyyaml.ts.
 */
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type ScalarTag,
  stringify,
  type Tags,
} from "yaml";
import { ConfigError } from "./errors.ts";
import { PY_FLOAT, pyResolvesImplicitly } from "./pyyaml.ts";

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

/**
 * Reads a YAML file written by PyYAML (YAML 1.1 scalars: `yes`/`no` booleans, `0o` octals…). A flat
 * `key: scalar` mapping, which is what MLflow's meta.yaml files are, takes a fast path without the library.
 */
export function parsePyYaml(text: string): unknown {
  return parseFlatMapping(text) ??
    parseDocument(text, { prettyErrors: false, version: "1.1", customTags: pyFloatTags }).toJS();
}

/**
 * PyYAML's float and bool resolvers (a float needs a dot: `90307e28` is a string; `y`/`n` are strings) in place of
 * the generic YAML 1.1 ones.
 */
function pyFloatTags(tags: Tags): Tags {
  const FLOAT = "tag:yaml.org,2002:float";
  const pyFloat: ScalarTag = {
    tag: FLOAT,
    default: true,
    test: PY_FLOAT,
    resolve(text: string): number {
      const t = text.replaceAll("_", "");
      if (/nan$/i.test(t)) return NaN;
      if (/inf$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
      if (t.includes(":")) {
        const sign = t.startsWith("-") ? -1 : 1;
        return sign * t.replace(/^[-+]/, "").split(":").reduce((acc, part) => acc * 60 + Number(part), 0);
      }
      return Number(t);
    },
  };
  // PyYAML's bool resolver: yes/no/true/false/on/off in three casings; `y` and `n` stay strings (YAML 1.1 says bool).
  const BOOL = "tag:yaml.org,2002:bool";
  const pyBool: ScalarTag = {
    tag: BOOL,
    default: true,
    test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    resolve: (text: string) => /^(?:yes|true|on)$/i.test(text),
  };
  return [
    ...tags.filter((t) => typeof t === "string" || (t.tag !== FLOAT && t.tag !== BOOL)),
    pyFloat,
    pyBool,
  ];
}

function parseFlatMapping(text: string): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line[0] === " " || line[0] === "-" || line[0] === "#") return null;
    const colon = line.indexOf(": ");
    if (colon <= 0) {
      if (line.endsWith(":")) return null; // nested block follows
      return null;
    }
    const key = line.slice(0, colon);
    if (/['"{}\[\]#&*!|>%@`]/.test(key[0]) || key.includes(": ")) return null;
    const raw = line.slice(colon + 2);
    const v = flatScalar(raw);
    if (v === FALLBACK) return null;
    out[key] = v;
  }
  return out;
}

const FALLBACK = Symbol("fallback");

function flatScalar(raw: string): unknown {
  if (raw === "[]") return [];
  if (raw === "{}") return {};
  const q = raw[0];
  if (q === "'") {
    if (raw.length < 2 || !raw.endsWith("'")) return FALLBACK;
    const body = raw.slice(1, -1);
    if (/'(?!')/.test(body.replaceAll("''", ""))) return FALLBACK;
    return body.replaceAll("''", "'");
  }
  if (q === '"' || /[\[\]{}#&*!|>%@`]/.test(q) || raw.includes(" #") || raw.includes(": ")) return FALLBACK;
  if (raw.endsWith(" ")) return FALLBACK;
  if (raw === "null" || raw === "~" || raw === "Null" || raw === "NULL") return null;
  if (/^(?:true|True|TRUE|yes|Yes|YES|on|On|ON)$/.test(raw)) return true;
  if (/^(?:false|False|FALSE|no|No|NO|off|Off|OFF)$/.test(raw)) return false;
  if (/^[-+]?(?:0|[1-9][0-9]*)$/.test(raw)) {
    const n = Number(raw);
    return Number.isSafeInteger(n) ? n : FALLBACK;
  }
  // Floats, octals, sexagesimals and dates go to the full parser; anything PyYAML would not resolve (a hex digest
  // like 90307e28: YAML 1.1 floats need a dot) stays a string, whatever the generic 1.1 parser thinks.
  if (pyResolvesImplicitly(raw)) return FALLBACK;
  return raw;
}
