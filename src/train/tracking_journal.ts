/**
 * What makes a tracked run survive `kill -9` and `--resume` without losing or repeating points: the ledger of
 * points handed to AsyncLogger and not yet written anywhere, the journal of them a checkpoint carries in its
 * state.json, and on resume the steps the store already holds. Not the logging itself (tracking.ts).
 */
import { createHash } from "node:crypto";
import { type LogBatch, type Metric, type TrackingClient, TrackingError } from "../tracking/mod.ts";

/** The key under a checkpoint's state.json `extra` where the tracker keeps its journal. */
export const JOURNAL_KEY = "tracking";

/** What a checkpoint records for the tracker: the points not yet written when it was taken. */
export interface Journal {
  undelivered: Metric[];
}

/** Points queued for the store and not yet written (to it or to the fallback run). */
export class PointLedger {
  #points = new Map<string, Metric>();

  add(m: Metric): void {
    this.#points.set(pointId(m), m);
  }
  /** Forgets the points of a batch the store (or the fallback) took. */
  written(batch: LogBatch): void {
    for (const m of batch.metrics ?? []) this.#points.delete(pointId(m));
  }
  get size(): number {
    return this.#points.size;
  }
  journal(): Journal {
    return { undelivered: [...this.#points.values()] };
  }
}

function pointId(m: Metric): string {
  return `${m.key}\n${m.step}\n${m.timestamp}`;
}

/**
 * The journal in a resumed checkpoint's `extra`, checked point by point (state.json is not trusted: a malformed
 * point is left out, never logged).
 */
export function readJournal(extra: Record<string, unknown> | undefined): Metric[] {
  const j = extra?.[JOURNAL_KEY] as { undelivered?: unknown } | undefined;
  if (!j || !Array.isArray(j.undelivered)) return [];
  return j.undelivered.filter((m): m is Metric =>
    typeof m === "object" && m !== null && typeof m.key === "string" && typeof m.value === "number" &&
    Number.isSafeInteger(m.step) && Number.isSafeInteger(m.timestamp)
  );
}

/**
 * Continues run `runId` (status RUNNING again) and returns its params, its model history and the steps from
 * `fromStep` on that it holds (loggedSteps); undefined when the store does not have the run.
 */
export async function continueRun(client: TrackingClient, runId: string, fromStep: number): Promise<
  { params: Record<string, string>; modelHistory: unknown[]; logged: Map<string, Set<number>> } | undefined
> {
  try {
    const run = await client.getRun(runId);
    const logged = await loggedSteps(client, runId, Object.keys(run.data.metrics), fromStep);
    await client.updateRun(runId, { status: "RUNNING" });
    const history = run.data.tags["mlflow.log-model.history"];
    return { params: run.data.params, modelHistory: history ? JSON.parse(history) : [], logged };
  } catch (err) {
    if (err instanceof TrackingError && err.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
    throw err;
  }
}

/**
 * Steps at or after `fromStep` that the store's run already holds a point of, per metric key: a resume logs no
 * second point there (MLflow's metric history is append-only, so a point cannot be taken back).
 */
export async function loggedSteps(
  client: TrackingClient,
  runId: string,
  keys: string[],
  fromStep: number,
): Promise<Map<string, Set<number>>> {
  const out = new Map<string, Set<number>>();
  for (const key of keys) {
    const steps = (await client.getMetricHistory(runId, key)).map((m) => m.step).filter((s) => s >= fromStep);
    if (steps.length) out.set(key, new Set(steps));
  }
  return out;
}

/**
 * The model uuid of run `runId`'s model at `step`: the same on every try, so a finish repeated after a kill (or a
 * `--resume` of a finished run) finds its `mlflow.log-model.history` entry instead of appending another.
 */
export function modelUuid(runId: string, step: number): string {
  return createHash("sha256").update(`${runId}/model@${step}`).digest("hex").slice(0, 32);
}

/** The creation time (ms) of a model history entry, from its `utc_time_created` ("2026-11-27 07:11:15.485000"). */
export function loggedTime(entry: unknown): number | undefined {
  const text = (entry as { utc_time_created?: unknown } | undefined)?.utc_time_created;
  if (typeof text !== "string") return undefined;
  const ms = Date.parse(`${text.replace(" ", "T").slice(0, 23)}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}
