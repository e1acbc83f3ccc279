/**
 * The browser's client for the tracking server: standard MLflow REST calls (`/api/2.0/mlflow/…`) and the
 * UI-only extras (`/api/storyteller/…`). Errors surface as ApiError carrying the server's MLflow message.
 */
import { type Run, runFromJson, runInputsFromJson } from "./runs.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A failed call: the MLflow error code and message, or the HTTP status when the body was not MLflow JSON. */
export class ApiError extends Error {
  constructor(message: string, readonly code: string, readonly status: number) {
    super(message);
    this.name = "ApiError";
  }
}

const BASE = "/api/2.0/mlflow/";

async function call(
  method: string,
  path: string,
  body?: Json,
  query?: Record<string, string>,
): Promise<Json> {
  const url = new URL(path.startsWith("/") ? path : BASE + path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let j: Json = {};
  try {
    j = text ? JSON.parse(text) : {};
  } catch { /* not JSON: fall through with the status */ }
  if (!res.ok) {
    throw new ApiError(
      j.message ?? `${method} ${url.pathname} failed: HTTP ${res.status}`,
      j.error_code ?? "",
      res.status,
    );
  }
  return j;
}

export interface ExperimentInfo {
  id: string;
  name: string;
  lifecycleStage: string;
  tags: Record<string, string>;
}

const kv = (l: Json[] | undefined): Record<string, string> =>
  Object.fromEntries((l ?? []).map((t: Json) => [t.key, t.value ?? ""]));

export async function searchExperiments(viewType: "ACTIVE_ONLY" | "ALL" = "ALL"): Promise<ExperimentInfo[]> {
  const out: ExperimentInfo[] = [];
  let token: string | undefined;
  do {
    const j = await call("POST", "experiments/search", {
      max_results: 1000,
      view_type: viewType,
      page_token: token,
    });
    for (const e of j.experiments ?? []) {
      out.push({ id: e.experiment_id, name: e.name, lifecycleStage: e.lifecycle_stage, tags: kv(e.tags) });
    }
    token = j.next_page_token;
  } while (token);
  return out;
}

export const createExperiment = async (name: string): Promise<string> =>
  (await call("POST", "experiments/create", { name })).experiment_id;
export const renameExperiment = (id: string, name: string) =>
  call("POST", "experiments/update", { experiment_id: id, new_name: name });
export const deleteExperiment = (id: string) => call("POST", "experiments/delete", { experiment_id: id });
export const restoreExperiment = (id: string) => call("POST", "experiments/restore", { experiment_id: id });

/** One page of runs (default order: newest first). */
export async function searchRuns(
  experimentIds: string[],
  options: { viewType?: string; pageToken?: string; maxResults?: number; filter?: string } = {},
): Promise<{ runs: Run[]; next?: string }> {
  const j = await call("POST", "runs/search", {
    experiment_ids: experimentIds,
    run_view_type: options.viewType ?? "ACTIVE_ONLY",
    max_results: options.maxResults ?? 1000,
    page_token: options.pageToken,
    filter: options.filter,
  });
  return { runs: (j.runs ?? []).map(runFromJson), next: j.next_page_token };
}

/** One run with its inputs (datasets, models), which searches leave out. */
export async function getRun(id: string): Promise<Run> {
  const j = (await call("GET", "runs/get", undefined, { run_id: id })).run;
  return { ...runFromJson(j), inputs: runInputsFromJson(j?.inputs) };
}
/**
 * Runs `f` over `items` with at most `limit` calls in flight (a browser refuses thousands of parallel fetches
 * with ERR_INSUFFICIENT_RESOURCES); results keep the items' order.
 */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  f: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Run ids per bulk search (`attributes.run_id IN (…)`), and bulk searches in flight. */
const BULK = 200, BULK_PARALLEL = 4;

/**
 * Many runs by id, in the ids' order: bulk `runs/search` calls (`attributes.run_id IN (…)`, 200 ids each, four
 * in flight) over the given experiments (default: all of them, deleted included), then `runs/get` for any id the
 * searches missed. Ids that do not exist are left out; `onProgress` hears how many runs have arrived.
 */
export async function getRuns(
  ids: readonly string[],
  experimentIds?: string[],
  onProgress?: (loaded: number) => void,
): Promise<Run[]> {
  const exps = experimentIds?.length ? experimentIds : (await searchExperiments("ALL")).map((e) => e.id);
  const byId = new Map<string, Run>();
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += BULK) chunks.push(ids.slice(i, i + BULK) as string[]);
  const quote = (s: string) => `'${s.replaceAll("'", "'")}'`;
  await pool(chunks, BULK_PARALLEL, async (chunk) => {
    const { runs } = await searchRuns(exps, {
      viewType: "ALL",
      maxResults: chunk.length,
      filter: `attributes.run_id IN (${chunk.map(quote).join(", ")})`,
    });
    for (const r of runs) byId.set(r.info.runId, r);
    onProgress?.(byId.size);
  });
  const missing = ids.filter((id) => !byId.has(id));
  await pool(missing, 6, async (id) => {
    try {
      byId.set(id, await getRun(id));
    } catch (err) {
      if ((err as ApiError).status !== 404) throw err;
    }
  });
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Every run of some experiments matching a filter, page by page (`onProgress` hears the count so far). */
export async function searchAllRuns(
  experimentIds: string[],
  filter: string,
  viewType = "ACTIVE_ONLY",
  onProgress?: (loaded: number) => void,
): Promise<Run[]> {
  const out: Run[] = [];
  let token: string | undefined;
  do {
    const page = await searchRuns(experimentIds, { viewType, filter, pageToken: token, maxResults: 5000 });
    out.push(...page.runs);
    token = page.next;
    onProgress?.(out.length);
  } while (token);
  return out;
}

export const setTag = (runId: string, key: string, value: string) =>
  call("POST", "runs/set-tag", { run_id: runId, key, value });
export const deleteTag = (runId: string, key: string) =>
  call("POST", "runs/delete-tag", { run_id: runId, key });
export const deleteRun = (id: string) => call("POST", "runs/delete", { run_id: id });
export const restoreRun = (id: string) => call("POST", "runs/restore", { run_id: id });

export interface ArtifactEntry {
  path: string;
  isDir: boolean;
  size?: number;
}

export async function listArtifacts(runId: string, path = ""): Promise<ArtifactEntry[]> {
  const q: Record<string, string> = { run_id: runId };
  if (path) q.path = path;
  const j = await call("GET", "artifacts/list", undefined, q);
  return (j.files ?? []).map((f: Json) => ({ path: f.path, isDir: !!f.is_dir, size: f.file_size }));
}

/** URL of an artifact file (for links, images and previews). */
export function artifactUrl(
  runId: string,
  path: string,
  opts: { download?: boolean; preview?: boolean } = {},
): string {
  const q = new URLSearchParams({ run_id: runId, path });
  if (opts.download) q.set("download", "1");
  if (opts.preview) q.set("preview", "1");
  return `/api/storyteller/artifact?${q}`;
}

export interface SeriesData {
  runId: string;
  key: string;
  x: number[];
  y: (number | null)[];
  total: number;
  inRange: number;
  xMin: number | null;
  xMax: number | null;
}

/** Downsampled histories of one metric for several runs (x window optional). */
export async function metricSeries(
  runIds: string[],
  key: string,
  axis: "step" | "time",
  points: number,
  range?: { min: number; max: number },
): Promise<SeriesData[]> {
  const q = new URLSearchParams({ key, x: axis, points: String(Math.round(points)) });
  for (const id of runIds) q.append("run_id", id);
  if (range) {
    q.set("min", String(range.min));
    q.set("max", String(range.max));
  }
  const j = await call("GET", `/api/storyteller/metric-series?${q}`);
  return (j.series ?? []).map((s: Json) => ({
    runId: s.run_id,
    key: s.key,
    x: s.x,
    y: s.y,
    total: s.total,
    inRange: s.in_range,
    xMin: s.x_min,
    xMax: s.x_max,
  }));
}

/** Runs changed since a version (since = -1: just the current version). */
export async function changes(
  experimentIds: string[],
  since: number,
): Promise<{ epoch: string; version: number; runs: Run[]; removed: string[] }> {
  const q = new URLSearchParams({ experiment_ids: experimentIds.join(","), since: String(since) });
  const j = await call("GET", `/api/storyteller/changes?${q}`);
  return {
    epoch: j.epoch,
    version: j.version,
    runs: (j.runs ?? []).map(runFromJson),
    removed: j.removed ?? [],
  };
}

// ---- model registry ---------------------------------------------------------------------------------------

export interface ModelVersionInfo {
  name: string;
  version: string;
  source: string;
  runId: string;
  status: string;
  stage: string;
  description: string;
  created: number;
  tags: Record<string, string>;
  aliases: string[];
}

export interface ModelInfo {
  name: string;
  description: string;
  created: number;
  updated: number;
  tags: Record<string, string>;
  aliases: Record<string, string>;
  latest: string[];
}

const modelFromJson = (m: Json): ModelInfo => ({
  name: m.name,
  description: m.description ?? "",
  created: m.creation_timestamp ?? 0,
  updated: m.last_updated_timestamp ?? 0,
  tags: kv(m.tags),
  aliases: Object.fromEntries((m.aliases ?? []).map((a: Json) => [a.alias, a.version])),
  latest: (m.latest_versions ?? []).map((v: Json) => v.version),
});

const versionFromJson = (v: Json): ModelVersionInfo => ({
  name: v.name,
  version: v.version,
  source: v.source ?? "",
  runId: v.run_id ?? "",
  status: v.status ?? "",
  stage: v.current_stage ?? "",
  description: v.description ?? "",
  created: v.creation_timestamp ?? 0,
  tags: kv(v.tags),
  aliases: v.aliases ?? [],
});

export async function searchModels(): Promise<ModelInfo[]> {
  const j = await call("GET", "registered-models/search", undefined, { max_results: "1000" });
  return (j.registered_models ?? []).map(modelFromJson);
}
export const getModel = async (name: string): Promise<ModelInfo> =>
  modelFromJson((await call("GET", "registered-models/get", undefined, { name })).registered_model);
export async function modelVersions(name: string): Promise<ModelVersionInfo[]> {
  const filter = `name = '${name.replaceAll("'", "\\'")}'`;
  const j = await call("GET", "model-versions/search", undefined, { filter, max_results: "10000" });
  return (j.model_versions ?? []).map(versionFromJson).sort((a: ModelVersionInfo, b: ModelVersionInfo) =>
    Number(b.version) - Number(a.version)
  );
}
export const createModel = (name: string) => call("POST", "registered-models/create", { name });
export const updateModelDescription = (name: string, description: string) =>
  call("PATCH", "registered-models/update", { name, description });
export const setModelTag = (name: string, key: string, value: string) =>
  call("POST", "registered-models/set-tag", { name, key, value });
export const deleteModelTag = (name: string, key: string) =>
  call("DELETE", "registered-models/delete-tag", { name, key });
export const setAlias = (name: string, alias: string, version: string) =>
  call("POST", "registered-models/alias", { name, alias, version });
export const deleteAlias = (name: string, alias: string) =>
  call("DELETE", "registered-models/alias", { name, alias });
export const updateVersionDescription = (name: string, version: string, description: string) =>
  call("PATCH", "model-versions/update", { name, version, description });
export const setVersionTag = (name: string, version: string, key: string, value: string) =>
  call("POST", "model-versions/set-tag", { name, version, key, value });
export async function createModelVersion(
  name: string,
  source: string,
  runId: string,
): Promise<ModelVersionInfo> {
  return versionFromJson(
    (await call("POST", "model-versions/create", { name, source, run_id: runId })).model_version,
  );
}
