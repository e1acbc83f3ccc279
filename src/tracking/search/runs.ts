/**
 * search_runs semantics over in-memory runs: MLflow's per-entity checks on parsed clauses, the predicate,
 * multi-key ordering (missing values last, NaN after numbers) and offset page tokens. `dataset.*` clauses look at
 * `run.inputs.datasetInputs`, which search results carry (in a file store, from the run index: run_index.ts).
 */
import type { DatasetInput, Run, RunsPage } from "../types.ts";
import {
  type Clause,
  filterError,
  type Identifier,
  isUnquotedWord,
  likeToRegExp,
  parseFilter,
  parseOrderBy,
} from "./filter.ts";
import { paginate } from "./paging.ts";

type EntityType = "metric" | "param" | "tag" | "attribute" | "dataset";

const TYPE_ALIASES: Record<string, EntityType> = {
  metric: "metric",
  metrics: "metric",
  parameter: "param",
  parameters: "param",
  param: "param",
  params: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
  dataset: "dataset",
  datasets: "dataset",
};

const STRING_ATTRS = ["run_id", "run_name", "user_id", "status", "artifact_uri"];
const NUMERIC_ATTRS = ["start_time", "end_time"];
const ATTR_ALIASES: Record<string, string> = {
  "run name": "run_name",
  "Run name": "run_name",
  "Run Name": "run_name",
  created: "start_time",
  Created: "start_time",
};
const NUMERIC_CMP = ["=", "!=", "<", "<=", ">", ">="];
const STRING_CMP = ["=", "!=", "LIKE", "ILIKE"];
const DATASET_KEYS = ["name", "digest", "context"];
const DATASET_CMP = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
/** The input tag that names a dataset's role in the run (`training`, `validation`): `dataset.context`. */
const CONTEXT_TAG = "mlflow.data.context";

/** `['a', 'b']`, the way the messages list valid values. */
const listed = (values: string[]) => JSON.stringify(values).replaceAll('"', "'");

export function entityType(ident: Identifier, input: string): EntityType {
  const t = TYPE_ALIASES[ident.type];
  if (!t) {
    throw filterError(
      `Invalid entity type '${ident.type}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']`,
      input,
      ident.column,
    );
  }
  return t;
}

function attributeKey(ident: Identifier, input: string, forOrder: boolean): string {
  const key = ATTR_ALIASES[ident.key] ?? ident.key;
  if (STRING_ATTRS.includes(key) || NUMERIC_ATTRS.includes(key)) return key;
  const valid = [...STRING_ATTRS, ...NUMERIC_ATTRS, ...(forOrder ? ["created"] : [])];
  throw filterError(
    `Invalid attribute key '${ident.key}' specified. Valid keys are '${listed(valid)}'`,
    input,
    ident.column,
  );
}

function datasetKey(ident: Identifier, input: string): string {
  if (DATASET_KEYS.includes(ident.key)) return ident.key;
  throw filterError(
    `Invalid dataset key '${ident.key}' specified. Valid keys are '${listed(DATASET_KEYS)}'`,
    input,
    ident.column,
  );
}

/**
 * The values of an IN / NOT IN list that MLflow keeps: those Python's `str.islower()` accepts (a cased letter
 * and no uppercase one). It drops the rest silently (run ids are lowercase hex; a MySQL IN ignores case).
 */
function listValues(values: string[]): Set<string> {
  return new Set(values.filter((v) => v === v.toLowerCase() && v !== v.toUpperCase()));
}

type Getter = (run: Run) => string | number | null | undefined;

function attrGetter(key: string): Getter {
  switch (key) {
    case "run_id":
      return (r) => r.info.runId;
    case "run_name":
      return (r) => r.info.runName;
    case "user_id":
      return (r) => r.info.userId;
    case "status":
      return (r) => r.info.status;
    case "artifact_uri":
      return (r) => r.info.artifactUri;
    case "start_time":
      return (r) => r.info.startTime;
    default:
      return (r) => r.info.endTime;
  }
}

function badComparator(c: Clause, allowed: string[], input: string): never {
  throw filterError(
    `Invalid comparator '${c.comparator}' not one of '${listed(allowed)}'`,
    input,
    c.comparatorColumn,
  );
}

function numericValue(c: Clause, what: string, input: string): number {
  if (c.value.kind !== "number") {
    const shown = c.value.kind === "string" ? (isUnquotedWord(c.value) ?? c.value.value) : "list";
    throw filterError(`Expected numeric value type for ${what}. Found '${shown}'`, input, c.valueColumn);
  }
  return c.value.value;
}

function stringValue(c: Clause, what: string, input: string): string {
  const unquoted = isUnquotedWord(c.value);
  if (c.value.kind !== "string" || unquoted !== null) {
    const got = c.value.kind === "number" ? c.value.raw : unquoted ?? "list";
    throw filterError(
      `Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${got}`,
      input,
      c.valueColumn,
    );
  }
  return c.value.value;
}

/** MLflow's error for a list given to a param or tag: "… Got value ('a', 'b')", the list as written. */
export function listNotString(c: Clause, what: string, input: string): never {
  const raw = /^\((?:'[^']*'|"[^"]*"|[^)'"])*\)/.exec(input.slice(c.valueColumn - 1))?.[0] ?? "list";
  throw filterError(
    `Expected a quoted string value for ${what} (e.g. 'my-value'). Got value ${raw}`,
    input,
    c.valueColumn,
  );
}

function numberTest(cmp: string, v: number): (x: number) => boolean {
  switch (cmp) {
    case "=":
      return (x) => x === v;
    case "!=":
      return (x) => x !== v;
    case "<":
      return (x) => x < v;
    case "<=":
      return (x) => x <= v;
    case ">":
      return (x) => x > v;
    default:
      return (x) => x >= v;
  }
}

function stringTest(cmp: string, v: string): (x: string) => boolean {
  if (cmp === "=") return (x) => x === v;
  if (cmp === "!=") return (x) => x !== v;
  const re = likeToRegExp(v, cmp === "ILIKE");
  return (x) => re.test(x);
}

/** Compiles one clause into a predicate, applying MLflow's checks (type, comparator, value kind). */
function compileClause(c: Clause, input: string): (run: Run) => boolean {
  const type = entityType(c.ident, input);
  const key = c.ident.key;
  if (type === "metric") {
    if (!NUMERIC_CMP.includes(c.comparator)) badComparator(c, NUMERIC_CMP, input);
    const test = numberTest(c.comparator, numericValue(c, "metric", input));
    return (r) => {
      const m = r.data.metrics[key];
      return m !== undefined && test(m.value);
    };
  }
  if (type === "param" || type === "tag") {
    const what = type === "param" ? "parameter" : "tag";
    const pick = type === "param" ? (r: Run) => r.data.params[key] : (r: Run) => r.data.tags[key];
    if (c.comparator === "IS NULL") return (r) => pick(r) === undefined;
    if (c.comparator === "IS NOT NULL") return (r) => pick(r) !== undefined;
    // MLflow checks the value before the comparator: `params.x IN ('a')` fails on the list, not on IN.
    if (c.value.kind === "list") listNotString(c, what, input);
    if (!STRING_CMP.includes(c.comparator)) badComparator(c, STRING_CMP, input);
    const test = stringTest(c.comparator, stringValue(c, what, input));
    return (r) => {
      const v = pick(r);
      return v !== undefined && test(v);
    };
  }
  if (type === "dataset") return compileDatasetClause(c, input);
  const attr = attributeKey(c.ident, input, false);
  const get = attrGetter(attr);
  if (NUMERIC_ATTRS.includes(attr)) {
    if (!NUMERIC_CMP.includes(c.comparator)) badComparator(c, NUMERIC_CMP, input);
    const test = numberTest(c.comparator, numericValue(c, "attribute", input));
    return (r) => {
      const v = get(r);
      return typeof v === "number" && test(v);
    };
  }
  if (c.comparator === "IN" || c.comparator === "NOT IN") {
    if (attr !== "run_id") badComparator(c, STRING_CMP, input);
    if (c.value.kind !== "list") throw filterError("Expected a list of quoted strings", input, c.valueColumn);
    const ids = listValues(c.value.values);
    const neg = c.comparator === "NOT IN";
    return (r) => ids.has(r.info.runId) !== neg;
  }
  if (!STRING_CMP.includes(c.comparator)) badComparator(c, [...STRING_CMP, "IN", "NOT IN"], input);
  const test = stringTest(c.comparator, stringValue(c, "attribute", input));
  return (r) => {
    const v = get(r);
    return typeof v === "string" && test(v);
  };
}

/**
 * `dataset.name|digest|context`: true when ANY dataset input of the run passes (context: the input's
 * `mlflow.data.context` tag; inputs without one never pass), so a run without dataset inputs never matches, `!=`
 * and `NOT IN` included. Checked in MLflow's order: the key, the value, then the comparator.
 */
function compileDatasetClause(c: Clause, input: string): (run: Run) => boolean {
  const key = datasetKey(c.ident, input);
  const unquoted = isUnquotedWord(c.value);
  if (unquoted !== null) {
    throw filterError(
      `Parameter value is either not quoted or unidentified quote types used for string value ${unquoted}. ` +
        `Use either single or double quotes.`,
      input,
      c.valueColumn,
    );
  }
  if (c.value.kind === "number") {
    throw filterError(
      `Expected a quoted string value for dataset attributes. Got value ${c.value.raw}`,
      input,
      c.valueColumn,
    );
  }
  if (!DATASET_CMP.includes(c.comparator)) badComparator(c, DATASET_CMP, input);
  const v = c.value, neg = c.comparator === "NOT IN";
  const set = v.kind === "list" ? listValues(v.values) : null;
  const test = set
    ? (x: string) => set.has(x) !== neg
    : stringTest(c.comparator, v.kind === "string" ? v.value : "");
  const pick: (d: DatasetInput) => string | undefined = key === "context"
    ? (d) => d.tags[CONTEXT_TAG]
    : key === "name"
    ? (d) => d.dataset.name
    : (d) => d.dataset.digest;
  return (r) => {
    for (const d of r.inputs?.datasetInputs ?? []) {
      const v = pick(d);
      if (v !== undefined && test(v)) return true;
    }
    return false;
  };
}

/** A predicate for a filter string (throws INVALID_PARAMETER_VALUE with a column on any problem). */
export function compileRunFilter(filter: string | undefined): (run: Run) => boolean {
  const preds = parseFilter(filter).map((c) => compileClause(c, filter!));
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0];
  return (r) => preds.every((p) => p(r));
}

interface SortKey {
  get: Getter;
  ascending: boolean;
}

function orderKey(clause: string): SortKey {
  const { ident, ascending } = parseOrderBy(clause);
  const type = entityType(ident, clause);
  const key = ident.key;
  if (type === "metric") return { get: (r) => r.data.metrics[key]?.value, ascending };
  if (type === "param") return { get: (r) => r.data.params[key], ascending };
  if (type === "tag") return { get: (r) => r.data.tags[key], ascending };
  if (type === "dataset") {
    datasetKey(ident, clause);
    throw filterError(`Invalid order_by entity type 'dataset'`, clause, ident.column);
  }
  return { get: attrGetter(attributeKey(ident, clause, true)), ascending };
}

/** Rank of a value class: real numbers/strings 0, NaN 1, missing 2 (missing last in both directions). */
function cls(v: unknown): number {
  if (v === undefined || v === null) return 2;
  if (typeof v === "number" && Number.isNaN(v)) return 1;
  return 0;
}

/** A comparator for MLflow order_by clauses with the default tie-break (start_time DESC, run_id ASC). */
export function compileRunOrder(orderBy: string[] | undefined): (a: Run, b: Run) => number {
  const keys = (orderBy ?? []).filter((s) => s.trim() !== "").map(orderKey);
  keys.push({ get: (r) => r.info.startTime, ascending: false }, {
    get: (r) => r.info.runId,
    ascending: true,
  });
  return (a, b) => {
    for (const k of keys) {
      const va = k.get(a), vb = k.get(b);
      const ca = cls(va), cb = cls(vb);
      if (ca !== cb) return ca - cb;
      if (ca !== 0) continue;
      if (va === vb) continue;
      const lt = (va as number | string) < (vb as number | string);
      return (lt ? -1 : 1) * (k.ascending ? 1 : -1);
    }
    return 0;
  };
}

/** The runs a filter keeps, in order_by order (view type already applied by the caller). */
export function matchRuns(
  runs: Iterable<Run>,
  options: { filterString?: string; orderBy?: string[] },
): Run[] {
  const pred = compileRunFilter(options.filterString);
  const order = compileRunOrder(options.orderBy);
  const matched: Run[] = [];
  for (const r of runs) if (pred(r)) matched.push(r);
  return matched.sort(order);
}

/** Filters, orders and pages runs (view type already applied by the caller). */
export function searchRunList(
  runs: Iterable<Run>,
  options: { filterString?: string; orderBy?: string[]; maxResults?: number; pageToken?: string },
): RunsPage {
  const matched = matchRuns(runs, options);
  const { items, nextPageToken } = paginate(matched, options.maxResults ?? 1000, options.pageToken, 50000);
  return { runs: items, nextPageToken };
}
