/**
 * `RestClient`: the TrackingClient over MLflow's REST API 2.0 (`/api/2.0/mlflow/…`) and its artifact proxy
 * (`/api/2.0/mlflow-artifacts/…`). Splits batches to MLflow's limits; the transport (retries, auth) is
 * rest_http.ts and the MLflow 3 logged-model calls are rest_logged_models.ts.
 */
import { basename, join } from "node:path";
import { errorCodeOfStatus, TrackingError } from "./errors.ts";
import { kv, type RestClientOptions, RestHttp } from "./rest_http.ts";
import * as LM from "./rest_logged_models.ts";
import { listFilesRecursive } from "./_fs.ts";
import {
  copyIntoArtifacts,
  localArtifactDir,
  resolveArtifactUri,
  validateArtifactPath,
} from "./artifacts.ts";
import * as P from "./proto.ts";
import type {
  ArtifactFile,
  CreateLoggedModelOptions,
  CreateRunOptions,
  DatasetInput,
  Experiment,
  ExperimentsPage,
  LogBatch,
  LoggedModelStatus,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunsPage,
  RunStatus,
  SearchExperimentsOptions,
  SearchLoggedModelsOptions,
  SearchRunsOptions,
  TrackingClient,
} from "./types.ts";
import { appendToUri, parseRunsUri } from "./uri.ts";
import { MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH } from "./validation.ts";

export type { RestClientOptions } from "./rest_http.ts";

export class RestClient implements TrackingClient {
  readonly trackingUri: string;
  readonly #http: RestHttp;

  constructor(url: string, options: RestClientOptions = {}) {
    this.#http = new RestHttp(url, options);
    this.trackingUri = this.#http.trackingUri;
  }

  #call(method: "GET" | "POST" | "PATCH" | "DELETE", endpoint: string, body: Record<string, unknown> = {}) {
    return this.#http.call(method, endpoint, body);
  }
  #fetch(url: string, init: RequestInit): Promise<Response> {
    return this.#http.fetch(url, init);
  }

  // ---- experiments -------------------------------------------------------------------------------------------

  async createExperiment(
    name: string,
    options: { artifactLocation?: string; tags?: Record<string, string> } = {},
  ) {
    const j = await this.#call("POST", "experiments/create", {
      name,
      artifact_location: options.artifactLocation,
      tags: kv(options.tags),
    });
    return String(j.experiment_id);
  }
  async getExperiment(experimentId: string): Promise<Experiment> {
    return P.experimentFromJson(
      (await this.#call("GET", "experiments/get", { experiment_id: experimentId })).experiment,
    );
  }
  async getExperimentByName(name: string): Promise<Experiment | null> {
    try {
      return P.experimentFromJson(
        (await this.#call("GET", "experiments/get-by-name", { experiment_name: name })).experiment,
      );
    } catch (err) {
      if (err instanceof TrackingError && err.code === "RESOURCE_DOES_NOT_EXIST") return null;
      throw err;
    }
  }
  async searchExperiments(o: SearchExperimentsOptions = {}): Promise<ExperimentsPage> {
    const j = await this.#call("POST", "experiments/search", {
      max_results: o.maxResults ?? 1000,
      page_token: o.pageToken,
      filter: o.filterString,
      order_by: o.orderBy,
      view_type: o.viewType,
    });
    return { experiments: (j.experiments ?? []).map(P.experimentFromJson), nextPageToken: j.next_page_token };
  }
  async renameExperiment(experimentId: string, newName: string) {
    await this.#call("POST", "experiments/update", { experiment_id: experimentId, new_name: newName });
  }
  async deleteExperiment(experimentId: string) {
    await this.#call("POST", "experiments/delete", { experiment_id: experimentId });
  }
  async restoreExperiment(experimentId: string) {
    await this.#call("POST", "experiments/restore", { experiment_id: experimentId });
  }
  async setExperimentTag(experimentId: string, key: string, value: string) {
    await this.#call("POST", "experiments/set-experiment-tag", { experiment_id: experimentId, key, value });
  }
  async deleteExperimentTag(experimentId: string, key: string) {
    await this.#call("POST", "experiments/delete-experiment-tag", { experiment_id: experimentId, key });
  }

  // ---- runs --------------------------------------------------------------------------------------------------

  async createRun(o: CreateRunOptions = {}): Promise<Run> {
    const j = await this.#call("POST", "runs/create", {
      experiment_id: o.experimentId ?? "0",
      user_id: o.userId,
      run_name: o.runName,
      start_time: o.startTime ?? Date.now(),
      tags: kv(o.tags),
    });
    return P.runFromJson(j.run);
  }
  async getRun(runId: string): Promise<Run> {
    return P.runFromJson((await this.#call("GET", "runs/get", { run_id: runId, run_uuid: runId })).run);
  }
  async updateRun(
    runId: string,
    u: { status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<RunInfo> {
    const j = await this.#call("POST", "runs/update", {
      run_id: runId,
      run_uuid: runId,
      status: u.status,
      end_time: u.endTime,
      run_name: u.runName,
    });
    return P.runInfoFromJson(j.run_info);
  }
  async setTerminated(runId: string, status: RunStatus = "FINISHED", endTime?: number) {
    await this.updateRun(runId, { status, endTime: endTime ?? Date.now() });
  }
  async deleteRun(runId: string) {
    await this.#call("POST", "runs/delete", { run_id: runId });
  }
  async restoreRun(runId: string) {
    await this.#call("POST", "runs/restore", { run_id: runId });
  }
  async logMetric(runId: string, key: string, value: number, o: { timestamp?: number; step?: number } = {}) {
    await this.#call("POST", "runs/log-metric", {
      run_id: runId,
      run_uuid: runId,
      key,
      value: P.doubleToJson(value),
      timestamp: o.timestamp ?? Date.now(),
      step: o.step ?? 0,
    });
  }
  async logParam(runId: string, key: string, value: string | number | boolean | null) {
    await this.#call("POST", "runs/log-parameter", {
      run_id: runId,
      run_uuid: runId,
      key,
      value: value === null ? "" : String(value),
    });
  }
  async setTag(runId: string, key: string, value: string) {
    await this.#call("POST", "runs/set-tag", { run_id: runId, run_uuid: runId, key, value: String(value) });
  }
  async deleteTag(runId: string, key: string) {
    await this.#call("POST", "runs/delete-tag", { run_id: runId, key });
  }
  /** Sends a batch, split into requests within MLflow's limits (params and tags go in the first requests). */
  async logBatch(runId: string, batch: LogBatch) {
    const metrics = batch.metrics ?? [], params = batch.params ?? [], tags = batch.tags ?? [];
    let mi = 0, pi = 0, ti = 0;
    while (
      mi < metrics.length || pi < params.length || ti < tags.length || (mi === 0 && pi === 0 && ti === 0)
    ) {
      const p = params.slice(pi, pi + MAX_PARAMS_TAGS_PER_BATCH);
      const t = tags.slice(ti, ti + MAX_PARAMS_TAGS_PER_BATCH);
      const room = MAX_METRICS_PER_BATCH - p.length - t.length;
      const m = metrics.slice(mi, mi + room);
      pi += p.length, ti += t.length, mi += m.length;
      if (p.length + t.length + m.length === 0) break;
      await this.#call("POST", "runs/log-batch", {
        run_id: runId,
        metrics: m.map((x) => P.metricToJson(x)),
        params: p,
        tags: t,
      });
    }
  }
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const j = await this.#call("GET", "metrics/get-history", {
        run_id: runId,
        run_uuid: runId,
        metric_key: key,
        max_results: 25000,
        page_token: pageToken,
      });
      out.push(...(j.metrics ?? []).map(P.metricFromJson));
      pageToken = j.next_page_token;
    } while (pageToken);
    return out;
  }
  async searchRuns(o: SearchRunsOptions = {}): Promise<RunsPage> {
    const ids = [...(o.experimentIds ?? [])];
    for (const name of o.experimentNames ?? []) {
      const e = await this.getExperimentByName(name);
      if (!e) {
        throw new TrackingError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
      }
      ids.push(e.experimentId);
    }
    if (ids.length === 0) {
      ids.push(
        ...(await this.searchExperiments({ maxResults: 50000 })).experiments.map((e) => e.experimentId),
      );
    }
    const j = await this.#call("POST", "runs/search", {
      experiment_ids: ids,
      filter: o.filterString,
      run_view_type: o.viewType,
      max_results: o.maxResults ?? 1000,
      order_by: o.orderBy,
      page_token: o.pageToken,
    });
    return { runs: (j.runs ?? []).map(P.runFromJson), nextPageToken: j.next_page_token };
  }

  // ---- artifacts ---------------------------------------------------------------------------------------------

  async #upload(
    runId: string,
    localPath: string,
    artifactPath: string,
    contentsOnly: boolean,
  ): Promise<void> {
    validateArtifactPath(artifactPath);
    const { info } = await this.getRun(runId);
    if (!info.artifactUri.startsWith("mlflow-artifacts:")) {
      return copyIntoArtifacts(info.artifactUri, localPath, artifactPath, contentsOnly);
    }
    const st = await Deno.stat(localPath);
    if (!st.isDirectory) {
      return this.#http.putFile(
        info.artifactUri,
        localPath,
        [artifactPath, basename(localPath)].filter((s) => s).join("/"),
      );
    }
    const base = contentsOnly ? artifactPath : [artifactPath, basename(localPath)].filter((s) => s).join("/");
    for (const rel of listFilesRecursive(localPath)) {
      await this.#http.putFile(
        info.artifactUri,
        join(localPath, rel),
        [base, rel].filter((s) => s).join("/"),
      );
    }
  }
  logArtifact(runId: string, localPath: string, artifactPath = ""): Promise<void> {
    return this.#upload(runId, localPath, artifactPath, false);
  }
  logArtifacts(runId: string, localDir: string, artifactPath = ""): Promise<void> {
    return this.#upload(runId, localDir, artifactPath, true);
  }
  async listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    const j = await this.#call("GET", "artifacts/list", { run_id: runId, path });
    return (j.files ?? []).map((f: P.Json) => ({
      path: f.path,
      isDir: !!f.is_dir,
      fileSize: f.file_size === undefined ? undefined : Number(f.file_size),
    }));
  }
  /**
   * Any artifact URI resolved to the server's (or a local) one. Like MLflow 3, `runs:/<run>/<name>/…` falls back
   * to the run's logged model `<name>` when the run's own artifacts have no `<name>` at their top level.
   */
  async #resolveArtifactUri(uri: string): Promise<string> {
    const resolved = await resolveArtifactUri(uri, {
      runArtifactUri: async (id) => (await this.getRun(id)).info.artifactUri,
      registry: this,
      loggedModelUri: async (id) => (await this.getLoggedModel(id)).artifactLocation,
    });
    if (!uri.startsWith("runs:")) return resolved;
    const { runId, path } = parseRunsUri(uri);
    const [name, ...rest] = path.split("/");
    if (!name || await this.#runHasArtifact(runId, name)) return resolved;
    const { info } = await this.getRun(runId);
    const model = await LM.runLoggedModel(this.#http, info.experimentId, runId, name);
    return model ? appendToUri(model.artifactLocation, rest.join("/")) : resolved;
  }
  /** Whether the run's artifact root lists `name`; true when the server cannot list it (the download will tell). */
  async #runHasArtifact(runId: string, name: string): Promise<boolean> {
    try {
      return (await this.listArtifacts(runId)).some((f) => f.path === name);
    } catch (err) {
      if (err instanceof TrackingError) return true;
      throw err;
    }
  }
  async downloadArtifacts(uri: string, dstDir?: string): Promise<string> {
    const resolved = await this.#resolveArtifactUri(uri);
    if (!resolved.startsWith("mlflow-artifacts:")) return localArtifactDir(resolved);
    const dst = dstDir ?? await Deno.makeTempDir({ prefix: "storyteller-artifacts-" });
    const top = join(dst, basename(resolved.replace(/\/+$/, "")) || "artifacts");
    const fetchTo = async (uriPath: string, target: string) => {
      const res = await this.#fetch(this.#http.proxyUrl(uriPath), { method: "GET" });
      if (!res.ok) {
        throw new TrackingError(
          errorCodeOfStatus(res.status),
          `Cannot download ${uriPath}: HTTP ${res.status}`,
        );
      }
      await Deno.mkdir(join(target, ".."), { recursive: true });
      await Deno.writeFile(target, new Uint8Array(await res.arrayBuffer()));
    };
    const walk = async (dirUri: string, target: string): Promise<boolean> => {
      const rel = dirUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/, "").replace(/^\/+/, "");
      const res = await this.#fetch(
        `${this.trackingUri}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(rel)}`,
        { method: "GET" },
      );
      const j = res.ok ? await res.json() : (await res.body?.cancel(), {});
      const files: P.Json[] = j.files ?? [];
      if (files.length === 0) return false;
      for (const f of files) {
        const name = String(f.path).split("/").pop()!;
        if (f.is_dir) await walk(appendToUri(dirUri, name), join(target, name));
        else await fetchTo(appendToUri(dirUri, name), join(target, name));
      }
      return true;
    };
    if (!(await walk(resolved, top))) await fetchTo(resolved, top);
    return top;
  }

  // ---- registry ----------------------------------------------------------------------------------------------

  async createRegisteredModel(
    name: string,
    o: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<RegisteredModel> {
    const j = await this.#call("POST", "registered-models/create", {
      name,
      description: o.description,
      tags: kv(o.tags),
    });
    return P.registeredModelFromJson(j.registered_model);
  }
  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return P.registeredModelFromJson(
      (await this.#call("GET", "registered-models/get", { name })).registered_model,
    );
  }
  async searchRegisteredModels(
    o: { filterString?: string; maxResults?: number; orderBy?: string[]; pageToken?: string } = {},
  ) {
    const j = await this.#call("GET", "registered-models/search", {
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
  async updateRegisteredModel(name: string, description: string) {
    return P.registeredModelFromJson(
      (await this.#call("PATCH", "registered-models/update", { name, description })).registered_model,
    );
  }
  async renameRegisteredModel(name: string, newName: string) {
    return P.registeredModelFromJson(
      (await this.#call("POST", "registered-models/rename", { name, new_name: newName })).registered_model,
    );
  }
  async deleteRegisteredModel(name: string) {
    await this.#call("DELETE", "registered-models/delete", { name });
  }
  async setRegisteredModelTag(name: string, key: string, value: string) {
    await this.#call("POST", "registered-models/set-tag", { name, key, value });
  }
  async deleteRegisteredModelTag(name: string, key: string) {
    await this.#call("DELETE", "registered-models/delete-tag", { name, key });
  }
  async createModelVersion(
    name: string,
    source: string,
    o: {
      runId?: string;
      description?: string;
      tags?: Record<string, string>;
      runLink?: string;
      modelId?: string;
    } = {},
  ) {
    const runId = o.runId ?? (source.startsWith("runs:/") ? source.split("/")[1] : undefined);
    const j = await this.#call("POST", "model-versions/create", {
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
  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return P.modelVersionFromJson(
      (await this.#call("GET", "model-versions/get", { name, version })).model_version,
    );
  }
  async updateModelVersion(name: string, version: string, description: string) {
    return P.modelVersionFromJson(
      (await this.#call("PATCH", "model-versions/update", { name, version, description })).model_version,
    );
  }
  async deleteModelVersion(name: string, version: string) {
    await this.#call("DELETE", "model-versions/delete", { name, version });
  }
  async searchModelVersions(
    o: { filterString?: string; maxResults?: number; orderBy?: string[]; pageToken?: string } = {},
  ) {
    const j = await this.#call("GET", "model-versions/search", {
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
  async getLatestVersions(name: string, stages?: string[]) {
    const j = await this.#call("POST", "registered-models/get-latest-versions", { name, stages });
    return (j.model_versions ?? []).map(P.modelVersionFromJson);
  }
  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions = false,
  ) {
    const j = await this.#call("POST", "model-versions/transition-stage", {
      name,
      version,
      stage,
      archive_existing_versions: archiveExistingVersions,
    });
    return P.modelVersionFromJson(j.model_version);
  }
  async setModelVersionTag(name: string, version: string, key: string, value: string) {
    await this.#call("POST", "model-versions/set-tag", { name, version, key, value });
  }
  async deleteModelVersionTag(name: string, version: string, key: string) {
    await this.#call("DELETE", "model-versions/delete-tag", { name, version, key });
  }
  async setRegisteredModelAlias(name: string, alias: string, version: string) {
    await this.#call("POST", "registered-models/alias", { name, alias, version });
  }
  async deleteRegisteredModelAlias(name: string, alias: string) {
    await this.#call("DELETE", "registered-models/alias", { name, alias });
  }
  async getModelVersionByAlias(name: string, alias: string) {
    return P.modelVersionFromJson(
      (await this.#call("GET", "registered-models/alias", { name, alias })).model_version,
    );
  }
  async getModelVersionDownloadUri(name: string, version: string) {
    return String(
      (await this.#call("GET", "model-versions/get-download-uri", { name, version })).artifact_uri,
    );
  }

  // ---- MLflow 3: inputs, outputs, logged models (rest_logged_models.ts) ---------------------------------------

  logInputs(runId: string, inputs: { datasets?: DatasetInput[]; models?: { modelId: string }[] }) {
    return LM.logInputs(this.#http, runId, inputs);
  }
  logOutputs(runId: string, models: { modelId: string; step: number }[]) {
    return LM.logOutputs(this.#http, runId, models);
  }
  createLoggedModel(experimentId: string, options?: CreateLoggedModelOptions) {
    return LM.createLoggedModel(this.#http, experimentId, options);
  }
  getLoggedModel(modelId: string, allowDeleted?: boolean) {
    return LM.getLoggedModel(this.#http, modelId, allowDeleted);
  }
  finalizeLoggedModel(modelId: string, status: LoggedModelStatus) {
    return LM.finalizeLoggedModel(this.#http, modelId, status);
  }
  deleteLoggedModel(modelId: string) {
    return LM.deleteLoggedModel(this.#http, modelId);
  }
  setLoggedModelTags(modelId: string, tags: Record<string, string>) {
    return LM.setLoggedModelTags(this.#http, modelId, tags);
  }
  deleteLoggedModelTag(modelId: string, key: string) {
    return LM.deleteLoggedModelTag(this.#http, modelId, key);
  }
  logLoggedModelParams(modelId: string, params: Record<string, string>) {
    return LM.logLoggedModelParams(this.#http, modelId, params);
  }
  searchLoggedModels(options: SearchLoggedModelsOptions) {
    return LM.searchLoggedModels(this.#http, options);
  }
  logModelArtifacts(modelId: string, localDir: string) {
    return LM.logModelArtifacts(this.#http, modelId, localDir);
  }
}
