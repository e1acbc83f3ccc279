/**
 * Filter and order_by for experiments, registered models and model versions: a table of searchable attributes
 * per entity plus `tags.<key>`; the run-specific grammar checks live in runs.ts.
 */
import { filterError, isUnquotedWord, likeToRegExp, parseFilter, parseOrderBy } from "./filter.ts";

export interface EntityAttr<T> {
  kind: "string" | "number";
  get: (e: T) => string | number | null | undefined;
  /** Comparators allowed beyond the defaults (e.g. IN for model-version run_id). */
  extra?: string[];
  orderable?: boolean;
}

export interface EntitySchema<T> {
  what: string;
  attrs: Record<string, EntityAttr<T>>;
  tags: (e: T) => Record<string, string>;
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
    const t = c.ident.typed ? c.ident.type : "attribute";
    const isTag = t === "tag" || t === "tags";
    if (!isTag && !["attribute", "attributes", "attr"].includes(t)) {
      throw filterError(
        `Invalid entity type '${t}'. Valid values are ['tag', 'attribute']`,
        input,
        c.ident.column,
      );
    }
    const attr = isTag ? undefined : schema.attrs[c.ident.key];
    if (!isTag && !attr) {
      throw filterError(
        `Invalid attribute key '${c.ident.key}' specified. Valid keys are '${
          list(Object.keys(schema.attrs))
        }'`,
        input,
        c.ident.column,
      );
    }
    const kind = attr?.kind ?? "string";
    const allowed = [...(kind === "number" ? NUM : STR), ...(attr?.extra ?? [])];
    if (!allowed.includes(c.comparator)) {
      throw filterError(
        `Invalid comparator '${c.comparator}' not one of '${list(allowed)}'`,
        input,
        c.comparatorColumn,
      );
    }
    const get = attr ? attr.get : (e: T) => schema.tags(e)[c.ident.key];
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
        throw filterError(`Expected numeric value type for ${schema.what} attribute`, input, c.valueColumn);
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
        `Expected a quoted string value for ${isTag ? "tag" : "attribute"} (e.g. 'my-value'). Got value ${
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
    return (e: T) => {
      const x = get(e);
      if (typeof x !== "string") return false;
      return re ? re.test(x) : neq ? x !== s : x === s;
    };
  });
  return (e: T) => preds.every((p) => p(e));
}

/** Compiles order_by clauses (attributes only) followed by the given default keys. */
export function compileEntityOrder<T>(
  schema: EntitySchema<T>,
  orderBy: string[] | undefined,
  defaults: [string, boolean][],
): (a: T, b: T) => number {
  const keys = (orderBy ?? []).filter((s) => s.trim()).map((clause) => {
    const { ident, ascending } = parseOrderBy(clause);
    const attr = schema.attrs[ident.key];
    if (
      ident.typed && !["attribute", "attributes", "attr"].includes(ident.type) || !attr ||
      attr.orderable === false
    ) {
      throw filterError(
        `Invalid order by key '${ident.text}' specified for ${schema.what}`,
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
      if (va === vb) continue;
      if (va === undefined || va === null) return 1;
      if (vb === undefined || vb === null) return -1;
      return (va < vb ? -1 : 1) * (k.ascending ? 1 : -1);
    }
    return 0;
  };
}
