/**
 * The FileStore's MLflow 3 entities on disk (spec §1.6, §1.7, §2): logged-model meta.yaml key sets through
 * create → finalize → delete, params/tags/metrics files, run inputs with md5 ids, run outputs, `models:/m-…`
 * sources in the registry, `runs:/<run>/<model>` falling back to the run's logged model, the artifact-root option
 * and experiment tag deletion.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FileStore, pathToFileUri, TrackingError } from "../src/tracking/mod.ts";

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");
const TS = /(?<=(?:timestamp|time): )\d{13}$/gm;

function tempStore(options = {}): FileStore {
  return new FileStore(join(Deno.makeTempDirSync({ prefix: "st-lm-" }), "mlruns"), options);
}

const keysOf = (yaml: string) => yaml.split("\n").filter((l) => /^\w/.test(l)).map((l) => l.split(":")[0]);

Deno.test("logged model: meta.yaml keys on create, finalize and delete; params, tags and metric files", async () => {
  const s = tempStore();
  const exp = await s.createExperiment("e");
  const run = await s.createRun({ experimentId: exp });
  const m = await s.createLoggedModel(exp, {
    name: "model",
    sourceRunId: run.info.runId,
    params: { lr: "0.01" },
    tags: { "mlflow.user": "alice" },
  });
  const dir = join(s.root, exp, "models", m.modelId);
  const expUri = pathToFileUri(join(s.root, exp));
  assert.equal(m.artifactLocation, `${expUri}/models/${m.modelId}/artifacts`);
  assert.equal(
    Deno.readTextFileSync(join(dir, "meta.yaml")).replace(TS, "T"),
    `artifact_location: ${m.artifactLocation}\ncreation_timestamp: T\nexperiment_id: '${exp}'\n` +
      `last_updated_timestamp: T\nlifecycle_stage: active\nmodel_id: ${m.modelId}\nmodel_type: null\n` +
      `name: model\nsource_run_id: ${run.info.runId}\nstatus: 1\nstatus_message: null\n`,
  );
  assert.equal(Deno.readTextFileSync(join(dir, "params", "lr")), "0.01");
  assert.equal(Deno.readTextFileSync(join(dir, "tags", "mlflow.user")), "alice");
  assert.ok(Deno.statSync(join(dir, "metrics")).isDirectory);

  const ready = await s.finalizeLoggedModel(m.modelId, "LOGGED_MODEL_READY");
  assert.equal(ready.status, "LOGGED_MODEL_READY");
  const finalized = Deno.readTextFileSync(join(dir, "meta.yaml"));
  assert.deepEqual(keysOf(finalized), [
    "artifact_location",
    "creation_timestamp",
    "experiment_id",
    "last_updated_timestamp",
    "model_id",
    "model_type",
    "name",
    "source_run_id",
    "status",
    "status_message",
  ]);
  assert.match(finalized, /^status: 2$/m);

  s.logLoggedModelMetrics(m.modelId, run.info.runId, [
    { key: "val/acc", value: 0.5, timestamp: 10, step: 1 },
    { key: "val/acc", value: 1, timestamp: 11, step: 2, datasetName: "d", datasetDigest: "abc" },
  ]);
  assert.equal(
    Deno.readTextFileSync(join(dir, "metrics", "val", "acc")),
    `10 0.5 1 ${run.info.runId}\n11 1.0 2 ${run.info.runId} d abc\n`,
  );
  const got = await s.getLoggedModel(m.modelId);
  assert.equal(got.metrics.length, 2);
  assert.equal(got.metrics[1].datasetDigest, "abc");

  await s.setLoggedModelTags(m.modelId, {
    "mlflow.modelVersions": '[{"name": "A", "version": 1}, {"name": "A", "version": "1"}]',
  });
  assert.equal(
    Deno.readTextFileSync(join(dir, "tags", "mlflow.modelVersions")),
    '[{"name":"A","version":"1"}]',
  );
  await s.deleteLoggedModelTag(m.modelId, "mlflow.user");
  await assert.rejects(
    s.deleteLoggedModelTag(m.modelId, "mlflow.user"),
    (e: unknown) => e instanceof TrackingError && e.code === "RESOURCE_DOES_NOT_EXIST",
  );
  await s.deleteLoggedModel(m.modelId);
  assert.match(Deno.readTextFileSync(join(dir, "meta.yaml")), /^lifecycle_stage: deleted$/m);
  await assert.rejects(s.getLoggedModel(m.modelId), /not found/);
  assert.equal((await s.getLoggedModel(m.modelId, true)).lifecycleStage, "deleted");
  assert.equal((await s.searchLoggedModels({ experimentIds: [exp] })).models.length, 0);
  // The run index never mistakes `models/` for a run.
  assert.equal((await s.searchRuns({ experimentIds: [exp] })).runs.length, 1);
});

Deno.test("run inputs and outputs: md5 ids, written once, read back by getRun", async () => {
  const s = tempStore();
  const exp = await s.createExperiment("e");
  const run = await s.createRun({ experimentId: exp });
  const runId = run.info.runId;
  const dataset = { name: "stories", digest: "1e5", sourceType: "local", source: '{"uri": "/data"}' };
  await s.logInputs(runId, { datasets: [{ dataset, tags: { "mlflow.data.context": "eval" } }] });
  await s.logInputs(runId, { datasets: [{ dataset, tags: { "mlflow.data.context": "other" } }] });
  const dsId = md5("stories1e5");
  assert.equal(
    Deno.readTextFileSync(join(s.root, exp, "datasets", dsId, "meta.yaml")),
    `digest: 1e5\nname: stories\nprofile: null\nschema: null\nsource: '{"uri": "/data"}'\nsource_type: local\n`,
  );
  const model = await s.createLoggedModel(exp, { name: "m" });
  await s.logInputs(runId, { models: [{ modelId: model.modelId }] });
  assert.equal(
    Deno.readTextFileSync(join(s.root, exp, runId, "inputs", md5(model.modelId + runId), "meta.yaml")),
    `destination_id: ${model.modelId}\ndestination_type: RUN\nsource_id: ${model.modelId}\nsource_type: MODEL\n` +
      "tags: {}\n",
  );
  await s.logOutputs(runId, [{ modelId: model.modelId, step: 3 }]);
  const got = await s.getRun(runId);
  assert.deepEqual(got.inputs, {
    datasetInputs: [{ dataset, tags: { "mlflow.data.context": "eval" } }],
    modelInputs: [{ modelId: model.modelId }],
  });
  assert.deepEqual(got.outputs, { modelOutputs: [{ modelId: model.modelId, step: 3 }] });
  await assert.rejects(
    s.logInputs(runId, { datasets: [{ dataset: { ...dataset, digest: "x".repeat(37) }, tags: {} }] }),
    /digest is 37 characters/,
  );
  await assert.rejects(s.logOutputs(runId, [{ modelId: `m-${"9".repeat(32)}`, step: 0 }]), /not found/);
});

Deno.test("registry: models:/m-… sources store the model's location and resolve to its files", async () => {
  const s = tempStore();
  const exp = await s.createExperiment("e");
  const run = await s.createRun({ experimentId: exp });
  const m = await s.createLoggedModel(exp, { name: "model", sourceRunId: run.info.runId });
  const src = Deno.makeTempDirSync();
  Deno.writeTextFileSync(join(src, "MLmodel"), "flavors: {}\n");
  await s.logModelArtifacts(m.modelId, src);
  await s.finalizeLoggedModel(m.modelId, "LOGGED_MODEL_READY");
  await s.createRegisteredModel("Story");
  const mv = await s.createModelVersion("Story", `models:/${m.modelId}`);
  assert.equal(mv.modelId, m.modelId);
  assert.equal(mv.runId, run.info.runId, "run_id defaults to the model's source run");
  assert.equal(mv.storageLocation, m.artifactLocation);
  assert.equal(await s.getModelVersionDownloadUri("Story", "1"), m.artifactLocation);
  assert.deepEqual(
    JSON.parse((await s.getLoggedModel(m.modelId)).tags["mlflow.modelVersions"]),
    [{ name: "Story", version: "1" }],
  );
  const files = join(s.root, exp, "models", m.modelId, "artifacts");
  await s.setRegisteredModelAlias("Story", "champion", "1");
  for (
    const uri of [
      `models:/${m.modelId}`,
      "models:/Story/1",
      "models:/Story@champion",
      `runs:/${run.info.runId}/model`,
    ]
  ) {
    assert.equal(await s.downloadArtifacts(uri), files, uri);
  }
  // Registering never writes into the model's files (MLflow's registry does not either).
  assert.equal(existsSync(join(files, "registered_model_meta")), false);
  await assert.rejects(s.createModelVersion("Story", `models:/m-${"4".repeat(32)}`), /not found/);
  const names = await s.searchLoggedModels({
    experimentIds: [exp],
    filterString: `source_run_id = '${run.info.runId}'`,
  });
  assert.deepEqual(names.models.map((x) => x.modelId), [m.modelId]);
});

Deno.test("artifactRoot option: experiment 0 and new experiments get <root>/<id>; experiment tags delete", async () => {
  const s = tempStore({ artifactRoot: "mlflow-artifacts:/" });
  assert.equal((await s.getExperiment("0")).artifactLocation, "mlflow-artifacts:/0");
  const exp = await s.createExperiment("e", { tags: { a: "1", b: "2" } });
  assert.equal((await s.getExperiment(exp)).artifactLocation, `mlflow-artifacts:/${exp}`);
  const m = await s.createLoggedModel(exp);
  assert.equal(m.artifactLocation, `mlflow-artifacts:/${exp}/models/${m.modelId}/artifacts`);
  await s.deleteExperimentTag(exp, "a");
  assert.deepEqual((await s.getExperiment(exp)).tags, { b: "2" });
  await assert.rejects(
    s.deleteExperimentTag(exp, "a"),
    (e: unknown) => e instanceof TrackingError && e.code === "RESOURCE_DOES_NOT_EXIST",
  );
  await s.deleteExperiment(exp);
  await assert.rejects(s.deleteExperimentTag(exp, "b"), /must be in the 'active' lifecycle_stage/);
});
