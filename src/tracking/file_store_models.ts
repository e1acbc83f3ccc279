// deno-lint-ignore-file require-await -- the store is synchronous underneath; `async` turns its throws into rejections
/**
 * The MLflow 3 half of the FileStore: logged models (`<exp>/models/m-…`, file_logged_models.ts) and run inputs and
 * outputs (file_inputs.ts), found across active and trashed experiments. FileStore (file_store.ts) extends it.
 */
import { join } from "node:path";
import { invalid } from "./errors.ts";
import { listDirs } from "./_fs.ts";
import { copyIntoArtifacts } from "./artifacts.ts";
import * as exps from "./file_experiments.ts";
import * as runs from "./file_runs.ts";
import * as models from "./file_logged_models.ts";
import * as io from "./file_inputs.ts";
import { FileStoreRegistry } from "./file_store_registry.ts";
import type {
  CreateLoggedModelOptions,
  DatasetInput,
  LoggedModel,
  LoggedModelsPage,
  LoggedModelStatus,
  Metric,
  SearchLoggedModelsOptions,
} from "./types.ts";
import { requireActive } from "./validation.ts";

/** Logged-model and input/output methods of the FileStore over the store at `root`. */
export abstract class FileStoreModels extends FileStoreRegistry {
  abstract readonly root: string;

  /** The newest active logged model named `name` that the run produced, or null. */
  protected runLoggedModel(runId: string, name: string): LoggedModel | null {
    const { expDir } = this.locateRun(runId);
    return models.listLoggedModels(expDir)
      .filter((m) => m.name === name && m.sourceRunId === runId && m.lifecycleStage === "active")
      .sort((a, b) => b.creationTimestamp - a.creationTimestamp)[0] ?? null;
  }

  // ---- inputs and outputs -------------------------------------------------------------------------------------

  async logInputs(
    runId: string,
    inputs: { datasets?: DatasetInput[]; models?: { modelId: string }[] },
  ): Promise<void> {
    const { expDir, runDir } = this.locateRun(runId);
    const info = runs.readRunInfo(runDir);
    requireActive(runId, info.lifecycleStage);
    for (const m of inputs.models ?? []) await this.getLoggedModel(m.modelId);
    io.logInputs(expDir, runDir, runId, inputs);
  }
  async logOutputs(runId: string, outputs: { modelId: string; step: number }[]): Promise<void> {
    const { runDir } = this.locateRun(runId);
    requireActive(runId, runs.readRunInfo(runDir).lifecycleStage);
    for (const m of outputs) await this.getLoggedModel(m.modelId);
    io.logOutputs(runDir, outputs);
  }

  // ---- logged models (MLflow 3) --------------------------------------------------------------------------------

  /** Directories of every experiment, active then trashed (where a logged model may live). */
  #experimentDirs(): string[] {
    const out: string[] = [];
    for (const name of listDirs(this.root)) {
      if (!exps.NON_EXPERIMENT_DIRS.has(name)) out.push(join(this.root, name));
    }
    for (const name of listDirs(join(this.root, exps.TRASH))) out.push(join(this.root, exps.TRASH, name));
    return out;
  }
  #modelDir(modelId: string): string | null {
    return models.findModelDir(this.#experimentDirs(), modelId);
  }

  async createLoggedModel(
    experimentId: string,
    options: CreateLoggedModelOptions = {},
  ): Promise<LoggedModel> {
    const exp = exps.getExperiment(this.root, experimentId);
    if (options.sourceRunId) this.locateRun(options.sourceRunId);
    return models.createLoggedModel(exps.experimentDir(this.root, experimentId)!, exp, options);
  }
  async getLoggedModel(modelId: string, allowDeleted = false): Promise<LoggedModel> {
    return models.getLoggedModelAt(this.#modelDir(modelId), modelId, allowDeleted);
  }
  async finalizeLoggedModel(modelId: string, status: LoggedModelStatus): Promise<LoggedModel> {
    return models.finalizeLoggedModel(this.#requireModelDir(modelId), modelId, status);
  }
  async deleteLoggedModel(modelId: string): Promise<void> {
    return models.deleteLoggedModel(this.#requireModelDir(modelId), modelId);
  }
  async setLoggedModelTags(modelId: string, tags: Record<string, string>): Promise<void> {
    return models.setLoggedModelTags(this.#requireModelDir(modelId), modelId, tags);
  }
  async deleteLoggedModelTag(modelId: string, key: string): Promise<void> {
    return models.deleteLoggedModelTag(this.#requireModelDir(modelId), modelId, key);
  }
  async logLoggedModelParams(modelId: string, params: Record<string, string>): Promise<void> {
    return models.logLoggedModelParams(this.#requireModelDir(modelId), modelId, params);
  }
  /** Appends metric points a run logged with a `model_id` to that model's metrics. */
  logLoggedModelMetrics(modelId: string, runId: string, metrics: Metric[]): void {
    const dir = this.#requireModelDir(modelId);
    models.getLoggedModelAt(dir, modelId);
    models.appendModelMetrics(dir, runId, metrics);
  }
  #requireModelDir(modelId: string): string {
    const dir = this.#modelDir(modelId);
    models.getLoggedModelAt(dir, modelId, true);
    return dir!;
  }
  async searchLoggedModels(options: SearchLoggedModelsOptions): Promise<LoggedModelsPage> {
    if (!options.experimentIds?.length) {
      throw invalid(
        "Cannot search logged models: no experiment_ids given",
        "pass at least one experiment id",
      );
    }
    const dirs = options.experimentIds.map((id) => {
      exps.getExperiment(this.root, id);
      return exps.experimentDir(this.root, id)!;
    });
    return models.searchLoggedModels(dirs, options);
  }
  async logModelArtifacts(modelId: string, localDir: string): Promise<void> {
    copyIntoArtifacts((await this.getLoggedModel(modelId)).artifactLocation, localDir, "", true);
  }
}
