/**
 * Entities ↔ MLflow REST JSON (proto3 JSON with MLflow's tweaks: snake_case fields, int64 as numbers, enums by
 * name, NaN/±Infinity as strings, unset and empty fields omitted). Used by the REST client and the server.
 */
import type {
  DatasetInput,
  Experiment,
  KeyValue,
  LoggedModel,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunInputs,
  RunOutputs,
} from "./types.ts";
import { parseLoggedModelStatus } from "./file_logged_models.ts";
import { parseRunStatus } from "./meta.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

const kv = (r: Record<string, string>): KeyValue[] =>
  Object.entries(r).map(([key, value]) => ({ key, value }));
const fromKv = (l: KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((l ?? []).map((t) => [t.key, t.value ?? ""]));

function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) =>
      v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)
    ),
  );
}

/** A double as MLflow's JSON writes it. */
export function doubleToJson(v: number): number | string {
  return Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : v;
}

export function doubleFromJson(v: unknown): number {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return typeof v === "number" ? v : Number(v);
}

export function experimentToJson(e: Experiment): Json {
  return omitEmpty({
    experiment_id: e.experimentId,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    tags: kv(e.tags),
  });
}

export function experimentFromJson(j: Json): Experiment {
  return {
    experimentId: String(j.experiment_id),
    name: j.name,
    artifactLocation: j.artifact_location ?? "",
    lifecycleStage: j.lifecycle_stage === "deleted" ? "deleted" : "active",
    creationTime: j.creation_time !== undefined ? Number(j.creation_time) : undefined,
    lastUpdateTime: j.last_update_time !== undefined ? Number(j.last_update_time) : undefined,
    tags: fromKv(j.tags),
  };
}

export function metricToJson(m: Metric, runId?: string): Json {
  return omitEmpty({
    key: m.key,
    value: doubleToJson(m.value),
    timestamp: m.timestamp,
    step: m.step,
    run_id: runId,
    dataset_name: m.datasetName,
    dataset_digest: m.datasetDigest,
  });
}

export function metricFromJson(j: Json): Metric {
  const m: Metric = {
    key: j.key,
    value: doubleFromJson(j.value),
    timestamp: Number(j.timestamp ?? 0),
    step: Number(j.step ?? 0),
  };
  if (j.dataset_name !== undefined) {
    m.datasetName = j.dataset_name;
    m.datasetDigest = j.dataset_digest;
  }
  return m;
}

export function runInfoToJson(i: RunInfo): Json {
  return omitEmpty({
    run_uuid: i.runId,
    run_id: i.runId,
    experiment_id: i.experimentId,
    run_name: i.runName,
    user_id: i.userId,
    status: i.status,
    start_time: i.startTime,
    end_time: i.endTime ?? undefined,
    artifact_uri: i.artifactUri,
    lifecycle_stage: i.lifecycleStage,
  });
}

export function runInfoFromJson(j: Json): RunInfo {
  return {
    runId: j.run_id ?? j.run_uuid,
    experimentId: String(j.experiment_id),
    runName: j.run_name ?? "",
    userId: j.user_id ?? "",
    status: parseRunStatus(j.status ?? "RUNNING"),
    startTime: Number(j.start_time ?? 0),
    endTime: j.end_time === undefined || j.end_time === null ? null : Number(j.end_time),
    artifactUri: j.artifact_uri ?? "",
    lifecycleStage: j.lifecycle_stage === "deleted" ? "deleted" : "active",
  };
}

export function datasetInputToJson(d: DatasetInput): Json {
  return omitEmpty({
    tags: kv(d.tags ?? {}),
    dataset: omitEmpty({
      name: d.dataset.name,
      digest: d.dataset.digest,
      source_type: d.dataset.sourceType,
      source: d.dataset.source,
      schema: d.dataset.schema,
      profile: d.dataset.profile,
    }),
  });
}

export function datasetInputFromJson(j: Json): DatasetInput {
  const d = j?.dataset ?? {};
  return {
    tags: fromKv(j?.tags),
    dataset: {
      name: d.name,
      digest: d.digest,
      sourceType: d.source_type,
      source: d.source,
      ...(d.schema !== undefined ? { schema: d.schema } : {}),
      ...(d.profile !== undefined ? { profile: d.profile } : {}),
    },
  };
}

export function runInputsToJson(i: RunInputs | undefined): Json {
  if (!i) return {};
  return omitEmpty({
    dataset_inputs: i.datasetInputs.map(datasetInputToJson),
    model_inputs: i.modelInputs.map((m) => ({ model_id: m.modelId })),
  });
}

export function runOutputsToJson(o: RunOutputs | undefined): Json {
  if (!o) return {};
  return omitEmpty({ model_outputs: o.modelOutputs.map((m) => ({ model_id: m.modelId, step: m.step })) });
}

export function runToJson(r: Run): Json {
  return {
    info: runInfoToJson(r.info),
    data: omitEmpty({
      // MLflow 3 puts the run id in each metric of a run (`runs/get`, `runs/search`).
      metrics: Object.values(r.data.metrics).map((m) => metricToJson(m, r.info.runId)),
      params: kv(r.data.params),
      tags: kv(r.data.tags),
    }),
    inputs: runInputsToJson(r.inputs),
    outputs: runOutputsToJson(r.outputs),
  };
}

export function runFromJson(j: Json): Run {
  const metrics: Record<string, Metric> = {};
  for (const m of j.data?.metrics ?? []) metrics[m.key] = metricFromJson(m);
  return {
    info: runInfoFromJson(j.info),
    data: { metrics, params: fromKv(j.data?.params), tags: fromKv(j.data?.tags) },
    inputs: {
      datasetInputs: (j.inputs?.dataset_inputs ?? []).map(datasetInputFromJson),
      modelInputs: (j.inputs?.model_inputs ?? []).map((m: Json) => ({ modelId: m.model_id })),
    },
    outputs: {
      modelOutputs: (j.outputs?.model_outputs ?? []).map((m: Json) => ({
        modelId: m.model_id,
        step: Number(m.step ?? 0),
      })),
    },
  };
}

/** A logged model as MLflow's `LoggedModel {info, data}` JSON (registrations from `mlflow.modelVersions`). */
export function loggedModelToJson(m: LoggedModel): Json {
  let registrations: { name: string; version: string }[] = [];
  try {
    const list = JSON.parse(m.tags["mlflow.modelVersions"] ?? "[]");
    if (Array.isArray(list)) {
      registrations = list.map((e) => ({ name: String(e?.name), version: String(e?.version) }));
    }
  } catch { /* a hand-written tag: no registrations */ }
  return {
    info: omitEmpty({
      model_id: m.modelId,
      experiment_id: m.experimentId,
      name: m.name,
      creation_timestamp_ms: m.creationTimestamp,
      last_updated_timestamp_ms: m.lastUpdatedTimestamp,
      artifact_uri: m.artifactLocation,
      status: m.status,
      model_type: m.modelType,
      source_run_id: m.sourceRunId,
      status_message: m.statusMessage,
      tags: kv(m.tags),
      registrations,
    }),
    data: omitEmpty({
      params: kv(m.params),
      metrics: m.metrics.map((x) => ({ ...metricToJson(x, x.runId), model_id: m.modelId })),
    }),
  };
}

export function loggedModelFromJson(j: Json): LoggedModel {
  const i = j?.info ?? {};
  const s = (v: unknown) => (v === undefined || v === null || v === "" ? null : String(v));
  return {
    modelId: i.model_id,
    experimentId: String(i.experiment_id),
    name: i.name ?? "",
    artifactLocation: i.artifact_uri ?? "",
    creationTimestamp: Number(i.creation_timestamp_ms ?? 0),
    lastUpdatedTimestamp: Number(i.last_updated_timestamp_ms ?? 0),
    status: parseLoggedModelStatus(i.status ?? "LOGGED_MODEL_PENDING"),
    statusMessage: s(i.status_message),
    modelType: s(i.model_type),
    sourceRunId: s(i.source_run_id),
    lifecycleStage: "active",
    tags: fromKv(i.tags),
    params: fromKv(j?.data?.params),
    metrics: (j?.data?.metrics ?? []).map((x: Json) => ({ ...metricFromJson(x), runId: x.run_id })),
  };
}

export function modelVersionToJson(v: ModelVersion): Json {
  return omitEmpty({
    name: v.name,
    version: v.version,
    creation_timestamp: v.creationTimestamp,
    last_updated_timestamp: v.lastUpdatedTimestamp,
    user_id: v.userId,
    current_stage: v.currentStage,
    description: v.description ?? "",
    source: v.source,
    run_id: v.runId ?? "",
    status: v.status,
    status_message: v.statusMessage,
    tags: kv(v.tags),
    run_link: v.runLink ?? "",
    aliases: v.aliases,
    model_id: v.modelId,
  });
}

export function modelVersionFromJson(j: Json): ModelVersion {
  const s = (v: unknown) => (v === undefined || v === null || v === "" ? null : String(v));
  return {
    name: j.name,
    version: String(j.version),
    creationTimestamp: Number(j.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(j.last_updated_timestamp ?? 0),
    currentStage: j.current_stage ?? "None",
    description: s(j.description),
    source: j.source ?? "",
    runId: s(j.run_id),
    runLink: s(j.run_link),
    status: j.status ?? "READY",
    statusMessage: s(j.status_message),
    storageLocation: null,
    modelId: s(j.model_id),
    userId: s(j.user_id),
    tags: fromKv(j.tags),
    aliases: j.aliases ?? [],
  };
}

export function registeredModelToJson(m: RegisteredModel): Json {
  return omitEmpty({
    name: m.name,
    creation_timestamp: m.creationTimestamp,
    last_updated_timestamp: m.lastUpdatedTimestamp,
    description: m.description ?? undefined,
    latest_versions: m.latestVersions.map(modelVersionToJson),
    tags: kv(m.tags),
    aliases: Object.entries(m.aliases).map(([alias, version]) => ({ alias, version })),
  });
}

export function registeredModelFromJson(j: Json): RegisteredModel {
  return {
    name: j.name,
    creationTimestamp: Number(j.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(j.last_updated_timestamp ?? 0),
    description: j.description ?? null,
    tags: fromKv(j.tags),
    aliases: Object.fromEntries(
      (j.aliases ?? []).map((a: { alias: string; version: string }) => [a.alias, String(a.version)]),
    ),
    latestVersions: (j.latest_versions ?? []).map(modelVersionFromJson),
  };
}
