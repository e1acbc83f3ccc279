/**
 * MLflow's key, value, id and batch rules (`mlflow/utils/validation.py`), raising INVALID_PARAMETER_VALUE.
 * Not the place for storage concerns: the store calls these before it touches the disk.
 */
import { invalid, TrackingError } from "./errors.ts";
import type { KeyValue, LogBatch, Metric } from "./types.ts";

export const MAX_ENTITY_KEY_LENGTH = 250;
export const MAX_PARAM_VAL_LENGTH = 6000;
export const MAX_TAG_VAL_LENGTH = 8000;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
export const MAX_METRICS_PER_BATCH = 1000;
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
export const MAX_ENTITIES_PER_BATCH = 1000;
export const MAX_REGISTRY_TAG_VALUE_LENGTH = 100000;
export const MAX_ALIAS_LENGTH = 255;

const KEY_CHARS = /^[\/\p{L}\p{N}_.\- :]*$/u;
const RUN_ID = /^[a-zA-Z0-9][\w\-]{0,255}$/;
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w\-]{0,63}$/;
const ALIAS = /^[\p{L}\p{N}_\-]*$/u;
// deno-lint-ignore no-control-regex -- control characters (NUL above all) never belong in a file name
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * The int64 fields (timestamps, steps) the store keeps exactly: JSON numbers are doubles, so beyond ±(2^53 − 1)
 * a value would be silently rounded (2^63 stored as 9223372036854776000); such values are refused instead.
 */
export const MAX_EXACT_INT = Number.MAX_SAFE_INTEGER;

/** posixpath.normpath for relative keys (enough to compare with the key itself). */
function normPosix(path: string): string {
  if (path === "") return ".";
  const abs = path.startsWith("/");
  const parts: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (!(seg === ".." && abs)) parts.push(seg);
  }
  const body = parts.join("/");
  return abs ? "/" + body : body || ".";
}

/** Validates a metric, param or tag key (`kind` names it in the message: "metric", "param", "tag"). */
export function validateKey(kind: string, key: unknown): asserts key is string {
  if (typeof key !== "string") {
    throw invalid(`Cannot use ${kind} key ${JSON.stringify(key)}: a key must be a string`);
  }
  if (!KEY_CHARS.test(key)) {
    throw invalid(
      `Invalid value '${key}' for ${kind} name: Names may only contain alphanumerics, underscores (_), ` +
        `dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  if (normPosix(key) !== key || key === "." || key.startsWith("..") || key.startsWith("/")) {
    throw invalid(
      `Invalid value '${key}' for ${kind} name: Names may be treated as files in certain cases, and must not ` +
        `resolve to other names when treated as such. This name would resolve to '${normPosix(key)}'`,
    );
  }
  if (key.length > MAX_ENTITY_KEY_LENGTH) {
    throw invalid(
      `'${capitalize(kind)} key' exceeds the maximum length of ${MAX_ENTITY_KEY_LENGTH} characters`,
    );
  }
}

function capitalize(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function truncateLongValues(): boolean {
  try {
    return (Deno.env.get("MLFLOW_TRUNCATE_LONG_VALUES") ?? "true").toLowerCase() !== "false";
  } catch {
    return true;
  }
}

/** A param value as MLflow stores it: stringified, truncated to 6000 characters unless truncation is off. */
export function normalizeParamValue(key: string, value: unknown): string {
  const s = value === null || value === undefined ? "" : String(value);
  if (s.length <= MAX_PARAM_VAL_LENGTH) return s;
  if (truncateLongValues()) return s.slice(0, MAX_PARAM_VAL_LENGTH);
  throw invalid(
    `'Param value' exceeds the maximum length of ${MAX_PARAM_VAL_LENGTH} characters (param '${key}' has ` +
      `${s.length})`,
    "set MLFLOW_TRUNCATE_LONG_VALUES=true to truncate long values",
  );
}

/** Validates a metric point: numeric (not bool) value, non-negative integer timestamp, integer step. */
export function validateMetric(m: Metric): void {
  validateKey("metric", m.key);
  if (typeof m.value !== "number") {
    throw invalid(
      `Got invalid value ${JSON.stringify(m.value)} for metric '${m.key}' (timestamp=${m.timestamp}). ` +
        `Please specify value as a valid double (64-bit floating point)`,
    );
  }
  if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
    throw invalid(
      `Got invalid timestamp ${m.timestamp} for metric '${m.key}' (value=${m.value}). ` +
        `Timestamp must be a nonnegative long (64-bit integer)${beyondExact(m.timestamp)}`,
    );
  }
  if (!Number.isSafeInteger(m.step)) {
    throw invalid(
      `Got invalid step ${m.step} for metric '${m.key}' (value=${m.value}). Step must be a valid long ` +
        `(64-bit integer)${beyondExact(m.step)}.`,
    );
  }
}

/** The reason an integer that MLflow's int64 would hold is refused here (empty for other values). */
function beyondExact(v: unknown): string {
  return typeof v === "number" && Number.isInteger(v)
    ? ` within ±${MAX_EXACT_INT} (2^53 - 1), the range this store keeps exactly`
    : "";
}

/**
 * An int64 request field (timestamp, step, time, limit) as an exact number: a safe integer, or a decimal string of
 * one. Throws INVALID_PARAMETER_VALUE for anything else, naming `name`, so no value is ever stored rounded.
 */
export function exactInt(name: string, v: unknown): number {
  const n = typeof v === "string" && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n === "number" && Number.isSafeInteger(n)) return n;
  if (typeof n === "number" && Number.isInteger(n)) {
    throw invalid(
      `Invalid value ${JSON.stringify(v)} for parameter '${name}': integers are kept exactly only within ` +
        `±${MAX_EXACT_INT} (2^53 - 1)`,
      "JSON numbers are doubles; larger int64 values would be stored rounded, so they are refused",
    );
  }
  throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${name}': expected an integer`);
}

/** Validates batch sizes and duplicate param keys (before anything is written). */
export function validateBatchLimits(batch: LogBatch): void {
  const nm = batch.metrics?.length ?? 0, np = batch.params?.length ?? 0, nt = batch.tags?.length ?? 0;
  const over = (what: string, n: number, max: number) =>
    invalid(
      `A batch logging request can contain at most ${max} ${what}. Got ${n} ${what}. Please split up ${what} ` +
        `across multiple requests and try again.`,
    );
  if (nm > MAX_METRICS_PER_BATCH) throw over("metrics", nm, MAX_METRICS_PER_BATCH);
  if (np > MAX_PARAMS_TAGS_PER_BATCH) throw over("params", np, MAX_PARAMS_TAGS_PER_BATCH);
  if (nt > MAX_PARAMS_TAGS_PER_BATCH) throw over("tags", nt, MAX_PARAMS_TAGS_PER_BATCH);
  if (nm + np + nt > MAX_ENTITIES_PER_BATCH) {
    throw over("metrics, params, and tags in total", nm + np + nt, MAX_ENTITIES_PER_BATCH);
  }
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const p of batch.params ?? []) (seen.has(p.key) ? dups : seen).add(p.key);
  if (dups.size) {
    throw invalid(
      `Duplicate parameter keys have been submitted: [${[...dups].map((k) => `'${k}'`).join(", ")}]. ` +
        `Please ensure the request contains only one param value per param key.`,
    );
  }
}

/** Tag value length as log_batch applies it: truncated to 8000 characters. */
export function normalizeBatchTag(tag: KeyValue): KeyValue {
  return tag.value.length > MAX_TAG_VAL_LENGTH
    ? { key: tag.key, value: tag.value.slice(0, MAX_TAG_VAL_LENGTH) }
    : tag;
}

/**
 * Validates a name that becomes one file or directory name (a checkpoint folder named after a run, …): not empty,
 * not `.` or `..`, at most 255 bytes (UTF-8), and no `/`, `\\` or control characters, so joining it to a directory
 * can never name a place outside that directory. `what` names it in the message ("run name").
 *
 * @example
 * ```ts
 * validatePathSegment("run name", "brave-owl-7"); // ok
 * validatePathSegment("run name", "../etc"); // throws INVALID_PARAMETER_VALUE
 * ```
 */
export function validatePathSegment(what: string, name: unknown): asserts name is string {
  const why = typeof name !== "string"
    ? "it must be a string"
    : name === "" || name === "." || name === ".."
    ? "it must not be empty, '.' or '..'"
    : /[\/\\]/.test(name) || CONTROL.test(name)
    ? "it must not contain '/', '\\' or control characters"
    : new TextEncoder().encode(name).length > 255
    ? "it must be at most 255 bytes long (UTF-8)"
    : "";
  if (why) {
    throw invalid(
      `Cannot use ${JSON.stringify(name)} as a ${what}: ${why} (it becomes a file name)`,
      `choose a ${what} made of letters, digits, '-', '_' and '.'`,
    );
  }
}

/** Validates a run id (MLflow's shape: a letter or digit, then up to 255 of `[A-Za-z0-9_-]`; no dots or slashes). */
export function validateRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== "string" || !RUN_ID.test(runId)) {
    throw invalid(`Invalid run ID: '${runId}'`);
  }
}

/** Validates an experiment id (a letter or digit, then up to 63 of `[A-Za-z0-9_-]`; no dots or slashes). */
export function validateExperimentId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !EXPERIMENT_ID.test(id)) {
    throw invalid(`Invalid experiment ID: '${id}'`);
  }
}

export function validateExperimentName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.trim() === "") {
    throw invalid(`Invalid experiment name: '${name}'`, "give the experiment a non-empty name");
  }
  if (name.length > MAX_EXPERIMENT_NAME_LENGTH) {
    throw invalid(`'name' exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`);
  }
}

export function validateModelName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.trim() === "") {
    throw invalid("Registered model name cannot be empty.");
  }
  if (name.includes("/") || name.includes("\\")) {
    throw invalid(`Registered model name cannot contain path separator: '${name}'`);
  }
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > 255) {
    // The name is a directory of the registry: longer ones are not file names (ENAMETOOLONG).
    throw invalid(`Registered model name is ${bytes} bytes long: at most 255 (UTF-8) fit a directory name`);
  }
  if (name.includes("%") || name.includes(":") || name === "." || name === ".." || CONTROL.test(name)) {
    throw invalid(
      `Invalid registered model name: ${JSON.stringify(name)} (no '%', ':', control characters, '.' or '..')`,
    );
  }
}

export function validateAlias(alias: unknown): asserts alias is string {
  if (typeof alias !== "string" || !ALIAS.test(alias) || alias === "") {
    throw invalid(
      `Invalid alias name: '${alias}'. Alias names may only contain alphanumerics, underscores (_) and dashes (-).`,
    );
  }
  if (alias.length > MAX_ALIAS_LENGTH) {
    throw invalid(`'alias' exceeds the maximum length of ${MAX_ALIAS_LENGTH} characters`);
  }
  if (alias.toLowerCase() === "latest") throw invalid("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalid(`Version alias name '${alias}' is reserved.`);
}

/** Throws when a run is not active (logging to a deleted run). */
export function requireActive(runId: string, lifecycleStage: string): void {
  if (lifecycleStage !== "active") {
    throw new TrackingError(
      "INVALID_PARAMETER_VALUE",
      `The run ${runId} must be in the 'active' state. Current state is ${lifecycleStage}.`,
    );
  }
}
