/**
 * Where a training run goes when its store fails: the local fallback run in `<checkpoint dir>/mlruns`, the relay
 * that lets AsyncLogger switch to it mid-run (also by itself, when the store refuses a batch for good), and the note
 * that says how to see and deliver it. Not the decision of when to fall back at start or exit (tracking.ts).
 */
import { basename, join, relative, resolve } from "node:path";
import type { Config } from "../config/mod.ts";
import {
  getOrCreateExperiment,
  type LogBatch,
  openTracking,
  type RestClientOptions,
  type TrackingClient,
  TrackingError,
} from "../tracking/mod.ts";
import { userName } from "./tracking_params.ts";

/**
 * What AsyncLogger would drop with a warning (tracking/async_logger.ts): answers that retrying cannot change. From
 * the store they mean it cannot hold this run any more (the run or the store was deleted, access was revoked):
 * the Relay moves to the fallback run instead, as docs/tracking.md promises for every undelivered point.
 */
const REFUSALS = new Set([
  "INVALID_PARAMETER_VALUE",
  "RESOURCE_DOES_NOT_EXIST",
  "BAD_REQUEST",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
]);

/** What the Relay tells its owner: batches written, and a refusal to fall back on. */
export interface RelayEvents {
  /** A batch was written (to the store or to the fallback run). */
  written?(batch: LogBatch): void;
  /** The store refused a batch for good; resolves once `target` and `runId` point at the fallback run. */
  refused?(err: TrackingError): Promise<void>;
}

/** The client AsyncLogger writes through: the store, until `fallBack` points it at the local fallback run. */
export class Relay {
  #events: RelayEvents;
  #fellBack = false;
  constructor(public target: TrackingClient, public runId?: string, events: RelayEvents = {}) {
    this.#events = events;
  }
  get trackingUri(): string {
    return this.target.trackingUri;
  }
  /** Points the relay at the fallback run (no further refusal is redirected: the fallback's own are final). */
  fallBack(client: TrackingClient, runId: string): void {
    this.target = client;
    this.runId = runId;
    this.#fellBack = true;
  }
  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    try {
      await this.target.logBatch(this.runId ?? runId, batch);
    } catch (err) {
      const refused = err instanceof TrackingError && REFUSALS.has(err.code);
      if (!refused || this.#fellBack || !this.#events.refused) throw err;
      await this.#events.refused(err);
      await this.target.logBatch(this.runId ?? runId, batch);
    }
    this.#events.written?.(batch);
  }
  /** AsyncLogger's synchronous flush at `Deno.exit()`: only a file store has one. */
  get logBatchSync(): ((runId: string, batch: LogBatch) => void) | undefined {
    const t = this.target as { logBatchSync?: (runId: string, batch: LogBatch) => void };
    return t.logBatchSync
      ? (runId, batch) => {
        t.logBatchSync!.call(t, this.runId ?? runId, batch);
        this.#events.written?.(batch);
      }
      : undefined;
  }
}

/** Creates the fallback run in `<ckptDir>/mlruns`, tagged with the store and run it stands in for. */
export async function openFallbackRun(
  config: Config,
  ckptDir: string,
  trackingUri: string,
  storeRunId: string | undefined,
): Promise<{ root: string; client: TrackingClient; runId: string }> {
  const root = resolve(ckptDir, "mlruns");
  const client = openTracking(root);
  const expId = await getOrCreateExperiment(client, config.training.mlflow_experiment_name);
  const run = await client.createRun({
    experimentId: expId,
    runName: config.training.mlflow_run_name ?? ckptDir.split("/").at(-1),
    userId: userName(),
    tags: { "storyteller.fallback_for": `${trackingUri} run ${storeRunId ?? "(not created)"}` },
  });
  return { root, client, runId: run.info.runId };
}

/** The note printed once the fallback run holds what the store missed: where it is and how to deliver it. */
export function fallbackNotice(
  o: { root: string; runId: string; trackingUri: string; missed: string; startedInFallback: boolean },
): string {
  const where = `run ${o.runId} in ${o.root} (see it with: storyteller runs describe ${o.runId} ` +
    `--tracking-uri ${shellWord(o.root)}); once the store is back, deliver it with: storyteller runs sync ` +
    `${shellWord(o.root)} --run-id ${o.runId}`;
  return o.startedInFallback
    ? `tracking: ${o.trackingUri} could not be reached; this run was logged to ${where}`
    : `tracking: ${o.missed} could not be delivered to ${o.trackingUri}; they were written to ${where}`;
}

/** A path as one shell word: quoted only when it needs to be. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A file or directory queued for upload: `local`, put under the run's artifact `path` (a directory's contents). */
export type Artifact = { local: string; path: string; dir: boolean };

/** The run artifact files `a` stands for, by run-relative path, with their sizes (a vanished file: none). */
export function artifactFiles(a: Artifact): Map<string, number> {
  const out = new Map<string, number>();
  const under = (rel: string) => (a.path ? `${a.path}/${rel}` : rel);
  if (!a.dir) {
    try {
      out.set(under(basename(a.local)), Deno.statSync(a.local).size);
    } catch { /* gone: nothing to send */ }
    return out;
  }
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = join(dir, e.name);
      if (e.isDirectory) walk(abs);
      else out.set(under(relative(a.local, abs).split("\\").join("/")), Deno.statSync(abs).size);
    }
  };
  walk(a.local);
  return out;
}

/**
 * How many files `runs sync` will send of what could not be uploaded: the files of `queued` (one per path, however
 * often it was queued) less those the store already took with the same size (`delivered`), sync's own rule.
 */
export function undeliveredFileCount(queued: Artifact[], delivered: Map<string, number>): number {
  const files = new Map<string, number>();
  for (const a of queued) for (const [path, size] of artifactFiles(a)) files.set(path, size);
  let n = 0;
  for (const [path, size] of files) if (delivered.get(path) !== size) n++;
  return n;
}

/**
 * The tracking client for `uri`, or, when the store cannot even be opened (a full disk, a path through a file,
 * no permission), a client whose every call fails with that error: the run then starts in the fallback store as
 * for any outage, instead of the training failing before it began. A malformed URI fails earlier
 * (resolveTrackingUri), as a usage error.
 */
export function openTrackingOrFailing(uri: string | undefined, options: RestClientOptions): TrackingClient {
  try {
    return openTracking(uri, options);
  } catch (err) {
    const fail = () => Promise.reject(err);
    return new Proxy({}, { get: (_t, prop) => (prop === "then" ? undefined : fail) }) as TrackingClient;
  }
}
