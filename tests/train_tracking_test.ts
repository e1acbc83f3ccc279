/**
 * Every training run is tracked, end to end through the CLI: the exact mlruns layout after `storyteller train` on
 * configs/tiny.yaml (dataset inputs included), `runs search`, `models register` and loading the registered model for
 * serving, resume into the same run, the real tracking server over REST, a server failing mid-run or refusing the
 * dataset inputs for a while, an unreachable server, and use_mlflow: false.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { gpuTest } from "../src/gpu/testing.ts";
import { cli } from "./_cli.ts";
import { flattenConfig, loadConfig } from "../src/config/mod.ts";
import { openTracking, type Run, type TrackingClient } from "../src/tracking/mod.ts";
import { createServerApp, listen } from "../src/server/mod.ts";
import { flakyServer } from "./_flaky_server.ts";
import { smallSets } from "./_small.ts";
import { readMLmodel } from "../src/model/mlmodel.ts";
import { loadModel } from "../src/serve/mod.ts";
import { RunTracker } from "../src/train/tracking.ts";
import { fakeStartInfo } from "../src/train/testing.ts";
import { prepareData, type PreparedData } from "../src/data/mod.ts";

const TINY = new URL("../configs/tiny.yaml", import.meta.url).pathname;

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
const SCHEMA = '{"mlflow_colspec": [{"type": "string", "name": "text", "required": true}]}';
/** The source of builtin:stories(300, seed 1), the data of sets() below. */
const STORIES_SOURCE =
  '{"tags": {"mlflow.source.name": "storyteller builtin:stories", "mlflow.source.type": ' +
  '"LOCAL", "storyteller.stories": "300", "storyteller.seed": "1", "storyteller.generator_version": "1"}}';

/** context → [name, digest, source type, profile] of a run's dataset inputs. */
const inputsOf = (run: Run) =>
  Object.fromEntries(
    run.inputs!.datasetInputs.map((d) => [
      d.tags["mlflow.data.context"],
      [d.dataset.name, d.dataset.digest, d.dataset.sourceType, d.dataset.profile],
    ]),
  );

/** A fake start's data: builtin:stories(4000, seed 1) split as prepareData would describe it. */
const FAKE_INPUTS = {
  training: ["builtin:stories", "0a1b2c3d", "code", '{"num_documents": 3800, "num_tokens": 900000}'],
  validation: [
    "builtin:stories (val_fraction 0.05)",
    "4e5f6a7b",
    "code",
    '{"num_documents": 200, "num_tokens": 47000}',
  ],
};

/** What inputsOf should show for the data prepareData describes. */
function expectedInputs(data: PreparedData["stats"]["datasets"]) {
  const row = (
    d: typeof data.training,
  ) => [d.name, d.digest, "code", `{"num_documents": ${d.docs}, "num_tokens": ${d.tokens}}`];
  return { training: row(data.training), validation: row(data.validation!) };
}

/** configs/tiny.yaml made tiny and fast: 6 steps, logs at 2/4/6, evals at 0/3/6. */
function sets(dir: string, more: string[] = []): string[] {
  return smallSets(dir, [
    "training.max_steps=6",
    "training.log_interval=2",
    "training.eval_interval=3",
    "training.eval_steps=1",
    "training.sample_tokens=6",
    `training.checkpoint_dir=${dir}/ckpt`,
    "training.mlflow_run_name=e2e",
    ...more,
  ]).flatMap((s) => ["--set", s]);
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await walk(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

const stepsOf = async (c: TrackingClient, runId: string, key: string) =>
  (await c.getMetricHistory(runId, key)).map((m) => m.step);

const METRIC_FILES = [
  "metrics/train/grad_norm",
  "metrics/train/learning_rate",
  "metrics/train/loss",
  "metrics/train/tokens_per_sec",
  "metrics/val/loss",
  "metrics/val/perplexity",
];
const ARTIFACT_FILES = [
  "artifacts/config.yaml",
  "artifacts/model/MLmodel",
  "artifacts/model/code/storyteller_pyfunc.py",
  "artifacts/model/conda.yaml",
  "artifacts/model/config.json",
  "artifacts/model/generation_config.json",
  "artifacts/model/model.safetensors",
  "artifacts/model/python_env.yaml",
  "artifacts/model/tokenizer.json",
  "artifacts/samples/step_0000000.txt",
  "artifacts/samples/step_0000003.txt",
  "artifacts/samples/step_0000006.txt",
];
const TAGS = [
  "mlflow.log-model.history",
  "mlflow.note.content",
  "mlflow.runName",
  "mlflow.source.name",
  "mlflow.source.type",
  "mlflow.user",
  "storyteller.checkpoint",
  "storyteller.checkpoint_dir",
  "storyteller.version",
  "team",
];
const DERIVED_PARAMS = [
  "dataset.sources",
  "dataset.tokenizer",
  "dataset.tokenizer_vocab_size",
  "dataset.train_docs",
  "dataset.train_tokens",
  "dataset.val_docs",
  "dataset.val_sources",
  "dataset.val_tokens",
  "hardware.amp_dtype",
  "hardware.amp_dtype_effective",
  "hardware.architecture",
  "hardware.device",
  "hardware.fallback_adapter",
  "hardware.shader_f16",
  "hardware.use_amp",
  "hardware.vendor",
  "model_size.parameters",
  "source.version",
];

gpuTest(
  "storyteller train on configs/tiny.yaml writes the exact mlruns layout; search, register, resume",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-train-track-" });
    const root = `${dir}/mlruns`;
    try {
      const args = sets(dir, [
        `training.mlflow_tracking_uri=${root}`,
        "training.notes=e2e *run*",
        "training.tags={team: core}",
      ]);
      const r = await cli("train", "--config", TINY, ...args);
      assert.equal(r.code, 0, r.err);
      const store = openTracking(root);
      const { runs } = await store.searchRuns({ experimentNames: ["storyteller"] });
      assert.equal(runs.length, 1);
      const runId = runs[0].info.runId;
      assert.match(r.out, new RegExp(`tracking: run ${runId} in experiment 'storyteller' at ${root}`));
      assert.match(r.out, /view it with: storyteller ui --backend-store-uri /);

      const expDir = join(root, runs[0].info.experimentId);
      const runDir = join(expDir, runId);
      const { config } = await loadConfig(
        TINY,
        sets(dir, [`training.mlflow_tracking_uri=${root}`])
          .filter((s) => s !== "--set"),
      );
      // The datasets as prepareData describes them (a cache hit now): 5% of the 300 stories held out.
      const data = (await prepareData(config)).stats.datasets;
      assert.deepEqual(
        [data.training.name, data.training.docs, data.validation?.name, data.validation?.docs],
        ["builtin:stories", 285, "builtin:stories (val_fraction 0.05)", 15],
      );
      const splits = [["training", data.training], ["validation", data.validation!]] as const;
      const inputFiles = splits.map(([, d]) => `inputs/${md5(md5(d.name + d.digest) + runId)}/meta.yaml`);
      const files = (await walk(runDir)).filter((f) => !/^(params|tags)\/|source\.git/.test(f));
      assert.deepEqual(files, [...ARTIFACT_FILES, ...inputFiles, "meta.yaml", ...METRIC_FILES].sort());
      for (const [context, d] of splits) {
        const id = md5(d.name + d.digest);
        assert.match(d.digest, /^[0-9a-f]{8}$/);
        assert.equal(
          await Deno.readTextFile(join(runDir, "inputs", md5(id + runId), "meta.yaml")),
          `destination_id: ${id}\ndestination_type: RUN\nsource_id: ${id}\nsource_type: DATASET\n` +
            `tags:\n  mlflow.data.context: ${context}\n`,
        );
        assert.deepEqual(parseYaml(await Deno.readTextFile(join(expDir, "datasets", id, "meta.yaml"))), {
          digest: d.digest,
          name: d.name,
          profile: `{"num_documents": ${d.docs}, "num_tokens": ${d.tokens}}`,
          schema: SCHEMA,
          source: STORIES_SOURCE,
          source_type: "code",
        });
      }
      assert.deepEqual((await walk(join(expDir, "datasets"))).length, 2);
      const tags = (await walk(join(runDir, "tags"))).filter((t) => !t.startsWith("mlflow.source.git."));
      assert.deepEqual(tags, TAGS);
      const configKeys = Object.keys(flattenConfig(config))
        .filter((k) => k !== "training.tags" && k !== "training.notes");
      const params = (await walk(join(runDir, "params"))).filter((p) => p !== "source.git_commit");
      assert.deepEqual(params, [...configKeys, ...DERIVED_PARAMS].sort());
      assert.equal(await Deno.readTextFile(join(runDir, "params/model.hidden_size")), "32");
      assert.equal(await Deno.readTextFile(join(runDir, "params/training.max_steps")), "6");
      assert.equal(
        await Deno.readTextFile(join(runDir, "params/dataset.train_tokens")),
        String(data.training.tokens),
      );
      assert.match(await Deno.readTextFile(join(runDir, "meta.yaml")), /^status: 3$/m);

      assert.deepEqual(await stepsOf(store, runId, "train/loss"), [2, 4, 6]);
      assert.deepEqual(await stepsOf(store, runId, "train/tokens_per_sec"), [2, 4, 6]);
      assert.deepEqual(await stepsOf(store, runId, "val/loss"), [0, 3, 6]);
      assert.deepEqual(await stepsOf(store, runId, "val/perplexity"), [0, 3, 6]);
      const run1 = await store.getRun(runId);
      assert.equal(run1.data.tags["mlflow.note.content"], "e2e *run*");
      assert.equal(run1.data.tags["storyteller.checkpoint"], `${dir}/ckpt/e2e/step_6`);
      const { mlmodel } = await readMLmodel(join(runDir, "artifacts/model"));
      assert.equal(mlmodel.run_id, runId);
      const state = JSON.parse(await Deno.readTextFile(`${dir}/ckpt/e2e/step_6/state.json`));
      assert.equal(state.runId, runId);

      const search = await cli(
        "runs",
        "search",
        "--experiment-name",
        "storyteller",
        "--filter",
        "metrics.val/loss < 10",
        "--order-by",
        "metrics.val/loss ASC",
        "--tracking-uri",
        root,
      );
      assert.equal(search.code, 0, search.err);
      assert.match(search.out, new RegExp(runId));
      const byData = await cli(
        "runs",
        "search",
        "--experiment-name",
        "storyteller",
        "--filter",
        `dataset.context = 'training' AND dataset.digest = '${data.training.digest}'`,
        "--tracking-uri",
        root,
      );
      assert.equal(byData.code, 0, byData.err);
      assert.match(byData.out, new RegExp(runId));
      const reg = await cli(
        "models",
        "register",
        `runs:/${runId}/model`,
        "storyteller-production",
        "--tracking-uri",
        root,
      );
      assert.equal(reg.code, 0, reg.err);
      const version = await store.getModelVersion("storyteller-production", "1");
      assert.equal(version.runId, runId);
      const loaded = await loadModel("models:/storyteller-production/1", { trackingUri: root });
      assert.equal(loaded.model.hidden_size, 32);
      assert.equal(loaded.tokenizer.vocabSize, 300);

      // --resume continues the same run: steps go on, the model history grows, the status is FINISHED again.
      const again = await cli(
        "train",
        "--config",
        TINY,
        ...sets(dir, [`training.mlflow_tracking_uri=${root}`, "training.max_steps=8"]),
        "--resume",
      );
      assert.equal(again.code, 0, again.err);
      assert.match(again.err, /params are fixed once logged; .* training\.max_steps \(6 → 8\)/);
      assert.equal((await store.searchRuns({ experimentNames: ["storyteller"] })).runs.length, 1);
      assert.deepEqual(await stepsOf(store, runId, "train/loss"), [2, 4, 6, 8]);
      assert.deepEqual(await stepsOf(store, runId, "val/loss"), [0, 3, 6, 8]);
      const run2 = await store.getRun(runId);
      assert.equal(run2.info.status, "FINISHED");
      assert.equal(JSON.parse(run2.data.tags["mlflow.log-model.history"]).length, 2);
      // The same data gives the same digests, and logging the inputs again added nothing.
      assert.deepEqual(inputsOf(run2), expectedInputs(data));
      assert.equal(run2.inputs!.datasetInputs.length, 2);
      assert.deepEqual((await walk(join(runDir, "inputs"))).sort(), inputFiles.map((f) => f.slice(7)).sort());
      assert.equal((await walk(join(expDir, "datasets"))).length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("storyteller train against the real tracking server over REST", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-rest-" });
  const app = createServerApp({
    backendStoreUri: `${dir}/server/mlruns`,
    artifactsDestination: `${dir}/server/mlartifacts`,
  });
  const server = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "tracking server" });
  try {
    const r = await cli(
      "train",
      "--config",
      TINY,
      ...sets(dir, [`training.mlflow_tracking_uri=${server.url}`]),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err.match(/warning/g), null, r.err);
    const client = openTracking(server.url);
    const { runs } = await client.searchRuns({
      experimentNames: ["storyteller"],
      filterString: "metrics.val/loss < 10",
    });
    assert.equal(runs.length, 1);
    const runId = runs[0].info.runId;
    assert.match(r.out, new RegExp(`${server.url}/#/experiments/\\d+/runs/${runId}`));
    assert.equal(runs[0].info.status, "FINISHED");
    assert.deepEqual(await stepsOf(client, runId, "train/loss"), [2, 4, 6]);
    assert.deepEqual(await stepsOf(client, runId, "val/perplexity"), [0, 3, 6]);
    assert.equal(runs[0].data.params["model.num_layers"], "1");
    const { config } = await loadConfig(TINY, sets(dir).filter((s) => s !== "--set"));
    const data = (await prepareData(config)).stats.datasets;
    const run = await client.getRun(runId);
    assert.deepEqual(inputsOf(run), expectedInputs(data));
    assert.equal(run.inputs!.datasetInputs[0].dataset.source, STORIES_SOURCE);
    assert.equal(run.inputs!.datasetInputs[0].dataset.schema, SCHEMA);
    const model = (await client.listArtifacts(runId, "model")).map((a) => a.path).sort();
    assert.deepEqual(model, [
      "model/MLmodel",
      "model/code",
      "model/conda.yaml",
      "model/config.json",
      "model/generation_config.json",
      "model/model.safetensors",
      "model/python_env.yaml",
      "model/tokenizer.json",
    ]);
    const reg = await cli(
      "models",
      "register",
      `runs:/${runId}/model`,
      "storyteller-production",
      "--tracking-uri",
      server.url,
    );
    assert.equal(reg.code, 0, reg.err);
    assert.equal((await client.getModelVersion("storyteller-production", "1")).runId, runId);
    await Deno.stat(`${dir}/ckpt/e2e/step_6`);
    await assert.rejects(Deno.stat(`${dir}/ckpt/e2e/mlruns`), Deno.errors.NotFound);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "an unreachable tracking server: one warning, training finishes, the run is in the local fallback",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-train-down-" });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    try {
      const r = await cli(
        "train",
        "--config",
        TINY,
        ...sets(dir, [`training.mlflow_tracking_uri=http://127.0.0.1:${port}`]),
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err.match(/warning:/g)?.length, 1, r.err);
      const root = `${dir}/ckpt/e2e/mlruns`;
      assert.match(r.err, new RegExp(`this run was logged to run \\w+ in ${root}`));
      const fb = openTracking(root);
      const [run] = (await fb.searchRuns({ experimentNames: ["storyteller"] })).runs;
      assert.equal(run.info.status, "FINISHED");
      assert.deepEqual(await stepsOf(fb, run.info.runId, "train/loss"), [2, 4, 6]);
      assert.ok((await fb.listArtifacts(run.info.runId)).some((a) => a.path === "model"));
      const { config } = await loadConfig(TINY, sets(dir).filter((s) => s !== "--set"));
      assert.deepEqual(
        inputsOf(await fb.getRun(run.info.runId)),
        expectedInputs((await prepareData(config)).stats.datasets),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("use_mlflow: false writes no store at all; checkpoints and the model work as before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-off-" });
  try {
    const r = await cli(
      "train",
      "--config",
      TINY,
      ...sets(dir, ["training.use_mlflow=false", `training.mlflow_tracking_uri=${dir}/mlruns`]),
    );
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /tracking:|runs:\//); // no tracking line; the model is named by its directory
    await Deno.stat(`${dir}/ckpt/e2e/step_6/state.json`);
    await Deno.stat(`${dir}/ckpt/e2e/model/model.safetensors`);
    await assert.rejects(Deno.stat(`${dir}/mlruns`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/ckpt/e2e/mlruns`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/ckpt/e2e/model/MLmodel`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the tracking server failing mid-run: what it missed lands in the local fallback at exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-flaky-" });
  const { state, server, url } = flakyServer(dir);
  try {
    const { config } = await loadConfig("tiny", [
      `training.checkpoint_dir=${dir}/ckpt`,
      `training.mlflow_tracking_uri=${url}`,
    ]);
    const messages: string[] = [];
    const tracker = new RunTracker(config, {
      warn: (m) => messages.push(`warning: ${m}`),
      info: (m) => messages.push(m),
      flushIntervalMs: 10,
    });
    const info = fakeStartInfo("flaky", dir);
    const modelDir = `${dir}/ckpt/flaky/model`;
    await Deno.mkdir(modelDir, { recursive: true });
    for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
      await Deno.writeTextFile(join(modelDir, f), "{}");
    }
    const client = openTracking(url);
    const { runId } = await tracker.start(info);
    tracker.logPoint({ step: 2, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    for (let i = 0; i < 100 && (await client.getMetricHistory(runId, "train/loss")).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    state.down = true;
    tracker.logPoint({ step: 4, loss: 4, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
    tracker.evalPoint({ step: 4, loss: 4.2, perplexity: Math.exp(4.2), sample: "Once upon" });
    await tracker.finish({ runName: "flaky", steps: 4, interrupted: false, modelDir });
    state.down = false;

    assert.deepEqual(await stepsOf(client, runId, "train/loss"), [2]);
    assert.equal((await client.getRun(runId)).info.status, "RUNNING");
    const root = `${dir}/ckpt/flaky/mlruns`;
    assert.equal(tracker.fallbackRoot, root);
    const fb = openTracking(root);
    const [fbRun] = (await fb.searchRuns({ experimentNames: ["storyteller"] })).runs;
    assert.equal(fbRun.info.status, "FINISHED");
    assert.equal(fbRun.data.tags["storyteller.fallback_for"], `${url} run ${runId}`);
    assert.deepEqual(await stepsOf(fb, fbRun.info.runId, "train/loss"), [4]);
    assert.deepEqual(await stepsOf(fb, fbRun.info.runId, "val/loss"), [4]);
    assert.equal(fbRun.data.params["model.hidden_size"], "64");
    // The store took the dataset inputs at start; the fallback run has them too, as it has the params.
    assert.deepEqual(inputsOf(await client.getRun(runId)), FAKE_INPUTS);
    assert.deepEqual(inputsOf(await fb.getRun(fbRun.info.runId)), FAKE_INPUTS);
    const names = (await fb.listArtifacts(fbRun.info.runId)).map((a) => a.path).sort();
    assert.deepEqual(names, ["config.yaml", "model", "samples"]);
    const warnings = messages.filter((m) => m.startsWith("warning:"));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(messages.at(-1)!, new RegExp(`could not be delivered to ${url}; they were written to run`));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server refusing the dataset inputs (503) at start: retried at the end, else in the fallback", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-inputs-" });
  const { state, server, url } = flakyServer(dir);
  state.failing.add("/runs/log-inputs");
  try {
    const modelDir = `${dir}/model`;
    await Deno.mkdir(modelDir, { recursive: true });
    for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
      await Deno.writeTextFile(join(modelDir, f), "{}");
    }
    const client = openTracking(url);
    /** One tracked run; `between` runs after start, before finish. */
    const track = async (name: string, between: () => void) => {
      const { config } = await loadConfig("tiny", [
        `training.checkpoint_dir=${dir}/ckpt`,
        `training.mlflow_tracking_uri=${url}`,
      ]);
      const messages: string[] = [];
      const tracker = new RunTracker(config, {
        warn: (m) => messages.push(`warning: ${m}`),
        info: (m) => messages.push(m),
        flushIntervalMs: 10,
        exitTimeoutMs: 2000,
      });
      const { runId } = await tracker.start(fakeStartInfo(name, dir));
      tracker.logPoint({ step: 2, loss: 5, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 1000 });
      between();
      await tracker.finish({ runName: name, steps: 2, interrupted: false, modelDir });
      return { runId, messages, tracker };
    };

    // The store takes them before the run ends: delivered then, FINISHED, no fallback.
    const back = await track("back", () => state.failing.clear());
    assert.equal(back.messages.length, 1, back.messages.join("\n"));
    assert.match(
      back.messages[0],
      /warning: tracking: cannot log the dataset inputs to .*; they are retried/,
    );
    const run = await client.getRun(back.runId);
    assert.equal(run.info.status, "FINISHED");
    assert.deepEqual(inputsOf(run), FAKE_INPUTS);
    assert.equal(back.tracker.fallbackRoot, undefined);

    // Never: the inputs and the status go to the fallback run, and the note says so.
    state.failing.add("/runs/log-inputs");
    const never = await track("never", () => {});
    assert.equal(never.messages.filter((m) => m.startsWith("warning:")).length, 1, never.messages.join("\n"));
    assert.match(never.messages.at(-1)!, /2 dataset inputs, the status FINISHED could not be delivered/);
    assert.equal((await client.getRun(never.runId)).info.status, "RUNNING");
    assert.equal((await client.getRun(never.runId)).inputs!.datasetInputs.length, 0);
    const fb = openTracking(never.tracker.fallbackRoot!);
    const [fbRun] = (await fb.searchRuns({ experimentNames: ["storyteller"] })).runs;
    assert.deepEqual(inputsOf(await fb.getRun(fbRun.info.runId)), FAKE_INPUTS);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "an exception in training marks the run FAILED with storyteller.error, and the CLI fails",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-train-fail-" });
    const root = `${dir}/mlruns`;
    try {
      // The final checkpoint cannot be written: a file sits where its temporary directory goes.
      await Deno.mkdir(`${dir}/ckpt/e2e`, { recursive: true });
      await Deno.writeTextFile(`${dir}/ckpt/e2e/step_6.tmp-${Deno.pid}`, "in the way");
      const r = await cli("train", "--config", TINY, ...sets(dir, [`training.mlflow_tracking_uri=${root}`]));
      assert.equal(r.code, 1, r.out);
      const store = openTracking(root);
      const [run] = (await store.searchRuns({ experimentNames: ["storyteller"] })).runs;
      assert.equal(run.info.status, "FAILED");
      assert.match(run.data.tags["storyteller.error"], /step_6\.tmp/);
      assert.deepEqual(await stepsOf(store, run.info.runId, "train/loss"), [2, 4, 6]);
      const names = (await store.listArtifacts(run.info.runId)).map((a) => a.path).sort();
      assert.deepEqual(names, ["config.yaml", "samples"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** `storyteller train` (tiny, endless) in a child process, once it has logged step 4; stderr is collected. */
async function trainingUntilStep4(dir: string, root: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("../main.ts", import.meta.url).pathname, "train", "--config", TINY],
      ...sets(dir, [`training.mlflow_tracking_uri=${root}`, "training.max_steps=100000"]),
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let out = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    out += decoder.decode(chunk);
    if (/step +4\//.test(out)) break;
  }
  return { kill: (signal: Deno.Signal) => child.kill(signal), status: child.status, stderr };
}

gpuTest(
  "Ctrl-C stops after the step with a checkpoint, the run is KILLED; a second training meanwhile is refused; --resume continues it",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "st-train-sigint-" });
    const root = `${dir}/mlruns`;
    try {
      const child = await trainingUntilStep4(dir, root);
      // A second training of the run meanwhile is refused before it tracks anything.
      const second = await cli(
        "train",
        "--config",
        TINY,
        ...sets(dir, [`training.mlflow_tracking_uri=${root}`]),
      );
      assert.equal(second.code, 1, second.err);
      assert.match(second.err, /Cannot train run 'e2e': another training of it \(process \d+\) holds/);
      child.kill("SIGINT");
      const status = await child.status;
      await child.stderr;
      assert.equal(status.code, 130);
      const store = openTracking(root);
      const runs = (await store.searchRuns({ experimentNames: ["storyteller"] })).runs;
      assert.equal(runs.length, 1);
      const [run] = runs;
      assert.equal(run.info.status, "KILLED");
      const checkpoint = run.data.tags["storyteller.checkpoint"];
      assert.match(checkpoint, /\/ckpt\/e2e\/step_\d+$/);
      const state = JSON.parse(await Deno.readTextFile(`${checkpoint}/state.json`));
      assert.equal(state.runId, run.info.runId);

      const again = await cli(
        "train",
        "--config",
        TINY,
        ...sets(dir, [`training.mlflow_tracking_uri=${root}`, `training.max_steps=${state.step + 2}`]),
        "--resume",
      );
      assert.equal(again.code, 0, again.err);
      const after = await store.getRun(run.info.runId);
      assert.equal(after.info.status, "FINISHED");
      assert.equal(after.data.metrics["train/loss"].step, state.step + 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("a second Ctrl-C quits at once: exit 130, the run KILLED, no crash at exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-sigint2-" });
  const root = `${dir}/mlruns`;
  try {
    const child = await trainingUntilStep4(dir, root);
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 50));
    try {
      child.kill("SIGINT");
    } catch { /* the first stop already finished: it exits 130 with the run KILLED too */ }
    const status = await child.status;
    const err = await child.stderr;
    assert.equal(status.code, 130, err);
    assert.doesNotMatch(err, /panicked|double free|Aborted/);
    const [run] = (await openTracking(root).searchRuns({ experimentNames: ["storyteller"] })).runs;
    assert.equal(run.info.status, "KILLED");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "SIGTERM and SIGHUP stop like Ctrl-C: a checkpoint, the run KILLED with an end time, exit 143 and 129",
  async () => {
    for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      const dir = await Deno.makeTempDir({ prefix: "st-train-sigterm-" });
      const root = `${dir}/mlruns`;
      try {
        const child = await trainingUntilStep4(dir, root);
        child.kill(signal);
        const status = await child.status;
        const err = await child.stderr;
        assert.equal(status.code, code, err);
        assert.match(err, new RegExp(`${signal}: stopping after this step`), err);
        const [run] = (await openTracking(root).searchRuns({ experimentNames: ["storyteller"] })).runs;
        assert.equal(run.info.status, "KILLED", err);
        assert.ok(run.info.endTime! >= run.info.startTime, `an end time\n${err}`);
        const checkpoint = run.data.tags["storyteller.checkpoint"];
        const state = JSON.parse(await Deno.readTextFile(`${checkpoint}/state.json`));
        assert.ok(state.step >= 4, `checkpoint at step ${state.step}\n${err}`);
        await assert.rejects(Deno.stat(`${dir}/ckpt/e2e/staging`), Deno.errors.NotFound, err);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
);
