/**
 * RunTracker without a GPU: a fake start, hand-made points and model directory, file stores. The HTTP server cases
 * (REST, a server failing mid-run) are in tests/train_tracking_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../config/mod.ts";
import type { Gpu } from "../gpu/mod.ts";
import type { PreparedData } from "../data/mod.ts";
import { openTracking, type Run, syncRuns, type TrackingClient } from "../tracking/mod.ts";
import { readMLmodel } from "../model/mlmodel.ts";
import { RunTracker } from "./tracking.ts";
import { sampleFileName } from "./tracking_staging.ts";
import { startParams } from "./tracking_params.ts";
import type { StartInfo, TrainResult } from "./trainer.ts";

/** A split of builtin:stories(4000, seed 1) as prepareData describes it. */
const split = (role: string, docs: number, tokens: number) => ({
  name: role === "training" ? "builtin:stories" : "builtin:stories (val_fraction 0.05)",
  digest: role === "training" ? "0a1b2c3d" : "4e5f6a7b",
  sources: [{ kind: "builtin", stories: 4000, seed: 1, generator: 1 }],
  holdOut: 0.05,
  docs,
  tokens,
});

/** context → [name, digest, profile] of a run's dataset inputs. */
const inputsOf = (run: Run) =>
  Object.fromEntries(
    run.inputs!.datasetInputs.map((d) => [
      d.tags["mlflow.data.context"],
      [d.dataset.name, d.dataset.digest, d.dataset.profile],
    ]),
  );
const INPUTS = {
  training: ["builtin:stories", "0a1b2c3d", '{"num_documents": 10, "num_tokens": 1000}'],
  validation: ["builtin:stories (val_fraction 0.05)", "4e5f6a7b", '{"num_documents": 1, "num_tokens": 50}'],
};

async function setup(sets: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "st-tracker-" });
  const { config } = await loadConfig("tiny", [
    `training.checkpoint_dir=${dir}/ckpt`,
    `training.mlflow_tracking_uri=${dir}/mlruns`,
    "training.mlflow_run_name=unit",
    "training.notes=first *try*",
    "training.tags={team: core, purpose: test}",
    ...sets,
  ]);
  const info: StartInfo = {
    runName: "unit",
    ckptDir: `${dir}/ckpt/unit`,
    startStep: 0,
    paramCount: 1234,
    gpu: {
      summary: { description: "fake adapter", vendor: "acme", architecture: "", isFallback: true },
      hasF16: false,
    } as unknown as Gpu,
    data: {
      stats: {
        trainTokens: 1000,
        valTokens: 50,
        trainDocs: 10,
        valDocs: 1,
        sources: "builtin:stories(4000, seed 1)",
        valSources: "5% of train",
        tokenizerSource: "cache/tok.json",
        datasets: {
          training: split("training", 10, 1000),
          validation: split("validation", 1, 50),
        },
      },
      tokenizer: { vocabSize: 300 },
    } as unknown as PreparedData,
  };
  const modelDir = `${dir}/ckpt/unit/model`;
  await Deno.mkdir(modelDir, { recursive: true });
  for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
    await Deno.writeTextFile(join(modelDir, f), "{}");
  }
  const result = (steps: number, interrupted = false): TrainResult => ({
    runName: "unit",
    steps,
    interrupted,
    modelDir,
  });
  const messages: string[] = [];
  const options = {
    warn: (m: string) => messages.push(`warning: ${m}`),
    info: (m: string) => messages.push(m),
    flushIntervalMs: 10,
    exitTimeoutMs: 1500,
  };
  return {
    dir,
    config,
    info,
    result,
    messages,
    options,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

const steps = async (c: TrackingClient, runId: string, key: string) =>
  (await c.getMetricHistory(runId, key)).map((m) => m.step);

Deno.test("a run: params, tags, metrics with extras, model as MLmodel, config and samples, FINISHED", async () => {
  const s = await setup();
  try {
    const tracker = new RunTracker(s.config, s.options);
    const hooks = tracker.hooks();
    const { runId } = (await hooks.onStart!(s.info)) as { runId: string };
    assert.equal(tracker.runId, runId);
    for (const step of [2, 4]) {
      hooks.onLog!({ step, loss: 5 - step / 10, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000, extra: {} });
    }
    hooks.onEval!({
      step: 4,
      loss: 4.5,
      perplexity: Math.exp(4.5),
      sample: "Once upon a time",
      extra: { "moe/layer_1_balance": 1.25, "moe/layer_1_entropy": 0.7 },
    });
    hooks.onCheckpoint!(`${s.info.ckptDir}/step_4`, 4);
    await tracker.finish(s.result(4));

    const store = openTracking(`${s.dir}/mlruns`);
    const run = await store.getRun(runId);
    assert.equal(run.info.status, "FINISHED");
    assert.equal(run.info.runName, "unit");
    assert.equal(run.data.params["model.hidden_size"], "64");
    assert.equal(run.data.params["training.learning_rate"], "0.003");
    assert.equal(run.data.params["hardware.device"], "fake adapter");
    assert.equal(run.data.params["dataset.train_tokens"], "1000");
    assert.equal(run.data.params["dataset.tokenizer_vocab_size"], "300");
    assert.equal(run.data.params["model_size.parameters"], "1234");
    assert.equal(run.data.params["training.tags"], undefined);
    assert.equal(run.data.tags["mlflow.note.content"], "first *try*");
    assert.equal(run.data.tags.team, "core");
    assert.equal(run.data.tags["mlflow.source.type"], "LOCAL");
    assert.equal(run.data.tags["storyteller.checkpoint"], `${s.info.ckptDir}/step_4`);
    assert.deepEqual(await steps(store, runId, "train/loss"), [2, 4]);
    assert.deepEqual(await steps(store, runId, "train/learning_rate"), [2, 4]);
    assert.deepEqual(await steps(store, runId, "val/perplexity"), [4]);
    assert.equal(run.data.metrics["moe/layer_1_balance"].value, 1.25);
    assert.equal(run.data.metrics["moe/layer_1_entropy"].step, 4);
    assert.deepEqual(inputsOf(run), INPUTS);
    assert.equal(run.inputs!.datasetInputs[0].dataset.sourceType, "code");

    const artifacts = join(new URL(run.info.artifactUri).pathname);
    assert.equal(
      await Deno.readTextFile(join(artifacts, "samples", sampleFileName(4))),
      "Once upon a time\n",
    );
    assert.match(await Deno.readTextFile(join(artifacts, "config.yaml")), /hidden_size: 64/);
    const { mlmodel, files } = await readMLmodel(join(artifacts, "model"));
    assert.equal(mlmodel.run_id, runId);
    assert.ok(files!.weights.endsWith("model/model.safetensors"));
    const history = JSON.parse(run.data.tags["mlflow.log-model.history"]);
    assert.deepEqual(history.map((h: { run_id: string }) => h.run_id), [runId]);
    assert.deepEqual(s.messages, []);
  } finally {
    await s.cleanup();
  }
});

Deno.test("an exception marks the run FAILED with the error tag; a resume continues the same run", async () => {
  const s = await setup();
  try {
    const first = new RunTracker(s.config, s.options);
    const { runId } = await first.start(s.info);
    first.evalPoint({ step: 0, loss: 5.7, perplexity: 300, sample: "Once" });
    await first.fail(new Error("Cannot allocate a buffer: out of memory"));
    const store = openTracking(`${s.dir}/mlruns`);
    let run = await store.getRun(runId);
    assert.equal(run.info.status, "FAILED");
    assert.equal(run.data.tags["storyteller.error"], "Cannot allocate a buffer: out of memory");
    const names = (await store.listArtifacts(runId)).map((a) => a.path).sort();
    assert.deepEqual(names, ["config.yaml", "samples"]);

    const { config } = await loadConfig("tiny", [
      `training.checkpoint_dir=${s.dir}/ckpt`,
      `training.mlflow_tracking_uri=${s.dir}/mlruns`,
      "training.max_steps=600",
    ]);
    const again = new RunTracker(config, s.options);
    const resumed = await again.start({ ...s.info, runId, startStep: 4 });
    assert.equal(resumed.runId, runId);
    assert.equal((await store.getRun(runId)).info.status, "RUNNING");
    again.logPoint({ step: 6, loss: 4, lr: 1e-3, gradNorm: 0.4, tokensPerSec: 900 });
    await again.finish(s.result(6));
    await again.finish(s.result(6)); // a second call is a no-op
    run = await store.getRun(runId);
    assert.equal(run.info.status, "FINISHED");
    assert.equal(run.data.params["training.max_steps"], "300", "params keep their first value");
    assert.match(s.messages.join("\n"), /keeps the first values of training\.max_steps \(300 → 600\)/);
    assert.equal(JSON.parse(run.data.tags["mlflow.log-model.history"]).length, 1);
    assert.equal((await store.searchRuns({ experimentNames: ["storyteller"] })).runs.length, 1);
    // The resumed run logged its inputs again: a no-op, not a second pair.
    assert.deepEqual(inputsOf(run), INPUTS);
    assert.equal(run.inputs!.datasetInputs.length, 2);
    const runDir = new URL(".", run.info.artifactUri).pathname; // the artifacts dir's parent
    assert.equal([...Deno.readDirSync(join(runDir, "inputs"))].length, 2);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a checkpoint's run missing from the store starts a new run with a warning", async () => {
  const s = await setup();
  try {
    const tracker = new RunTracker(s.config, s.options);
    const { runId } = await tracker.start({ ...s.info, runId: "0123456789abcdef0123456789abcdef" });
    assert.notEqual(runId, "0123456789abcdef0123456789abcdef");
    await tracker.finish(s.result(1));
    assert.match(s.messages[0], /run 0123456789abcdef0123456789abcdef is not in .*; starting a new run/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("startParams: config values as section.key, then hardware, dataset, model size and source", async () => {
  const s = await setup();
  try {
    const keys = startParams(s.config, s.info).map((p) => p.key);
    assert.ok(
      keys.includes("model.num_layers") && keys.includes("data.train") && keys.includes("training.seed"),
    );
    assert.ok(!keys.includes("training.notes"));
    for (const k of ["hardware.device", "hardware.use_amp", "hardware.amp_dtype", "dataset.sources"]) {
      assert.ok(keys.includes(k), k);
    }
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(keys.every((k) => /^[a-z_]+\.[a-z0-9_.]+$/.test(k)), "dotted lower-case keys");
  } finally {
    await s.cleanup();
  }
});

Deno.test("a malformed tracking URI is a usage error before any training", async () => {
  const s = await setup(["training.mlflow_tracking_uri=s3://bucket/mlruns"]);
  try {
    assert.throws(() => new RunTracker(s.config, s.options), /only file paths, file: and http\(s\): URIs/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("an unreachable server at start: one warning, the run is logged to the local fallback", async () => {
  const s = await setup();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  try {
    const { config } = await loadConfig("tiny", [
      `training.checkpoint_dir=${s.dir}/ckpt`,
      `training.mlflow_tracking_uri=http://127.0.0.1:${port}`,
    ]);
    const tracker = new RunTracker(config, s.options);
    const { runId } = await tracker.start(s.info);
    tracker.logPoint({ step: 1, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    await tracker.finish(s.result(1, true));
    const fb = openTracking(`${s.info.ckptDir}/mlruns`);
    const run = await fb.getRun(runId);
    assert.equal(run.info.status, "KILLED");
    assert.deepEqual(await steps(fb, runId, "train/loss"), [1]);
    assert.deepEqual(inputsOf(run), INPUTS);
    assert.equal(s.messages.filter((m) => m.startsWith("warning:")).length, 1);
    assert.match(s.messages[0], /cannot start a run at http:\/\/127\.0\.0\.1:\d+ .*logging this run to/);
    assert.match(s.messages.at(-1)!, /could not be reached; this run was logged to run \w+ in /);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a store that cannot be opened at all (a full disk, a path through a file) falls back too", async () => {
  const s = await setup();
  try {
    // The store's directory cannot be made (as on a full disk at start): the run goes to the fallback, not exit 1.
    await Deno.writeTextFile(`${s.dir}/afile`, "x");
    const { config } = await loadConfig("tiny", [
      `training.checkpoint_dir=${s.dir}/ckpt`,
      `training.mlflow_tracking_uri=${s.dir}/afile/mlruns`,
    ]);
    const tracker = new RunTracker(config, s.options);
    const { runId } = await tracker.start(s.info);
    tracker.logPoint({ step: 1, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    await tracker.finish(s.result(1, false));
    const fb = openTracking(`${s.info.ckptDir}/mlruns`);
    assert.equal((await fb.getRun(runId)).info.status, "FINISHED");
    assert.deepEqual(await steps(fb, runId, "train/loss"), [1]);
    assert.match(s.messages[0], /cannot start a run at .*afile\/mlruns .*logging this run to/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("abort (a second Ctrl-C) marks the run KILLED at once, without artifacts", async () => {
  const s = await setup();
  try {
    const tracker = new RunTracker(s.config, s.options);
    const { runId } = await tracker.start(s.info);
    tracker.logPoint({ step: 1, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    await tracker.abort(2000);
    await tracker.finish(s.result(1)); // ignored after abort
    const store = openTracking(`${s.dir}/mlruns`);
    const run = await store.getRun(runId);
    assert.equal(run.info.status, "KILLED");
    assert.deepEqual(await steps(store, runId, "train/loss"), [1]);
    assert.deepEqual(await store.listArtifacts(runId), []);
  } finally {
    await s.cleanup();
  }
});

Deno.test("with no mlflow_tracking_uri the store is MLFLOW_TRACKING_URI", async () => {
  const s = await setup(["training.mlflow_tracking_uri=null"]);
  const before = Deno.env.get("MLFLOW_TRACKING_URI");
  try {
    Deno.env.set("MLFLOW_TRACKING_URI", `file://${s.dir}/env-mlruns`);
    const tracker = new RunTracker(s.config, s.options);
    assert.equal(tracker.trackingUri, `file://${s.dir}/env-mlruns`);
    const { runId } = await tracker.start(s.info);
    await tracker.finish(s.result(1));
    assert.equal((await openTracking(`${s.dir}/env-mlruns`).getRun(runId)).info.status, "FINISHED");
  } finally {
    if (before === undefined) Deno.env.delete("MLFLOW_TRACKING_URI");
    else Deno.env.set("MLFLOW_TRACKING_URI", before);
    await s.cleanup();
  }
});

Deno.test("a resume logs the checkpoint's journal once and no step that a killed training delivered", async () => {
  const s = await setup();
  try {
    const point = (step: number, loss: number) => ({
      step,
      loss,
      lr: 1e-3,
      gradNorm: 0.5,
      tokensPerSec: 1000,
    });
    // The killed training: checkpoint at 2, then step 4 (point, evaluation, sample) delivered before the kill.
    const killed = new RunTracker(s.config, s.options);
    const { runId } = await killed.start(s.info);
    killed.logPoint(point(2, 5));
    assert.deepEqual(await killed.checkpointing(2), { tracking: { undelivered: [] } });
    killed.logPoint(point(4, 4.5));
    killed.evalPoint({ step: 4, loss: 4.6, perplexity: 99, sample: "Once upon" });
    await killed.checkpointing(4); // a flush, as a kill may come after the store took step 4
    await killed.abort(1000); // stands in for the kill: no finish, the staged sample stays
    const staged = `${s.info.ckptDir}/staging/samples/${sampleFileName(4)}`;
    await Deno.writeTextFile(staged, "Once upon\n"); // as if killed before the checkpoint's upload

    // The resume from step 2 re-trains step 4; its checkpoint journaled a point the store never took.
    const extra = {
      tracking: {
        undelivered: [
          { key: "val/loss", value: 4.9, step: 2, timestamp: 1234 },
          { key: "train/loss", value: 5, step: 2, timestamp: 1 }, // the store has step 2 already
          { key: "bad", value: "x", step: 2, timestamp: 1 }, // malformed: left out
        ],
      },
    };
    const resumed = new RunTracker(s.config, s.options);
    await resumed.start({ ...s.info, runId, startStep: 2, extra });
    resumed.logPoint(point(4, 4.4));
    resumed.evalPoint({ step: 4, loss: 4.7, perplexity: 110, sample: "Once upon" });
    resumed.logPoint(point(6, 4));
    await resumed.finish(s.result(6));

    const store = openTracking(`${s.dir}/mlruns`);
    assert.deepEqual(await steps(store, runId, "train/loss"), [2, 4, 6]);
    const val = await store.getMetricHistory(runId, "val/loss");
    assert.deepEqual(val.map((m) => [m.step, m.value, m.timestamp === 1234]), [[4, 4.6, false], [
      2,
      4.9,
      true,
    ]]);
    assert.equal(
      (await store.getMetricHistory(runId, "train/loss"))[1].value,
      4.5,
      "the first delivery stays",
    );
    assert.deepEqual((await store.listArtifacts(runId, "samples")).map((a) => a.path), [
      "samples/step_0000004.txt",
    ]);
    await assert.rejects(Deno.stat(`${s.info.ckptDir}/staging`), Deno.errors.NotFound);
    assert.equal((await store.getRun(runId)).info.status, "FINISHED");
  } finally {
    await s.cleanup();
  }
});

Deno.test("a resume of a finished run adds no second model entry; a longer one adds one", async () => {
  const s = await setup();
  try {
    const first = new RunTracker(s.config, s.options);
    const { runId } = await first.start(s.info);
    await first.finish(s.result(6));
    const store = openTracking(`${s.dir}/mlruns`);
    const history = async () => JSON.parse((await store.getRun(runId)).data.tags["mlflow.log-model.history"]);
    const entry = (await history())[0];
    for (const steps of [6, 6, 8]) {
      const again = new RunTracker(s.config, s.options);
      await again.start({ ...s.info, runId, startStep: 6 });
      await again.finish(s.result(steps));
    }
    const after = await history();
    assert.equal(after.length, 2);
    assert.deepEqual(after[0], entry);
    assert.notEqual(after[1].model_uuid, entry.model_uuid);
    const { mlmodel } = await readMLmodel(
      join(new URL((await store.getRun(runId)).info.artifactUri).pathname, "model"),
    );
    assert.equal(mlmodel.model_uuid, after[1].model_uuid);
    assert.equal((await store.getRun(runId)).info.status, "FINISHED");
  } finally {
    await s.cleanup();
  }
});

Deno.test("the store deleted mid-run: the rest of the run goes to the fallback, nothing is dropped", async () => {
  const s = await setup();
  try {
    const tracker = new RunTracker(s.config, s.options);
    const { runId } = await tracker.start(s.info);
    tracker.logPoint({ step: 2, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    await tracker.checkpointing(2);
    await Deno.remove(`${s.dir}/mlruns`, { recursive: true });
    for (const step of [4, 6]) {
      tracker.logPoint({ step, loss: 4, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
      tracker.evalPoint({ step, loss: 4.2, perplexity: 66, sample: `story ${step}` });
    }
    assert.deepEqual(await tracker.checkpointing(6), { tracking: { undelivered: [] } });
    await tracker.finish(s.result(6));

    assert.doesNotMatch(s.messages.join("\n"), /dropped|lost/);
    assert.match(
      s.messages[0],
      /refused the run's points \(Run '\w+' not found\); logging the rest of this run to /,
    );
    assert.equal(s.messages.filter((m) => m.startsWith("warning:")).length, 1, s.messages.join("\n"));
    const fb = openTracking(`${s.info.ckptDir}/mlruns`);
    const [run] = (await fb.searchRuns({ experimentNames: ["storyteller"] })).runs;
    assert.equal(run.data.tags["storyteller.fallback_for"], `file://${s.dir}/mlruns run ${runId}`);
    assert.equal(run.info.status, "FINISHED");
    assert.deepEqual(await steps(fb, run.info.runId, "train/loss"), [4, 6]);
    assert.deepEqual(await steps(fb, run.info.runId, "val/perplexity"), [4, 6]);
    const files = (await fb.listArtifacts(run.info.runId, "samples")).map((a) => a.path);
    assert.deepEqual(files, ["samples/step_0000004.txt", "samples/step_0000006.txt"]);
    assert.ok((await fb.listArtifacts(run.info.runId)).some((a) => a.path === "model"));
    assert.match(s.messages.at(-1)!, /could not be delivered to .*; they were written to run/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("the undelivered-artifact count is the number of files runs sync then sends (issue 16 item 7)", async () => {
  const s = await setup();
  try {
    const tracker = new RunTracker(s.config, s.options);
    const { runId } = await tracker.start(s.info);
    tracker.logPoint({ step: 2, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    tracker.evalPoint({ step: 2, loss: 4.9, perplexity: 130, sample: "story 2" });
    await tracker.checkpointing(2);
    // From here the store takes points but no more artifacts: a file stands where the model directory goes. The
    // finish uploads config.yaml and the samples again (delivered), then the model fails and everything after it
    // waits for the fallback run.
    const store = openTracking(`${s.dir}/mlruns`);
    const artifacts = new URL((await store.getRun(runId)).info.artifactUri).pathname;
    Deno.writeTextFileSync(join(artifacts, "model"), "in the way");
    tracker.evalPoint({ step: 4, loss: 4.2, perplexity: 66, sample: "story 4" });
    await tracker.finish(s.result(4));
    const said = /(\d+) artifacts[^;]* could not be delivered/.exec(s.messages.at(-1)!);
    assert.ok(said, s.messages.join("\n"));
    const [sync] = await syncRuns(`${s.info.ckptDir}/mlruns`, { dryRun: true });
    assert.ok(sync.artifacts > 1, "the model directory is several files");
    assert.equal(Number(said[1]), sync.artifacts);
  } finally {
    await s.cleanup();
  }
});
