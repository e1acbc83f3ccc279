// deno-lint-ignore-file require-await -- the store is synchronous underneath; `async` turns its throws into rejections
/**
 * `FileStore`: the TrackingClient over an MLflow `mlruns/` directory. It composes the experiment, run, index and
 * registry modules; every method validates like MLflow and writes crash-safely. Synchronous underneath (the
 * async signatures match the REST client), so `logBatchSync` can flush from an unload handler.
 */
import { join } from "node:path";
import { notFound } from "./errors.ts";
import { copyTree, exists, listDirs, writeAtomic } from "./_fs.ts";
import { toPyYaml } from "../yaml.ts";
import * as exps from "./file_experiments.ts";
import * as runs from "./file_runs.ts";
import { experimentRuns } from "./run_index.ts";
import { FileRegistry } from "./file_registry.ts";
import {
  copyIntoArtifacts,
  listLocalArtifacts,
  localArtifactDir,
  modelVersionOfUri,
  resolveArtifactUri,
} from "./artifacts.ts";
import { compileEntityFilter, compileEntityOrder, type EntitySchema } from "./search/entities.ts";
import { paginate } from "./search/paging.ts";
import { searchRunList } from "./search/runs.ts";
import { parseRunStatus } from "./meta.ts";
import type {
  ArtifactFile,
  CreateRunOptions,
  Experiment,
  ExperimentsPage,
  LogBatch,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunsPage,
  RunStatus,
  SearchExperimentsOptions,
  SearchRunsOptions,
  TrackingClient,
  ViewType,
} from "./types.ts";
import { parseRunsUri, pathToFileUri } from "./uri.ts";
import { normalizeBatchTag, validateBatchLimits, validateRunId } from "./validation.ts";

const EXPERIMENT_SCHEMA: EntitySchema<Experiment> = {
  what: "experiments",
  attrs: {
    name: { kind: "string", get: (e) => e.name },
    experiment_id: { kind: "string", get: (e) => e.experimentId },
    creation_time: { kind: "number", get: (e) => e.creationTime },
    last_update_time: { kind: "number", get: (e) => e.lastUpdateTime },
  },
  tags: (e) => e.tags,
};

function inView(stage: string, view: ViewType = "ACTIVE_ONLY"): boolean {
  return view === "ALL" || (view === "ACTIVE_ONLY" ? stage === "active" : stage === "deleted");
}

function copyRun(r: Run): Run {
  return {
    info: { ...r.info },
    data: { metrics: { ...r.data.metrics }, params: { ...r.data.params }, tags: { ...r.data.tags } },
  };
}

export class FileStore implements TrackingClient {
  readonly root: string;
  readonly trackingUri: string;
  readonly registry: FileRegistry;
  #runDirs = new Map<string, { expDir: string; runDir: string }>();

  /** Opens (and bootstraps, like MLflow) the store at an absolute root directory. */
  constructor(root: string) {
    this.root = root;
    this.trackingUri = pathToFileUri(root);
    exps.ensureRoot(root);
    this.registry = new FileRegistry(root);
  }

  // ---- experiments -------------------------------------------------------------------------------------------

  async createExperiment(
    name: string,
    options?: { artifactLocation?: string; tags?: Record<string, string> },
  ): Promise<string> {
    return exps.createExperiment(this.root, name, options);
  }
  async getExperiment(experimentId: string): Promise<Experiment> {
    return exps.getExperiment(this.root, experimentId);
  }
  async getExperimentByName(name: string): Promise<Experiment | null> {
    return exps.listExperiments(this.root).find((e) => e.name === name) ?? null;
  }
  async searchExperiments(options: SearchExperimentsOptions = {}): Promise<ExperimentsPage> {
    const pred = compileEntityFilter(EXPERIMENT_SCHEMA, options.filterString);
    const order = compileEntityOrder(EXPERIMENT_SCHEMA, options.orderBy, [["creation_time", false], [
      "experiment_id",
      true,
    ]]);
    const all = exps.listExperiments(this.root).filter((e) => inView(e.lifecycleStage, options.viewType))
      .filter(pred).sort(order);
    const page = paginate(all, options.maxResults ?? 1000, options.pageToken, 50000);
    return { experiments: page.items, nextPageToken: page.nextPageToken };
  }
  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    return exps.renameExperiment(this.root, experimentId, newName);
  }
  async deleteExperiment(experimentId: string): Promise<void> {
    exps.deleteExperiment(this.root, experimentId, runs.markRunsDeleted);
    this.#runDirs.clear();
    return;
  }
  async restoreExperiment(experimentId: string): Promise<void> {
    exps.restoreExperiment(this.root, experimentId, runs.restoreRunsSince);
    this.#runDirs.clear();
    return;
  }
  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    return exps.setExperimentTag(this.root, experimentId, key, value);
  }

  // ---- runs --------------------------------------------------------------------------------------------------

  /** Where a run lives (scans active and trashed experiments, as MLflow does). */
  locateRun(runId: string): { expDir: string; runDir: string } {
    validateRunId(runId);
    const cached = this.#runDirs.get(runId);
    if (cached && exists(join(cached.runDir, "meta.yaml"))) return cached;
    for (const parent of [this.root, join(this.root, exps.TRASH)]) {
      for (const name of listDirs(parent)) {
        if (parent === this.root && exps.NON_EXPERIMENT_DIRS.has(name)) continue;
        const expDir = join(parent, name);
        const runDir = join(expDir, runId);
        if (exists(join(runDir, "meta.yaml"))) {
          const loc = { expDir, runDir };
          this.#runDirs.set(runId, loc);
          return loc;
        }
      }
    }
    throw notFound(`Run '${runId}' not found`);
  }

  async createRun(options: CreateRunOptions = {}): Promise<Run> {
    const expId = options.experimentId ?? "0";
    const exp = exps.getExperiment(this.root, expId);
    const expDir = exps.experimentDir(this.root, expId)!;
    const run = runs.createRunDir(expDir, exp, options);
    this.#runDirs.set(run.info.runId, { expDir, runDir: join(expDir, run.info.runId) });
    return run;
  }
  async getRun(runId: string): Promise<Run> {
    return runs.readRun(this.locateRun(runId).runDir);
  }
  getRunInfoSync(runId: string): RunInfo {
    return runs.readRunInfo(this.locateRun(runId).runDir);
  }
  async updateRun(
    runId: string,
    update: { status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<RunInfo> {
    const { expDir, runDir } = this.locateRun(runId);
    let info = runs.readRunInfo(runDir);
    info = {
      ...info,
      status: update.status ? parseRunStatus(update.status) : info.status,
      endTime: update.endTime ?? info.endTime,
      runName: update.runName || info.runName,
    };
    runs.writeRunInfo(runDir, info);
    if (update.runName) runs.writeTags(runDir, info, [{ key: "mlflow.runName", value: update.runName }]);
    runs.journal(expDir, runId);
    return info;
  }
  async setTerminated(runId: string, status: RunStatus = "FINISHED", endTime?: number): Promise<void> {
    await this.updateRun(runId, { status, endTime: endTime ?? Date.now() });
  }
  #setLifecycle(runId: string, deleted: boolean): void {
    const { expDir, runDir } = this.locateRun(runId);
    const info = runs.readRunInfo(runDir);
    runs.writeRunInfo(
      runDir,
      deleted
        ? { ...info, lifecycleStage: "deleted", deletedTime: Date.now() }
        : { ...info, lifecycleStage: "active", deletedTime: undefined },
    );
    runs.journal(expDir, runId);
  }
  async deleteRun(runId: string): Promise<void> {
    return this.#setLifecycle(runId, true);
  }
  async restoreRun(runId: string): Promise<void> {
    return this.#setLifecycle(runId, false);
  }

  async logMetric(
    runId: string,
    key: string,
    value: number,
    options: { timestamp?: number; step?: number } = {},
  ): Promise<void> {
    return this.logBatch(runId, {
      metrics: [{ key, value, timestamp: options.timestamp ?? Date.now(), step: options.step ?? 0 }],
    });
  }
  async logParam(runId: string, key: string, value: string | number | boolean | null): Promise<void> {
    const { expDir, runDir } = this.locateRun(runId);
    runs.writeParams(runDir, runs.readRunInfo(runDir), [{ key, value: value as string }]);
    runs.journal(expDir, runId);
    return;
  }
  async setTag(runId: string, key: string, value: string): Promise<void> {
    const { expDir, runDir } = this.locateRun(runId);
    runs.writeTags(runDir, runs.readRunInfo(runDir), [{ key, value: String(value) }]);
    runs.journal(expDir, runId);
    return;
  }
  async deleteTag(runId: string, key: string): Promise<void> {
    const { expDir, runDir } = this.locateRun(runId);
    runs.removeTag(runDir, runs.readRunInfo(runDir), key);
    runs.journal(expDir, runId);
    return;
  }
  /** log_batch without the Promise: params first (all-or-nothing), then tags, then metrics. */
  logBatchSync(runId: string, batch: LogBatch): void {
    validateBatchLimits(batch);
    const { expDir, runDir } = this.locateRun(runId);
    let info = runs.readRunInfo(runDir);
    if (batch.params?.length) runs.writeParams(runDir, info, batch.params);
    if (batch.tags?.length) info = runs.writeTags(runDir, info, batch.tags.map(normalizeBatchTag));
    if (batch.metrics?.length) runs.appendMetrics(runDir, info, batch.metrics);
    runs.journal(expDir, runId);
  }
  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    return this.logBatchSync(runId, batch);
  }
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    return runs.readMetricHistory(this.locateRun(runId).runDir, key);
  }

  /** Experiment ids a search covers: the given ids, the named experiments, or every active experiment. */
  #searchExperimentIds(options: SearchRunsOptions): string[] {
    const ids = [...(options.experimentIds ?? [])];
    if (options.experimentNames?.length) {
      const all = exps.listExperiments(this.root);
      for (const name of options.experimentNames) {
        const e = all.find((x) => x.name === name);
        if (!e) {
          throw notFound(
            `Could not find experiment with name '${name}'`,
            `existing experiments: ${all.map((x) => x.name).join(", ") || "none"}`,
          );
        }
        ids.push(e.experimentId);
      }
    }
    if (ids.length === 0 && !options.experimentNames?.length) {
      return exps.listExperiments(this.root).filter((e) => e.lifecycleStage === "active").map((e) =>
        e.experimentId
      );
    }
    return ids;
  }

  async searchRuns(options: SearchRunsOptions = {}): Promise<RunsPage> {
    const view = options.viewType ?? "ACTIVE_ONLY";
    const candidates: Run[] = [];
    for (const id of this.#searchExperimentIds(options)) {
      const expDir = exps.experimentDir(this.root, id);
      if (!expDir) throw notFound(`Could not find experiment with ID ${id}`);
      for (const r of experimentRuns(expDir, id)) if (inView(r.info.lifecycleStage, view)) candidates.push(r);
    }
    const page = searchRunList(candidates, options);
    return { runs: page.runs.map(copyRun), nextPageToken: page.nextPageToken };
  }

  // ---- artifacts ---------------------------------------------------------------------------------------------

  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    copyIntoArtifacts(this.getRunInfoSync(runId).artifactUri, localPath, artifactPath);
    return;
  }
  async logArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void> {
    copyIntoArtifacts(this.getRunInfoSync(runId).artifactUri, localDir, artifactPath, true);
    return;
  }
  async listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    return listLocalArtifacts(this.getRunInfoSync(runId).artifactUri, path);
  }
  /** Resolves any artifact URI to a URI (file: here); exposed for the server and `downloadArtifacts`. */
  async resolveArtifactUri(uri: string): Promise<string> {
    return resolveArtifactUri(uri, {
      runArtifactUri: (id) => Promise.resolve(this.getRunInfoSync(id).artifactUri),
      registry: this,
    });
  }
  async downloadArtifacts(uri: string, dstDir?: string): Promise<string> {
    const local = localArtifactDir(await this.resolveArtifactUri(uri));
    if (!exists(local)) throw notFound(`Cannot find artifacts at '${uri}': ${local} does not exist`);
    if (!dstDir) return local;
    const dst = join(dstDir, local.split("/").pop()!);
    copyTree(local, dst);
    return dst;
  }

  // ---- registry ----------------------------------------------------------------------------------------------

  async createRegisteredModel(
    name: string,
    options?: { description?: string; tags?: Record<string, string> },
  ): Promise<RegisteredModel> {
    return this.registry.createRegisteredModel(name, options);
  }
  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.registry.getRegisteredModel(name);
  }
  async searchRegisteredModels(
    options?: { filterString?: string; maxResults?: number; orderBy?: string[]; pageToken?: string },
  ) {
    return this.registry.searchRegisteredModels(options);
  }
  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    return this.registry.updateRegisteredModel(name, description);
  }
  async renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel> {
    return this.registry.renameRegisteredModel(name, newName);
  }
  async deleteRegisteredModel(name: string): Promise<void> {
    return this.registry.deleteRegisteredModel(name);
  }
  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    return this.registry.setRegisteredModelTag(name, key, value);
  }
  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    return this.registry.deleteRegisteredModelTag(name, key);
  }
  /**
   * Registers `source` (`runs:/<id>/<path>`, `models:/<name>/<v>`, a URI or path) as a new version; a local
   * model directory gets MLflow's `registered_model_meta` file.
   */
  async createModelVersion(
    name: string,
    source: string,
    options: { runId?: string; description?: string; tags?: Record<string, string>; runLink?: string } = {},
  ): Promise<ModelVersion> {
    let runId = options.runId;
    let storageLocation = source;
    if (source.startsWith("runs:")) {
      runId ??= parseRunsUri(source).runId;
      this.locateRun(runId);
    } else if (source.startsWith("models:")) {
      const { mv } = await modelVersionOfUri(this, source);
      storageLocation = await this.getModelVersionDownloadUri(mv.name, mv.version);
    }
    this.registry.getRegisteredModel(name);
    const mv = this.registry.createModelVersion(name, source, { ...options, runId, storageLocation });
    try {
      const dir = localArtifactDir(await this.resolveArtifactUri(source));
      if (exists(dir) && Deno.statSync(dir).isDirectory) {
        writeAtomic(
          join(dir, "registered_model_meta"),
          toPyYaml({ model_name: name, model_version: mv.version }),
          dir,
        );
      }
    } catch { /* remote or missing source: nothing to annotate */ }
    return mv;
  }
  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return this.registry.getModelVersion(name, version);
  }
  async updateModelVersion(name: string, version: string, description: string): Promise<ModelVersion> {
    return this.registry.updateModelVersion(name, version, description);
  }
  async deleteModelVersion(name: string, version: string): Promise<void> {
    return this.registry.deleteModelVersion(name, version);
  }
  async searchModelVersions(
    options?: { filterString?: string; maxResults?: number; orderBy?: string[]; pageToken?: string },
  ) {
    return this.registry.searchModelVersions(options);
  }
  async getLatestVersions(name: string, stages?: string[]): Promise<ModelVersion[]> {
    return this.registry.getLatestVersions(name, stages);
  }
  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions = false,
  ): Promise<ModelVersion> {
    return this.registry.transitionModelVersionStage(name, version, stage, archiveExistingVersions);
  }
  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    return this.registry.setModelVersionTag(name, version, key, value);
  }
  async deleteModelVersionTag(name: string, version: string, key: string): Promise<void> {
    return this.registry.deleteModelVersionTag(name, version, key);
  }
  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    return this.registry.setRegisteredModelAlias(name, alias, version);
  }
  async deleteRegisteredModelAlias(name: string, alias: string): Promise<void> {
    return this.registry.deleteRegisteredModelAlias(name, alias);
  }
  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return this.registry.getModelVersionByAlias(name, alias);
  }
  async getModelVersionDownloadUri(name: string, version: string): Promise<string> {
    const mv = this.registry.getModelVersion(name, version);
    return mv.storageLocation ?? mv.source;
  }
}
