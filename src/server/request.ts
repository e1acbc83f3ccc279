/**
 * Request parameters as MLflow's handlers read them: GET from the query string (repeated keys = lists), other
 * methods from a JSON body (Content-Type must be application/json; unparseable JSON counts as `{}`; a JSON string
 * holding JSON is decoded twice), `run_uuid` accepted for `run_id`, MLflow's wording for missing or mistyped fields.
 */
import type { Context } from "hono";
import { exactInt, type KeyValue, TrackingError, type ViewType } from "../tracking/mod.ts";

type Json = Record<string, unknown>;

const HELP = "See the API docs for more information about request parameters.";

function pyType(v: unknown): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "object") return "dict";
  return typeof v === "string" ? "str" : typeof v;
}

function badType(name: string, v: unknown, expected: string): TrackingError {
  return new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Invalid value ${JSON.stringify(v)} for parameter '${name}' supplied: Hint: Value was of type ` +
      `'${pyType(v)}' (expected ${expected}). ${HELP}`,
  );
}

/** The request's parameters with typed accessors. */
export class Params {
  readonly #src: Json;
  readonly #query: boolean;

  constructor(src: Json, fromQuery: boolean) {
    this.#src = src;
    this.#query = fromQuery;
  }

  /** Reads GET query parameters or the JSON body. */
  static async of(c: Context): Promise<Params> {
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      const q: Json = {};
      for (const [k, v] of Object.entries(c.req.queries())) q[k] = v.length === 1 ? v[0] : v;
      return new Params(q, true);
    }
    const type = (c.req.header("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      throw new TrackingError(
        "INVALID_PARAMETER_VALUE",
        "Bad Request. Content-Type must be one of ['application/json'].",
      );
    }
    const text = await c.req.text();
    let body: unknown = {};
    try {
      body = text.trim() ? JSON.parse(text) : {};
      if (typeof body === "string") body = JSON.parse(body);
    } catch {
      body = {};
    }
    return new Params(body && typeof body === "object" && !Array.isArray(body) ? body as Json : {}, false);
  }

  /** The raw value (first of a repeated query key). */
  raw(name: string): unknown {
    const v = this.#src[name];
    return this.#query && Array.isArray(v) ? v[0] : v;
  }

  has(name: string): boolean {
    const v = this.#src[name];
    return v !== undefined && v !== null;
  }

  /** An optional string field. */
  str(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    throw badType(name, v, "string");
  }

  /** A required string field (an empty string counts as missing, as in MLflow). */
  req(name: string): string {
    const v = this.str(name);
    if (v === undefined || v === "") throw missing(name);
    return v;
  }

  /** `run_id`, or the deprecated `run_uuid`. */
  runId(): string {
    const v = this.str("run_id") || this.str("run_uuid");
    if (!v) throw missing("run_id");
    return v;
  }

  /**
   * An optional integer (int64 fields may arrive as strings). Only values within ±(2^53 − 1) are exact as
   * JavaScript numbers; larger ones are refused rather than rounded (`exactInt`).
   */
  int(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null || v === "") return undefined;
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) throw badType(name, v, "an integer");
    return exactInt(name, v);
  }

  reqInt(name: string): number {
    const n = this.int(name);
    if (n === undefined) throw missing(name);
    return n;
  }

  /** A double: a number or "NaN"/"Infinity"/"-Infinity" (or a numeric string). */
  double(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null || v === "") return undefined;
    return parseDouble(name, v);
  }

  /** A boolean: JSON true/false, or the strings "true"/"false" in a query. */
  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "True") return true;
    if (v === "false" || v === "False") return false;
    throw badType(name, v, "a boolean (true or false)");
  }

  /** A repeated string field. */
  list(name: string): string[] {
    const v = this.#src[name];
    if (v === undefined || v === null) return [];
    const arr = Array.isArray(v) ? v : [v];
    return arr.map((x) => {
      if (typeof x === "string") return x;
      if (typeof x === "number") return String(x);
      throw badType(name, v, "a list of strings");
    });
  }

  /** A repeated object field (`tags`, `metrics`, …). */
  objects(name: string): Json[] {
    const v = this.#src[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => !x || typeof x !== "object" || Array.isArray(x))) {
      throw badType(name, v, "a list of objects");
    }
    return v as Json[];
  }

  /** A `[{key, value}]` field as key/value pairs (missing keys are errors, missing values ""). */
  keyValues(name: string): KeyValue[] {
    return this.objects(name).map((o) => {
      if (typeof o.key !== "string" || o.key === "") throw missing(`${name}.key`);
      const value = o.value === undefined || o.value === null ? "" : o.value;
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        throw badType(`${name}.value`, value, "a string");
      }
      return { key: o.key, value: String(value) };
    });
  }

  /** `[{key, value}]` as a record. */
  tags(name = "tags"): Record<string, string> {
    return Object.fromEntries(this.keyValues(name).map((t) => [t.key, t.value]));
  }
}

/** MLflow's message for an absent required field. */
export function missing(name: string): TrackingError {
  return new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Missing value for required parameter '${name}'. ${HELP}`,
  );
}

/** A double in MLflow JSON: number, "NaN", "Infinity", "-Infinity" or a numeric string. */
export function parseDouble(name: string, v: unknown): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity" || v === "inf") return Infinity;
  if (v === "-Infinity" || v === "-inf") return -Infinity;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  throw badType(name, v, "a number");
}

/** The `view_type` / `run_view_type` names of the search endpoints. */
export const VIEW_TYPES: readonly ViewType[] = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"];

/** One of the allowed enum names (case-sensitive, as proto JSON). */
export function enumOf<T extends string>(
  name: string,
  v: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (v === undefined || v === "") return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new TrackingError(
    "INVALID_PARAMETER_VALUE",
    `Invalid value '${v}' for parameter '${name}': expected one of ${allowed.join(", ")}`,
  );
}
