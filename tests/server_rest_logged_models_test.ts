/**
 * Our RestClient against a live tracking server on port 0, for MLflow 3 logged models: `runs:/<run>/<name>`
 * downloads falling back to the run's logged model `<name>` (newest active one, the run's own artifacts first),
 * and logged-model search by params, metrics, datasets and metric order through the REST API.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp, listen } from "../src/server/mod.ts";
import { RestClient, TrackingError } from "../src/tracking/mod.ts";

async function liveServer() {
  const dir = await Deno.makeTempDir({ prefix: "st-rest-lm-" });
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "art"),
  });
  const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: false, name: "tracking server" });
  const client = new RestClient(srv.url, { maxRetries: 0 });
  /** A model logged the MLflow 3 way: create (PENDING), upload through the proxy, finalize READY. */
  const logModel = async (exp: string, runId: string, name: string, files: Record<string, string>) => {
    const m = await client.createLoggedModel(exp, { name, sourceRunId: runId });
    const local = await Deno.makeTempDir({ dir });
    for (const [rel, text] of Object.entries(files)) {
      await Deno.mkdir(join(local, rel, ".."), { recursive: true });
      await Deno.writeTextFile(join(local, rel), text);
    }
    await client.logModelArtifacts(m.modelId, local);
    await client.finalizeLoggedModel(m.modelId, "LOGGED_MODEL_READY");
    await new Promise((r) => setTimeout(r, 3)); // distinct creation timestamps
    return m.modelId;
  };
  const done = async () => {
    await srv.shutdown();
    await Deno.remove(dir, { recursive: true });
  };
  return { dir, srv, client, logModel, done };
}

Deno.test("RestClient.downloadArtifacts: runs:/<run>/<name> falls back to the run's logged model", async () => {
  const t = await liveServer();
  try {
    const { client } = t;
    const exp = await client.createExperiment("dl");
    const runId = (await client.createRun({ experimentId: exp })).info.runId;
    const other = (await client.createRun({ experimentId: exp })).info.runId;
    await t.logModel(exp, runId, "model", { "MLmodel": "old\n" });
    await t.logModel(exp, runId, "model", { "MLmodel": "flavors: {}\n", "sub/weights.bin": "0123" });
    const deleted = await t.logModel(exp, runId, "model", { "MLmodel": "deleted\n" });
    await client.deleteLoggedModel(deleted);
    await t.logModel(exp, other, "model", { "MLmodel": "other run\n" });
    const notes = join(t.dir, "notes");
    await Deno.mkdir(notes);
    await Deno.writeTextFile(join(notes, "a.txt"), "run artifact");
    await client.logArtifacts(runId, notes, "notes");

    const dst = await Deno.makeTempDir({ dir: t.dir });
    const got = await client.downloadArtifacts(`runs:/${runId}/model`, dst);
    assert.equal(await Deno.readTextFile(join(got, "MLmodel")), "flavors: {}\n"); // newest active, this run's
    assert.equal(await Deno.readTextFile(join(got, "sub", "weights.bin")), "0123");
    const file = await client.downloadArtifacts(`runs:/${runId}/model/sub/weights.bin`, dst);
    assert.equal(await Deno.readTextFile(file), "0123");
    assert.equal(
      await Deno.readTextFile(join(await client.downloadArtifacts(`runs:/${runId}/notes`, dst), "a.txt")),
      "run artifact",
    );
    await assert.rejects(() => client.downloadArtifacts(`runs:/${runId}/nothing`, dst), TrackingError);

    // The run's own artifact of that name wins over its logged model.
    const own = join(t.dir, "own");
    await Deno.mkdir(own);
    await Deno.writeTextFile(join(own, "MLmodel"), "run's own\n");
    await client.logArtifacts(other, own, "model");
    const ownDst = await Deno.makeTempDir({ dir: t.dir });
    const otherGot = await client.downloadArtifacts(`runs:/${other}/model`, ownDst);
    assert.equal(await Deno.readTextFile(join(otherGot, "MLmodel")), "run's own\n");

    // Once the remaining models of the run are deleted the fallback finds nothing.
    for (const m of (await client.searchLoggedModels({ experimentIds: [exp] })).models) {
      if (m.sourceRunId === runId) await client.deleteLoggedModel(m.modelId);
    }
    await assert.rejects(() => client.downloadArtifacts(`runs:/${runId}/model`, dst), TrackingError);
  } finally {
    await t.done();
  }
});

Deno.test("RestClient.searchLoggedModels: params, metrics, datasets and metric order_by over REST", async () => {
  const t = await liveServer();
  try {
    const { client } = t;
    const exp = await client.createExperiment("search");
    const runId = (await client.createRun({ experimentId: exp })).info.runId;
    const a = (await client.createLoggedModel(exp, { name: "a", sourceRunId: runId, params: { lr: "0.01" } }))
      .modelId;
    await new Promise((r) => setTimeout(r, 3));
    const b = (await client.createLoggedModel(exp, { name: "b", sourceRunId: runId, params: { lr: "0.1" } }))
      .modelId;
    // As MLflow's client logs a model metric: runs/log-metric with model_id and the dataset.
    let timestamp = 0; // each point newer than the last
    const logMetric = async (modelId: string, value: number, dataset: string) => {
      const res = await fetch(`${t.srv.url}/api/2.0/mlflow/runs/log-metric`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          run_id: runId,
          key: "acc",
          value,
          timestamp: ++timestamp,
          step: 0,
          model_id: modelId,
          dataset_name: dataset,
          dataset_digest: "d",
        }),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await logMetric(a, 0.9, "val");
    await logMetric(b, 0.6, "val");
    await logMetric(b, 0.95, "test");
    const names = async (o: Parameters<typeof client.searchLoggedModels>[0]) =>
      (await client.searchLoggedModels(o)).models.map((m) => m.name);
    const experimentIds = [exp];
    assert.deepEqual(await names({ experimentIds, filterString: "params.lr LIKE '0.0%'" }), ["a"]);
    assert.deepEqual(await names({ experimentIds, filterString: "metrics.acc >= 0.9" }), ["b", "a"]);
    assert.deepEqual(
      await names({ experimentIds, filterString: "metrics.acc >= 0.9", datasets: [{ datasetName: "val" }] }),
      ["a"],
    );
    assert.deepEqual(
      await names({ experimentIds, datasets: [{ datasetName: "test", datasetDigest: "d" }] }),
      ["b"],
    );
    assert.deepEqual(
      await names({
        experimentIds,
        orderBy: [{ fieldName: "metrics.acc", ascending: false, datasetName: "val" }],
      }),
      ["a", "b"],
    );
    await assert.rejects(
      () => names({ experimentIds, filterString: "metrics.acc LIKE '1'" }),
      (e: unknown) => e instanceof TrackingError && e.code === "INVALID_PARAMETER_VALUE",
    );
  } finally {
    await t.done();
  }
});
