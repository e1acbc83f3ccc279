/**
 * `runs sync`: delivers runs from a local fallback `mlruns` to the store they were meant for. Only what the target
 * lacks is sent (points, params, tags, dataset inputs, links to logged models, artifacts by path and size, the
 * final status), so a rerun continues and a second sync sends nothing. Not a general store-to-store copy: logged
 * models themselves stay behind (a link is sent only where the target has the model).
 */
import { dirname, join } from "node:path";
import { describeError, FixableError, UsageError } from "../errors.ts";
import { localArtifactDir } from "./artifacts.ts";
import { getOrCreateExperiment, openTracking } from "./client.ts";
import { TrackingError } from "./errors.ts";
import type { RestClientOptions } from "./rest_http.ts";
import type {
  ArtifactFile,
  DatasetInput,
  KeyValue,
  Metric,
  Run,
  RunOutputs,
  RunStatus,
  TrackingClient,
} from "./types.ts";
import { resolveTrackingUri } from "./uri.ts";
import { MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH } from "./validation.ts";

/** Set by the run tracker on a fallback run: `<intended store URI> run <run id | (not created)>`. */
export const FALLBACK_TAG = "storyteller.fallback_for";
/** Set by sync on a local run once a target run holds it: `<store URI>#<run id>`. */
export const SYNCED_TAG = "storyteller.synced_to";
/** Tags that describe the local copy, never sent; the run name travels as the run's name. */
const LOCAL_TAGS = new Set([FALLBACK_TAG, SYNCED_TAG, "mlflow.runName"]);

export interface SyncOptions {
  /** Only these runs of the source (default: every active run). */
  runIds?: string[];
  /** The target store for every run, instead of the one the run's tag names. */
  to?: string;
  /** Work out what would be sent, send nothing. */
  dryRun?: boolean;
  /** For http targets (retries, auth). */
  rest?: RestClientOptions;
  /** Called with each run's result as soon as it is done. */
  onRun?: (result: RunSync) => void;
}

/** What sync sent (or, in a dry run, would send) for one source run. */
export interface RunSync {
  sourceRunId: string;
  runName: string;
  targetUri: string;
  /** The target run; undefined only in a dry run that would create one. */
  targetRunId?: string;
  /** A new target run was (or would be) created. */
  created: boolean;
  /** Why a new run: "no fallback tag", "the run no longer exists", … */
  reason?: string;
  points: number;
  params: number;
  tags: number;
  artifacts: number;
  /** Dataset inputs (`runs/log-inputs`). */
  datasets: number;
  /** Links to logged models: model inputs and outputs. */
  models: number;
  /** Logged models the run links to that the target does not have: their links stay behind. */
  modelsLeft: string[];
  status?: RunStatus;
  /** Params the target holds with another value: `key (local → target)`; skipped. */
  conflicts: string[];
}

/** The fallback tag's parts; runId is undefined when the run was never created in the target. */
export function parseFallbackTag(value: string): { uri: string; runId?: string } {
  const at = value.lastIndexOf(" run ");
  if (at <= 0) {
    throw new UsageError(`Cannot read tag ${FALLBACK_TAG} '${value}': expected '<uri> run <run id>'`);
  }
  const id = value.slice(at + 5).trim();
  return { uri: value.slice(0, at), runId: /^\(.*\)$/.test(id) || !id ? undefined : id };
}

/** `uri#id` → its parts. */
function parseSyncedTag(value: string): { uri: string; runId: string } | undefined {
  const at = value.lastIndexOf("#");
  return at > 0 ? { uri: value.slice(0, at), runId: value.slice(at + 1) } : undefined;
}

/** A tracking URI in one spelling (`file:///abs` or `http://host:port`) so two can be compared. */
function canonicalUri(uri: string): string {
  const t = resolveTrackingUri(uri);
  return t.kind === "http" ? t.url : t.uri;
}

/**
 * Syncs the runs of a local store into their target stores, one run after another. Bad arguments (an unknown run
 * id, a run with no known target) throw UsageError before anything is sent; a failing target throws FixableError
 * saying what was delivered. Param conflicts do not stop it: they are in the results.
 *
 * @example
 * ```ts
 * const results = await syncRuns("./ckpt/run-1/mlruns", { to: "http://tracking:5000" });
 * ```
 */
export async function syncRuns(source: string, options: SyncOptions = {}): Promise<RunSync[]> {
  const from = resolveTrackingUri(source);
  if (from.kind !== "file") {
    throw new UsageError(`Cannot sync from ${from.url}: the source must be a local mlruns directory`, {
      hint: "pass the fallback directory, e.g. <checkpoint_dir>/<run>/mlruns",
    });
  }
  try {
    if (!(await Deno.stat(from.root)).isDirectory) throw new Deno.errors.NotFound();
  } catch {
    throw new UsageError(`Cannot sync from ${from.root}: no such directory`);
  }
  const src = openTracking(from.uri);
  const runs = await sourceRuns(src, from.root, options.runIds);
  const plans = runs.map((run) => ({ run, uri: targetUriOf(run, from.uri, options.to) }));
  const clients = new Map<string, TrackingClient>();
  const results: RunSync[] = [];
  for (const { run, uri } of plans) {
    if (!clients.has(uri)) clients.set(uri, openTracking(uri, options.rest));
    const result = await syncRun(src, clients.get(uri)!, run, uri, options);
    results.push(result);
    options.onRun?.(result);
  }
  return results;
}

async function sourceRuns(src: TrackingClient, root: string, ids?: string[]): Promise<Run[]> {
  if (ids?.length) {
    const out: Run[] = [];
    for (const id of ids) {
      try {
        out.push(await src.getRun(id));
      } catch (err) {
        if (!(err instanceof TrackingError && err.code === "RESOURCE_DOES_NOT_EXIST")) throw err;
        throw new UsageError(`Cannot sync run ${id}: it is not in ${root}`, {
          hint: `list the runs there with: storyteller runs search --tracking-uri ${root}`,
        });
      }
    }
    return out;
  }
  const out: Run[] = [];
  let pageToken: string | undefined;
  do {
    const page = await src.searchRuns({
      maxResults: 1000,
      pageToken,
      orderBy: ["attributes.start_time ASC"],
    });
    out.push(...page.runs);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}

/** `--to`, else the store the run was synced to or meant for, else MLFLOW_TRACKING_URI. */
function targetUriOf(run: Run, sourceUri: string, to?: string): string {
  const tags = run.data.tags;
  let uri = to;
  uri ??= tags[SYNCED_TAG] ? parseSyncedTag(tags[SYNCED_TAG])?.uri : undefined;
  uri ??= tags[FALLBACK_TAG] ? parseFallbackTag(tags[FALLBACK_TAG]).uri : undefined;
  try {
    uri ??= Deno.env.get("MLFLOW_TRACKING_URI") || undefined;
  } catch { /* no env permission */ }
  if (!uri) {
    throw new UsageError(
      `Cannot sync run ${run.info.runId}: it has no ${FALLBACK_TAG} tag, so the store it belongs to is unknown`,
      { hint: "name the target store with --to <tracking uri>" },
    );
  }
  const canonical = canonicalUri(uri);
  if (canonical === sourceUri) {
    throw new UsageError(`Cannot sync run ${run.info.runId} into ${canonical}: that is the store it is in`, {
      hint: "name another target store with --to <tracking uri>",
    });
  }
  return canonical;
}

/** The target run that already holds (part of) this run, or why a new one is needed. */
async function findTarget(
  target: TrackingClient,
  run: Run,
  uri: string,
  to?: string,
): Promise<{ run?: Run; reason?: string }> {
  const synced = run.data.tags[SYNCED_TAG] ? parseSyncedTag(run.data.tags[SYNCED_TAG]) : undefined;
  const fallback = run.data.tags[FALLBACK_TAG] ? parseFallbackTag(run.data.tags[FALLBACK_TAG]) : undefined;
  let id: string | undefined;
  if (synced && canonicalUri(synced.uri) === uri) id = synced.runId;
  else if (fallback && (to || canonicalUri(fallback.uri) === uri)) id = fallback.runId;
  if (!id) return { reason: fallback ? "the run was never created there" : `no ${FALLBACK_TAG} tag` };
  try {
    const found = await target.getRun(id);
    if (found.info.lifecycleStage === "deleted") return { reason: `run ${id} there is deleted` };
    return { run: found };
  } catch (err) {
    if (err instanceof TrackingError && err.code === "RESOURCE_DOES_NOT_EXIST") {
      return { reason: `run ${id} no longer exists there` };
    }
    throw err;
  }
}

/** Every file under a run's artifacts (recursively), by path. */
async function listFiles(client: TrackingClient, runId: string, path?: string): Promise<ArtifactFile[]> {
  const out: ArtifactFile[] = [];
  for (const f of await client.listArtifacts(runId, path)) {
    if (f.isDir) out.push(...await listFiles(client, runId, f.path));
    else out.push(f);
  }
  return out;
}

const pointKey = (m: Metric) => `${m.step}|${m.timestamp}|${m.value}`;

/** What the target lacks of the source run. */
interface Missing {
  points: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
  artifacts: ArtifactFile[];
  datasets: DatasetInput[];
  modelInputs: { modelId: string }[];
  modelOutputs: RunOutputs["modelOutputs"];
  modelsLeft: string[];
  status?: RunStatus;
  conflicts: string[];
}

/** A dataset input's identity in a run, as MLflow keys it: the dataset's name and digest. */
const datasetKey = (d: DatasetInput) => JSON.stringify([d.dataset.name, d.dataset.digest]);

/** The dataset inputs and model links of `run` that `have` lacks; links to models the target lacks stay behind. */
async function missingLinks(
  src: TrackingClient,
  target: TrackingClient,
  run: Run,
  have: Run | undefined,
  m: Missing,
): Promise<void> {
  // Searches carry dataset inputs and model outputs but not model inputs: getRun has them all.
  const full = await src.getRun(run.info.runId);
  const haveDatasets = new Set(have?.inputs?.datasetInputs.map(datasetKey));
  m.datasets = (full.inputs?.datasetInputs ?? []).filter((d) => !haveDatasets.has(datasetKey(d)));
  const haveInputs = new Set(have?.inputs?.modelInputs.map((x) => x.modelId));
  const haveOutputs = new Set(have?.outputs?.modelOutputs.map((x) => `${x.modelId}@${x.step}`));
  const inputs = (full.inputs?.modelInputs ?? []).filter((x) => !haveInputs.has(x.modelId));
  const outputs = (full.outputs?.modelOutputs ?? []).filter((x) =>
    !haveOutputs.has(`${x.modelId}@${x.step}`)
  );
  const known = new Map<string, boolean>();
  for (const id of new Set([...inputs, ...outputs].map((x) => x.modelId))) {
    try {
      await target.getLoggedModel(id);
      known.set(id, true);
    } catch (err) {
      if (!(err instanceof TrackingError && err.code === "RESOURCE_DOES_NOT_EXIST")) throw err;
      known.set(id, false);
      m.modelsLeft.push(id);
    }
  }
  m.modelInputs = inputs.filter((x) => known.get(x.modelId));
  m.modelOutputs = outputs.filter((x) => known.get(x.modelId));
}

async function missingOf(
  src: TrackingClient,
  target: TrackingClient,
  run: Run,
  have?: Run,
): Promise<Missing> {
  const m: Missing = {
    points: [],
    params: [],
    tags: [],
    artifacts: [],
    datasets: [],
    modelInputs: [],
    modelOutputs: [],
    modelsLeft: [],
    conflicts: [],
  };
  for (const [key, value] of Object.entries(run.data.params)) {
    const there = have?.data.params[key];
    if (there === undefined) m.params.push({ key, value });
    else if (there !== value) m.conflicts.push(`${key} (${value} → ${there})`);
  }
  for (const [key, value] of Object.entries(run.data.tags)) {
    const there = have?.data.tags[key];
    if (!LOCAL_TAGS.has(key) && there !== renamed(value, run.info.runId, have?.info.runId)) {
      m.tags.push({ key, value });
    }
  }
  for (const key of Object.keys(run.data.metrics).sort()) {
    const seen = new Set(have ? (await target.getMetricHistory(have.info.runId, key)).map(pointKey) : []);
    for (const p of await src.getMetricHistory(run.info.runId, key)) {
      if (!seen.has(pointKey(p))) m.points.push(p);
    }
  }
  const there = new Map(
    have ? (await listFiles(target, have.info.runId)).map((f) => [f.path, f.fileSize]) : [],
  );
  m.artifacts = (await listFiles(src, run.info.runId)).filter((f) => there.get(f.path) !== f.fileSize);
  await missingLinks(src, target, run, have, m);
  if (run.info.status !== "RUNNING" && (!have || have.info.status === "RUNNING")) m.status = run.info.status;
  return m;
}

/** A value naming the local run id (the model history tag, MLmodel's run_id) as the target run has it. */
const renamed = (text: string, from: string, to = from) => text.split(from).join(to);

async function syncRun(
  src: TrackingClient,
  target: TrackingClient,
  run: Run,
  uri: string,
  options: SyncOptions,
): Promise<RunSync> {
  const id = run.info.runId;
  const result: RunSync = {
    sourceRunId: id,
    runName: run.info.runName,
    targetUri: uri,
    created: false,
    points: 0,
    params: 0,
    tags: 0,
    artifacts: 0,
    datasets: 0,
    models: 0,
    modelsLeft: [],
    conflicts: [],
  };
  let found: { run?: Run; reason?: string } | undefined;
  const fail = (err: unknown): never => {
    throw new FixableError(
      `Cannot sync run ${id} to ${uri}: ${describeError(err)}`,
      `delivered before it failed: ${
        result.targetRunId && !found?.run ? `run ${result.targetRunId} (new), ` : ""
      }` +
        `${describeSync(result)}; rerun the same command to continue ` +
        `(what the target already has is not sent again)`,
      { cause: err },
    );
  };
  let missing: Missing;
  try {
    found = await findTarget(target, run, uri, options.to);
    missing = await missingOf(src, target, run, found.run);
  } catch (err) {
    return fail(err);
  }
  result.conflicts = missing.conflicts;
  result.modelsLeft = missing.modelsLeft;
  result.created = !found.run;
  result.reason = found.reason;
  result.targetRunId = found.run?.info.runId;
  if (options.dryRun) {
    Object.assign(result, {
      points: missing.points.length,
      params: missing.params.length,
      tags: missing.tags.length,
      artifacts: missing.artifacts.length,
      datasets: missing.datasets.length,
      models: missing.modelInputs.length + missing.modelOutputs.length,
      status: missing.status,
    });
    return result;
  }
  try {
    let runId = found.run?.info.runId;
    if (!runId) {
      const expName = (await src.getExperiment(run.info.experimentId)).name;
      const created = await target.createRun({
        experimentId: await getOrCreateExperiment(target, expName),
        runName: run.info.runName,
        startTime: run.info.startTime,
        userId: run.info.userId,
      });
      runId = created.info.runId;
      result.targetRunId = runId;
      // Tagged at once, so a sync that fails below continues into this run instead of creating another.
      await src.setTag(id, SYNCED_TAG, `${uri}#${runId}`);
    }
    for (const t of missing.tags) t.value = renamed(t.value, id, runId);
    for (let i = 0; i < missing.params.length; i += MAX_PARAMS_TAGS_PER_BATCH) {
      const params = missing.params.slice(i, i + MAX_PARAMS_TAGS_PER_BATCH);
      await target.logBatch(runId, { params });
      result.params += params.length;
    }
    for (let i = 0; i < missing.tags.length; i += MAX_PARAMS_TAGS_PER_BATCH) {
      const tags = missing.tags.slice(i, i + MAX_PARAMS_TAGS_PER_BATCH);
      await target.logBatch(runId, { tags });
      result.tags += tags.length;
    }
    if (missing.datasets.length || missing.modelInputs.length) {
      await target.logInputs(runId, { datasets: missing.datasets, models: missing.modelInputs });
      result.datasets += missing.datasets.length;
      result.models += missing.modelInputs.length;
    }
    if (missing.modelOutputs.length) {
      await target.logOutputs(runId, missing.modelOutputs);
      result.models += missing.modelOutputs.length;
    }
    for (let i = 0; i < missing.points.length; i += MAX_METRICS_PER_BATCH) {
      const metrics = missing.points.slice(i, i + MAX_METRICS_PER_BATCH);
      await target.logBatch(runId, { metrics });
      result.points += metrics.length;
    }
    await sendArtifacts(target, runId, run, missing.artifacts, result);
    if (missing.status) {
      await target.setTerminated(runId, missing.status, run.info.endTime ?? undefined);
      result.status = missing.status;
    }
    if (run.data.tags[SYNCED_TAG] !== `${uri}#${runId}`) await src.setTag(id, SYNCED_TAG, `${uri}#${runId}`);
  } catch (err) {
    return fail(err);
  }
  return result;
}

/** Uploads files one by one (each where it was); a new run's MLmodel gets the new run id. */
async function sendArtifacts(
  target: TrackingClient,
  runId: string,
  run: Run,
  files: ArtifactFile[],
  result: RunSync,
): Promise<void> {
  if (!files.length) return;
  const root = localArtifactDir(run.info.artifactUri);
  const tmp = await Deno.makeTempDir({ prefix: "storyteller-sync-" });
  try {
    for (const f of files) {
      let local = join(root, f.path);
      const dir = dirname(f.path);
      if (f.path.split("/").pop() === "MLmodel" && runId !== run.info.runId) {
        const text = await Deno.readTextFile(local);
        local = join(tmp, "MLmodel");
        await Deno.writeTextFile(local, renamed(text, run.info.runId, runId));
      }
      await target.logArtifact(runId, local, dir === "." ? undefined : dir);
      result.artifacts++;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/**
 * `12 points, 3 params, 4 tags, 2 artifacts, 2 datasets, status FINISHED`; links to logged models are named only
 * when there are some (sent, or left behind because the target lacks the model).
 */
export function describeSync(
  r:
    & Pick<RunSync, "points" | "params" | "tags" | "artifacts" | "status">
    & Partial<Pick<RunSync, "datasets" | "models" | "modelsLeft">>,
): string {
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? "" : "s"}`;
  const parts = [n(r.points, "point"), n(r.params, "param"), n(r.tags, "tag"), n(r.artifacts, "artifact")];
  parts.push(n(r.datasets ?? 0, "dataset"));
  if (r.models) parts.push(n(r.models, "model link"));
  if (r.modelsLeft?.length) {
    parts.push(
      `links to ${n(r.modelsLeft.length, "logged model")} left behind (not in the target: ` +
        `${r.modelsLeft.join(", ")})`,
    );
  }
  if (r.status) parts.push(`status ${r.status}`);
  return parts.join(", ");
}
