/**
 * Runs as the browser holds them: MLflow REST JSON → entities, table columns (attributes, params, metrics,
 * tags), sorting, and filtering with the very predicate the server's `runs search` uses — so the filter box
 * answers on every keystroke and reports errors at the same column as the CLI.
 */
import type { Metric, Run, RunStatus } from "../../src/tracking/types.ts";
import { compileRunFilter } from "../../src/tracking/search/runs.ts";

export type { Metric, Run };

// deno-lint-ignore no-explicit-any
type Json = any;

const num = (v: unknown): number =>
  v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : Number(v);

/**
 * A run from MLflow REST JSON (`runs/search`, `runs/get`), with its inputs when the JSON has them (a search gives
 * dataset inputs, which the filter box's `dataset.*` terms look at).
 */
export function runFromJson(j: Json): Run {
  const metrics: Record<string, Metric> = {};
  for (const m of j.data?.metrics ?? []) {
    metrics[m.key] = {
      key: m.key,
      value: num(m.value),
      timestamp: Number(m.timestamp ?? 0),
      step: Number(m.step ?? 0),
    };
  }
  const kv = (l: Json[] | undefined) =>
    Object.fromEntries((l ?? []).map((t: Json) => [t.key, t.value ?? ""]));
  const i = j.info ?? {};
  return {
    info: {
      runId: i.run_id ?? i.run_uuid,
      experimentId: String(i.experiment_id),
      runName: i.run_name ?? "",
      userId: i.user_id ?? "",
      status: (i.status ?? "RUNNING") as RunStatus,
      startTime: Number(i.start_time ?? 0),
      endTime: i.end_time === undefined || i.end_time === null ? null : Number(i.end_time),
      artifactUri: i.artifact_uri ?? "",
      lifecycleStage: i.lifecycle_stage === "deleted" ? "deleted" : "active",
    },
    data: { metrics, params: kv(j.data?.params), tags: kv(j.data?.tags) },
    ...(j.inputs ? { inputs: runInputsFromJson(j.inputs) } : {}),
  };
}

/** A table column id: `attr:<name>`, `param:<key>`, `metric:<key>` or `tag:<key>`. */
export type ColumnId = string;

export const ATTR_COLUMNS: Record<string, string> = {
  name: "Name",
  status: "Status",
  start: "Started",
  duration: "Duration",
  user: "User",
  id: "Run ID",
  experiment: "Experiment",
};

/** Splits a column id at its first colon. */
export function splitColumn(id: ColumnId): { kind: string; key: string } {
  const c = id.indexOf(":");
  return { kind: id.slice(0, c), key: id.slice(c + 1) };
}

/** Header text of a column. */
export function columnLabel(id: ColumnId): string {
  const { kind, key } = splitColumn(id);
  return kind === "attr" ? ATTR_COLUMNS[key] ?? key : key;
}

/** Duration in ms (running runs: until `now`). */
export function runDuration(r: Run, now = Date.now()): number | undefined {
  if (!r.info.startTime) return undefined;
  return (r.info.endTime ?? (r.info.status === "RUNNING" ? now : r.info.startTime)) - r.info.startTime;
}

/** The raw value of a column for a run (number or string; undefined when missing). */
export function columnValue(r: Run, id: ColumnId, now?: number): number | string | undefined {
  const { kind, key } = splitColumn(id);
  if (kind === "param") return r.data.params[key];
  if (kind === "metric") return r.data.metrics[key]?.value;
  if (kind === "tag") return r.data.tags[key];
  switch (key) {
    case "name":
      return r.info.runName;
    case "status":
      return r.info.status;
    case "start":
      return r.info.startTime;
    case "duration":
      return runDuration(r, now);
    case "user":
      return r.info.userId;
    case "id":
      return r.info.runId;
    case "experiment":
      return r.info.experimentId;
  }
  return undefined;
}

/** A numeric view of a value (params are strings that often hold numbers); NaN when not a number. */
export function numericValue(v: number | string | undefined): number {
  if (typeof v === "number") return v;
  if (v === undefined || v.trim() === "") return NaN;
  return Number(v);
}

/**
 * Sorts runs by a column: numbers numerically (numeric-looking params too), strings by locale, missing values
 * last in both directions; ties by start time (newest first) then run id, like MLflow.
 */
export function sortRuns(runs: Run[], column: ColumnId, descending: boolean): Run[] {
  const now = Date.now();
  const keyed = runs.map((r) => {
    const v = columnValue(r, column, now);
    const n = numericValue(v);
    return { r, v, n };
  });
  const numeric = keyed.every((k) => k.v === undefined || !Number.isNaN(k.n) || k.v === "NaN");
  const dir = descending ? -1 : 1;
  keyed.sort((a, b) => {
    const ma = a.v === undefined, mb = b.v === undefined;
    if (ma !== mb) return ma ? 1 : -1;
    if (!ma) {
      let c: number;
      if (numeric) {
        const na = Number.isNaN(a.n), nb = Number.isNaN(b.n);
        c = na !== nb ? (na ? 1 : -1) * dir : na ? 0 : a.n - b.n;
      } else c = String(a.v).localeCompare(String(b.v), undefined, { numeric: true });
      if (c !== 0) return c * dir;
    }
    return b.r.info.startTime - a.r.info.startTime || (a.r.info.runId < b.r.info.runId ? -1 : 1);
  });
  return keyed.map((k) => k.r);
}

/** A filter problem positioned in the input (1-based column). */
export interface FilterProblem {
  message: string;
  column: number;
}

/** The runs matching an MLflow filter, or the problem with the filter (nothing filtered then). */
export function filterRuns(runs: Run[], filter: string): { runs: Run[]; problem?: FilterProblem } {
  if (filter.trim() === "") return { runs };
  let pred: (r: Run) => boolean;
  try {
    pred = compileRunFilter(filter);
  } catch (err) {
    return { runs, problem: filterProblem(err, filter) };
  }
  return { runs: runs.filter(pred) };
}

/** Message (without the caret drawing) and column of a filter error. */
export function filterProblem(err: unknown, filter: string): FilterProblem {
  const e = err as { message?: string; column?: number };
  const message = plainWords(String(e.message ?? err).split("\n")[0].replace(/ \(at column \d+\)$/, ""));
  const column = Math.min(Math.max(1, e.column ?? 1), filter.length + 1);
  return { message, column };
}

/** A message's Python-style lists (`['a', 'b', 'c']`) as words: `a, b or c`. */
export function plainWords(message: string): string {
  return message.replace(/\[((?:'[^']*'(?:, )?)+)\]/g, (_, list: string) => {
    const items = [...list.matchAll(/'([^']*)'/g)].map((m) => m[1]);
    return items.length < 2
      ? items.join("")
      : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
  }).replace(/Valid values are/g, "Use one of:")
    .replace(/Expected 'Identifier' found/g, "Expected a key such as metrics.loss or params.lr, found");
}

/** Every param, metric and tag key across the runs (for the column chooser), sorted. */
export function availableColumns(runs: Run[]): { params: string[]; metrics: string[]; tags: string[] } {
  const p = new Set<string>(), m = new Set<string>(), t = new Set<string>();
  for (const r of runs) {
    for (const k in r.data.params) p.add(k);
    for (const k in r.data.metrics) m.add(k);
    for (const k in r.data.tags) if (!k.startsWith("mlflow.")) t.add(k);
  }
  const s = (x: Set<string>) => [...x].sort();
  return { params: s(p), metrics: s(m), tags: s(t) };
}

/**
 * Params whose value is not the same in every run (a missing value counts as a value; runs without any params,
 * just started, are left out), sorted: the params a table should show by default, since they tell runs apart.
 */
export function differingParams(all: Run[]): string[] {
  const runs = all.filter((r) => Object.keys(r.data.params).length > 0);
  const first = new Map<string, string | undefined>();
  const differ = new Set<string>();
  runs.forEach((r, i) => {
    for (const k in r.data.params) {
      if (differ.has(k)) continue;
      if (!first.has(k)) first.set(k, i === 0 ? r.data.params[k] : undefined);
      if (first.get(k) !== r.data.params[k]) differ.add(k);
    }
    if (i > 0) { for (const k of first.keys()) if (!differ.has(k) && !(k in r.data.params)) differ.add(k); }
  });
  return [...differ].sort();
}

/** Merges updated runs into a list by run id (updated ones replace in place, new ones go first). */
export function mergeRuns(runs: Run[], updates: Run[], removed: string[] = []): Run[] {
  if (updates.length === 0 && removed.length === 0) return runs;
  const byId = new Map(updates.map((r) => [r.info.runId, r]));
  const gone = new Set(removed);
  const known = new Set(runs.map((r) => r.info.runId));
  const out: Run[] = [];
  for (const r of byId.values()) if (!known.has(r.info.runId)) out.push(r);
  for (const r of runs) {
    if (gone.has(r.info.runId)) continue;
    out.push(byId.get(r.info.runId) ?? r);
  }
  return out;
}

/**
 * What a chart of `keys` over `runs` shows as of the runs' latest points: it changes when any of those metrics
 * logged more, and not when another metric or a tag did, so a live update re-fetches only the charts it touches.
 */
export function metricVersion(runs: Run[], keys: string[]): string {
  const parts: string[] = [];
  for (const r of runs) {
    for (const k of keys) {
      const m = r.data.metrics[k];
      parts.push(m ? `${m.timestamp}:${m.step}:${m.value}` : "-");
    }
  }
  return parts.join(",");
}

/** A run's dataset and model inputs. */
export type RunInputs = NonNullable<Run["inputs"]>;

/** A run's inputs from MLflow REST JSON (`run.inputs`; a search's runs carry dataset inputs, not model inputs). */
export function runInputsFromJson(j: Json): RunInputs {
  const kv = (l: Json[] | undefined) =>
    Object.fromEntries((l ?? []).map((t: Json) => [t.key, t.value ?? ""]));
  return {
    datasetInputs: (j?.dataset_inputs ?? []).map((d: Json) => ({
      dataset: {
        name: d.dataset?.name ?? "",
        digest: d.dataset?.digest ?? "",
        sourceType: d.dataset?.source_type ?? "",
        source: d.dataset?.source ?? "",
        ...(d.dataset?.schema ? { schema: d.dataset.schema } : {}),
        ...(d.dataset?.profile ? { profile: d.dataset.profile } : {}),
      },
      tags: kv(d.tags),
    })),
    modelInputs: (j?.model_inputs ?? []).map((m: Json) => ({ modelId: m.model_id })),
  };
}

/** One row of the run page's Datasets section. */
export interface DatasetRow {
  /** The input tag `mlflow.data.context` (`training`, `validation`), or "" when the input has none. */
  context: string;
  name: string;
  digest: string;
  /** The profile's document and token counts (storyteller's `num_documents`/`num_tokens`, MLflow's `num_rows`). */
  documents?: number;
  tokens?: number;
  /** Where the text came from, shortened: a file path, `builtin:stories (N stories, seed S)`, `N sources`. */
  source: string;
}

/** The dataset inputs as the run page lists them: training first, then validation, then any other context. */
export function datasetRows(inputs: RunInputs | undefined): DatasetRow[] {
  const order = (c: string) => c === "training" ? 0 : c === "validation" ? 1 : 2;
  return (inputs?.datasetInputs ?? []).map(({ dataset: d, tags }) => {
    const profile = parseObject(d.profile);
    const count = (v: unknown) => typeof v === "number" && Number.isFinite(v) ? v : undefined;
    return {
      context: tags["mlflow.data.context"] ?? "",
      name: d.name,
      digest: d.digest,
      documents: count(profile.num_documents) ?? count(profile.num_rows),
      tokens: count(profile.num_tokens),
      source: describeSource(d.sourceType, parseObject(d.source)),
    };
  }).sort((a, b) => order(a.context) - order(b.context) || a.name.localeCompare(b.name));
}

function parseObject(text: string | undefined): Record<string, Json> {
  try {
    const v = text ? JSON.parse(text) : {};
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** A source in a few words (docs/tracking.md lists the formats the trainer writes). */
function describeSource(type: string, s: Record<string, Json>): string {
  const path = (uri: string) => uri.startsWith("file://") ? decodeURIComponent(new URL(uri).pathname) : uri;
  if (typeof s.uri === "string") return path(s.uri);
  const tags = s.tags ?? {};
  if (type === "code" && tags["storyteller.stories"]) {
    return `builtin:stories (${tags["storyteller.stories"]} stories, seed ${tags["storyteller.seed"]})`;
  }
  if (Array.isArray(s.uris)) {
    const n = s.uris.length + (Number(s.more) || 0);
    return `${n} sources: ${s.uris.slice(0, 2).map(path).join(", ")}${n > 2 ? ", …" : ""}`;
  }
  return type;
}
