/**
 * The run tracker: one training run is one MLflow run. It opens the store, creates the run (or continues it on
 * resume), logs params, tags and the dataset inputs, turns trainer hooks into metric points through AsyncLogger,
 * uploads the model, config and samples, and sets the final status. A failing store never stops training: points
 * wait in memory and are retried, and what is still undelivered at exit goes to a local fallback `mlruns` beside
 * the checkpoints (tracking_fallback.ts). Each checkpoint is a durability point: what is still unwritten then is
 * journaled in it, samples wait in `<run dir>/staging`, and a resume logs no step twice (tracking_journal.ts).
 */
import { basename, join, resolve } from "node:path";
import type { Config } from "../config/mod.ts";
import { describeError } from "../errors.ts";
import {
  AsyncLogger,
  type DatasetInput,
  getOrCreateExperiment,
  type KeyValue,
  MAX_PARAMS_TAGS_PER_BATCH,
  MAX_TAG_VAL_LENGTH,
  resolveTrackingUri,
  type RunStatus,
  type TrackingClient,
  TrackingError,
} from "../tracking/mod.ts";
import { logModelHistoryEntry, writeMLmodel } from "../model/mlmodel.ts";
import { toYaml } from "../yaml.ts";
import type { EvalPoint, LogPoint, StartInfo, TrainHooks, TrainResult } from "./trainer.ts";
import {
  type Artifact,
  artifactFiles,
  fallbackNotice,
  openFallbackRun,
  openTrackingOrFailing,
  Relay,
  undeliveredFileCount,
} from "./tracking_fallback.ts";
import { Staging } from "./tracking_staging.ts";
import {
  continueRun,
  JOURNAL_KEY,
  loggedTime,
  modelUuid,
  PointLedger,
  readJournal,
} from "./tracking_journal.ts";
import { gitSource, startParams, startTags, userName } from "./tracking_params.ts";
import { datasetInputs } from "./tracking_datasets.ts";

export interface RunTrackerOptions {
  /** Warnings (default: console.error with "warning: "). */
  warn?: (message: string) => void;
  /** Where the run is and similar notes (default: console.error). */
  info?: (message: string) => void;
  /** How long the exit waits for a failing store before writing the fallback (ms, default 10000). */
  exitTimeoutMs?: number;
  /** How long a checkpoint waits for the store to take the queued points before journaling them (ms, default 3000). */
  checkpointFlushMs?: number;
  /** AsyncLogger's send interval (ms, default 500). */
  flushIntervalMs?: number;
  /** Retries per REST call (default 2, so an unreachable server is noticed within a second). */
  maxRetries?: number;
}

/** Answers that retrying cannot change: the store understood the dataset inputs and refused them. */
const REFUSED = new Set(["INVALID_PARAMETER_VALUE", "BAD_REQUEST", "ENDPOINT_NOT_FOUND"]);

/** Tracks one training run; use `hooks()` to wire it into train(), then `finish()` or `fail()`. */
export class RunTracker {
  readonly config: Config;
  /** The store URI as configured (resolved: `file:///…` or `http(s)://…`). */
  readonly trackingUri: string;
  #client: TrackingClient;
  #relay: Relay;
  #logger?: AsyncLogger;
  #warn: (m: string) => void;
  #info: (m: string) => void;
  #exitTimeoutMs: number;
  #checkpointFlushMs: number;
  #flushIntervalMs?: number;
  #runId?: string;
  #experimentId?: string;
  #ckptDir = "";
  #staging?: Staging;
  #modelHistory: unknown[] = [];
  #params: KeyValue[] = [];
  /** The run's dataset inputs; `#inputsPending` while the store has not taken them. */
  #inputs: DatasetInput[] = [];
  #inputsPending = false;
  /** Set once the store failed at start or at exit: the fallback run and where it lives. */
  #fallback?: { root: string; client: TrackingClient; runId: string };
  #storeDown = false;
  /** One warning per outage: AsyncLogger's, or the first failed upload's. */
  #warnedDown = false;
  #undelivered: Artifact[] = [];
  /** Artifact files the store took, by path, with their sizes: what `runs sync` would not send again. */
  #delivered = new Map<string, number>();
  #done = false;
  /** Points not yet written anywhere: what a checkpoint journals. */
  #ledger = new PointLedger();
  /** On resume: the steps (per key) the store already holds from earlier segments, not logged again. */
  #logged = new Map<string, Set<number>>();

  constructor(config: Config, options: RunTrackerOptions = {}) {
    this.config = config;
    // Resolving first makes a malformed URI a usage error before any GPU work starts.
    const uri = config.training.mlflow_tracking_uri ?? undefined;
    const target = resolveTrackingUri(uri);
    this.trackingUri = target.kind === "http" ? target.url : target.uri;
    this.#client = openTrackingOrFailing(uri, { maxRetries: options.maxRetries ?? 2, backoffMs: 250 });
    this.#relay = new Relay(this.#client, undefined, {
      written: (batch) => this.#ledger.written(batch),
      refused: (err) => this.#refused(err),
    });
    this.#warn = options.warn ?? ((m) => console.error(`warning: ${m}`));
    this.#info = options.info ?? ((m) => console.error(m));
    this.#exitTimeoutMs = options.exitTimeoutMs ?? 10_000;
    this.#checkpointFlushMs = options.checkpointFlushMs ?? 3_000;
    this.#flushIntervalMs = options.flushIntervalMs;
  }

  /** The run id (after start); the fallback run's id when the store could not be reached at start. */
  get runId(): string | undefined {
    return this.#fallback && !this.#runId ? this.#fallback.runId : this.#runId;
  }
  get experimentId(): string | undefined {
    return this.#experimentId;
  }
  /** Where the run ended up when the store failed (a local `mlruns` directory), else undefined. */
  get fallbackRoot(): string | undefined {
    return this.#fallback?.root;
  }

  /** Trainer hooks that call `inner`'s and track; onStart tracks first so `inner` can print the run id. */
  hooks(inner: TrainHooks = {}): TrainHooks {
    return {
      ...inner,
      onStart: async (info) => {
        const started = await this.start(info);
        await inner.onStart?.(info);
        return started;
      },
      onLog: (p) => {
        inner.onLog?.(p);
        this.logPoint(p);
      },
      onEval: (p) => {
        inner.onEval?.(p);
        this.evalPoint(p);
      },
      beforeCheckpoint: async (step) => ({
        ...await inner.beforeCheckpoint?.(step),
        ...await this.checkpointing(step),
      }),
      onCheckpoint: (path, step) => {
        inner.onCheckpoint?.(path, step);
        this.#tag("storyteller.checkpoint", resolve(path));
      },
    };
  }

  /** Creates the run (or continues `info.runId`), logs params and tags; returns the run id for checkpoints. */
  async start(info: StartInfo): Promise<{ runId: string }> {
    const t = this.config.training;
    this.#ckptDir = info.ckptDir;
    this.#inputs = datasetInputs(info.data.stats);
    // Beside the checkpoints, not in the temp dir: samples a killed training staged are uploaded by its resume.
    this.#staging = new Staging(join(info.ckptDir, "staging"));
    await this.#staging.open(toYaml(this.config));
    const journal = readJournal(info.extra);
    const fromStep = Math.min(info.startStep, ...journal.map((m) => m.step));
    let existingParams: Record<string, string> = {};
    try {
      this.#experimentId = await getOrCreateExperiment(this.#client, t.mlflow_experiment_name);
      // A resumed run: RUNNING again, its params, model history and the steps it holds (not logged again).
      const resumed = info.runId ? await continueRun(this.#client, info.runId, fromStep) : undefined;
      if (info.runId && !resumed) {
        this.#warn(
          `tracking: the checkpoint's run ${info.runId} is not in ${this.trackingUri}; starting a new run`,
        );
      }
      if (resumed) {
        ({ params: existingParams, modelHistory: this.#modelHistory, logged: this.#logged } = resumed);
        this.#runId = info.runId;
      } else {
        const run = await this.#client.createRun({
          experimentId: this.#experimentId,
          runName: info.runName,
          userId: userName(),
        });
        this.#runId = run.info.runId;
      }
    } catch (err) {
      this.#storeDown = true;
      const root = await this.#fallBack();
      this.#warn(
        `tracking: cannot start a run at ${this.trackingUri} (${describeError(err)}); ` +
          `logging this run to ${root} instead`,
      );
    }
    this.#logger = new AsyncLogger(this.#relay as unknown as TrackingClient, this.runId!, {
      warn: (m) => this.#loggerWarning(m),
      flushIntervalMs: this.#flushIntervalMs,
      maxBackoffMs: 5_000,
    });
    const git = await gitSource();
    for (const [key, value] of Object.entries(startTags(this.config, this.#ckptDir, git))) {
      this.#tag(key, value);
    }
    this.#params = startParams(this.config, info, git);
    // What the resumed checkpoint journaled as unwritten, with its first timestamps, unless the store has it.
    for (const m of journal) this.#logMetrics({ [m.key]: m.value }, m.step, m.timestamp);
    await this.#logInputs();
    const changed: string[] = [];
    for (const p of this.#params) {
      const before = existingParams[p.key];
      if (before === undefined) this.#logger.logParam(p.key, p.value);
      else if (before !== p.value) changed.push(`${p.key} (${before} → ${p.value})`);
    }
    if (changed.length) {
      this.#warn(
        `tracking: params are fixed once logged; the resumed run keeps the first values of ` +
          changed.join(", "),
      );
    }
    return { runId: this.runId! };
  }

  /**
   * Logs the dataset inputs where the run is (a resumed run already holding them is unchanged: logging an input
   * again is a no-op). A store that fails keeps them pending, to be retried at the end and else written to the
   * fallback run; one the server refuses (a bad value, an MLflow older than 2.4) drops them with a warning.
   */
  async #logInputs(): Promise<void> {
    const fb = this.#fallback;
    try {
      await (fb?.client ?? this.#client).logInputs(fb?.runId ?? this.#runId!, { datasets: this.#inputs });
      this.#inputsPending = false;
    } catch (err) {
      if (err instanceof TrackingError && REFUSED.has(err.code)) {
        this.#inputs = [];
        this.#inputsPending = false;
        this.#warn(`tracking: dropping the run's dataset inputs: ${describeError(err)}`);
        return;
      }
      this.#inputsPending = true;
      if (fb) {
        this.#warn(`tracking: cannot log the dataset inputs to ${fb.root}: ${describeError(err)}`);
      } else if (!this.#warnedDown) {
        this.#warnedDown = true;
        this.#warn(
          `tracking: cannot log the dataset inputs to ${this.trackingUri}: ${describeError(err)}; ` +
            `they are retried at the end of the run`,
        );
      }
    }
  }

  /** AsyncLogger's warnings, less a second one for the same outage and "works again" from the fallback. */
  #loggerWarning(message: string): void {
    if (message.startsWith("tracking: cannot log to ")) {
      if (this.#warnedDown) return;
      this.#warnedDown = true;
    } else if (message.endsWith(" works again")) {
      if (this.#fallback) return;
      this.#warnedDown = false;
    }
    this.#warn(message);
  }

  /** Queues a log interval's metrics at its step. */
  logPoint(p: LogPoint): void {
    this.#logMetrics({
      "train/loss": p.loss,
      "train/learning_rate": p.lr,
      "train/grad_norm": p.gradNorm,
      "train/tokens_per_sec": p.tokensPerSec,
      ...p.extra,
    }, p.step);
  }

  /** Queues an evaluation's metrics and keeps its sample for the `samples/` artifact. */
  evalPoint(p: EvalPoint): void {
    this.#logMetrics({ "val/loss": p.loss, "val/perplexity": p.perplexity, ...p.extra }, p.step);
    if (p.sample) this.#staging?.writeSample(p.step, p.sample);
  }

  /** Queues points at `step`, less those the store holds from before a resume; the ledger keeps them until written. */
  #logMetrics(values: Record<string, number>, step: number, timestamp = Date.now()): void {
    if (!this.#logger) return;
    for (const [key, value] of Object.entries(values)) {
      if (this.#logged.get(key)?.has(step)) continue;
      const queued = this.#logger.pending;
      this.#logger.logMetric(key, value, step, timestamp);
      // Not a point the logger refused (an invalid key): that one would be journaled forever.
      if (this.#logger.pending > queued) this.#ledger.add({ key, value, step, timestamp });
    }
  }

  /**
   * Before a checkpoint: waits (a while) for the store to take what is queued, uploads the staged samples, and
   * returns the journal of what is still unwritten for the checkpoint's state.json. A resume from that checkpoint
   * logs the journal again (tracking_journal.ts), so no point up to its step is lost to a kill.
   */
  async checkpointing(_step: number): Promise<Record<string, unknown>> {
    if (!this.#logger || this.#done) return {};
    await this.#logger.flush(this.#warnedDown ? 0 : this.#checkpointFlushMs);
    await this.#uploadStagedSamples();
    return { [JOURNAL_KEY]: this.#ledger.journal() };
  }

  /** Uploads each staged sample where the run is and deletes it once there; failures leave it for later. */
  async #uploadStagedSamples(): Promise<void> {
    if (this.#storeDown && !this.#fallback) return; // waits for the end of the run and its fallback
    const failed = await this.#staging!.uploadSamples(this.#fallback?.client ?? this.#client, this.runId!);
    if (failed && !this.#warnedDown) {
      this.#warnedDown = true;
      this.#warn(
        `tracking: cannot upload ${failed.path} to ${this.trackingUri}: ${describeError(failed.error)}`,
      );
    }
  }

  /** The store refused a batch for good (the run or the store deleted, access revoked): the rest goes to the fallback. */
  async #refused(err: TrackingError): Promise<void> {
    this.#storeDown = true;
    const root = await this.#fallBack();
    this.#warnedDown = true;
    this.#warn(
      `tracking: ${this.trackingUri} refused the run's points (${describeError(err)}); ` +
        `logging the rest of this run to ${root}`,
    );
  }

  #tag(key: string, value: string): void {
    this.#logger?.setTag(key, value.slice(0, MAX_TAG_VAL_LENGTH));
  }

  /**
   * After train() returned: logs the model, config and samples, then FINISHED (or KILLED when interrupted).
   * Never throws: tracking problems are warnings, the trained model is on disk either way.
   */
  async finish(result: TrainResult): Promise<void> {
    if (!this.#logger || this.#done) return;
    await this.#guarded(async () => {
      await this.#uploadRunFiles();
      try {
        // One entry per model (run, step): a finish repeated after a kill, or a resume of a finished run, adds none
        // and only writes the local MLmodel again as logged (the trainer rewrote the model directory).
        const uuid = modelUuid(this.runId!, result.steps);
        const logged = this.#modelHistory.find((e) => (e as { model_uuid?: string }).model_uuid === uuid);
        const now = loggedTime(logged);
        const mlmodel = await writeMLmodel(result.modelDir, { runId: this.runId, modelUuid: uuid, now });
        if (!logged) {
          await this.#upload({ local: result.modelDir, path: "model", dir: true });
          this.#modelHistory.push(logModelHistoryEntry(mlmodel, this.runId!));
          this.#tag("mlflow.log-model.history", JSON.stringify(this.#modelHistory));
        }
      } catch (err) {
        this.#warn(`tracking: cannot log the model in ${result.modelDir}: ${describeError(err)}`);
      }
      await this.#end(result.interrupted ? "KILLED" : "FINISHED");
    });
  }

  /** After train() threw: tag `storyteller.error`, log config and samples, FAILED. Never throws. */
  async fail(err: unknown): Promise<void> {
    if (!this.#logger || this.#done) return this.#cleanup();
    this.#tag("storyteller.error", describeError(err));
    await this.#guarded(async () => {
      await this.#uploadRunFiles();
      await this.#end("FAILED");
    });
  }

  async #guarded(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#warn(`tracking: cannot finish run ${this.runId}: ${describeError(err)}`);
    }
  }

  /** For a second Ctrl-C: mark the run KILLED within `timeoutMs`, skipping artifacts. */
  async abort(timeoutMs = 1000): Promise<void> {
    if (!this.#logger || this.#done) return;
    this.#done = true;
    const id = this.#fallback?.runId ?? this.#runId!;
    const client = this.#fallback?.client ?? this.#client;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([this.#logger.close(timeoutMs), client.setTerminated(id, "KILLED")]).catch(() => {}),
      new Promise((r) => timer = setTimeout(r, timeoutMs)),
    ]);
    clearTimeout(timer);
    // The staged samples stay beside the checkpoints: the next --resume of the run uploads them.
  }

  async #uploadRunFiles(): Promise<void> {
    const staging = this.#staging!;
    await this.#upload({ local: staging.configFile, path: "", dir: false });
    if ((await staging.samples()).length) {
      await this.#upload({ local: staging.samplesDir, path: "samples", dir: true });
    }
  }

  /** Uploads to the store; after the first failure, files wait for the fallback run instead. */
  async #upload(a: Artifact, client = this.#fallback?.client ?? this.#client): Promise<void> {
    const runId = this.#fallback?.runId ?? this.#runId!;
    if (this.#storeDown && client === this.#client) {
      this.#undelivered.push(a);
      return;
    }
    try {
      if (a.dir) await client.logArtifacts(runId, a.local, a.path);
      else await client.logArtifact(runId, a.local, a.path || undefined);
      if (client === this.#client) {
        for (const [path, size] of artifactFiles(a)) this.#delivered.set(path, size);
      }
    } catch (err) {
      if (client !== this.#client) throw err;
      this.#storeDown = true;
      this.#undelivered.push(a);
      if (this.#warnedDown) return;
      this.#warnedDown = true;
      this.#warn(
        `tracking: cannot upload ${a.path || basename(a.local)} to ${this.trackingUri}: ${
          describeError(err)
        }`,
      );
    }
  }

  /** Delivers what is queued, sets the status, and moves what could not be delivered to the fallback. */
  async #end(status: RunStatus): Promise<void> {
    this.#done = true;
    const logger = this.#logger!;
    let terminated = false;
    if (!this.#fallback) {
      const delivered = await logger.flush(this.#storeDown ? 1_000 : this.#exitTimeoutMs);
      if (delivered && !this.#storeDown && this.#inputsPending) await this.#logInputs();
      if (delivered && !this.#storeDown && !this.#inputsPending) {
        try {
          await this.#client.setTerminated(this.#runId!, status);
          terminated = true;
        } catch (err) {
          this.#warn(`tracking: cannot set the run's status to ${status}: ${describeError(err)}`);
        }
      }
    }
    if (terminated) {
      await logger.close();
      return this.#cleanup();
    }
    const startedInFallback = this.#runId === undefined; // else the store failed or refused mid-run
    const missed = [
      logger.pending ? `${logger.pending} values` : "",
      this.#inputsPending ? `${this.#inputs.length} dataset inputs` : "",
      // Files, as `runs sync` counts what it sends: a directory is its files, a file queued twice or already
      // delivered unchanged is not sent again.
      ((n) => n ? `${n} artifacts` : "")(undeliveredFileCount(this.#undelivered, this.#delivered)),
      `the status ${status}`,
    ].filter((s) => s).join(", ");
    const root = resolve(this.#ckptDir, "mlruns");
    try {
      if (!this.#fallback) await this.#fallBack();
      const fb = this.#fallback!;
      for (let i = 0; i < this.#params.length; i += MAX_PARAMS_TAGS_PER_BATCH) {
        await fb.client.logBatch(fb.runId, { params: this.#params.slice(i, i + MAX_PARAMS_TAGS_PER_BATCH) });
      }
      // Like the params, the inputs make the fallback run whole even where the store has them already.
      if (this.#inputs.length) await fb.client.logInputs(fb.runId, { datasets: this.#inputs });
      if (!(await logger.close(this.#exitTimeoutMs))) {
        throw new Error(`${logger.pending} values were not written`);
      }
      for (const a of this.#undelivered.splice(0)) await this.#upload(a, fb.client);
      await fb.client.setTerminated(fb.runId, status);
      this.#info(
        fallbackNotice({ root, runId: fb.runId, trackingUri: this.trackingUri, missed, startedInFallback }),
      );
    } catch (err) {
      // The staged files stay beside the checkpoints: a --resume of the run delivers them.
      this.#warn(`tracking: cannot write the fallback run in ${root}: ${describeError(err)}`);
      return;
    }
    await this.#cleanup();
  }

  /** Creates the fallback run in `<checkpoint dir>/mlruns` and points the logger there; returns the root. */
  async #fallBack(): Promise<string> {
    const fb = await openFallbackRun(this.config, this.#ckptDir, this.trackingUri, this.#runId);
    this.#fallback = fb;
    this.#relay.fallBack(fb.client, fb.runId);
    return fb.root;
  }

  async #cleanup(): Promise<void> {
    await this.#staging?.remove();
    this.#staging = undefined;
  }
}
