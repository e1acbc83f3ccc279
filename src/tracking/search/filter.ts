/**
 * MLflow's search filter and order_by grammar, parsed by hand with column positions: `clause (AND clause)*`,
 * identifiers `<type>.<key>` (split at the first dot; keys quoted with backticks or double quotes, or unquoted —
 * storyteller also accepts `/` in unquoted keys: `metrics.val/loss < 2.0`). Entity-specific checks live with
 * each searcher; this file only knows the syntax.
 */
import { TrackingError } from "../errors.ts";

export type Comparator =
  | "="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "LIKE"
  | "ILIKE"
  | "IN"
  | "NOT IN"
  | "IS NULL"
  | "IS NOT NULL";

export type FilterValue =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number; raw: string }
  | {
    kind: "list";
    values: string[];
  }
  | { kind: "none" };

export interface Identifier {
  /** The type as written (`metrics`, `param`…) or "attribute" when bare. */
  type: string;
  /** Whether the type prefix was written (bare `status` → false). */
  typed: boolean;
  key: string;
  /** Text of the whole identifier, as written. */
  text: string;
  column: number;
}

export interface Clause {
  ident: Identifier;
  comparator: Comparator;
  value: FilterValue;
  /** Columns of the comparator and the value (1-based). */
  comparatorColumn: number;
  valueColumn: number;
}

export interface OrderKey {
  ident: Identifier;
  ascending: boolean;
}

/** A syntax or semantic error at a column of the input, in MLflow's words. */
export function filterError(message: string, input: string, column: number): TrackingError {
  const caret = `\n  ${input}\n  ${" ".repeat(Math.max(0, column - 1))}^`;
  return new TrackingError("INVALID_PARAMETER_VALUE", `${message} (at column ${column})${caret}`, { column });
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const KEY_CHARS = /[A-Za-z0-9_./]+/y;
const NUMBER = /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/y;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  skip(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos])) this.pos++;
  }
  get col(): number {
    return this.pos + 1;
  }
  done(): boolean {
    this.skip();
    return this.pos >= this.s.length;
  }
  match(re: RegExp): string | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) return null;
    this.pos += m[0].length;
    return m[0];
  }
  /** The rest of the current "word-ish" token, for error messages. */
  peekToken(): string {
    const m = /^(?:'[^']*'|"[^"]*"|`[^`]*`|[^\s]+)/.exec(this.s.slice(this.pos));
    return m ? m[0] : "";
  }
  /** A quoted run starting at pos (quote char included in the match); null when unterminated. */
  quoted(q: string): string | null {
    const end = this.s.indexOf(q, this.pos + 1);
    if (end < 0) return null;
    const body = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return body;
  }
  keyword(word: string): boolean {
    const save = this.pos;
    this.skip();
    const w = this.match(WORD);
    if (w && w.toUpperCase() === word) return true;
    this.pos = save;
    return false;
  }
}

function parseIdentifier(sc: Scanner, input: string, context: "filter" | "order_by"): Identifier {
  sc.skip();
  const start = sc.pos;
  const column = sc.col;
  let type: string;
  const ch = sc.s[sc.pos];
  if (ch === "`" || ch === '"') {
    const body = sc.quoted(ch);
    if (body === null) {
      throw filterError(`Invalid ${context} string: unterminated quote ${ch}`, input, column);
    }
    type = body;
  } else {
    const w = sc.match(WORD);
    if (w === null) {
      const tok = sc.peekToken();
      throw filterError(
        context === "filter"
          ? `Invalid comparison clause. Expected 'Identifier' found '${tok}'`
          : `Invalid order_by clause '${input.trim()}'. Could not be parsed.`,
        input,
        column,
      );
    }
    type = w;
  }
  if (sc.s[sc.pos] !== ".") {
    return { type: "attribute", typed: false, key: type, text: input.slice(start, sc.pos), column };
  }
  sc.pos++;
  const kq = sc.s[sc.pos];
  let key: string;
  if (kq === "`" || kq === '"') {
    const body = sc.quoted(kq);
    if (body === null) {
      throw filterError(`Invalid ${context} string: unterminated quote ${kq}`, input, sc.col);
    }
    key = body;
  } else {
    const k = sc.match(KEY_CHARS);
    if (k === null) {
      throw filterError(
        `Invalid comparison clause. Expected 'Identifier' found '${input.slice(start, sc.pos)}'`,
        input,
        column,
      );
    }
    key = k;
  }
  // An identifier must end at whitespace, a comparator, a comma or the end (`metrics.a-b` is not one).
  const next = sc.s[sc.pos];
  if (next !== undefined && !/[\s=!<>(),]/.test(next)) {
    const tok = input.slice(start).split(/\s/)[0];
    throw filterError(
      context === "filter"
        ? `Invalid comparison clause. Expected 'Identifier' found '${tok}'`
        : `Invalid order_by clause '${input.trim()}'. Could not be parsed.`,
      input,
      column,
    );
  }
  return { type, typed: true, key, text: input.slice(start, sc.pos), column };
}

function parseComparator(sc: Scanner, input: string, ident: Identifier): Comparator {
  sc.skip();
  const col = sc.col;
  const sym = sc.match(/!=|<=|>=|<>|=|<|>/y);
  if (sym === "<>") throw filterError(`Invalid comparator '<>'`, input, col);
  if (sym) return sym as Comparator;
  const w = sc.match(WORD)?.toUpperCase();
  if (w === "LIKE" || w === "ILIKE" || w === "IN") return w;
  if (w === "NOT") {
    if (sc.keyword("IN")) return "NOT IN";
    throw filterError(`Invalid clause(s) in filter string: '${ident.text}', 'NOT'`, input, col);
  }
  if (w === "IS") {
    if (sc.keyword("NULL")) return "IS NULL";
    if (sc.keyword("NOT") && sc.keyword("NULL")) return "IS NOT NULL";
    throw filterError(`Invalid clause(s) in filter string: '${ident.text}', 'IS'`, input, col);
  }
  sc.pos = col - 1;
  const tok = sc.peekToken();
  throw filterError(
    tok
      ? `Invalid clause(s) in filter string: '${ident.text}', '${tok}'`
      : `Invalid comparison clause: '${ident.text}' has no comparator`,
    input,
    col,
  );
}

function parseScalar(sc: Scanner, input: string): FilterValue | null {
  sc.skip();
  const ch = sc.s[sc.pos];
  if (ch === "'" || ch === '"') {
    const col = sc.col;
    if (ch === "'") {
      // SQL string: ends at a quote not followed by another quote; '' stays as written (no unescaping).
      let i = sc.pos + 1;
      for (;;) {
        const j = sc.s.indexOf("'", i);
        if (j < 0) throw filterError("Invalid filter string: unterminated string literal", input, col);
        if (sc.s[j + 1] === "'") {
          i = j + 2;
          continue;
        }
        const v = sc.s.slice(sc.pos + 1, j);
        sc.pos = j + 1;
        return { kind: "string", value: v };
      }
    }
    const body = sc.quoted('"');
    if (body === null) throw filterError("Invalid filter string: unterminated string literal", input, col);
    return { kind: "string", value: body };
  }
  const n = sc.match(NUMBER);
  if (n !== null && !/[A-Za-z_]/.test(sc.s[sc.pos] ?? "")) {
    return { kind: "number", value: Number(n), raw: n };
  }
  return null;
}

function parseValue(sc: Scanner, input: string, comparator: Comparator): FilterValue {
  sc.skip();
  const col = sc.col;
  if (comparator === "IS NULL" || comparator === "IS NOT NULL") return { kind: "none" };
  if (comparator === "IN" || comparator === "NOT IN") {
    if (sc.s[sc.pos] !== "(") {
      throw filterError(
        `While parsing a list in the query, expected a non-empty list of string values`,
        input,
        col,
      );
    }
    sc.pos++;
    const values: string[] = [];
    for (;;) {
      const v = parseScalar(sc, input);
      if (!v || v.kind !== "string") {
        throw filterError(
          `While parsing a list in the query, expected string value, punctuation, or whitespace, but got ` +
            `'${sc.peekToken()}'`,
          input,
          sc.col,
        );
      }
      values.push(v.value);
      sc.skip();
      if (sc.s[sc.pos] === ",") {
        sc.pos++;
        continue;
      }
      if (sc.s[sc.pos] === ")") {
        sc.pos++;
        break;
      }
      throw filterError(`While parsing a list in the query, expected ',' or ')'`, input, sc.col);
    }
    return { kind: "list", values };
  }
  const v = parseScalar(sc, input);
  if (v) return v;
  const tok = sc.peekToken();
  if (tok.startsWith("(")) {
    throw filterError(`Invalid clause(s) in filter string: '${tok}'`, input, col);
  }
  // An unquoted word: let the entity checker say what it expected (MLflow's "Expected a quoted string …").
  const w = sc.match(/[^\s]+/y) ?? "";
  return { kind: "string", value: "\u0000unquoted:" + w };
}

/** True for a value written without quotes (an identifier-like word), which string comparisons reject. */
export function isUnquotedWord(v: FilterValue): string | null {
  return v.kind === "string" && v.value.startsWith("\u0000unquoted:") ? v.value.slice(10) : null;
}

/** Parses a filter string into AND-ed clauses (empty or blank → []). */
export function parseFilter(input: string | undefined): Clause[] {
  if (!input || input.trim() === "") return [];
  const sc = new Scanner(input);
  const clauses: Clause[] = [];
  for (;;) {
    sc.skip();
    if (sc.s[sc.pos] === "(") throw filterError(`Invalid clause(s) in filter string: '('`, input, sc.col);
    const ident = parseIdentifier(sc, input, "filter");
    sc.skip();
    const comparatorColumn = sc.col;
    const comparator = parseComparator(sc, input, ident);
    sc.skip();
    const valueColumn = sc.col;
    const value = parseValue(sc, input, comparator);
    clauses.push({ ident, comparator, value, comparatorColumn, valueColumn });
    if (sc.done()) return clauses;
    const col = sc.col;
    if (sc.s[sc.pos] === ";") {
      throw filterError(
        `Search filter contained multiple expression '${input}'. Provide AND-ed expression list.`,
        input,
        col,
      );
    }
    if (sc.keyword("AND")) continue;
    const tok = sc.peekToken();
    throw filterError(`Invalid clause(s) in filter string: '${tok}'`, input, col);
  }
}

/** Parses one order_by clause `<identifier> [ASC|DESC]`. */
export function parseOrderBy(input: string): OrderKey {
  const sc = new Scanner(input);
  const ident = parseIdentifier(sc, input, "order_by");
  sc.skip();
  let ascending = true;
  if (!sc.done()) {
    const col = sc.col;
    const w = sc.match(WORD)?.toUpperCase();
    if (w === "ASC") ascending = true;
    else if (w === "DESC") ascending = false;
    else {
      throw filterError(
        `Invalid ordering key in order_by clause '${input}'. Expected ASC or DESC`,
        input,
        col,
      );
    }
    if (!sc.done()) {
      throw filterError(`Invalid order_by clause '${input}'. Could not be parsed.`, input, sc.col);
    }
  }
  return { ident, ascending };
}

/** SQL LIKE pattern → anchored RegExp (`%` any run, `_` one char; everything else literal). */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let re = "";
  for (const ch of pattern) {
    if (ch === "%") re += "[\\s\\S]*";
    else if (ch === "_") re += "[\\s\\S]";
    else re += ch.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, caseInsensitive ? "is" : "s");
}
