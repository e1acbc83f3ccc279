import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FileStore, type FileStoreOptions } from "./file_store.ts";
import type { TrackingError } from "./errors.ts";
import { forgetIndex } from "./run_index.ts";

function tempStore(options: FileStoreOptions = {}): FileStore {
  return new FileStore(join(Deno.makeTempDirSync({ prefix: "st-fs-" }), "mlruns"), options);
}

Deno.test("bootstrap creates Default experiment 0 and .trash", async () => {
  const s = tempStore();
  const e = await s.getExperiment("0");
  assert.equal(e.name, "Default");
  assert.equal(e.artifactLocation, `${s.trackingUri}/0`);
  assert.ok(Deno.statSync(join(s.root, ".trash")).isDirectory);
});

Deno.test("runs: params are immutable, tags sync run name, metrics keep history and latest", async () => {
  const s = tempStore();
  const exp = await s.createExperiment("storyteller");
  const run = await s.createRun({ experimentId: exp, runName: "first" });
  await s.logParam(run.info.runId, "lr", 0.01);
  await s.logParam(run.info.runId, "lr", "0.01");
  await assert.rejects(
    () => s.logParam(run.info.runId, "lr", 0.02),
    (e: TrackingError) =>
      e.code === "INVALID_PARAMETER_VALUE" && /Changing param values is not allowed/.test(e.message),
  );
  await s.logMetric(run.info.runId, "val/loss", 3, { step: 2, timestamp: 10 });
  await s.logMetric(run.info.runId, "val/loss", 1, { step: 1, timestamp: 20 });
  await s.setTag(run.info.runId, "mlflow.runName", "renamed");
  const got = await s.getRun(run.info.runId);
  assert.equal(got.info.runName, "renamed");
  assert.equal(got.data.params.lr, "0.01");
  assert.equal(got.data.metrics["val/loss"].value, 3); // max step wins, not the last line
  assert.deepEqual((await s.getMetricHistory(run.info.runId, "val/loss")).map((m) => m.value), [3, 1]);
  await s.setTerminated(run.info.runId, "FAILED", 99);
  const done = await s.getRun(run.info.runId);
  assert.equal(done.info.status, "FAILED");
  assert.equal(done.info.endTime, 99);
});

Deno.test("validation errors carry MLflow codes", async () => {
  const s = tempStore();
  const run = await s.createRun({});
  for (const bad of ["a#b", "a//b", "../x", "/abs", "trail/", ""]) {
    await assert.rejects(
      () => s.logMetric(run.info.runId, bad, 1),
      (e: TrackingError) => e.code === "INVALID_PARAMETER_VALUE",
      bad,
    );
  }
  await assert.rejects(
    () => s.getRun("0123456789abcdef0123456789abcdef"),
    (e: TrackingError) => e.code === "RESOURCE_DOES_NOT_EXIST",
  );
  await assert.rejects(
    () => s.createExperiment("Default"),
    (e: TrackingError) => e.code === "RESOURCE_ALREADY_EXISTS",
  );
  await assert.rejects(
    () => s.logBatch(run.info.runId, { params: [{ key: "d", value: "1" }, { key: "d", value: "2" }] }),
    /Duplicate parameter keys/,
  );
  await assert.rejects(() => s.deleteExperiment("0"), (e: TrackingError) => e.code === "INTERNAL_ERROR");
});

Deno.test("experiment delete moves to .trash and restore brings runs back", async () => {
  const s = tempStore();
  const id = await s.createExperiment("tmp");
  const run = await s.createRun({ experimentId: id });
  await s.deleteExperiment(id);
  assert.ok(Deno.statSync(join(s.root, ".trash", id, "meta.yaml")).isFile);
  assert.equal((await s.getRun(run.info.runId)).info.lifecycleStage, "deleted");
  await assert.rejects(() => s.createExperiment("tmp"), /already exists in deleted state/);
  await s.restoreExperiment(id);
  assert.equal((await s.getRun(run.info.runId)).info.lifecycleStage, "active");
  assert.equal((await s.getExperiment(id)).lifecycleStage, "active");
});

Deno.test("search sees writes made after the index was built (journal) and by other tools (meta mtime)", async () => {
  const s = tempStore({ staleMs: 0 });
  const exp = await s.createExperiment("e");
  const a = await s.createRun({ experimentId: exp, runName: "a" });
  await s.logMetric(a.info.runId, "loss", 5);
  let page = await s.searchRuns({ experimentIds: [exp], filterString: "metrics.loss < 2" });
  assert.equal(page.runs.length, 0);
  await s.logMetric(a.info.runId, "loss", 1, { step: 1 });
  page = await s.searchRuns({ experimentIds: [exp], filterString: "metrics.loss < 2" });
  assert.equal(page.runs.length, 1);
  // A foreign writer rewrites meta.yaml without journaling.
  const meta = join(s.root, exp, a.info.runId, "meta.yaml");
  await new Promise((r) => setTimeout(r, 5));
  Deno.writeTextFileSync(meta, Deno.readTextFileSync(meta).replace("status: 1", "status: 3"));
  page = await s.searchRuns({ experimentIds: [exp], filterString: "attributes.status = 'FINISHED'" });
  assert.equal(page.runs.length, 1);
  forgetIndex();
});

Deno.test("a warm search trusts the journal: foreign writes show up after staleMs, storyteller writes at once", async () => {
  const s = tempStore({ staleMs: 300 });
  const exp = await s.createExperiment("e");
  const a = await s.createRun({ experimentId: exp, runName: "a" });
  const q = { experimentIds: [exp], filterString: "attributes.status = 'FINISHED'" };
  assert.equal((await s.searchRuns(q)).runs.length, 0); // sweeps once: the index is fresh
  const meta = join(s.root, exp, a.info.runId, "meta.yaml");
  const stamp = s.experimentStamp(exp);
  Deno.writeTextFileSync(meta, Deno.readTextFileSync(meta).replace("status: 1", "status: 3"));
  assert.equal(s.experimentStamp(exp), stamp, "a foreign meta.yaml rewrite does not move the stamp");
  assert.equal((await s.searchRuns(q)).runs.length, 0, "within staleMs the foreign write is not seen");
  await new Promise((r) => setTimeout(r, 350));
  assert.equal((await s.searchRuns(q)).runs.length, 1, "after staleMs the sweep finds it");
  // A storyteller write journals: seen at once, and the stamp moves.
  const b = await s.createRun({ experimentId: exp, runName: "b" });
  assert.notEqual(s.experimentStamp(exp), stamp);
  await s.setTerminated(b.info.runId);
  assert.equal((await s.searchRuns(q)).runs.length, 2);
  // The cached result list is re-sliced per page, in order.
  const names = await s.searchRuns({ ...q, orderBy: ["attributes.run_name DESC"], maxResults: 1 });
  assert.equal(names.runs[0].info.runName, "b");
  const next = await s.searchRuns({
    ...q,
    orderBy: ["attributes.run_name DESC"],
    maxResults: 1,
    pageToken: names.nextPageToken,
  });
  assert.equal(next.runs[0].info.runName, "a");
  assert.equal(next.nextPageToken, undefined);
  forgetIndex();
});

Deno.test("artifacts and registry resolve runs:/ and models:/ URIs", async () => {
  const s = tempStore();
  const run = await s.createRun({});
  const src = Deno.makeTempDirSync();
  Deno.mkdirSync(join(src, "model"));
  Deno.writeTextFileSync(join(src, "model", "MLmodel"), "flavors: {}\n");
  await s.logArtifacts(run.info.runId, src);
  assert.deepEqual((await s.listArtifacts(run.info.runId)).map((f) => f.path), ["model"]);
  await s.createRegisteredModel("Story");
  const mv = await s.createModelVersion("Story", `runs:/${run.info.runId}/model`);
  assert.equal(mv.version, "1");
  assert.equal(mv.runId, run.info.runId);
  await s.setRegisteredModelAlias("Story", "champion", "1");
  const expected = join(s.root, "0", run.info.runId, "artifacts", "model");
  for (
    const uri of [
      `runs:/${run.info.runId}/model`,
      "models:/Story/1",
      "models:/Story@champion",
      "models:/Story/latest",
      "models:/Story/None",
    ]
  ) {
    assert.equal(await s.downloadArtifacts(uri), expected, uri);
  }
  // Registering never writes into the model's files (MLflow's registry does not either).
  assert.equal(existsSync(join(expected, "registered_model_meta")), false);
  await assert.rejects(() => s.setRegisteredModelAlias("Story", "v1", "1"), /reserved/);
  await s.deleteModelVersion("Story", "1");
  await assert.rejects(
    () => s.getModelVersion("Story", "1"),
    (e: TrackingError) => e.code === "RESOURCE_DOES_NOT_EXIST",
  );
  const v2 = await s.createModelVersion("Story", `runs:/${run.info.runId}/model`);
  assert.equal(v2.version, "2"); // deleted versions still count
});
