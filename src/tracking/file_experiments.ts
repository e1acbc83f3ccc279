/**
 * Experiments in an `mlruns/` directory: `<root>/<id>/meta.yaml` + `tags/`, deleted ones moved to `.trash/<id>`.
 * Name uniqueness is enforced under a root lock so concurrent processes never create two experiments of one name.
 */
import { join } from "node:path";
import { alreadyExists, invalid, notFound, TrackingError } from "./errors.ts";
import { exists, listDirs, listFilesRecursive, readTextOrNull, withLock, writeAtomic } from "./_fs.ts";
import { formatExperimentMeta, parseExperimentMeta } from "./meta.ts";
import type { Experiment } from "./types.ts";
import { validateExperimentId, validateExperimentName, validateKey } from "./validation.ts";
import { appendToUri, pathToFileUri } from "./uri.ts";

export const TRASH = ".trash";
/** Directories under the root that are not experiments. */
export const NON_EXPERIMENT_DIRS = new Set([TRASH, "models"]);
export const LOCK_FILE = ".storyteller.lock";

/**
 * Creates the store root with experiment 0 "Default" and `.trash/` when it does not exist (MLflow's bootstrap);
 * experiment 0's artifact location is `<artifactRoot>/0` (default: the root's `file:` URI).
 */
export function ensureRoot(root: string, artifactRoot = pathToFileUri(root)): void {
  if (!exists(root)) {
    Deno.mkdirSync(root, { recursive: true });
    withLock(join(root, LOCK_FILE), () => {
      if (exists(join(root, "0", "meta.yaml"))) return;
      const now = Date.now();
      writeExperiment(root, {
        experimentId: "0",
        name: "Default",
        artifactLocation: appendToUri(artifactRoot, "0"),
        lifecycleStage: "active",
        creationTime: now,
        lastUpdateTime: now,
        tags: {},
      }, false);
    });
  }
  Deno.mkdirSync(join(root, TRASH), { recursive: true });
}

/** The directory of an experiment (active or trashed), or null; an id that is not MLflow's shape is refused first. */
export function experimentDir(root: string, id: string): string | null {
  validateExperimentId(id);
  for (const dir of [join(root, id), join(root, TRASH, id)]) {
    if (exists(join(dir, "meta.yaml"))) return dir;
  }
  return null;
}

function readTags(dir: string): Record<string, string> {
  const tags: Record<string, string> = {};
  const tagDir = join(dir, "tags");
  for (const key of listFilesRecursive(tagDir)) tags[key] = Deno.readTextFileSync(join(tagDir, key));
  return tags;
}

/** Reads an experiment by directory, or null when its meta.yaml is missing or names another id. */
export function readExperimentDir(dir: string, id: string): Experiment | null {
  const text = readTextOrNull(join(dir, "meta.yaml"));
  if (text === null) return null;
  const meta = parseExperimentMeta(text, join(dir, "meta.yaml"));
  if (meta.experimentId !== id) return null;
  return { ...meta, tags: readTags(dir) };
}

export function getExperiment(root: string, id: string): Experiment {
  validateExperimentId(id);
  const dir = experimentDir(root, id);
  const exp = dir ? readExperimentDir(dir, id) : null;
  if (!exp) throw notFound(`Could not find experiment with ID ${id}`);
  return exp;
}

/** All experiments (active ones first, then trashed), skipping unreadable directories. */
export function listExperiments(root: string): Experiment[] {
  const out: Experiment[] = [];
  const scan = (parent: string, skip: Set<string>) => {
    for (const name of listDirs(parent)) {
      if (skip.has(name)) continue;
      try {
        const e = readExperimentDir(join(parent, name), name);
        if (e) out.push(e);
      } catch (err) {
        if (!(err instanceof TrackingError)) throw err;
      }
    }
  };
  scan(root, NON_EXPERIMENT_DIRS);
  scan(join(root, TRASH), new Set());
  return out;
}

function writeExperiment(root: string, e: Experiment, withTags: boolean): void {
  const dir = e.lifecycleStage === "deleted" ? join(root, TRASH, e.experimentId) : join(root, e.experimentId);
  writeAtomic(join(dir, "meta.yaml"), formatExperimentMeta(e, withTags), dir);
}

/** An 18-digit random id without a leading zero, as MLflow's FileStore makes them. */
function newExperimentId(): string {
  const digits = crypto.getRandomValues(new Uint8Array(18));
  return String.fromCharCode(49 + (digits[0] % 9)) + [...digits.slice(1)].map((b) => b % 10).join("");
}

/** Creates an experiment; its artifact location defaults to `<artifactRoot>/<id>` (artifactRoot: the root's URI). */
export function createExperiment(
  root: string,
  name: string,
  options: { artifactLocation?: string; tags?: Record<string, string>; artifactRoot?: string } = {},
): string {
  validateExperimentName(name);
  for (const k of Object.keys(options.tags ?? {})) validateKey("tag", k);
  if (options.artifactLocation !== undefined && /[#]|\?.*\.\./.test(options.artifactLocation)) {
    throw invalid(
      `Invalid artifact location '${options.artifactLocation}': no URL fragment or '..' in the query`,
    );
  }
  return withLock(join(root, LOCK_FILE), () => {
    const clash = listExperiments(root).find((e) => e.name === name);
    if (clash) {
      throw clash.lifecycleStage === "deleted"
        ? alreadyExists(
          `Experiment '${name}' already exists in deleted state. You can restore the experiment, or permanently ` +
            `delete the experiment from the .trash folder (under tracking server's root folder in the case of ` +
            `remote server) in order to use this experiment name.`,
          `storyteller experiments restore ${clash.experimentId}`,
        )
        : alreadyExists(`Experiment '${name}' already exists.`);
    }
    let id = newExperimentId();
    while (exists(join(root, id)) || exists(join(root, TRASH, id))) id = newExperimentId();
    const now = Date.now();
    const e: Experiment = {
      experimentId: id,
      name,
      artifactLocation: options.artifactLocation ??
        appendToUri(options.artifactRoot ?? pathToFileUri(root), id),
      lifecycleStage: "active",
      creationTime: now,
      lastUpdateTime: now,
      tags: {},
    };
    writeExperiment(root, e, false);
    for (const [k, v] of Object.entries(options.tags ?? {})) setExperimentTag(root, id, k, v);
    return id;
  });
}

export function setExperimentTag(root: string, id: string, key: string, value: string): void {
  validateKey("tag", key);
  const e = getExperiment(root, id);
  const dir = experimentDir(root, id)!;
  if (e.lifecycleStage !== "active") {
    throw invalid(`The experiment ${id} must be in the 'active' lifecycle_stage to set tags`);
  }
  writeAtomic(join(dir, "tags", key), String(value), dir);
}

/** Removes an experiment tag; a missing tag is RESOURCE_DOES_NOT_EXIST, a deleted experiment refused. */
export function deleteExperimentTag(root: string, id: string, key: string): void {
  validateKey("tag", key);
  const e = getExperiment(root, id);
  if (e.lifecycleStage !== "active") {
    throw invalid(`The experiment ${id} must be in the 'active' lifecycle_stage to delete tags`);
  }
  if (!(key in e.tags)) throw notFound(`No tag with name: ${key} in experiment with id ${id}`);
  const dir = experimentDir(root, id)!;
  Deno.removeSync(join(dir, "tags", key));
}

export function renameExperiment(root: string, id: string, newName: string): void {
  validateExperimentName(newName);
  withLock(join(root, LOCK_FILE), () => {
    const e = getExperiment(root, id);
    if (e.lifecycleStage !== "active") {
      throw invalid(`Cannot rename a non-active experiment: ${id} is ${e.lifecycleStage}`);
    }
    const clash = listExperiments(root).find((x) => x.name === newName && x.experimentId !== id);
    if (clash) throw alreadyExists(`Experiment '${newName}' already exists.`);
    writeExperiment(root, { ...e, name: newName, lastUpdateTime: Date.now() }, true);
  });
}

/** Marks the experiment and its active runs deleted, then moves its directory to `.trash/`. */
export function deleteExperiment(
  root: string,
  id: string,
  markRuns: (dir: string, now: number) => void,
): void {
  if (id === "0") {
    throw new TrackingError(
      "INTERNAL_ERROR",
      "Cannot delete the default experiment '0'. This is an internal experiment.",
      {
        hint: "create a new experiment instead of deleting Default",
      },
    );
  }
  withLock(join(root, LOCK_FILE), () => {
    const e = getExperiment(root, id);
    if (e.lifecycleStage === "deleted") {
      throw invalid(`Cannot delete experiment ${id}: it is already deleted`);
    }
    const dir = join(root, id);
    const now = Date.now();
    markRuns(dir, now);
    writeAtomic(
      join(dir, "meta.yaml"),
      formatExperimentMeta({ ...e, lifecycleStage: "deleted", lastUpdateTime: now }, true),
      dir,
    );
    Deno.renameSync(dir, join(root, TRASH, id));
  });
}

/** Moves the experiment back and reactivates the runs its deletion deleted (deleted_time ≥ its deletion). */
export function restoreExperiment(
  root: string,
  id: string,
  restoreRuns: (dir: string, since: number) => void,
): void {
  withLock(join(root, LOCK_FILE), () => {
    const e = getExperiment(root, id);
    if (e.lifecycleStage !== "deleted") throw invalid(`Cannot restore experiment ${id}: it is not deleted`);
    if (exists(join(root, id))) {
      throw invalid(`Cannot restore experiment ${id}: an active experiment directory '${id}' already exists`);
    }
    const trashed = join(root, TRASH, id);
    writeAtomic(
      join(trashed, "meta.yaml"),
      formatExperimentMeta({ ...e, lifecycleStage: "active", lastUpdateTime: Date.now() }, true),
      trashed,
    );
    Deno.renameSync(trashed, join(root, id));
    restoreRuns(join(root, id), e.lastUpdateTime ?? 0);
  });
}
