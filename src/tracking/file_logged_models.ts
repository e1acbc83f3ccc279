/**
 * MLflow 3 logged models in an experiment directory: `<exp>/models/m-<hex>/{meta.yaml, params/, tags/, metrics/,
 * artifacts/}` with MLflow's exact meta.yaml keys (spec §1.7), plus their search. Registering them is the
 * registry's business; resolving `models:/m-…` to files is artifacts.ts's.
 */
import { join } from "node:path";
import { toPyYaml } from "../pyyaml.ts";
import { invalid, notFound, TrackingError } from "./errors.ts";
import { appendText, exists, listDirs, listFilesRecursive, readTextOrNull, writeAtomic } from "./_fs.ts";
import {
  formatMetricLine,
  malformedMetricLine,
  parseMetricInt,
  parsePyFloat,
  parseYamlObject,
} from "./meta.ts";
import {
  compileEntityFilter,
  compileEntityOrder,
  type EntitySchema,
  type MetricScope,
} from "./search/entities.ts";
import { parseFilter } from "./search/filter.ts";
import { paginate } from "./search/paging.ts";
import type {
  CreateLoggedModelOptions,
  Experiment,
  LoggedModel,
  LoggedModelsPage,
  LoggedModelStatus,
  Metric,
  SearchLoggedModelsOptions,
} from "./types.ts";
import { appendToUri } from "./uri.ts";
import { randomRunName } from "./file_runs.ts";
import { normalizeParamValue, validateKey, validateMetric } from "./validation.ts";

/** The experiment sub-directory holding logged models. */
export const MODELS_DIR = "models";
/** The logged-model tag listing the registry versions made from it (JSON list of `{name, version}`). */
export const MODEL_VERSIONS_TAG = "mlflow.modelVersions";

const STATUS_INT: Record<LoggedModelStatus, number> = {
  LOGGED_MODEL_PENDING: 1,
  LOGGED_MODEL_READY: 2,
  LOGGED_MODEL_UPLOAD_FAILED: 3,
};
const STATUS_OF_INT: Record<number, LoggedModelStatus> = {
  1: "LOGGED_MODEL_PENDING",
  2: "LOGGED_MODEL_READY",
  3: "LOGGED_MODEL_UPLOAD_FAILED",
};
const MODEL_ID = /^[A-Za-z0-9][\w-]{0,255}$/;

/** A status by proto name (`LOGGED_MODEL_READY`), short name (`READY`) or int (2). */
export function parseLoggedModelStatus(v: unknown): LoggedModelStatus {
  if (typeof v === "number" && STATUS_OF_INT[v]) return STATUS_OF_INT[v];
  if (typeof v === "string") {
    if (/^\d+$/.test(v) && STATUS_OF_INT[Number(v)]) return STATUS_OF_INT[Number(v)];
    const name = v.toUpperCase().startsWith("LOGGED_MODEL_")
      ? v.toUpperCase()
      : `LOGGED_MODEL_${v.toUpperCase()}`;
    if (name in STATUS_INT) return name as LoggedModelStatus;
  }
  throw invalid(
    `Invalid logged model status: '${v}'`,
    "use LOGGED_MODEL_PENDING, LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED",
  );
}

export function validateModelId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !MODEL_ID.test(id)) throw invalid(`Invalid logged model ID: '${id}'`);
}

/** `m-` + 32 hex digits, as MLflow makes them. */
export function newModelId(): string {
  return `m-${crypto.randomUUID().replaceAll("-", "")}`;
}

function modelNotFound(id: string): TrackingError {
  return notFound(`Logged model with ID '${id}' not found`);
}

function readValues(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of listFilesRecursive(dir)) out[key] = Deno.readTextFileSync(join(dir, key));
  return out;
}

/**
 * Model metric lines: `<ts> <value> <step> <run_id>[ <dataset_name> <dataset_digest>]`. Only complete lines count
 * (a tail without its newline is a write in progress); a malformed complete line is an INTERNAL_ERROR.
 */
function readModelMetrics(dir: string): LoggedModel["metrics"] {
  const out: LoggedModel["metrics"] = [];
  for (const key of listFilesRecursive(dir)) {
    const text = Deno.readTextFileSync(join(dir, key));
    const lines = text.slice(0, text.lastIndexOf("\n") + 1).split("\n");
    lines.forEach((line, i) => {
      if (line === "") return;
      const f = line.split(" ");
      const bad = () =>
        malformedMetricLine(key, join(dir, key), i + 1, "<timestamp> <value> <step> <run_id>");
      const timestamp = parseMetricInt(f[0]), step = parseMetricInt(f[2] ?? "");
      if ((f.length !== 4 && f.length !== 6) || Number.isNaN(timestamp) || Number.isNaN(step)) throw bad();
      let value: number;
      try {
        value = parsePyFloat(f[1]);
      } catch {
        throw bad();
      }
      const m: Metric & { runId?: string } = { key, value, timestamp, step, runId: f[3] };
      if (f.length === 6) [m.datasetName, m.datasetDigest] = [f[4], f[5]];
      out.push(m);
    });
  }
  return out;
}

/** Reads `<exp>/models/<id>/` (null when its meta.yaml is missing). */
export function readLoggedModel(dir: string): LoggedModel | null {
  const where = join(dir, "meta.yaml");
  const text = readTextOrNull(where);
  if (text === null) return null;
  const m = parseYamlObject(text, where);
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    modelId: String(m.model_id),
    experimentId: String(m.experiment_id),
    name: String(m.name ?? ""),
    artifactLocation: String(m.artifact_location ?? ""),
    creationTimestamp: Number(m.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(m.last_updated_timestamp ?? m.creation_timestamp ?? 0),
    status: STATUS_OF_INT[Number(m.status)] ?? "LOGGED_MODEL_PENDING",
    statusMessage: str(m.status_message),
    modelType: str(m.model_type),
    sourceRunId: str(m.source_run_id),
    lifecycleStage: m.lifecycle_stage === "deleted" ? "deleted" : "active",
    tags: readValues(join(dir, "tags")),
    params: readValues(join(dir, "params")),
    metrics: readModelMetrics(join(dir, "metrics")),
  };
}

/** meta.yaml as MLflow writes it; `lifecycle_stage` only on create and delete (spec §1.7). */
function writeMeta(dir: string, m: LoggedModel, withLifecycle: boolean): void {
  const meta: Record<string, unknown> = {
    artifact_location: m.artifactLocation,
    creation_timestamp: m.creationTimestamp,
    experiment_id: m.experimentId,
    last_updated_timestamp: m.lastUpdatedTimestamp,
    model_id: m.modelId,
    model_type: m.modelType,
    name: m.name,
    source_run_id: m.sourceRunId,
    status: STATUS_INT[m.status],
    status_message: m.statusMessage,
  };
  if (withLifecycle) meta.lifecycle_stage = m.lifecycleStage;
  writeAtomic(join(dir, "meta.yaml"), toPyYaml(meta), dir);
}

/** The directory of a logged model: `<expDir>/models/<id>` in any experiment (active or trashed), or null. */
export function findModelDir(experimentDirs: Iterable<string>, modelId: string): string | null {
  validateModelId(modelId);
  for (const expDir of experimentDirs) {
    const dir = join(expDir, MODELS_DIR, modelId);
    if (exists(join(dir, "meta.yaml"))) return dir;
  }
  return null;
}

/** The logged model in `dir`, refusing deleted ones unless `allowDeleted`. */
export function getLoggedModelAt(dir: string | null, modelId: string, allowDeleted = false): LoggedModel {
  const m = dir ? readLoggedModel(dir) : null;
  if (!m || (m.lifecycleStage === "deleted" && !allowDeleted)) throw modelNotFound(modelId);
  return m;
}

function writeTags(dir: string, tags: Record<string, string>): void {
  for (const k of Object.keys(tags)) validateKey("tag", k);
  for (const [k, v] of Object.entries(tags)) {
    const value = k === MODEL_VERSIONS_TAG ? dedupeModelVersions(String(v)) : String(v);
    writeAtomic(join(dir, "tags", k), value, dir);
  }
}

/**
 * MLflow's server and client both append to `mlflow.modelVersions` (once with an int version, once with a string:
 * spec §10); we keep one entry per (name, version).
 */
export function dedupeModelVersions(value: string): string {
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    return value;
  }
  if (!Array.isArray(list)) return value;
  const seen = new Set<string>();
  const out = list.filter((e) => {
    const key = e && typeof e === "object" ? `${e.name}\u0000${e.version}` : JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).map((e) =>
    e && typeof e === "object" && typeof e.version === "number" ? { ...e, version: String(e.version) } : e
  );
  return out.length === list.length && out.every((e, i) => e === list[i]) ? value : JSON.stringify(out);
}

function writeParams(dir: string, params: Record<string, string>): void {
  const values = Object.entries(params).map(([k, v]) => {
    validateKey("param", k);
    return [k, normalizeParamValue(k, v)] as const;
  });
  for (const [k, v] of values) writeAtomic(join(dir, "params", k), v, dir);
}

/** Creates `<expDir>/models/m-<hex>/` in PENDING state with its params and tags. */
export function createLoggedModel(
  expDir: string,
  exp: Experiment,
  opts: CreateLoggedModelOptions = {},
): LoggedModel {
  if (exp.lifecycleStage !== "active") {
    throw invalid(`Cannot create a logged model: experiment ${exp.experimentId} is ${exp.lifecycleStage}`);
  }
  if (opts.name !== undefined && (opts.name.includes("/") || opts.name.length > 500)) {
    throw invalid(
      `Invalid logged model name '${opts.name}': it must not contain '/' and be at most 500 characters`,
    );
  }
  for (const k of Object.keys(opts.tags ?? {})) validateKey("tag", k);
  for (const k of Object.keys(opts.params ?? {})) validateKey("param", k);
  const modelId = newModelId();
  const now = Date.now();
  const model: LoggedModel = {
    modelId,
    experimentId: exp.experimentId,
    name: opts.name || randomRunName(),
    artifactLocation: appendToUri(exp.artifactLocation, MODELS_DIR, modelId, "artifacts"),
    creationTimestamp: now,
    lastUpdatedTimestamp: now,
    status: "LOGGED_MODEL_PENDING",
    statusMessage: null,
    modelType: opts.modelType || null,
    sourceRunId: opts.sourceRunId || null,
    lifecycleStage: "active",
    tags: {},
    params: {},
    metrics: [],
  };
  const dir = join(expDir, MODELS_DIR, modelId);
  for (const sub of ["metrics", "params", "tags"]) Deno.mkdirSync(join(dir, sub), { recursive: true });
  writeMeta(dir, model, true);
  writeParams(dir, opts.params ?? {});
  writeTags(dir, opts.tags ?? {});
  return readLoggedModel(dir)!;
}

/** Sets the status (and bumps last_updated_timestamp). */
export function finalizeLoggedModel(dir: string, modelId: string, status: LoggedModelStatus): LoggedModel {
  const m = getLoggedModelAt(dir, modelId);
  const next = { ...m, status, lastUpdatedTimestamp: Date.now() };
  writeMeta(dir, next, false);
  return readLoggedModel(dir)!;
}

/** Marks the model deleted (its files stay, as in MLflow's FileStore). */
export function deleteLoggedModel(dir: string, modelId: string): void {
  const m = getLoggedModelAt(dir, modelId);
  writeMeta(dir, { ...m, lifecycleStage: "deleted", lastUpdatedTimestamp: Date.now() }, true);
}

export function setLoggedModelTags(dir: string, modelId: string, tags: Record<string, string>): void {
  getLoggedModelAt(dir, modelId);
  writeTags(dir, tags);
}

export function deleteLoggedModelTag(dir: string, modelId: string, key: string): void {
  getLoggedModelAt(dir, modelId);
  validateKey("tag", key);
  try {
    Deno.removeSync(join(dir, "tags", key));
  } catch {
    throw notFound(`No tag with key '${key}' found for model with ID '${modelId}'`);
  }
}

export function logLoggedModelParams(dir: string, modelId: string, params: Record<string, string>): void {
  getLoggedModelAt(dir, modelId);
  writeParams(dir, params);
}

/** Appends metric points logged with a `model_id` to the model's metric files (with the run id). */
export function appendModelMetrics(dir: string, runId: string, metrics: Metric[]): void {
  const byKey = new Map<string, string>();
  for (const m of metrics) {
    validateMetric(m); // the key names a file; the step and timestamp must stay exact
    const line = formatMetricLine({ ...m, datasetName: undefined }).trimEnd() + ` ${runId}` +
      (m.datasetName !== undefined ? ` ${m.datasetName} ${m.datasetDigest ?? ""}` : "") + "\n";
    byKey.set(m.key, (byKey.get(m.key) ?? "") + line);
  }
  for (const [key, lines] of byKey) appendText(join(dir, "metrics", key), lines);
}

/** Every readable logged model of an experiment directory (deleted ones included). */
export function listLoggedModels(expDir: string): LoggedModel[] {
  const out: LoggedModel[] = [];
  for (const id of listDirs(join(expDir, MODELS_DIR))) {
    try {
      const m = readLoggedModel(join(expDir, MODELS_DIR, id));
      if (m && m.modelId === id) out.push(m);
    } catch (err) {
      if (!(err instanceof TrackingError)) throw err;
    }
  }
  return out;
}

/** Whether a model metric point was logged on the dataset (any digest when the scope names none). */
function onDataset(m: Metric, d: MetricScope): boolean {
  return m.datasetName === d.datasetName &&
    (d.datasetDigest === undefined || m.datasetDigest === d.datasetDigest);
}

/**
 * The value `metrics.<key>` means for a model: its latest point (by timestamp, then step). An order key passes a
 * scope (its dataset, or none: any point); a filter term passes none and counts only points on `datasets` when
 * some are given, as MLflow does. Null when there is no such point.
 */
function latestMetric(
  m: LoggedModel,
  key: string,
  scope: MetricScope | undefined,
  datasets: MetricScope[],
): number | null {
  let best: Metric | null = null;
  for (const p of m.metrics) {
    if (p.key !== key) continue;
    if (
      scope !== undefined
        ? scope.datasetName !== undefined && !onDataset(p, scope)
        : datasets.length > 0 && !datasets.some((d) => onDataset(p, d))
    ) {
      continue;
    }
    if (!best || p.timestamp > best.timestamp || (p.timestamp === best.timestamp && p.step > best.step)) {
      best = p;
    }
  }
  return best ? best.value : null;
}

/** Logged models' searchable fields; `metrics.<key>` looks only at metrics on `datasets` when some are given. */
function loggedModelSchema(datasets: MetricScope[]): EntitySchema<LoggedModel> {
  return {
    what: "logged models",
    attrs: {
      name: { kind: "string", get: (m) => m.name },
      model_id: { kind: "string", get: (m) => m.modelId },
      model_type: { kind: "string", get: (m) => m.modelType },
      status: { kind: "string", get: (m) => m.status },
      source_run_id: { kind: "string", get: (m) => m.sourceRunId },
      experiment_id: { kind: "string", get: (m) => m.experimentId },
      creation_timestamp: { kind: "number", get: (m) => m.creationTimestamp },
      creation_time: { kind: "number", get: (m) => m.creationTimestamp },
      last_updated_timestamp: { kind: "number", get: (m) => m.lastUpdatedTimestamp },
      last_updated_time: { kind: "number", get: (m) => m.lastUpdatedTimestamp },
    },
    tags: (m) => m.tags,
    params: (m) => m.params,
    metric: (m, key, scope) => latestMetric(m, key, scope, datasets),
  };
}

/**
 * Searches active logged models of the given experiment directories as MLflow 3 does: attribute, `tags.`,
 * `params.` (strings) and `metrics.` (numbers) filter terms; `datasets` narrows metric terms to points logged on
 * those datasets (and, with no metric term, keeps only models with some metric on them); order_by as
 * `{fieldName, ascending, datasetName?, datasetDigest?}` or strings, attributes or `metrics.<key>`; default newest
 * first (creation_timestamp DESC, model_id ASC), 50 a page.
 */
export function searchLoggedModels(
  expDirs: string[],
  opts: Omit<SearchLoggedModelsOptions, "experimentIds">,
): LoggedModelsPage {
  const datasets = (opts.datasets ?? []).map((d, i) => {
    if (!d.datasetName) {
      throw invalid(
        `Cannot search logged models: datasets[${i}] has no dataset_name`,
        "give each dataset filter a dataset_name (and optionally a dataset_digest)",
      );
    }
    return { datasetName: d.datasetName, datasetDigest: d.datasetDigest || undefined };
  });
  const schema = loggedModelSchema(datasets);
  const pred = compileEntityFilter(schema, opts.filterString);
  const hasMetricTerm = parseFilter(opts.filterString).some((c) =>
    c.ident.typed && /^metrics?$/.test(c.ident.type)
  );
  const onDatasets = (m: LoggedModel) =>
    hasMetricTerm || !datasets.length || m.metrics.some((p) => datasets.some((d) => onDataset(p, d)));
  const order = compileEntityOrder(schema, opts.orderBy, [["creation_timestamp", false], ["model_id", true]]);
  const all = expDirs.flatMap(listLoggedModels).filter((m) => m.lifecycleStage === "active")
    .filter((m) => onDatasets(m) && pred(m)).sort(order);
  const page = paginate(all, opts.maxResults ?? 50, opts.pageToken, 50000);
  return { models: page.items, nextPageToken: page.nextPageToken };
}
