/**
 * The REST client's MLflow 3 calls: logged models (`logged-models`, `…/{id}`, `…/{id}/tags`, `…/{id}/params`,
 * `logged-models/search`), run inputs and outputs (`runs/log-inputs`, `runs/outputs`), and uploading a logged
 * model's files through the artifact proxy. Request and response shapes follow MLflow's service.proto.
 */
import { join } from "node:path";
import { listFilesRecursive } from "./_fs.ts";
import { copyIntoArtifacts } from "./artifacts.ts";
import * as P from "./proto.ts";
import { kv, type RestHttp } from "./rest_http.ts";
import type {
  CreateLoggedModelOptions,
  DatasetInput,
  LoggedModel,
  LoggedModelsPage,
  LoggedModelStatus,
  SearchLoggedModelsOptions,
} from "./types.ts";

const path = (modelId: string) => `logged-models/${encodeURIComponent(modelId)}`;

export async function createLoggedModel(
  http: RestHttp,
  experimentId: string,
  o: CreateLoggedModelOptions = {},
): Promise<LoggedModel> {
  const j = await http.call("POST", "logged-models", {
    experiment_id: experimentId,
    name: o.name,
    model_type: o.modelType,
    source_run_id: o.sourceRunId,
    params: kv(o.params),
    tags: kv(o.tags),
  });
  return P.loggedModelFromJson(j.model);
}

export async function getLoggedModel(
  http: RestHttp,
  modelId: string,
  allowDeleted = false,
): Promise<LoggedModel> {
  const j = await http.call("GET", path(modelId), allowDeleted ? { allow_deleted: true } : {});
  return P.loggedModelFromJson(j.model);
}

export async function finalizeLoggedModel(
  http: RestHttp,
  modelId: string,
  status: LoggedModelStatus,
): Promise<LoggedModel> {
  return P.loggedModelFromJson(
    (await http.call("PATCH", path(modelId), { model_id: modelId, status })).model,
  );
}

export async function deleteLoggedModel(http: RestHttp, modelId: string): Promise<void> {
  await http.call("DELETE", path(modelId), { model_id: modelId });
}

export async function setLoggedModelTags(
  http: RestHttp,
  modelId: string,
  tags: Record<string, string>,
): Promise<void> {
  await http.call("PATCH", `${path(modelId)}/tags`, { model_id: modelId, tags: kv(tags) });
}

export async function deleteLoggedModelTag(http: RestHttp, modelId: string, key: string): Promise<void> {
  await http.call("DELETE", `${path(modelId)}/tags/${key.split("/").map(encodeURIComponent).join("/")}`, {});
}

export async function logLoggedModelParams(
  http: RestHttp,
  modelId: string,
  params: Record<string, string>,
): Promise<void> {
  await http.call("POST", `${path(modelId)}/params`, { model_id: modelId, params: kv(params) });
}

export async function searchLoggedModels(
  http: RestHttp,
  o: SearchLoggedModelsOptions,
): Promise<LoggedModelsPage> {
  const j = await http.call("POST", "logged-models/search", {
    experiment_ids: o.experimentIds,
    filter: o.filterString,
    datasets: o.datasets?.map((d) => ({ dataset_name: d.datasetName, dataset_digest: d.datasetDigest })),
    order_by: (o.orderBy ?? []).map((x) =>
      typeof x === "string" ? { field_name: x.split(/\s+/)[0], ascending: !/\sDESC$/i.test(x) } : {
        field_name: x.fieldName,
        ascending: x.ascending ?? true,
        dataset_name: x.datasetName,
        dataset_digest: x.datasetDigest,
      }
    ),
    max_results: o.maxResults,
    page_token: o.pageToken,
  });
  return { models: (j.models ?? []).map(P.loggedModelFromJson), nextPageToken: j.next_page_token };
}

export async function logInputs(
  http: RestHttp,
  runId: string,
  inputs: { datasets?: DatasetInput[]; models?: { modelId: string }[] },
): Promise<void> {
  await http.call("POST", "runs/log-inputs", {
    run_id: runId,
    datasets: (inputs.datasets ?? []).map(P.datasetInputToJson),
    models: (inputs.models ?? []).map((m) => ({ model_id: m.modelId })),
  });
}

export async function logOutputs(
  http: RestHttp,
  runId: string,
  models: { modelId: string; step: number }[],
): Promise<void> {
  await http.call("POST", "runs/outputs", {
    run_id: runId,
    models: models.map((m) => ({ model_id: m.modelId, step: m.step })),
  });
}

/** Uploads a local model directory's files as the logged model's artifacts (as MLflow's log_model_artifacts). */
export async function logModelArtifacts(http: RestHttp, modelId: string, localDir: string): Promise<void> {
  const { artifactLocation } = await getLoggedModel(http, modelId);
  if (!artifactLocation.startsWith("mlflow-artifacts:")) {
    return copyIntoArtifacts(artifactLocation, localDir, "", true);
  }
  for (const rel of listFilesRecursive(localDir)) {
    await http.putFile(artifactLocation, join(localDir, rel), rel);
  }
}

/**
 * The newest active logged model named `name` that run `runId` (of experiment `experimentId`) produced, or null:
 * MLflow 3's fallback for `runs:/<run>/<name>` when the run has no artifact `<name>`.
 */
export async function runLoggedModel(
  http: RestHttp,
  experimentId: string,
  runId: string,
  name: string,
): Promise<LoggedModel | null> {
  const quote = name.includes("'") ? (name.includes('"') ? null : '"') : "'";
  const filterString = `source_run_id = '${runId}'` + (quote ? ` AND name = ${quote}${name}${quote}` : "");
  let pageToken: string | undefined;
  do {
    const page = await searchLoggedModels(http, { experimentIds: [experimentId], filterString, pageToken });
    const found = page.models.find((m) => m.name === name);
    if (found) return found; // newest first: the server's default order
    pageToken = page.nextPageToken;
  } while (pageToken);
  return null;
}
