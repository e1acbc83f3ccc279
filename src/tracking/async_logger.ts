/**
 * `AsyncLogger`: metric/param/tag logging for training loops. Calls return at once (a push to memory); a
 * background loop sends batches within MLflow's limits. A failing store prints one warning and is retried with
 * backoff while points stay in memory; `close()` (and the process's beforeunload/unload) flushes what is left.
 */
import { TrackingError } from "./errors.ts";
import type { KeyValue, LogBatch, Metric, TrackingClient } from "./types.ts";
import { MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, validateKey } from "./validation.ts";

export interface AsyncLoggerOptions {
  /** How often queued points are sent (ms, default 500). A full batch is sent at once. */
  flushIntervalMs?: number;
  /** Largest backoff between retries after failures (ms, default 30000). */
  maxBackoffMs?: number;
  /** Where warnings go (default: console.error with a "warning:" prefix). */
  warn?: (message: string) => void;
}

/** Errors that retrying cannot fix: the batch is dropped with a warning instead of blocking the queue. */
const PERMANENT = new Set([
  "INVALID_PARAMETER_VALUE",
  "RESOURCE_DOES_NOT_EXIST",
  "BAD_REQUEST",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
]);

export class AsyncLogger {
  #client: TrackingClient;
  #runId: string;
  #metrics: Metric[] = [];
  #metricHead = 0;
  #params: KeyValue[] = [];
  #tags: KeyValue[] = [];
  #interval: number;
  #maxBackoff: number;
  #warn: (m: string) => void;
  #timer?: ReturnType<typeof setTimeout>;
  #inFlight?: Promise<void>;
  #failures = 0;
  #warnedKeys = new Set<string>();
  #closed = false;
  #onBeforeUnload = (e: Event) => {
    if (this.pending > 0) {
      e.preventDefault();
      void this.flush();
    }
  };
  #onUnload = () => this.#flushSyncIfPossible();

  constructor(client: TrackingClient, runId: string, options: AsyncLoggerOptions = {}) {
    this.#client = client;
    this.#runId = runId;
    this.#interval = options.flushIntervalMs ?? 500;
    this.#maxBackoff = options.maxBackoffMs ?? 30_000;
    this.#warn = options.warn ?? ((m) => console.error(`warning: ${m}`));
    globalThis.addEventListener("beforeunload", this.#onBeforeUnload);
    globalThis.addEventListener("unload", this.#onUnload);
  }

  /** Points, params and tags not yet written. */
  get pending(): number {
    return this.#metrics.length - this.#metricHead + this.#params.length + this.#tags.length;
  }

  #checkKey(kind: string, key: string): boolean {
    try {
      validateKey(kind, key);
      return true;
    } catch (err) {
      if (!this.#warnedKeys.has(key)) {
        this.#warnedKeys.add(key);
        this.#warn(`tracking: dropping ${kind} '${key}': ${(err as Error).message}`);
      }
      return false;
    }
  }

  /** Queues one metric point; never blocks, never throws. */
  logMetric(key: string, value: number, step = 0, timestamp = Date.now()): void {
    if (this.#closed || typeof value !== "number" || !this.#validKeyFast(key)) return;
    this.#metrics.push({ key, value, timestamp, step: Math.trunc(step) });
    this.#schedule(this.#metrics.length - this.#metricHead >= MAX_METRICS_PER_BATCH ? 0 : this.#interval);
  }

  #validated = new Set<string>();
  #validKeyFast(key: string): boolean {
    if (this.#validated.has(key)) return true;
    if (this.#warnedKeys.has(key) || !this.#checkKey("metric", key)) return false;
    this.#validated.add(key);
    return true;
  }

  /** Queues several metrics at one step. */
  logMetrics(values: Record<string, number>, step = 0, timestamp = Date.now()): void {
    for (const [k, v] of Object.entries(values)) this.logMetric(k, v, step, timestamp);
  }

  logParam(key: string, value: unknown): void {
    if (this.#closed || !this.#checkKey("param", key)) return;
    this.#params.push({ key, value: value === null || value === undefined ? "" : String(value) });
    this.#schedule(this.#interval);
  }

  setTag(key: string, value: string): void {
    if (this.#closed || !this.#checkKey("tag", key)) return;
    this.#tags.push({ key, value: String(value) });
    this.#schedule(this.#interval);
  }

  #schedule(delay: number): void {
    if (this.#inFlight) return;
    if (this.#timer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delay);
  }

  /** Takes the next batch off the queues (params first: MLflow applies them all-or-nothing). */
  #take(): LogBatch {
    const params = this.#params.splice(0, MAX_PARAMS_TAGS_PER_BATCH);
    const tags = this.#tags.splice(0, MAX_PARAMS_TAGS_PER_BATCH);
    const room = MAX_METRICS_PER_BATCH - params.length - tags.length;
    const metrics = this.#metrics.slice(this.#metricHead, this.#metricHead + room);
    this.#metricHead += metrics.length;
    if (this.#metricHead > 65536 && this.#metricHead * 2 > this.#metrics.length) {
      this.#metrics = this.#metrics.slice(this.#metricHead);
      this.#metricHead = 0;
    }
    return { metrics, params, tags };
  }

  #putBack(b: LogBatch): void {
    this.#params.unshift(...(b.params ?? []));
    this.#tags.unshift(...(b.tags ?? []));
    const ms = b.metrics ?? [];
    if (this.#metricHead >= ms.length) {
      this.#metricHead -= ms.length;
      for (let i = 0; i < ms.length; i++) this.#metrics[this.#metricHead + i] = ms[i];
    } else {
      this.#metrics = [...ms, ...this.#metrics.slice(this.#metricHead)];
      this.#metricHead = 0;
    }
  }

  /** Sends batches until the queues are empty or a failure asks for a retry later. */
  #drain(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = (async () => {
      try {
        while (this.pending > 0) {
          const batch = this.#take();
          try {
            await this.#client.logBatch(this.#runId, batch);
            if (this.#failures > 0) {
              this.#warn(`tracking: logging to ${this.#client.trackingUri} works again`);
            }
            this.#failures = 0;
          } catch (err) {
            if (err instanceof TrackingError && PERMANENT.has(err.code)) {
              this.#warn(`tracking: dropped a batch of ${this.#size(batch)} values: ${err.message}`);
              continue;
            }
            this.#putBack(batch);
            if (this.#failures++ === 0) {
              this.#warn(
                `tracking: cannot log to ${this.#client.trackingUri} (${(err as Error).message}); keeping ` +
                  `${this.pending} values in memory and retrying`,
              );
            }
            return;
          }
        }
      } finally {
        this.#inFlight = undefined;
        if (this.pending > 0) {
          this.#schedule(
            this.#failures > 0 ? Math.min(this.#maxBackoff, this.#interval * 2 ** (this.#failures - 1)) : 0,
          );
        }
      }
    })();
    return this.#inFlight;
  }

  #size(b: LogBatch): number {
    return (b.metrics?.length ?? 0) + (b.params?.length ?? 0) + (b.tags?.length ?? 0);
  }

  /**
   * Writes everything queued so far. Resolves true when the queues are empty, false when `timeoutMs` passed
   * first (the points stay queued and retries go on).
   */
  async flush(timeoutMs = Infinity): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.pending > 0 || this.#inFlight) {
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      const before = this.#failures;
      await this.#drain();
      if (this.pending === 0 && !this.#inFlight) break;
      if (performance.now() >= deadline) return false;
      if (this.#failures > before || this.#failures > 0) {
        const wait = Math.min(
          this.#maxBackoff,
          this.#interval * 2 ** (this.#failures - 1),
          deadline - performance.now(),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
    }
    return true;
  }

  /** Flushes and stops; later log calls are ignored. */
  async close(timeoutMs = Infinity): Promise<boolean> {
    const ok = await this.flush(timeoutMs);
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    globalThis.removeEventListener("beforeunload", this.#onBeforeUnload);
    globalThis.removeEventListener("unload", this.#onUnload);
    return ok;
  }

  /** On `Deno.exit()` only synchronous work runs: a file store can still take the rest. */
  #flushSyncIfPossible(): void {
    const sync = (this.#client as { logBatchSync?: (runId: string, b: LogBatch) => void }).logBatchSync;
    if (!sync || this.#inFlight) return;
    try {
      while (this.pending > 0) sync.call(this.#client, this.#runId, this.#take());
    } catch (err) {
      this.#warn(`tracking: lost ${this.pending} values at exit: ${(err as Error).message}`);
    }
  }
}
