/**
 * The tracking entities (MLflow's Experiment, Run, Metric, RegisteredModel, ModelVersion in camelCase) and the
 * `TrackingClient` interface that both the file store and the REST client implement.
 */

export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";
export type LifecycleStage = "active" | "deleted";
/** MLflow's ViewType: which lifecycle stages a search returns. */
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  creationTime?: number;
  lastUpdateTime?: number;
  tags: Record<string, string>;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: LifecycleStage;
  /** Only while lifecycleStage is "deleted" (ms). */
  deletedTime?: number;
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  datasetName?: string;
  datasetDigest?: string;
}

export interface RunData {
  /** Latest value per key: the point with the largest (step, timestamp, value). */
  metrics: Record<string, Metric>;
  params: Record<string, string>;
  tags: Record<string, string>;
}

export interface Run {
  info: RunInfo;
  data: RunData;
  /** Datasets and models the run consumed (getRun fills both; FileStore searches fill the dataset inputs). */
  inputs?: RunInputs;
  /** Logged models the run produced (filled by getRun, not by searches). */
  outputs?: RunOutputs;
}

/** An MLflow dataset as a run input names it (schema/profile/source are JSON strings). */
export interface Dataset {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  dataset: Dataset;
  /** e.g. `mlflow.data.context` → `training`. */
  tags: Record<string, string>;
}

export interface RunInputs {
  datasetInputs: DatasetInput[];
  modelInputs: { modelId: string }[];
}

export interface RunOutputs {
  modelOutputs: { modelId: string; step: number }[];
}

export type LoggedModelStatus = "LOGGED_MODEL_PENDING" | "LOGGED_MODEL_READY" | "LOGGED_MODEL_UPLOAD_FAILED";

/** An MLflow 3 logged model (`<exp>/models/m-<hex>/`). */
export interface LoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  /** Where the model files live (`<exp artifact_location>/models/<id>/artifacts` by default). */
  artifactLocation: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  status: LoggedModelStatus;
  statusMessage: string | null;
  modelType: string | null;
  sourceRunId: string | null;
  lifecycleStage: LifecycleStage;
  tags: Record<string, string>;
  params: Record<string, string>;
  /** Every logged point (model metrics keep their run id). */
  metrics: (Metric & { runId?: string })[];
}

export interface CreateLoggedModelOptions {
  name?: string;
  modelType?: string;
  sourceRunId?: string;
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface SearchLoggedModelsOptions {
  experimentIds: string[];
  /**
   * Attributes (name, model_id, model_type, status, source_run_id, creation_timestamp, …), `tags.<key>`,
   * `params.<key>` (=, !=, LIKE, ILIKE on quoted strings) and `metrics.<key>` (=, !=, <, <=, >, >= on numbers;
   * the latest point of that metric).
   */
  filterString?: string;
  /** Only metric points logged on one of these datasets count for `metrics.` terms (MLflow's `datasets`). */
  datasets?: { datasetName: string; datasetDigest?: string }[];
  /**
   * `{field_name, ascending, dataset_name, dataset_digest}` as MLflow sends it, or `"name ASC"` strings; an
   * attribute or `metrics.<key>` (its latest value, on the dataset when one is named; models without it last).
   */
  orderBy?:
    ({ fieldName: string; ascending?: boolean; datasetName?: string; datasetDigest?: string } | string)[];
  /** Default 50. */
  maxResults?: number;
  pageToken?: string;
}

export interface LoggedModelsPage {
  models: LoggedModel[];
  nextPageToken?: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LogBatch {
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

export interface CreateRunOptions {
  experimentId?: string;
  runName?: string;
  startTime?: number;
  userId?: string;
  tags?: Record<string, string>;
}

export interface SearchRunsOptions {
  experimentIds?: string[];
  experimentNames?: string[];
  filterString?: string;
  orderBy?: string[];
  /** Default 1000, at most 50000. */
  maxResults?: number;
  pageToken?: string;
  viewType?: ViewType;
}

export interface RunsPage {
  runs: Run[];
  nextPageToken?: string;
}

export interface SearchExperimentsOptions {
  filterString?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
  viewType?: ViewType;
}

export interface ExperimentsPage {
  experiments: Experiment[];
  nextPageToken?: string;
}

export interface ArtifactFile {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

export type ModelStage = "None" | "Staging" | "Production" | "Archived";

export interface ModelVersion {
  name: string;
  version: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  currentStage: string;
  description: string | null;
  source: string;
  runId: string | null;
  runLink: string | null;
  status: string;
  statusMessage: string | null;
  storageLocation: string | null;
  modelId: string | null;
  userId: string | null;
  tags: Record<string, string>;
  aliases: string[];
}

export interface RegisteredModel {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  description: string | null;
  tags: Record<string, string>;
  /** alias → version */
  aliases: Record<string, string>;
  /** Highest version per stage. */
  latestVersions: ModelVersion[];
}

/** Filter, order and page of a registry search (registered models or model versions). */
export interface SearchRegistryOptions {
  filterString?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

/** What `createModelVersion` records besides the name and source. */
export interface CreateModelVersionOptions {
  runId?: string;
  description?: string;
  tags?: Record<string, string>;
  runLink?: string;
  /** The MLflow 3 logged model this version registers (source `models:/m-…`). */
  modelId?: string;
}

export interface RegistryClient {
  createRegisteredModel(
    name: string,
    options?: { description?: string; tags?: Record<string, string> },
  ): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  searchRegisteredModels(
    options?: SearchRegistryOptions,
  ): Promise<{ registeredModels: RegisteredModel[]; nextPageToken?: string }>;
  updateRegisteredModel(name: string, description: string): Promise<RegisteredModel>;
  renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel>;
  deleteRegisteredModel(name: string): Promise<void>;
  setRegisteredModelTag(name: string, key: string, value: string): Promise<void>;
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;
  createModelVersion(
    name: string,
    source: string,
    options?: CreateModelVersionOptions,
  ): Promise<ModelVersion>;
  getModelVersion(name: string, version: string): Promise<ModelVersion>;
  updateModelVersion(name: string, version: string, description: string): Promise<ModelVersion>;
  deleteModelVersion(name: string, version: string): Promise<void>;
  searchModelVersions(
    options?: SearchRegistryOptions,
  ): Promise<{ modelVersions: ModelVersion[]; nextPageToken?: string }>;
  getLatestVersions(name: string, stages?: string[]): Promise<ModelVersion[]>;
  transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions?: boolean,
  ): Promise<ModelVersion>;
  setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  deleteModelVersionTag(name: string, version: string, key: string): Promise<void>;
  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void>;
  deleteRegisteredModelAlias(name: string, alias: string): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;
  getModelVersionDownloadUri(name: string, version: string): Promise<string>;
}

/** Everything a trainer, the CLI or the server needs; the file store and the REST client both implement it. */
export interface TrackingClient extends RegistryClient {
  /** The tracking URI this client talks to (`file:///…` or `http(s)://…`). */
  readonly trackingUri: string;

  createExperiment(
    name: string,
    options?: { artifactLocation?: string; tags?: Record<string, string> },
  ): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  /** The experiment with this name (active or deleted), or null. */
  getExperimentByName(name: string): Promise<Experiment | null>;
  searchExperiments(options?: SearchExperimentsOptions): Promise<ExperimentsPage>;
  renameExperiment(experimentId: string, newName: string): Promise<void>;
  deleteExperiment(experimentId: string): Promise<void>;
  restoreExperiment(experimentId: string): Promise<void>;
  setExperimentTag(experimentId: string, key: string, value: string): Promise<void>;
  deleteExperimentTag(experimentId: string, key: string): Promise<void>;

  createRun(options?: CreateRunOptions): Promise<Run>;
  getRun(runId: string): Promise<Run>;
  updateRun(
    runId: string,
    update: { status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<RunInfo>;
  /** Marks a run finished (or FAILED/KILLED) with an end time (default now). */
  setTerminated(runId: string, status?: RunStatus, endTime?: number): Promise<void>;
  deleteRun(runId: string): Promise<void>;
  restoreRun(runId: string): Promise<void>;

  logMetric(
    runId: string,
    key: string,
    value: number,
    options?: { timestamp?: number; step?: number },
  ): Promise<void>;
  logParam(runId: string, key: string, value: string | number | boolean | null): Promise<void>;
  setTag(runId: string, key: string, value: string): Promise<void>;
  deleteTag(runId: string, key: string): Promise<void>;
  /** One batch within MLflow's limits (1000 metrics, 100 params, 100 tags); use AsyncLogger for more. */
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  getMetricHistory(runId: string, key: string): Promise<Metric[]>;
  searchRuns(options?: SearchRunsOptions): Promise<RunsPage>;

  /** Copies one local file into the run's artifacts (under `artifactPath` when given). */
  logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  /** Copies a local directory's contents into the run's artifacts. */
  logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void>;
  listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]>;
  /**
   * A local path holding the artifacts a `runs:/`, `models:/`, `file:` or `mlflow-artifacts:` URI names;
   * remote artifacts are downloaded into `dstDir` (default: a fresh temp dir).
   */
  downloadArtifacts(uri: string, dstDir?: string): Promise<string>;

  /** Records dataset inputs (and model inputs) of a run; re-logging an existing input is a no-op. */
  logInputs(
    runId: string,
    inputs: { datasets?: DatasetInput[]; models?: { modelId: string }[] },
  ): Promise<void>;
  /** Records logged models a run produced (`runs/outputs`). */
  logOutputs(runId: string, models: { modelId: string; step: number }[]): Promise<void>;

  /** Creates a PENDING logged model `m-<hex>` in an experiment. */
  createLoggedModel(experimentId: string, options?: CreateLoggedModelOptions): Promise<LoggedModel>;
  /** A logged model by id; deleted ones only with `allowDeleted`. */
  getLoggedModel(modelId: string, allowDeleted?: boolean): Promise<LoggedModel>;
  /** Sets the status (READY once its files are uploaded, or UPLOAD_FAILED). */
  finalizeLoggedModel(modelId: string, status: LoggedModelStatus): Promise<LoggedModel>;
  deleteLoggedModel(modelId: string): Promise<void>;
  setLoggedModelTags(modelId: string, tags: Record<string, string>): Promise<void>;
  deleteLoggedModelTag(modelId: string, key: string): Promise<void>;
  logLoggedModelParams(modelId: string, params: Record<string, string>): Promise<void>;
  searchLoggedModels(options: SearchLoggedModelsOptions): Promise<LoggedModelsPage>;
  /** Uploads a local model directory's contents as the logged model's artifacts. */
  logModelArtifacts(modelId: string, localDir: string): Promise<void>;
}
