/**
 * The model registry in MLflow's file layout: `<root>/models/<name>/{meta.yaml, tags/, aliases/, version-<N>/}`.
 * Resolving a version's source to files is artifacts.ts's job; the records' on-disk format is
 * file_registry_records.ts; this file keeps the rules (validation, locks, stages, aliases, search).
 */
import { join } from "node:path";
import { alreadyExists, invalid, notFound } from "./errors.ts";
import { exists, listDirs, withLock, writeAtomic } from "./_fs.ts";
import * as R from "./file_registry_records.ts";
import {
  compileEntityFilter,
  compileEntityOrder,
  type EntitySchema,
  promptMarkerMissing,
} from "./search/entities.ts";
import { paginate } from "./search/paging.ts";
import type {
  CreateModelVersionOptions,
  ModelVersion,
  RegisteredModel,
  SearchRegistryOptions,
} from "./types.ts";
import { canonicalStage } from "./uri.ts";
import {
  MAX_REGISTRY_TAG_VALUE_LENGTH,
  validateAlias,
  validateKey,
  validateModelName,
} from "./validation.ts";

const STAGES = ["None", "Staging", "Production", "Archived"];

export class FileRegistry {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, "models");
  }

  #modelDir(name: string): string {
    validateModelName(name);
    return join(this.dir, name);
  }

  #requireModel(name: string): string {
    const dir = this.#modelDir(name);
    if (!exists(join(dir, "meta.yaml"))) throw notFound(`Registered Model with name=${name} not found`);
    return dir;
  }

  #readValues(dir: string): Record<string, string> {
    return R.readValues(dir);
  }

  #aliases(name: string): Record<string, string> {
    return R.readValues(join(this.#modelDir(name), "aliases"));
  }

  #writeModelMeta(m: R.ModelMeta): void {
    R.writeModelMeta(join(this.dir, m.name), m, this.#aliases(m.name));
  }

  #readModelMeta(name: string): R.ModelMeta {
    return R.readModelMeta(this.#requireModel(name), name);
  }

  #touch(name: string): void {
    this.#writeModelMeta({ ...this.#readModelMeta(name), lastUpdatedTimestamp: Date.now() });
  }

  #versionNumbers(name: string): number[] {
    return R.versionNumbers(this.#modelDir(name));
  }

  #readVersion(name: string, version: string, includeDeleted = false): ModelVersion | null {
    const vdir = join(this.#modelDir(name), `version-${version}`);
    return R.readVersionMeta(vdir, name, version, this.#aliases(name), includeDeleted);
  }

  #writeVersion(v: ModelVersion): void {
    R.writeVersionMeta(join(this.#modelDir(v.name), `version-${v.version}`), v);
  }

  getModelVersion(name: string, version: string): ModelVersion {
    this.#requireModel(name);
    if (!/^\d+$/.test(String(version))) throw invalid(`Model version must be an integer, got '${version}'`);
    const v = this.#readVersion(name, String(version));
    if (!v) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return v;
  }

  #versions(name: string): ModelVersion[] {
    return this.#versionNumbers(name).map((n) => this.#readVersion(name, String(n))).filter((
      v,
    ): v is ModelVersion => v !== null);
  }

  getLatestVersions(name: string, stages?: string[]): ModelVersion[] {
    this.#requireModel(name);
    const wanted = stages && stages.length ? stages.map(canonicalStage) : STAGES;
    const best = new Map<string, ModelVersion>();
    for (const v of this.#versions(name)) {
      if (!wanted.includes(v.currentStage)) continue;
      const cur = best.get(v.currentStage);
      if (!cur || Number(v.version) > Number(cur.version)) best.set(v.currentStage, v);
    }
    // Newest first. MLflow's order is not one: its FileStore lists stages in Python set order (it varies between
    // server processes), its SQL store by the stage first met walking versions upwards; a live MLflow 3.6 server
    // answered [3, 1] where ascending order gave [1, 3] (issue 16), so the newest version leads here.
    return [...best.values()].sort((a, b) => Number(b.version) - Number(a.version));
  }

  getRegisteredModel(name: string): RegisteredModel {
    const meta = this.#readModelMeta(name);
    return {
      ...meta,
      tags: this.#readValues(join(this.#modelDir(name), "tags")),
      aliases: this.#aliases(name),
      latestVersions: this.getLatestVersions(name),
    };
  }

  createRegisteredModel(
    name: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): RegisteredModel {
    const dir = this.#modelDir(name);
    for (const [k, v] of Object.entries(options.tags ?? {})) this.#checkTag(k, v);
    Deno.mkdirSync(this.dir, { recursive: true });
    withLock(join(this.dir, ".storyteller.lock"), () => {
      if (exists(join(dir, "meta.yaml"))) {
        throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      }
      const now = Date.now();
      Deno.mkdirSync(dir, { recursive: true });
      this.#writeModelMeta({
        name,
        creationTimestamp: now,
        lastUpdatedTimestamp: now,
        description: options.description ?? null,
      });
      for (const [k, v] of Object.entries(options.tags ?? {})) writeAtomic(join(dir, "tags", k), v, dir);
    });
    return this.getRegisteredModel(name);
  }

  updateRegisteredModel(name: string, description: string): RegisteredModel {
    this.#writeModelMeta({ ...this.#readModelMeta(name), description, lastUpdatedTimestamp: Date.now() });
    return this.getRegisteredModel(name);
  }

  renameRegisteredModel(name: string, newName: string): RegisteredModel {
    const from = this.#requireModel(name);
    const to = this.#modelDir(newName);
    if (exists(to)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
    Deno.renameSync(from, to);
    for (const v of this.#versionNumbers(newName)) {
      const mv = this.#readVersion(newName, String(v), true);
      if (mv) this.#writeVersion({ ...mv, name: newName });
    }
    this.#writeModelMeta({
      ...this.#readModelMeta(newName),
      name: newName,
      lastUpdatedTimestamp: Date.now(),
    });
    return this.getRegisteredModel(newName);
  }

  deleteRegisteredModel(name: string): void {
    Deno.removeSync(this.#requireModel(name), { recursive: true });
  }

  #checkTag(key: string, value: string): void {
    validateKey("tag", key);
    if (String(value).length > MAX_REGISTRY_TAG_VALUE_LENGTH) {
      throw invalid(`'value' exceeds the maximum length of ${MAX_REGISTRY_TAG_VALUE_LENGTH} characters`);
    }
  }

  setRegisteredModelTag(name: string, key: string, value: string): void {
    const dir = this.#requireModel(name);
    this.#checkTag(key, value);
    writeAtomic(join(dir, "tags", key), String(value), dir);
    this.#touch(name);
  }

  deleteRegisteredModelTag(name: string, key: string): void {
    const dir = this.#requireModel(name);
    validateKey("tag", key);
    try {
      Deno.removeSync(join(dir, "tags", key));
    } catch {
      throw notFound(`No tag with name: ${key} in registered model ${name}`);
    }
    this.#touch(name);
  }

  createModelVersion(
    name: string,
    source: string,
    options: CreateModelVersionOptions & { storageLocation?: string } = {},
  ): ModelVersion {
    const dir = this.#requireModel(name);
    for (const [k, v] of Object.entries(options.tags ?? {})) this.#checkTag(k, v);
    const mv = withLock(join(this.dir, ".storyteller.lock"), () => {
      const version = String((this.#versionNumbers(name).at(-1) ?? 0) + 1);
      const now = Date.now();
      const v: ModelVersion = {
        name,
        version,
        creationTimestamp: now,
        lastUpdatedTimestamp: now,
        currentStage: "None",
        description: options.description ?? null,
        source,
        runId: options.runId ?? null,
        runLink: options.runLink ?? null,
        status: "READY",
        statusMessage: null,
        storageLocation: options.storageLocation ?? source,
        modelId: options.modelId ?? null,
        userId: null,
        tags: {},
        aliases: [],
      };
      this.#writeVersion(v);
      for (const [k, val] of Object.entries(options.tags ?? {})) {
        writeAtomic(join(dir, `version-${version}`, "tags", k), val, dir);
      }
      return v;
    });
    this.#touch(name);
    return this.getModelVersion(name, mv.version);
  }

  updateModelVersion(name: string, version: string, description: string): ModelVersion {
    const v = this.getModelVersion(name, version);
    this.#writeVersion({ ...v, description, lastUpdatedTimestamp: Date.now() });
    return this.getModelVersion(name, version);
  }

  deleteModelVersion(name: string, version: string): void {
    const v = this.getModelVersion(name, version);
    this.#writeVersion({ ...v, currentStage: R.DELETED, lastUpdatedTimestamp: Date.now() });
    for (const a of v.aliases) Deno.removeSync(join(this.#modelDir(name), "aliases", a));
    this.#touch(name);
  }

  transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting = false,
  ): ModelVersion {
    const target = canonicalStage(stage);
    const v = this.getModelVersion(name, version);
    const now = Date.now();
    if (archiveExisting && (target === "Staging" || target === "Production")) {
      for (const other of this.#versions(name)) {
        if (other.version !== v.version && other.currentStage === target) {
          this.#writeVersion({ ...other, currentStage: "Archived", lastUpdatedTimestamp: now });
        }
      }
    }
    this.#writeVersion({ ...v, currentStage: target, lastUpdatedTimestamp: now });
    this.#touch(name);
    return this.getModelVersion(name, version);
  }

  setModelVersionTag(name: string, version: string, key: string, value: string): void {
    this.getModelVersion(name, version);
    this.#checkTag(key, value);
    const dir = this.#modelDir(name);
    writeAtomic(join(dir, `version-${version}`, "tags", key), String(value), dir);
  }

  deleteModelVersionTag(name: string, version: string, key: string): void {
    this.getModelVersion(name, version);
    validateKey("tag", key); // the key names the file removed: `../meta.yaml` must never get that far
    try {
      Deno.removeSync(join(this.#modelDir(name), `version-${version}`, "tags", key));
    } catch {
      throw notFound(`No tag with name: ${key} in model version ${name}/${version}`);
    }
  }

  setRegisteredModelAlias(name: string, alias: string, version: string): void {
    validateAlias(alias);
    this.getModelVersion(name, version);
    const dir = this.#modelDir(name);
    writeAtomic(join(dir, "aliases", alias), String(version), dir);
    this.#touch(name);
  }

  deleteRegisteredModelAlias(name: string, alias: string): void {
    this.#requireModel(name);
    validateAlias(alias);
    try {
      Deno.removeSync(join(this.#modelDir(name), "aliases", alias));
    } catch {
      throw notFound(`Registered model alias ${alias} not found.`);
    }
    this.#touch(name);
  }

  getModelVersionByAlias(name: string, alias: string): ModelVersion {
    this.#requireModel(name);
    if (alias.toLowerCase() === "latest") {
      const all = this.#versions(name);
      if (!all.length) throw invalid(`Registered model '${name}' has no versions`);
      return all[all.length - 1];
    }
    const aliases = this.#aliases(name);
    const version = Object.hasOwn(aliases, alias) ? aliases[alias] : undefined;
    if (version === undefined) throw invalid(`Registered model alias ${alias} not found.`);
    return this.getModelVersion(name, version);
  }

  listNames(): string[] {
    return listDirs(this.dir).filter((n) => exists(join(this.dir, n, "meta.yaml")));
  }

  searchRegisteredModels(
    options: SearchRegistryOptions = {},
  ) {
    const pred = compileEntityFilter(MODEL_SCHEMA, options.filterString);
    const order = compileEntityOrder(MODEL_SCHEMA, options.orderBy, [["name", true]]);
    const all = this.listNames().map((n) => this.getRegisteredModel(n)).filter(pred).sort(order);
    const page = paginate(all, options.maxResults ?? 100, options.pageToken, 1000);
    return { registeredModels: page.items, nextPageToken: page.nextPageToken };
  }

  searchModelVersions(
    options: SearchRegistryOptions = {},
  ) {
    const pred = compileEntityFilter(VERSION_SCHEMA, options.filterString);
    const order = compileEntityOrder(VERSION_SCHEMA, options.orderBy, [["last_updated_timestamp", false], [
      "name",
      true,
    ], ["version_number", false]]);
    const all = this.listNames().flatMap((n) => this.#versions(n)).filter(pred).sort(order);
    const page = paginate(all, options.maxResults ?? 10000, options.pageToken, 200000);
    return { modelVersions: page.items, nextPageToken: page.nextPageToken };
  }
}

const MODEL_SCHEMA: EntitySchema<RegisteredModel> = {
  what: "registered models",
  attrs: {
    name: { kind: "string", get: (m) => m.name },
    creation_timestamp: { kind: "number", get: (m) => m.creationTimestamp },
    last_updated_timestamp: { kind: "number", get: (m) => m.lastUpdatedTimestamp },
  },
  tags: (m) => m.tags,
  missingTag: promptMarkerMissing,
};

const VERSION_SCHEMA: EntitySchema<ModelVersion> = {
  what: "model versions",
  attrs: {
    name: { kind: "string", get: (v) => v.name, extra: ["IN", "NOT IN"] },
    version_number: { kind: "number", get: (v) => Number(v.version) },
    run_id: { kind: "string", get: (v) => v.runId, extra: ["IN", "NOT IN"] },
    source_path: { kind: "string", get: (v) => v.source, orderable: false },
    creation_timestamp: { kind: "number", get: (v) => v.creationTimestamp },
    last_updated_timestamp: { kind: "number", get: (v) => v.lastUpdatedTimestamp },
  },
  tags: (v) => v.tags,
  missingTag: promptMarkerMissing,
};
