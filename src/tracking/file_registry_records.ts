/**
 * The model registry's records on disk in MLflow's exact layout: a registered model's and a model version's
 * `meta.yaml` (PyYAML bytes) and the one-file-per-value `tags/` and `aliases/` folders. No validation, no locks.
 */
import { join } from "node:path";
import { toPyYaml } from "../pyyaml.ts";
import { listDirs, listFilesRecursive, readTextOrNull, writeAtomic } from "./_fs.ts";
import { parseYamlObject } from "./meta.ts";
import type { ModelVersion } from "./types.ts";

/** The stage a deleted model version keeps on disk (MLflow soft-deletes versions). */
export const DELETED = "Deleted_Internal";

/** A registered model's own `meta.yaml` fields (tags, aliases and versions live beside it). */
export interface ModelMeta {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  description: string | null;
}

/** A `tags/` or `aliases/` folder as key → value (one file per key). */
export function readValues(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of listFilesRecursive(dir)) out[k] = Deno.readTextFileSync(join(dir, k));
  return out;
}

/** Writes `<modelDir>/meta.yaml`; the aliases are copied into it, as MLflow does. */
export function writeModelMeta(modelDir: string, m: ModelMeta, aliases: Record<string, string>): void {
  writeAtomic(
    join(modelDir, "meta.yaml"),
    toPyYaml({
      aliases: aliases,
      creation_timestamp: m.creationTimestamp,
      deployment_job_id: null,
      deployment_job_state: null,
      description: m.description,
      last_updated_timestamp: m.lastUpdatedTimestamp,
      name: m.name,
    }),
    modelDir,
  );
}

/** Reads `<modelDir>/meta.yaml` of the registered model `name`. */
export function readModelMeta(modelDir: string, name: string): ModelMeta {
  const m = parseYamlObject(Deno.readTextFileSync(join(modelDir, "meta.yaml")), join(modelDir, "meta.yaml"));
  return {
    name: String(m.name ?? name),
    creationTimestamp: Number(m.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(m.last_updated_timestamp ?? 0),
    description: m.description == null ? null : String(m.description),
  };
}

/** The version numbers that have a `version-<N>/` folder, ascending. */
export function versionNumbers(modelDir: string): number[] {
  return listDirs(join(modelDir, ""))
    .map((d) => /^version-(\d+)$/.exec(d)?.[1]).filter((v): v is string => v !== undefined).map(Number)
    .sort((a, b) => a - b);
}

/** Reads `<vdir>/meta.yaml` and its tags; null when missing or (unless `includeDeleted`) deleted. */
export function readVersionMeta(
  vdir: string,
  name: string,
  version: string,
  allAliases: Record<string, string>,
  includeDeleted = false,
): ModelVersion | null {
  const text = readTextOrNull(join(vdir, "meta.yaml"));
  if (text === null) return null;
  const m = parseYamlObject(text, join(vdir, "meta.yaml"));
  if (m.current_stage === DELETED && !includeDeleted) return null;
  const aliases = Object.entries(allAliases).filter(([, v]) => v === String(version)).map(([a]) => a);
  const str = (v: unknown) => (v == null ? null : String(v));
  return {
    name: String(m.name ?? name),
    version: String(m.version ?? version),
    creationTimestamp: Number(m.creation_timestamp ?? 0),
    lastUpdatedTimestamp: Number(m.last_updated_timestamp ?? 0),
    currentStage: String(m.current_stage ?? "None"),
    description: str(m.description),
    source: String(m.source ?? ""),
    runId: str(m.run_id),
    runLink: str(m.run_link),
    status: String(m.status ?? "READY"),
    statusMessage: str(m.status_message),
    storageLocation: str(m.storage_location),
    modelId: str(m.model_id),
    userId: str(m.user_id),
    tags: readValues(join(vdir, "tags")),
    aliases,
  };
}

/** Writes a model version's `meta.yaml` into `vdir`. */
export function writeVersionMeta(vdir: string, v: ModelVersion): void {
  writeAtomic(
    join(vdir, "meta.yaml"),
    toPyYaml({
      creation_timestamp: v.creationTimestamp,
      current_stage: v.currentStage,
      deployment_job_state: null,
      description: v.description,
      last_updated_timestamp: v.lastUpdatedTimestamp,
      model_id: v.modelId,
      name: v.name,
      run_id: v.runId,
      run_link: v.runLink,
      source: v.source,
      status: v.status,
      status_message: v.statusMessage,
      storage_location: v.storageLocation,
      user_id: v.userId,
      version: Number(v.version),
    }),
    vdir,
  );
}
