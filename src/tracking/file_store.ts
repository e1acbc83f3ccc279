// deno-lint-ignore-file require-await -- the store is synchronous underneath; `async` turns its throws into rejections
/**
 * `FileStore`: the TrackingClient over an MLflow `mlruns/` directory. It composes the experiment, run, index and
 * artifact modules (logged models and inputs: file_store_models.ts; registry: file_store_registry.ts); every method
 * validates like MLflow and writes crash-safely.
 * Synchronous underneath (the async signatures match the REST client), so `logBatchSync` can flush from an
 * unload handler.
 */
import { join } from "node:path";
import { notFound } from "./errors.ts";
import { copyTree, exists, listDirs } from "./_fs.ts";
import * as exps from "./file_experiments.ts";
import * as runs from "./file_runs.ts";
import * as io from "./file_inputs.ts";
import { changeStamp, DEFAULT_FOREIGN_MS, DEFAULT_STALE_MS, experimentIndexAsync } from "./run_index.ts";
import { FileStoreModels } from "./file_store_models.ts";
import { copyIntoArtifacts, listLocalArtifacts, localArtifactDir, resolveArtifactUri } from "./artifacts.ts";
import { compileEntityFilter, compileEntityOrder, type EntitySchema } from "./search/entities.ts";
import { paginate } from "./search/paging.ts";
import { matchRuns } from "./search/runs.ts";
import { parseRunStatus } from "./meta.ts";
import type {
  ArtifactFile,
  CreateRunOptions,
  Experiment,
  ExperimentsPage,
  LogBatch,
  Metric,
  Run,
  RunInfo,
  RunsPage,
  RunStatus,
  SearchExperimentsOptions,
  SearchRunsOptions,
  TrackingClient,
  ViewType,
} from "./types.ts";
import { appendToUri, parseRunsUri, pathToFileUri } from "./uri.ts";
import {
  exactInt,
  normalizeBatchTag,
  validateBatchLimits,
  validateExperimentId,
  validateKey,
  validateRunId,
} from "./validation.ts";

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

/** A search result callers may change without touching the index (its dataset inputs' objects stay shared). */
function copyRun(r: Run): Run {
  const out: Run = {
    info: { ...r.info },
    data: { metrics: { ...r.data.metrics }, params: { ...r.data.params }, tags: { ...r.data.tags } },
  };
  if (r.inputs) out.inputs = { datasetInputs: [...r.inputs.datasetInputs], modelInputs: [] };
  if (r.outputs) out.outputs = { modelOutputs: r.outputs.modelOutputs.map((o) => ({ ...o })) };
  return out;
}

/** Options of a FileStore. */
export interface FileStoreOptions {
  /**
   * Default artifact root of new experiments (`<artifactRoot>/<id>`, also experiment 0's when the store is
   * bootstrapped): default the root's `file:` URI; a tracking server serving artifacts uses `mlflow-artifacts:/`.
   */
  artifactRoot?: string;
  /**
   * How long a write by a tool that does not journal (e.g. real MLflow) to a run's meta.yaml, or to the metric,
   * param and tag files of a live run (RUNNING, or changed within the last minute), may stay invisible to search (ms).
   */
  staleMs?: number;
  /** The same bound for such writes to the metric, param and tag files of the other runs (ms). */
  foreignMs?: number;
}

/** Run locations remembered at most (~200 bytes each); past this the map starts over. */
const MAX_RUN_DIRS = 100_000;

interface CachedSearch {
  generations: string;
  runs: Run[];
}

export class FileStore extends FileStoreModels implements TrackingClient {
  readonly root: string;
  readonly trackingUri: string;
  /** Default artifact root of new experiments. */
  readonly artifactRoot: string;
  readonly #staleMs: number;
  readonly #foreignMs: number;
  #runDirs = new Map<string, { expDir: string; runDir: string }>();
  /** Filtered, sorted search results per query, valid while the searched indexes keep their generations. */
  #searches = new Map<string, CachedSearch>();

  /** Opens (and bootstraps, like MLflow) the store at an absolute root directory. */
  constructor(root: string, options: FileStoreOptions = {}) {
    super(root);
    this.root = root;
    this.trackingUri = pathToFileUri(root);
    this.artifactRoot = options.artifactRoot ?? this.trackingUri;
    this.#staleMs = options.staleMs ?? DEFAULT_STALE_MS;
    this.#foreignMs = options.foreignMs ?? DEFAULT_FOREIGN_MS;
    exps.ensureRoot(root, this.artifactRoot);
  }

  // ---- experiments -------------------------------------------------------------------------------------------

  async createExperiment(
    name: string,
    options?: { artifactLocation?: string; tags?: Record<string, string> },
  ): Promise<string> {
    return exps.createExperiment(this.root, name, { ...options, artifactRoot: this.artifactRoot });
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
  async deleteExperimentTag(experimentId: string, key: string): Promise<void> {
    return exps.deleteExperimentTag(this.root, experimentId, key);
  }
  /**
   * A stamp that changes whenever a storyteller writer changed the experiment (its directory mtime and journal
   * size, active or trashed): cheap enough (four stats) to validate a cache on every request.
   */
  experimentStamp(experimentId: string): string {
    validateExperimentId(experimentId);
    return [join(this.root, experimentId), join(this.root, exps.TRASH, experimentId)].map(changeStamp).join(
      "|",
    );
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
          if (this.#runDirs.size >= MAX_RUN_DIRS) this.#runDirs.clear();
          this.#runDirs.set(runId, loc);
          return loc;
        }
      }
    }
    throw notFound(`Run '${runId}' not found`);
  }

  async createRun(options: CreateRunOptions = {}): Promise<Run> {
    const expId = options.experimentId ?? "0";
    if (options.startTime !== undefined) exactInt("start_time", options.startTime);
    const exp = exps.getExperiment(this.root, expId);
    const expDir = exps.experimentDir(this.root, expId)!;
    const run = runs.createRunDir(expDir, exp, options);
    if (this.#runDirs.size >= MAX_RUN_DIRS) this.#runDirs.clear();
    this.#runDirs.set(run.info.runId, { expDir, runDir: join(expDir, run.info.runId) });
    return run;
  }
  /** The run with its inputs (datasets, models) and outputs (logged models). */
  async getRun(runId: string): Promise<Run> {
    const { expDir, runDir } = this.locateRun(runId);
    return {
      ...runs.readRun(runDir),
      inputs: io.readRunInputs(expDir, runDir),
      outputs: io.readRunOutputs(runDir),
    };
  }
  getRunInfoSync(runId: string): RunInfo {
    return runs.readRunInfo(this.locateRun(runId).runDir);
  }
  async updateRun(
    runId: string,
    update: { status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<RunInfo> {
    if (update.endTime !== undefined) exactInt("end_time", update.endTime);
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
    // The key names a file under the run: checked before anything on disk is touched.
    validateKey("metric", key);
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

  /**
   * Searches runs from the in-memory index (run_index.ts). The filtered, sorted list of a query is kept until an
   * index it came from changes, so repeated searches (a UI polling, pages of one query) cost a slice.
   */
  async searchRuns(options: SearchRunsOptions = {}): Promise<RunsPage> {
    const view = options.viewType ?? "ACTIVE_ONLY";
    const indexes: { id: string; runs: Iterable<Run>; generation: number }[] = [];
    for (const id of this.#searchExperimentIds(options)) {
      const expDir = exps.experimentDir(this.root, id);
      if (!expDir) throw notFound(`Could not find experiment with ID ${id}`);
      indexes.push({
        id,
        ...await experimentIndexAsync(expDir, id, this.#staleMs, undefined, this.#foreignMs),
      });
    }
    const generations = indexes.map((x) => `${x.id}@${x.generation}`).join(",");
    const key = JSON.stringify([
      generations.replace(/@\d+/g, ""),
      options.filterString,
      options.orderBy,
      view,
    ]);
    let hit = this.#searches.get(key);
    if (!hit || hit.generations !== generations) {
      const candidates: Run[] = [];
      for (const x of indexes) {
        for (const r of x.runs) if (inView(r.info.lifecycleStage, view)) candidates.push(r);
      }
      hit = { generations, runs: matchRuns(candidates, options) };
      if (this.#searches.size >= 64) this.#searches.delete(this.#searches.keys().next().value!);
      this.#searches.set(key, hit);
    }
    const page = paginate(hit.runs, options.maxResults ?? 1000, options.pageToken, 50000);
    return { runs: page.items.map(copyRun), nextPageToken: page.nextPageToken };
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
  /**
   * Resolves any artifact URI to a URI (file: here, or the server's mlflow-artifacts:); exposed for the server
   * and `downloadArtifacts`. Like MLflow 3, `runs:/<run>/<name>/…` falls back to the run's logged model `<name>`
   * when the run's own artifacts have no such path.
   */
  async resolveArtifactUri(uri: string): Promise<string> {
    const resolved = await resolveArtifactUri(uri, {
      runArtifactUri: (id) => Promise.resolve(this.getRunInfoSync(id).artifactUri),
      registry: this,
      loggedModelUri: async (id) => (await this.getLoggedModel(id)).artifactLocation,
    });
    if (!uri.startsWith("runs:")) return resolved;
    const { runId, path } = parseRunsUri(uri);
    const [name, ...rest] = path.split("/");
    let local: string | null = null;
    try {
      local = localArtifactDir(resolved);
    } catch { /* a remote run artifact root: the server checks it */ }
    if (!name || (local !== null && exists(local))) return resolved;
    const model = this.runLoggedModel(runId, name);
    return model ? appendToUri(model.artifactLocation, rest.join("/")) : resolved;
  }
  async downloadArtifacts(uri: string, dstDir?: string): Promise<string> {
    const local = localArtifactDir(await this.resolveArtifactUri(uri));
    if (!exists(local)) throw notFound(`Cannot find artifacts at '${uri}': ${local} does not exist`);
    if (!dstDir) return local;
    const dst = join(dstDir, local.split("/").pop()!);
    copyTree(local, dst);
    return dst;
  }
}
