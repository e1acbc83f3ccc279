/**
 * Runs inside an experiment directory: `<exp>/<run_id>/{meta.yaml, metrics/, params/, tags/, artifacts/}` in
 * MLflow's exact formats. Every change appends the run id to the experiment's journal (`.storyteller-journal`,
 * a file MLflow ignores) after the data is on disk, which is how the run index learns what to re-read.
 */
import { join } from "node:path";
import { invalid, notFound, type TrackingError } from "./errors.ts";
import {
  appendText,
  createExclusive,
  exists,
  listDirs,
  listFilesRecursive,
  listFilesRecursiveAsync,
  readTextOrNull,
  readTextOrNullAsync,
  writeAtomic,
} from "./_fs.ts";
import { formatMetricLine, formatRunMeta, parseMetricLines, parseRunMeta } from "./meta.ts";
import { latestMetric, latestMetricAsync } from "./latest_metrics.ts";
import type { Experiment, KeyValue, Metric, Run, RunInfo } from "./types.ts";
import { appendToUri } from "./uri.ts";
import { normalizeParamValue, requireActive, validateKey, validateMetric } from "./validation.ts";

export const JOURNAL = ".storyteller-journal";
/** Directory names inside an experiment that are never runs. */
export const RESERVED_IN_EXPERIMENT = new Set(["tags", "datasets", "traces", "models"]);
const RUN_NAME_TAG = "mlflow.runName";

const ADJECTIVES = [
  "amazing",
  "bold",
  "brave",
  "bright",
  "calm",
  "clever",
  "gentle",
  "glad",
  "keen",
  "kind",
  "lively",
  "merry",
  "quick",
  "quiet",
  "shy",
  "sly",
  "swift",
  "wise",
];
const NOUNS = [
  "ant",
  "bat",
  "bear",
  "cat",
  "crow",
  "deer",
  "dove",
  "fox",
  "frog",
  "hawk",
  "lark",
  "mole",
  "owl",
  "ram",
  "seal",
  "swan",
  "toad",
  "wolf",
];

export function randomRunName(): string {
  const r = crypto.getRandomValues(new Uint32Array(3));
  return `${ADJECTIVES[r[0] % ADJECTIVES.length]}-${NOUNS[r[1] % NOUNS.length]}-${r[2] % 1000}`;
}

/** Records that a run changed; called after its files are written. */
export function journal(expDir: string, runId: string): void {
  try {
    appendText(join(expDir, JOURNAL), runId + "\n");
  } catch {
    // Only a hint for the run index, which also notices changes by the run's own file stamps: a full disk here
    // must not fail a batch whose data is already written (its caller would retry it and log it twice).
  }
}

export function readRunInfo(runDir: string): RunInfo {
  return parseRunInfo(runDir, readTextOrNull(join(runDir, "meta.yaml")));
}

function parseRunInfo(runDir: string, text: string | null): RunInfo {
  if (text === null) throw notFound(`Run '${runDir.split("/").pop()}' not found`);
  return parseRunMeta(text, join(runDir, "meta.yaml"));
}

export function writeRunInfo(runDir: string, info: RunInfo): void {
  writeAtomic(join(runDir, "meta.yaml"), formatRunMeta(info), runDir);
}

function readValues(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of listFilesRecursive(dir)) out[key] = Deno.readTextFileSync(join(dir, key));
  return out;
}

export function readMetricHistory(runDir: string, key: string): Metric[] {
  const path = join(runDir, "metrics", key);
  const text = readTextOrNull(path);
  if (text === null) return [];
  return parseMetricLines(key, text, path);
}

/** Reads a whole run (meta, latest metrics, params, tags). */
export function readRun(runDir: string): Run {
  const info = readRunInfo(runDir);
  const keys = listFilesRecursive(join(runDir, "metrics"));
  const latest = keys.map((key) => latestMetric(join(runDir, "metrics", key), key));
  return assembleRun(
    info,
    keys,
    latest,
    readValues(join(runDir, "params")),
    readValues(join(runDir, "tags")),
  );
}

/**
 * `readRun` with asynchronous reads, the files of the run read in parallel: what makes a cold index of thousands
 * of runs fast (the file system, not the JS thread, is the limit). Same result as `readRun`.
 */
export async function readRunAsync(runDir: string): Promise<Run> {
  const [text, keys, params, tags] = await Promise.all([
    readTextOrNullAsync(join(runDir, "meta.yaml")),
    listFilesRecursiveAsync(join(runDir, "metrics")),
    readValuesAsync(join(runDir, "params")),
    readValuesAsync(join(runDir, "tags")),
  ]);
  const info = parseRunInfo(runDir, text);
  const latest = await Promise.all(keys.map((key) => latestMetricAsync(join(runDir, "metrics", key), key)));
  return assembleRun(info, keys, latest, params, tags);
}

function assembleRun(
  info: RunInfo,
  keys: string[],
  latest: (Metric | undefined)[],
  params: Record<string, string>,
  tags: Record<string, string>,
): Run {
  const metrics: Record<string, Metric> = {};
  keys.forEach((key, i) => {
    if (latest[i]) metrics[key] = latest[i];
  });
  return { info, data: { metrics, params, tags } };
}

async function readValuesAsync(dir: string): Promise<Record<string, string>> {
  const keys = await listFilesRecursiveAsync(dir);
  const values = await Promise.all(keys.map((key) => Deno.readTextFile(join(dir, key))));
  const out: Record<string, string> = {};
  keys.forEach((key, i) => out[key] = values[i]);
  return out;
}

/** Run ids (directory names) in an experiment directory that hold a meta.yaml. */
export function listRunDirs(expDir: string): string[] {
  return listDirs(expDir).filter((n) =>
    !RESERVED_IN_EXPERIMENT.has(n) && exists(join(expDir, n, "meta.yaml"))
  );
}

export function createRunDir(
  expDir: string,
  exp: Experiment,
  opts: { runName?: string; startTime?: number; userId?: string; tags?: Record<string, string> },
): Run {
  if (exp.lifecycleStage !== "active") {
    throw invalid(`Could not create run under non-active experiment with ID ${exp.experimentId}.`);
  }
  const tags = { ...(opts.tags ?? {}) };
  for (const k of Object.keys(tags)) validateKey("tag", k);
  const tagName = tags[RUN_NAME_TAG];
  if (opts.runName && tagName !== undefined && tagName !== opts.runName) {
    throw invalid(
      `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values ` +
        `(run_name='${opts.runName}', mlflow.runName='${tagName}').`,
    );
  }
  const runName = opts.runName || tagName || randomRunName();
  tags[RUN_NAME_TAG] = runName;
  const runId = crypto.randomUUID().replaceAll("-", "");
  const runDir = join(expDir, runId);
  const info: RunInfo = {
    runId,
    experimentId: exp.experimentId,
    runName,
    userId: opts.userId ?? "",
    status: "RUNNING",
    startTime: opts.startTime ?? Date.now(),
    endTime: null,
    artifactUri: appendToUri(exp.artifactLocation, runId, "artifacts"),
    lifecycleStage: "active",
  };
  for (const sub of ["metrics", "params", "artifacts", "tags"]) {
    Deno.mkdirSync(join(runDir, sub), { recursive: true });
  }
  writeRunInfo(runDir, info);
  for (const [k, v] of Object.entries(tags)) writeAtomic(join(runDir, "tags", k), String(v), runDir);
  journal(expDir, runId);
  return { info, data: { metrics: {}, params: {}, tags } };
}

function keyClash(kind: string, key: string, err: unknown): TrackingError {
  return invalid(
    `Cannot log ${kind} '${key}': ${(err as Error).message}`,
    `keys 'a' and 'a/b' cannot coexist in one run of the file store; rename one of them`,
  );
}

/** Appends metric points (grouped per key, one write per key). */
export function appendMetrics(runDir: string, info: RunInfo, metrics: Metric[]): void {
  requireActive(info.runId, info.lifecycleStage);
  const byKey = new Map<string, string>();
  for (const m of metrics) {
    validateMetric(m);
    byKey.set(m.key, (byKey.get(m.key) ?? "") + formatMetricLine(m));
  }
  // A batch lands whole or not at all: when one key's append fails (a full disk), the keys appended before it are
  // cut back, so the caller's retry logs no point twice. A file another writer appended to since is left alone.
  const done: { path: string; before: number; after: number }[] = [];
  for (const [key, lines] of byKey) {
    const path = join(runDir, "metrics", key);
    const before = fileSize(path);
    try {
      appendText(path, lines);
      done.push({ path, before, after: fileSize(path) });
    } catch (err) {
      for (const d of done) {
        try {
          if (fileSize(d.path) === d.after) Deno.truncateSync(d.path, d.before);
        } catch { /* best effort: the append itself never left a partial line */ }
      }
      if (
        err instanceof Deno.errors.NotADirectory || err instanceof Deno.errors.IsADirectory ||
        err instanceof Deno.errors.AlreadyExists
      ) {
        throw keyClash("metric", key, err);
      }
      throw err;
    }
  }
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Writes params; re-logging an equal value is a no-op, a different one is refused (params are immutable). */
export function writeParams(runDir: string, info: RunInfo, params: KeyValue[]): void {
  requireActive(info.runId, info.lifecycleStage);
  const values = params.map((p) => {
    validateKey("param", p.key);
    return { key: p.key, value: normalizeParamValue(p.key, p.value) };
  });
  // Check every param first so a batch with one conflicting value writes nothing.
  for (const p of values) checkParam(runDir, info.runId, p);
  for (const p of values) {
    let created: boolean;
    try {
      created = createExclusive(join(runDir, "params", p.key), p.value, runDir);
    } catch (err) {
      if (err instanceof Deno.errors.NotADirectory || err instanceof Deno.errors.IsADirectory) {
        throw keyClash("param", p.key, err);
      }
      throw err;
    }
    if (!created) checkParam(runDir, info.runId, p); // lost a race: the winner's value must be equal
  }
}

function checkParam(runDir: string, runId: string, p: KeyValue): void {
  const old = readTextOrNull(join(runDir, "params", p.key));
  if (old !== null && old !== p.value) {
    throw invalid(
      `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' ` +
        `for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
    );
  }
}

/** Writes (overwrites) tags; `mlflow.runName` also rewrites meta.yaml's run_name. */
export function writeTags(runDir: string, info: RunInfo, tags: KeyValue[]): RunInfo {
  requireActive(info.runId, info.lifecycleStage);
  for (const t of tags) validateKey("tag", t.key);
  let out = info;
  for (const t of tags) {
    try {
      writeAtomic(join(runDir, "tags", t.key), String(t.value), runDir);
    } catch (err) {
      if (err instanceof Deno.errors.NotADirectory || err instanceof Deno.errors.IsADirectory) {
        throw keyClash("tag", t.key, err);
      }
      throw err;
    }
    if (t.key === RUN_NAME_TAG && out.runName !== t.value) {
      out = { ...out, runName: t.value };
      writeRunInfo(runDir, out);
    }
  }
  return out;
}

export function removeTag(runDir: string, info: RunInfo, key: string): void {
  requireActive(info.runId, info.lifecycleStage);
  validateKey("tag", key);
  try {
    Deno.removeSync(join(runDir, "tags", key));
  } catch {
    throw notFound(`No tag with name: ${key} in run with id ${info.runId}`);
  }
}

/** Marks every active run of an experiment deleted at `now` (experiment deletion). */
export function markRunsDeleted(expDir: string, now: number): void {
  for (const id of listRunDirs(expDir)) {
    const dir = join(expDir, id);
    const info = readRunInfo(dir);
    if (info.lifecycleStage === "active") {
      writeRunInfo(dir, { ...info, lifecycleStage: "deleted", deletedTime: now });
    }
    journal(expDir, id);
  }
}

/** Reactivates runs deleted at or after `since` (experiment restore). */
export function restoreRunsSince(expDir: string, since: number): void {
  for (const id of listRunDirs(expDir)) {
    const dir = join(expDir, id);
    const info = readRunInfo(dir);
    if (info.lifecycleStage === "deleted" && (info.deletedTime ?? 0) >= since) {
      writeRunInfo(dir, { ...info, lifecycleStage: "active", deletedTime: undefined });
    }
    journal(expDir, id);
  }
}
