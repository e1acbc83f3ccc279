/**
 * Our RestClient's MLflow 3 calls against a live tracking server on port 0: dataset inputs, a logged model
 * created, uploaded through the artifact proxy, finalized, linked as a run output, searched, registered as
 * `models:/m-…` and downloaded back by alias; logged-model tags/params/delete and experiment tag deletion.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp, listen } from "../src/server/mod.ts";
import { RestClient, TrackingError } from "../src/tracking/mod.ts";

Deno.test("RestClient: logged models, inputs/outputs and models:/m-… registration through a live server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-rest3-" });
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "tracking server" });
  try {
    const client = new RestClient(srv.url, { maxRetries: 0 });
    const exp = await client.createExperiment("rest3", { tags: { keep: "1", drop: "2" } });
    await client.deleteExperimentTag(exp, "drop");
    assert.deepEqual((await client.getExperiment(exp)).tags, { keep: "1" });

    const run = await client.createRun({ experimentId: exp, runName: "r" });
    const runId = run.info.runId;
    const dataset = { name: "tiny", digest: "abcd1234", sourceType: "local", source: '{"uri": "x"}' };
    await client.logInputs(runId, { datasets: [{ dataset, tags: { "mlflow.data.context": "training" } }] });

    const model = await client.createLoggedModel(exp, {
      name: "model",
      sourceRunId: runId,
      params: { lr: "0.01" },
      tags: { "mlflow.user": "bob" },
    });
    assert.match(model.modelId, /^m-[0-9a-f]{32}$/);
    assert.equal(model.status, "LOGGED_MODEL_PENDING");
    assert.equal(model.artifactLocation, `mlflow-artifacts:/${exp}/models/${model.modelId}/artifacts`);
    assert.deepEqual(model.params, { lr: "0.01" });
    await client.logOutputs(runId, [{ modelId: model.modelId, step: 0 }]);
    const local = join(dir, "local-model");
    await Deno.mkdir(join(local, "sub"), { recursive: true });
    await Deno.writeTextFile(join(local, "MLmodel"), "flavors: {}\n");
    await Deno.writeTextFile(join(local, "sub", "weights.bin"), "0123");
    await client.logModelArtifacts(model.modelId, local);
    assert.equal(
      await Deno.readTextFile(
        join(dir, "art", exp, "models", model.modelId, "artifacts", "sub", "weights.bin"),
      ),
      "0123",
    );
    const ready = await client.finalizeLoggedModel(model.modelId, "LOGGED_MODEL_READY");
    assert.equal(ready.status, "LOGGED_MODEL_READY");

    const got = await client.getRun(runId);
    assert.deepEqual(got.inputs?.datasetInputs, [{ dataset, tags: { "mlflow.data.context": "training" } }]);
    assert.deepEqual(got.outputs?.modelOutputs, [{ modelId: model.modelId, step: 0 }]);

    const found = await client.searchLoggedModels({ experimentIds: [exp], filterString: "name = 'model'" });
    assert.deepEqual(found.models.map((m) => m.modelId), [model.modelId]);
    assert.equal(found.nextPageToken, undefined);

    await client.createRegisteredModel("RestStory");
    const mv = await client.createModelVersion("RestStory", `models:/${model.modelId}`, {
      runId,
      modelId: model.modelId,
    });
    assert.equal(mv.modelId, model.modelId);
    await client.setRegisteredModelAlias("RestStory", "prod", mv.version);
    const fetched = await client.downloadArtifacts("models:/RestStory@prod", join(dir, "dl"));
    assert.equal(await Deno.readTextFile(join(fetched, "MLmodel")), "flavors: {}\n");
    assert.equal(await Deno.readTextFile(join(fetched, "sub", "weights.bin")), "0123");
    const direct = await client.downloadArtifacts(`models:/${model.modelId}`, join(dir, "dl2"));
    assert.equal(await Deno.readTextFile(join(direct, "MLmodel")), "flavors: {}\n");
    assert.deepEqual(
      JSON.parse((await client.getLoggedModel(model.modelId)).tags["mlflow.modelVersions"]),
      [{ name: "RestStory", version: "1" }],
    );

    await client.setLoggedModelTags(model.modelId, { "note/kind": "tiny" });
    await client.logLoggedModelParams(model.modelId, { layers: "2" });
    await client.deleteLoggedModelTag(model.modelId, "note/kind");
    const after = await client.getLoggedModel(model.modelId);
    assert.equal(after.tags["note/kind"], undefined);
    assert.deepEqual(after.params, { layers: "2", lr: "0.01" });
    await client.deleteLoggedModel(model.modelId);
    await assert.rejects(
      client.getLoggedModel(model.modelId),
      (e: unknown) => e instanceof TrackingError && e.code === "RESOURCE_DOES_NOT_EXIST",
    );
    assert.equal((await client.getLoggedModel(model.modelId, true)).name, "model");
  } finally {
    await srv.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
