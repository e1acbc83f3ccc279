import assert from "node:assert/strict";
import { join } from "node:path";
import { AsyncLogger } from "./async_logger.ts";
import { FileStore } from "./file_store.ts";
import { TrackingError } from "./errors.ts";
import type { LogBatch, TrackingClient } from "./types.ts";

/** A client whose logBatch fails while `down` is true and records what arrives. */
function flakyClient() {
  const got: LogBatch[] = [];
  const state = { down: true, calls: 0 };
  const client = {
    trackingUri: "http://flaky",
    logBatch(_runId: string, b: LogBatch) {
      state.calls++;
      if (state.down) {
        return Promise.reject(new TrackingError("TEMPORARILY_UNAVAILABLE", "connection refused"));
      }
      got.push(b);
      return Promise.resolve();
    },
  } as unknown as TrackingClient;
  return { client, got, state };
}

Deno.test("logging never blocks or throws; a failing store warns once and loses nothing", async () => {
  const { client, got, state } = flakyClient();
  const warnings: string[] = [];
  const logger = new AsyncLogger(client, "r", {
    flushIntervalMs: 1,
    maxBackoffMs: 5,
    warn: (m) => warnings.push(m),
  });
  for (let i = 0; i < 2500; i++) logger.logMetric("loss", i, i);
  logger.logParam("lr", 0.1);
  logger.setTag("phase", "train");
  assert.equal(logger.pending, 2502);
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(state.calls >= 2, "it kept retrying");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /cannot log to http:\/\/flaky \(connection refused\); keeping 2502 values in memory/,
  );
  state.down = false;
  assert.ok(await logger.close(2000));
  const steps = got.flatMap((b) => b.metrics ?? []).map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: 2500 }, (_, i) => i), "every point, in order, once");
  assert.ok(
    got.every((b) => (b.metrics?.length ?? 0) + (b.params?.length ?? 0) + (b.tags?.length ?? 0) <= 1000),
  );
  assert.deepEqual(got[0].params, [{ key: "lr", value: "0.1" }]);
  assert.match(warnings.at(-1)!, /works again/);
});

Deno.test("flush with a timeout reports false while the store is down, points stay queued", async () => {
  const { client, state } = flakyClient();
  const logger = new AsyncLogger(client, "r", { flushIntervalMs: 1, maxBackoffMs: 2, warn: () => {} });
  logger.logMetric("x", 1);
  assert.equal(await logger.flush(20), false);
  assert.equal(logger.pending, 1);
  state.down = false;
  assert.equal(await logger.close(1000), true);
  assert.equal(logger.pending, 0);
});

Deno.test("100,000 points through the async logger into a file store", async () => {
  const root = join(Deno.makeTempDirSync({ prefix: "st-al-" }), "mlruns");
  const store = new FileStore(root);
  const run = await store.createRun({});
  const logger = new AsyncLogger(store, run.info.runId);
  for (let i = 0; i < 100_000; i++) logger.logMetric(i % 2 ? "train/loss" : "lr", 1 / (i + 1), i >> 1);
  // Logging only queues: nothing reached the store before the first await (its speed is a benchmark,
  // `deno run -A src/train/tracking_bench.ts`, not a timed test).
  assert.equal(logger.pending, 100_000);
  const metricFile = join(root, run.info.experimentId, run.info.runId, "metrics", "train", "loss");
  assert.throws(() => Deno.statSync(metricFile), Deno.errors.NotFound);
  await logger.close();
  const hist = await store.getMetricHistory(run.info.runId, "train/loss");
  assert.equal(hist.length, 50_000);
  assert.ok(Deno.statSync(metricFile).isFile, "the queued-state check looked at the metric's real file");
  assert.deepEqual(hist.slice(0, 2).map((m) => [m.step, m.value]), [[0, 1 / 2], [1, 1 / 4]]);
});
