/**
 * Filter and order_by for experiments, registered models, model versions and logged models: a table of searchable
 * attributes per entity plus `tags.<key>` (and `params.<key>`, `metrics.<key>` where the entity has them); the
 * run-specific grammar checks live in runs.ts.
 */
import { filterError, isUnquotedWord, likeToRegExp, parseFilter, parseOrderBy } from "./filter.ts";
import { listNotString } from "./runs.ts";

export interface EntityAttr<T> {
  kind: "string" | "number";
  get: (e: T) => string | number | null | undefined;
  /** Comparators allowed beyond the defaults (e.g. IN for model-version run_id). */
  extra?: string[];
  orderable?: boolean;
}

/** Which metric points a `metrics.<key>` term or order key looks at (MLflow's dataset-scoped model metrics). */
export interface MetricScope {
  datasetName?: string;
  datasetDigest?: string;
}

export interface EntitySchema<T> {
  what: string;
  attrs: Record<string, EntityAttr<T>>;
  tags: (e: T) => Record<string, string>;
  /** `params.<key>` values, for entities that have params; without it `params.` terms are refused. */
  params?: (e: T) => Record<string, string>;
  /** The value `metrics.<key>` compares and sorts by (null: none); without it `metrics.` terms are refused. */
  metric?: (e: T, key: string, scope?: MetricScope) => number | null;
  /**
   * Whether an entity WITHOUT tag `key` passes `tags.<key> <comparator> '<value>'` (default: never, `!=` included —
   * MLflow's rule for runs, experiments and logged models).
   */
  missingTag?: (key: string, comparator: string, value: string) => boolean;
}

/** MLflow's prompt marker on registered models and versions (`mlflow.prompt.is_prompt`). */
export const IS_PROMPT_TAG = "mlflow.prompt.is_prompt";

/**
 * MLflow's one exception to "a missing tag never matches" (registered models and model versions): without the
 * prompt marker an entity is not a prompt, so `tags.\`mlflow.prompt.is_prompt\` != 'true'` (which every MLflow 3
 * client adds to its registered-model searches) and `= 'false'` match it.
 */
export function promptMarkerMissing(key: string, comparator: string, value: string): boolean {
  return key === IS_PROMPT_TAG &&
    ((comparator === "=" && value === "false") || (comparator === "!=" && value === "true"));
}

/** An order_by entry given as fields (MLflow 3's `{field_name, ascending, dataset_name, dataset_digest}`). */
export interface EntityOrder extends MetricScope {
  fieldName: string;
  ascending?: boolean;
}

type TermKind = "attribute" | "tag" | "param" | "metric";

/** The kind of a typed identifier (`tags.x`, `param.x`…), or null when the schema has no such kind. */
function termKind<T>(schema: EntitySchema<T>, type: string): TermKind | null {
  if (["attribute", "attributes", "attr"].includes(type)) return "attribute";
  if (type === "tag" || type === "tags") return "tag";
  if (schema.params && ["param", "params", "parameter", "parameters"].includes(type)) return "param";
  if (schema.metric && (type === "metric" || type === "metrics")) return "metric";
  return null;
}

function validKinds<T>(schema: EntitySchema<T>): string {
  return list([
    ...(schema.metric ? ["metric"] : []),
    ...(schema.params ? ["parameter"] : []),
    "tag",
    "attribute",
  ]);
}

const NUM = ["=", "!=", "<", "<=", ">", ">="];
const STR = ["=", "!=", "LIKE", "ILIKE"];

function list(a: string[]): string {
  return JSON.stringify(a).replaceAll('"', "'");
}

/** Compiles a filter over one entity kind. */
export function compileEntityFilter<T>(
  schema: EntitySchema<T>,
  filter: string | undefined,
): (e: T) => boolean {
  const preds = parseFilter(filter).map((c) => {
    const input = filter!;
    const t = termKind(schema, c.ident.typed ? c.ident.type : "attribute");
    if (t === null) {
      throw filterError(
        `Invalid entity type '${c.ident.type}'. Valid values are ${validKinds(schema)}`,
        input,
        c.ident.column,
      );
    }
    const attr = t === "attribute" ? schema.attrs[c.ident.key] : undefined;
    if (t === "attribute" && !attr) {
      throw filterError(
        `Invalid attribute key '${c.ident.key}' specified. Valid keys are '${
          list(Object.keys(schema.attrs))
        }'`,
        input,
        c.ident.column,
      );
    }
    const key = c.ident.key;
    const kind = t === "metric" ? "number" : attr?.kind ?? "string";
    const get: (e: T) => string | number | null | undefined = attr
      ? attr.get
      : t === "metric"
      ? (e) => schema.metric!(e, key)
      : t === "param"
      ? (e) => schema.params!(e)[key]
      : (e) => schema.tags(e)[key];
    if (c.value.kind === "list" && (t === "tag" || t === "param")) {
      listNotString(c, t === "tag" ? "tag" : "parameter", input);
    }
    const allowed = [...(kind === "number" ? NUM : STR), ...(attr?.extra ?? [])];
    if (!allowed.includes(c.comparator)) {
      throw filterError(
        `Invalid comparator '${c.comparator}' not one of '${list(allowed)}'`,
        input,
        c.comparatorColumn,
      );
    }
    if (c.value.kind === "list") {
      const set = new Set(c.value.values);
      const neg = c.comparator === "NOT IN";
      return (e: T) => {
        const v = get(e);
        return v !== undefined && v !== null && set.has(String(v)) !== neg;
      };
    }
    if (kind === "number") {
      if (c.value.kind !== "number") {
        const what = t === "metric" ? "metric" : `${schema.what} attribute`;
        throw filterError(
          `Expected numeric value type for ${what}. Found ${
            c.value.kind === "string" ? `'${c.value.value}'` : isUnquotedWord(c.value) ?? c.value.kind
          }`,
          input,
          c.valueColumn,
        );
      }
      const v = c.value.value, cmp = c.comparator;
      return (e: T) => {
        const x = get(e);
        if (typeof x !== "number") return false;
        return cmp === "="
          ? x === v
          : cmp === "!="
          ? x !== v
          : cmp === "<"
          ? x < v
          : cmp === "<="
          ? x <= v
          : cmp === ">"
          ? x > v
          : x >= v;
      };
    }
    const unquoted = isUnquotedWord(c.value);
    if (c.value.kind !== "string" || unquoted !== null) {
      throw filterError(
        `Expected a quoted string value for ${t} (e.g. 'my-value'). Got value ${
          c.value.kind === "number" ? c.value.raw : unquoted
        }`,
        input,
        c.valueColumn,
      );
    }
    const s = c.value.value;
    const re = c.comparator === "LIKE" || c.comparator === "ILIKE"
      ? likeToRegExp(s, c.comparator === "ILIKE")
      : null;
    const neq = c.comparator === "!=";
    const missing = t === "tag" && schema.missingTag ? schema.missingTag(key, c.comparator, s) : false;
    return (e: T) => {
      const x = get(e);
      if (x === undefined && t === "tag") return missing;
      if (typeof x !== "string") return false;
      return re ? re.test(x) : neq ? x !== s : x === s;
    };
  });
  return (e: T) => preds.every((p) => p(e));
}

/**
 * Compiles order_by entries — `"name DESC"` strings or `{fieldName, ascending}` fields — followed by the given
 * default keys. Attributes, plus `metrics.<key>` where the schema has metrics (missing values sort last).
 */
export function compileEntityOrder<T>(
  schema: EntitySchema<T>,
  orderBy: (string | EntityOrder)[] | undefined,
  defaults: [string, boolean][],
): (a: T, b: T) => number {
  const keys = (orderBy ?? []).filter((o) => typeof o !== "string" || o.trim()).map((o) => {
    const clause = typeof o === "string" ? o : o.fieldName;
    const parsed = parseOrderBy(clause);
    const { ident } = parsed;
    const ascending = typeof o === "string" ? parsed.ascending : o.ascending !== false;
    const kind = ident.typed ? termKind(schema, ident.type) : "attribute";
    if (kind === "metric") {
      const scope = typeof o === "string"
        ? {}
        : { datasetName: o.datasetName, datasetDigest: o.datasetDigest };
      if (scope.datasetDigest && !scope.datasetName) {
        throw filterError(
          "Invalid order by: dataset_digest can only be given together with dataset_name",
          clause,
          ident.column,
        );
      }
      return { get: (e: T) => schema.metric!(e, ident.key, scope), ascending };
    }
    const attr = schema.attrs[ident.key];
    if (kind !== "attribute" || !attr || attr.orderable === false) {
      throw filterError(
        `Invalid order by key '${ident.text}' specified for ${schema.what}${
          schema.metric ? " (attributes or metrics.<key>)" : ""
        }`,
        clause,
        ident.column,
      );
    }
    return { get: attr.get, ascending };
  });
  for (const [k, asc] of defaults) keys.push({ get: schema.attrs[k].get, ascending: asc });
  return (a, b) => {
    for (const k of keys) {
      const va = k.get(a), vb = k.get(b);
      if (va === vb || (Number.isNaN(va) && Number.isNaN(vb))) continue;
      if (va === undefined || va === null) return 1;
      if (vb === undefined || vb === null) return -1;
      if (Number.isNaN(va)) return 1;
      if (Number.isNaN(vb)) return -1;
      return (va < vb ? -1 : 1) * (k.ascending ? 1 : -1);
    }
    return 0;
  };
}
