/**
 * The tracking library: an MLflow-compatible `mlruns/` file store, a REST client for MLflow tracking servers,
 * MLflow's search grammar, the model registry, URI resolution and an asynchronous logger for training loops.
 * Everything outside src/tracking imports from here.
 */
export type {
  ArtifactFile,
  CreateLoggedModelOptions,
  CreateModelVersionOptions,
  CreateRunOptions,
  Dataset,
  DatasetInput,
  Experiment,
  ExperimentsPage,
  KeyValue,
  LifecycleStage,
  LogBatch,
  LoggedModel,
  LoggedModelsPage,
  LoggedModelStatus,
  Metric,
  ModelStage,
  ModelVersion,
  RegisteredModel,
  RegistryClient,
  Run,
  RunData,
  RunInfo,
  RunInputs,
  RunOutputs,
  RunsPage,
  RunStatus,
  SearchExperimentsOptions,
  SearchLoggedModelsOptions,
  SearchRegistryOptions,
  SearchRunsOptions,
  TrackingClient,
  ViewType,
} from "./types.ts";
export { type ErrorCode, errorCodeOfStatus, httpStatusOf, invalid, TrackingError } from "./errors.ts";
export { getOrCreateExperiment, openTracking } from "./client.ts";
export { FileStore, type FileStoreOptions } from "./file_store.ts";
export { MODEL_VERSIONS_TAG, parseLoggedModelStatus } from "./file_logged_models.ts";
export { datasetId } from "./file_inputs.ts";
export { changeStamp, DEFAULT_FOREIGN_MS, DEFAULT_STALE_MS } from "./run_index.ts";
export { RestClient, type RestClientOptions } from "./rest_client.ts";
export { AsyncLogger, type AsyncLoggerOptions } from "./async_logger.ts";
export {
  describeSync,
  FALLBACK_TAG,
  parseFallbackTag,
  type RunSync,
  SYNCED_TAG,
  type SyncOptions,
  syncRuns,
} from "./sync.ts";
export {
  appendToUri,
  canonicalStage,
  fileUriToPath,
  type ModelsUri,
  parseModelsUri,
  parseRunsUri,
  pathToFileUri,
  resolveTrackingUri,
  type TrackingTarget,
} from "./uri.ts";
export { compileRunFilter, compileRunOrder, searchRunList } from "./search/runs.ts";
export { parseFilter, parseOrderBy } from "./search/filter.ts";
export { paginate } from "./search/paging.ts";
export { validateArtifactPath } from "./artifacts.ts";
export * as proto from "./proto.ts";
export {
  exactInt,
  MAX_ENTITY_KEY_LENGTH,
  MAX_EXACT_INT,
  MAX_METRICS_PER_BATCH,
  MAX_PARAM_VAL_LENGTH,
  MAX_PARAMS_TAGS_PER_BATCH,
  MAX_TAG_VAL_LENGTH,
  validateExperimentId,
  validateKey,
  validatePathSegment,
  validateRunId,
} from "./validation.ts";
export {
  formatMetricLine,
  formatRunMeta,
  malformedMetricLine,
  parseMetricInt,
  parsePyFloat,
  parseRunMeta,
  RUN_STATUSES,
} from "./meta.ts";
export { isDir, readRange } from "./_fs.ts";
export { type RegistrationSource, registrationSource } from "./register_source.ts";
export { IS_PROMPT_TAG } from "./search/entities.ts";
