// deno-lint-ignore-file require-await -- the store is synchronous underneath; `async` turns its throws into rejections
/**
 * The model-registry half of the FileStore: the RegistryClient methods over `<root>/models/`, plus what ties the
 * registry to tracking — a version's source (`runs:/`, `models:/<name>/<v>`, `models:/m-…`) resolved to its
 * storage location, and the logged model's `mlflow.modelVersions` tag. FileStore (file_store.ts) extends it.
 */
import { modelVersionOfUri } from "./artifacts.ts";
import { FileRegistry } from "./file_registry.ts";
import { MODEL_VERSIONS_TAG } from "./file_logged_models.ts";
import type {
  CreateModelVersionOptions,
  LoggedModel,
  ModelVersion,
  RegisteredModel,
  RegistryClient,
  SearchRegistryOptions,
} from "./types.ts";
import { appendToUri, parseModelsUri, parseRunsUri } from "./uri.ts";

/** Registry methods of the FileStore; the tracking side supplies run, logged-model and URI lookups. */
export abstract class FileStoreRegistry implements RegistryClient {
  readonly registry: FileRegistry;

  constructor(root: string) {
    this.registry = new FileRegistry(root);
  }

  abstract locateRun(runId: string): { expDir: string; runDir: string };
  abstract getLoggedModel(modelId: string, allowDeleted?: boolean): Promise<LoggedModel>;
  abstract setLoggedModelTags(modelId: string, tags: Record<string, string>): Promise<void>;
  abstract resolveArtifactUri(uri: string): Promise<string>;

  async createRegisteredModel(
    name: string,
    options?: { description?: string; tags?: Record<string, string> },
  ): Promise<RegisteredModel> {
    return this.registry.createRegisteredModel(name, options);
  }
  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.registry.getRegisteredModel(name);
  }
  async searchRegisteredModels(options?: SearchRegistryOptions) {
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
   * Registers `source` (`runs:/<id>/<path>`, `models:/<name>/<v>`, `models:/m-…`, a URI or path) as a new version.
   * A logged-model source (or `modelId`) stores the model's artifact location and adds the version to the model's
   * `mlflow.modelVersions` tag. The model's files are never touched (MLflow's registry writes nothing into run
   * artifacts); `registrationSource` (register_source.ts) turns a `runs:/` URI into what `mlflow.register_model`
   * would send.
   */
  async createModelVersion(
    name: string,
    source: string,
    options: CreateModelVersionOptions = {},
  ): Promise<ModelVersion> {
    let runId = options.runId;
    let modelId = options.modelId;
    let storageLocation = source;
    if (source.startsWith("runs:")) {
      runId ??= parseRunsUri(source).runId;
      this.locateRun(runId);
    } else if (source.startsWith("models:")) {
      const p = parseModelsUri(source);
      if (p.kind === "modelId") {
        const model = await this.getLoggedModel(p.modelId);
        modelId ??= model.modelId;
        runId ??= model.sourceRunId ?? undefined;
        storageLocation = appendToUri(model.artifactLocation, p.path);
      } else {
        const { mv } = await modelVersionOfUri(this, source);
        storageLocation = await this.getModelVersionDownloadUri(mv.name, mv.version);
      }
    }
    if (modelId !== undefined) await this.getLoggedModel(modelId);
    this.registry.getRegisteredModel(name);
    const mv = this.registry.createModelVersion(name, source, {
      ...options,
      runId,
      storageLocation,
      modelId,
    });
    if (modelId !== undefined) {
      const model = await this.getLoggedModel(modelId);
      const list = JSON.parse(model.tags[MODEL_VERSIONS_TAG] ?? "[]") as unknown[];
      list.push({ name, version: mv.version });
      await this.setLoggedModelTags(modelId, { [MODEL_VERSIONS_TAG]: JSON.stringify(list) });
    }
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
  async searchModelVersions(options?: SearchRegistryOptions) {
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
