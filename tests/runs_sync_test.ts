/**
 * `storyteller runs sync` end to end: fallbacks written by the real RunTracker against a live tracking server behind
 * a switch that answers 503, then delivered with the command the tracker printed; reruns, conflicts, a target down.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "./_cli.ts";
import { loadConfig } from "../src/config/mod.ts";
import { FALLBACK_TAG, openTracking, SYNCED_TAG, type TrackingClient } from "../src/tracking/mod.ts";
import { RunTracker } from "../src/train/tracking.ts";
import { fakeStartInfo } from "../src/train/testing.ts";
import { flakyServer } from "./_flaky_server.ts";

/** context → digest of each dataset input of a run, and how many inputs it has. */
async function inputsOf(c: TrackingClient, runId: string) {
  const inputs = (await c.getRun(runId)).inputs!.datasetInputs;
  return {
    count: inputs.length,
    digests: Object.fromEntries(inputs.map((d) => [d.tags["mlflow.data.context"], d.dataset.digest])),
  };
}
const BOTH = { count: 2, digests: { training: "0a1b2c3d", validation: "4e5f6a7b" } };

/** One tracked "training run" without a GPU: steps 2 and 4, an eval with a sample, a model directory. */
async function trackRun(
  dir: string,
  url: string,
  name: string,
  between: (runId: string) => Promise<void>,
): Promise<{ runId: string; messages: string[]; tracker: RunTracker }> {
  const { config } = await loadConfig("tiny", [
    `training.checkpoint_dir=${dir}/ckpt`,
    `training.mlflow_tracking_uri=${url}`,
    `training.mlflow_run_name=${name}`,
  ]);
  const messages: string[] = [];
  const tracker = new RunTracker(config, {
    warn: (m) => messages.push(`warning: ${m}`),
    info: (m) => messages.push(m),
    flushIntervalMs: 10,
  });
  const info = fakeStartInfo(name, dir);
  const modelDir = `${dir}/ckpt/${name}/model`;
  await Deno.mkdir(modelDir, { recursive: true });
  for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
    await Deno.writeTextFile(join(modelDir, f), "{}");
  }
  const { runId } = await tracker.start(info);
  tracker.logPoint({ step: 2, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
  await between(runId);
  tracker.logPoint({ step: 4, loss: 4, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
  tracker.evalPoint({ step: 4, loss: 4.2, perplexity: Math.exp(4.2), sample: "Once upon" });
  await tracker.finish({ runName: name, steps: 4, interrupted: false, modelDir });
  return { runId, messages, tracker };
}

/** The `storyteller runs sync …` command in the tracker's last message, as argv. */
function syncCommandOf(message: string): string[] {
  const m = message.match(/storyteller (runs sync [^)]+)\)?$/);
  assert.ok(m, `no sync command in: ${message}`);
  return m[1].trim().split(/\s+/);
}

const steps = async (c: TrackingClient, runId: string, key: string) =>
  (await c.getMetricHistory(runId, key)).map((m) => m.step);

async function files(c: TrackingClient, runId: string, path?: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await c.listArtifacts(runId, path)) {
    out.push(...(f.isDir ? await files(c, runId, f.path) : [`${f.path}:${f.fileSize}`]));
  }
  return out.sort();
}

Deno.test("a server failing mid-run: runs sync appends what it missed, FINISHED; a second sync is a no-op", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-sync-flaky-" });
  const { state, server, url } = flakyServer(dir);
  try {
    const client = openTracking(url);
    const { runId, messages, tracker } = await trackRun(dir, url, "flaky", async (id) => {
      for (let i = 0; i < 100 && (await client.getMetricHistory(id, "train/loss")).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      state.down = true;
    });
    state.down = false;
    assert.equal((await client.getRun(runId)).info.status, "RUNNING");
    const argv = syncCommandOf(messages.at(-1)!);
    assert.deepEqual(argv.slice(0, 3), ["runs", "sync", tracker.fallbackRoot!]);

    const dry = await cli(...argv, "--dry-run");
    assert.equal(dry.code, 0, dry.err);
    // The store took the dataset inputs at start; the fallback run holds them too, so nothing is left to send.
    assert.deepEqual(await inputsOf(client, runId), BOTH);
    assert.deepEqual(await inputsOf(openTracking(tracker.fallbackRoot!), argv[4]), BOTH);
    // config.yaml, the model's 8 files (the python_function flavor's code/, conda.yaml, python_env.yaml included)
    // and one sample.
    assert.match(
      dry.out,
      /would send 6 points, \d+ params?, \d+ tags?, 10 artifacts, 0 datasets, status FINISHED/,
    );
    assert.deepEqual(await steps(client, runId, "train/loss"), [2]);

    state.batches = [];
    const r = await cli(...argv);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      new RegExp(`→ ${url} run ${runId}: sent 6 points, 0 params, \\d+ tags?, 10 artifacts, 0 datasets`),
    );
    assert.match(r.out, /^1 run: sent 6 points/m);
    assert.ok(state.batches.every((b) => b.metrics <= 1000 && b.params <= 100 && b.tags <= 100));
    assert.deepEqual(await steps(client, runId, "train/loss"), [2, 4]);
    assert.deepEqual(await steps(client, runId, "val/loss"), [4]);
    const after = await client.getRun(runId);
    assert.equal(after.info.status, "FINISHED");
    assert.equal(after.data.tags[FALLBACK_TAG], undefined);
    const fb = openTracking(tracker.fallbackRoot!);
    const local = await fb.getRun(argv[4]);
    assert.equal(local.data.tags[SYNCED_TAG], `${url}#${runId}`);
    assert.deepEqual(await files(client, runId), await files(fb, local.info.runId));
    assert.deepEqual(await inputsOf(client, runId), BOTH);

    state.batches = [];
    const again = await cli(...argv);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /sent 0 points, 0 params, 0 tags, 0 artifacts, 0 datasets$/m);
    assert.deepEqual(await inputsOf(client, runId), BOTH);
    assert.deepEqual(state.batches, []);
    assert.deepEqual(await steps(client, runId, "train/loss"), [2, 4]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server down at start: runs sync turns the local run into a new server run with the same content", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-sync-down-" });
  const { state, server, url } = flakyServer(dir);
  try {
    state.down = true;
    const { messages, tracker } = await trackRun(dir, url, "offline", () => Promise.resolve());
    state.down = false;
    assert.match(messages.at(-1)!, /could not be reached; this run was logged to run/);
    const fb = openTracking(tracker.fallbackRoot!);
    const local = await fb.getRun(tracker.runId!);
    assert.equal(local.data.tags[FALLBACK_TAG], `${url} run (not created)`);
    assert.deepEqual(await inputsOf(fb, local.info.runId), BOTH);

    // The server fails after the run was created: the rerun continues into that run instead of a second one.
    state.failing.add("/runs/log-batch");
    const failed = await cli(...syncCommandOf(messages.at(-1)!));
    state.failing.delete("/runs/log-batch");
    assert.equal(failed.code, 1, failed.out);
    assert.match(
      failed.err,
      /delivered before it failed: run \w+ \(new\), 0 points, 0 params, 0 tags, 0 artifacts, 0 datasets; rerun/,
    );
    const r = await cli(...syncCommandOf(messages.at(-1)!));
    assert.equal(r.code, 0, r.err);
    const client = openTracking(url);
    assert.equal((await client.searchRuns({ experimentNames: ["storyteller"] })).runs.length, 1);
    const [copy] = (await client.searchRuns({ experimentNames: ["storyteller"] })).runs;
    assert.match(r.out, new RegExp(`→ ${url} run ${copy.info.runId}: sent \\d+ points, .* 2 datasets`));
    assert.match(r.out, /^1 run: sent .* 2 datasets/m);
    const byContext = async (c: TrackingClient, id: string) =>
      (await c.getRun(id)).inputs!.datasetInputs.toSorted((a, b) =>
        a.tags["mlflow.data.context"].localeCompare(b.tags["mlflow.data.context"])
      );
    assert.deepEqual(await byContext(client, copy.info.runId), await byContext(fb, local.info.runId));
    assert.equal((await fb.getRun(tracker.runId!)).data.tags[SYNCED_TAG], `${url}#${copy.info.runId}`);
    assert.equal(copy.info.runName, "offline");
    assert.equal(copy.info.startTime, local.info.startTime);
    assert.equal(copy.info.endTime, local.info.endTime);
    assert.equal(copy.info.userId, local.info.userId);
    assert.equal(copy.info.status, "FINISHED");
    assert.deepEqual(copy.data.params, local.data.params);
    for (const key of Object.keys(local.data.metrics)) {
      assert.deepEqual(
        await client.getMetricHistory(copy.info.runId, key),
        await fb.getMetricHistory(local.info.runId, key),
      );
    }
    const { [FALLBACK_TAG]: _f, [SYNCED_TAG]: _s, ...tags } = local.data.tags;
    tags["mlflow.log-model.history"] = tags["mlflow.log-model.history"].replace(
      local.info.runId,
      copy.info.runId,
    );
    assert.deepEqual(copy.data.tags, tags);
    assert.deepEqual(await files(client, copy.info.runId), await files(fb, local.info.runId));

    const again = await cli("runs", "sync", tracker.fallbackRoot!);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /sent 0 points, 0 params, 0 tags, 0 artifacts, 0 datasets$/m);
    assert.deepEqual(await inputsOf(client, copy.info.runId), BOTH);
    assert.equal((await client.searchRuns({ experimentNames: ["storyteller"] })).runs.length, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runs sync: a param conflict exits 2 after sending the rest; a target down exits 1 saying so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-sync-fail-" });
  const { state, server, url } = flakyServer(dir);
  try {
    const client = openTracking(url);
    const { runId, messages } = await trackRun(dir, url, "clash", async (id) => {
      for (let i = 0; i < 100 && (await client.getMetricHistory(id, "train/loss")).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      state.down = true;
    });
    const argv = syncCommandOf(messages.at(-1)!);

    const down = await cli(...argv);
    assert.equal(down.code, 1, down.out);
    assert.match(down.err, new RegExp(`error: Cannot sync run \\w+ to ${url}: `));
    assert.match(down.err, /rerun the same command to continue/);
    state.down = false;
    assert.deepEqual(await steps(client, runId, "train/loss"), [2]);

    const fbRoot = argv[2];
    const fbId = argv[4];
    await openTracking(fbRoot).logParam(fbId, "storyteller.extra", "local");
    await client.logParam(runId, "storyteller.extra", "server");
    const r = await cli(...argv);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /1 param conflict skipped/);
    assert.match(
      r.err,
      /Cannot sync 1 param: the target holds another value .*storyteller.extra \(local → server\)/,
    );
    assert.deepEqual(await steps(client, runId, "train/loss"), [2, 4]);
    assert.equal((await client.getRun(runId)).info.status, "FINISHED");

    const unknown = await cli("runs", "sync", fbRoot, "--run-id", "0123456789abcdef");
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /Cannot sync run 0123456789abcdef: it is not in/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
