/**
 * The REST client's model-registry calls (`registered-models/…`, `model-versions/…`, aliases, tags), one function
 * per endpoint over the shared transport. Request and response shapes follow MLflow's model_registry.proto.
 */
import * as P from "./proto.ts";
import { kv, type RestHttp } from "./rest_http.ts";
import type {
  CreateModelVersionOptions,
  ModelVersion,
  RegisteredModel,
  SearchRegistryOptions,
} from "./types.ts";

/** `POST registered-models/create`. */
export async function createRegisteredModel(
  http: RestHttp,
  name: string,
  o: { description?: string; tags?: Record<string, string> } = {},
): Promise<RegisteredModel> {
  const j = await http.call("POST", "registered-models/create", {
    name,
    description: o.description,
    tags: kv(o.tags),
  });
  return P.registeredModelFromJson(j.registered_model);
}

/** `GET registered-models/get`. */
export async function getRegisteredModel(http: RestHttp, name: string): Promise<RegisteredModel> {
  return P.registeredModelFromJson(
    (await http.call("GET", "registered-models/get", { name })).registered_model,
  );
}

/** `GET registered-models/search`. */
export async function searchRegisteredModels(
  http: RestHttp,
  o: SearchRegistryOptions = {},
) {
  const j = await http.call("GET", "registered-models/search", {
    filter: o.filterString,
    max_results: o.maxResults ?? 100,
    order_by: o.orderBy,
    page_token: o.pageToken,
  });
  return {
    registeredModels: (j.registered_models ?? []).map(P.registeredModelFromJson),
    nextPageToken: j.next_page_token,
  };
}

/** `PATCH registered-models/update`. */
export async function updateRegisteredModel(http: RestHttp, name: string, description: string) {
  return P.registeredModelFromJson(
    (await http.call("PATCH", "registered-models/update", { name, description })).registered_model,
  );
}

/** `POST registered-models/rename`. */
export async function renameRegisteredModel(http: RestHttp, name: string, newName: string) {
  return P.registeredModelFromJson(
    (await http.call("POST", "registered-models/rename", { name, new_name: newName })).registered_model,
  );
}

/** `DELETE registered-models/delete`. */
export async function deleteRegisteredModel(http: RestHttp, name: string) {
  await http.call("DELETE", "registered-models/delete", { name });
}

/** `POST registered-models/set-tag`. */
export async function setRegisteredModelTag(http: RestHttp, name: string, key: string, value: string) {
  await http.call("POST", "registered-models/set-tag", { name, key, value });
}

/** `DELETE registered-models/delete-tag`. */
export async function deleteRegisteredModelTag(http: RestHttp, name: string, key: string) {
  await http.call("DELETE", "registered-models/delete-tag", { name, key });
}

/** `POST model-versions/create`. */
export async function createModelVersion(
  http: RestHttp,
  name: string,
  source: string,
  o: CreateModelVersionOptions = {},
) {
  const runId = o.runId ?? (source.startsWith("runs:/") ? source.split("/")[1] : undefined);
  const j = await http.call("POST", "model-versions/create", {
    name,
    source,
    run_id: runId,
    description: o.description,
    tags: kv(o.tags),
    run_link: o.runLink,
    model_id: o.modelId,
  });
  return P.modelVersionFromJson(j.model_version);
}

/** `GET model-versions/get`. */
export async function getModelVersion(http: RestHttp, name: string, version: string): Promise<ModelVersion> {
  return P.modelVersionFromJson(
    (await http.call("GET", "model-versions/get", { name, version })).model_version,
  );
}

/** `PATCH model-versions/update`. */
export async function updateModelVersion(http: RestHttp, name: string, version: string, description: string) {
  return P.modelVersionFromJson(
    (await http.call("PATCH", "model-versions/update", { name, version, description })).model_version,
  );
}

/** `DELETE model-versions/delete`. */
export async function deleteModelVersion(http: RestHttp, name: string, version: string) {
  await http.call("DELETE", "model-versions/delete", { name, version });
}

/** `GET model-versions/search`. */
export async function searchModelVersions(
  http: RestHttp,
  o: SearchRegistryOptions = {},
) {
  const j = await http.call("GET", "model-versions/search", {
    filter: o.filterString,
    max_results: o.maxResults ?? 10000,
    order_by: o.orderBy,
    page_token: o.pageToken,
  });
  return {
    modelVersions: (j.model_versions ?? []).map(P.modelVersionFromJson),
    nextPageToken: j.next_page_token,
  };
}

/** `POST registered-models/get-latest-versions`. */
export async function getLatestVersions(http: RestHttp, name: string, stages?: string[]) {
  const j = await http.call("POST", "registered-models/get-latest-versions", { name, stages });
  return (j.model_versions ?? []).map(P.modelVersionFromJson);
}

/** `POST model-versions/transition-stage`. */
export async function transitionModelVersionStage(
  http: RestHttp,
  name: string,
  version: string,
  stage: string,
  archiveExistingVersions = false,
) {
  const j = await http.call("POST", "model-versions/transition-stage", {
    name,
    version,
    stage,
    archive_existing_versions: archiveExistingVersions,
  });
  return P.modelVersionFromJson(j.model_version);
}

/** `POST model-versions/set-tag`. */
export async function setModelVersionTag(
  http: RestHttp,
  name: string,
  version: string,
  key: string,
  value: string,
) {
  await http.call("POST", "model-versions/set-tag", { name, version, key, value });
}

/** `DELETE model-versions/delete-tag`. */
export async function deleteModelVersionTag(http: RestHttp, name: string, version: string, key: string) {
  await http.call("DELETE", "model-versions/delete-tag", { name, version, key });
}

/** `POST registered-models/alias`. */
export async function setRegisteredModelAlias(http: RestHttp, name: string, alias: string, version: string) {
  await http.call("POST", "registered-models/alias", { name, alias, version });
}

/** `DELETE registered-models/alias`. */
export async function deleteRegisteredModelAlias(http: RestHttp, name: string, alias: string) {
  await http.call("DELETE", "registered-models/alias", { name, alias });
}

/** `GET registered-models/alias`. */
export async function getModelVersionByAlias(http: RestHttp, name: string, alias: string) {
  return P.modelVersionFromJson(
    (await http.call("GET", "registered-models/alias", { name, alias })).model_version,
  );
}

/** `GET model-versions/get-download-uri`. */
export async function getModelVersionDownloadUri(http: RestHttp, name: string, version: string) {
  return String(
    (await http.call("GET", "model-versions/get-download-uri", { name, version })).artifact_uri,
  );
}
