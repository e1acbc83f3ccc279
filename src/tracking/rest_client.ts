/**
 * `RestClient`: the TrackingClient over MLflow's REST API 2.0 (`/api/2.0/mlflow/…`) and its artifact proxy
 * (`/api/2.0/mlflow-artifacts/…`). Splits batches to MLflow's limits; the transport (retries, auth) is
 * rest_http.ts; artifacts, the model registry and the MLflow 3 logged-model calls are rest_artifacts.ts,
 * rest_registry.ts and rest_logged_models.ts.
 */
import { TrackingError } from "./errors.ts";
import * as A from "./rest_artifacts.ts";
import { kv, type RestClientOptions, RestHttp } from "./rest_http.ts";
import * as LM from "./rest_logged_models.ts";
import * as R from "./rest_registry.ts";
import * as P from "./proto.ts";
import type {
  ArtifactFile,
  CreateLoggedModelOptions,
  CreateModelVersionOptions,
  CreateRunOptions,
  DatasetInput,
  Experiment,
  ExperimentsPage,
  LogBatch,
  LoggedModelStatus,
  Metric,
  Run,
  RunInfo,
  RunsPage,
  RunStatus,
  SearchExperimentsOptions,
  SearchLoggedModelsOptions,
  SearchRegistryOptions,
  SearchRunsOptions,
  TrackingClient,
} from "./types.ts";
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

  // ---- artifacts (rest_artifacts.ts) -------------------------------------------------------------------------

  logArtifact(runId: string, localPath: string, artifactPath = ""): Promise<void> {
    return A.uploadArtifacts(this.#http, this, runId, localPath, artifactPath, false);
  }
  logArtifacts(runId: string, localDir: string, artifactPath = ""): Promise<void> {
    return A.uploadArtifacts(this.#http, this, runId, localDir, artifactPath, true);
  }
  listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    return A.listArtifacts(this.#http, runId, path);
  }
  downloadArtifacts(uri: string, dstDir?: string): Promise<string> {
    return A.downloadArtifacts(this.#http, this, uri, dstDir);
  }

  // ---- registry (rest_registry.ts) ---------------------------------------------------------------------------

  createRegisteredModel(
    name: string,
    o: { description?: string; tags?: Record<string, string> } = {},
  ) {
    return R.createRegisteredModel(this.#http, name, o);
  }
  getRegisteredModel(name: string) {
    return R.getRegisteredModel(this.#http, name);
  }
  searchRegisteredModels(
    o: SearchRegistryOptions = {},
  ) {
    return R.searchRegisteredModels(this.#http, o);
  }
  updateRegisteredModel(name: string, description: string) {
    return R.updateRegisteredModel(this.#http, name, description);
  }
  renameRegisteredModel(name: string, newName: string) {
    return R.renameRegisteredModel(this.#http, name, newName);
  }
  deleteRegisteredModel(name: string) {
    return R.deleteRegisteredModel(this.#http, name);
  }
  setRegisteredModelTag(name: string, key: string, value: string) {
    return R.setRegisteredModelTag(this.#http, name, key, value);
  }
  deleteRegisteredModelTag(name: string, key: string) {
    return R.deleteRegisteredModelTag(this.#http, name, key);
  }
  createModelVersion(
    name: string,
    source: string,
    o: CreateModelVersionOptions = {},
  ) {
    return R.createModelVersion(this.#http, name, source, o);
  }
  getModelVersion(name: string, version: string) {
    return R.getModelVersion(this.#http, name, version);
  }
  updateModelVersion(name: string, version: string, description: string) {
    return R.updateModelVersion(this.#http, name, version, description);
  }
  deleteModelVersion(name: string, version: string) {
    return R.deleteModelVersion(this.#http, name, version);
  }
  searchModelVersions(
    o: SearchRegistryOptions = {},
  ) {
    return R.searchModelVersions(this.#http, o);
  }
  getLatestVersions(name: string, stages?: string[]) {
    return R.getLatestVersions(this.#http, name, stages);
  }
  transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions = false,
  ) {
    return R.transitionModelVersionStage(this.#http, name, version, stage, archiveExistingVersions);
  }
  setModelVersionTag(name: string, version: string, key: string, value: string) {
    return R.setModelVersionTag(this.#http, name, version, key, value);
  }
  deleteModelVersionTag(name: string, version: string, key: string) {
    return R.deleteModelVersionTag(this.#http, name, version, key);
  }
  setRegisteredModelAlias(name: string, alias: string, version: string) {
    return R.setRegisteredModelAlias(this.#http, name, alias, version);
  }
  deleteRegisteredModelAlias(name: string, alias: string) {
    return R.deleteRegisteredModelAlias(this.#http, name, alias);
  }
  getModelVersionByAlias(name: string, alias: string) {
    return R.getModelVersionByAlias(this.#http, name, alias);
  }
  getModelVersionDownloadUri(name: string, version: string) {
    return R.getModelVersionDownloadUri(this.#http, name, version);
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
