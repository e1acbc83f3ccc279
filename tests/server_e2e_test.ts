/**
 * End to end: our RestClient (src/tracking/rest_client.ts) logs to a live tracking server on port 0 — experiment,
 * run with params/metrics/tags, artifacts through the proxy, search, model registration and download by alias —
 * with a Bearer token, and the files land in the backend store and the artifacts destination.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServerApp, listen } from "../src/server/mod.ts";
import { AsyncLogger, FileStore, RestClient, TrackingError } from "../src/tracking/mod.ts";

Deno.test("RestClient logs, searches, uploads, registers and downloads through a live server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-e2e-" });
  const token = "e2e-token-0123456789";
  const app = createServerApp({
    backendStoreUri: join(dir, "mlruns"),
    artifactsDestination: join(dir, "mlartifacts"),
    authToken: token,
  });
  const srv = listen(app, { host: "127.0.0.1", port: 0, authEnabled: true, name: "tracking server" });
  try {
    const anonymous = new RestClient(srv.url, { token: "wrong-token-000000", maxRetries: 0 });
    await assert.rejects(
      anonymous.getExperiment("0"),
      (e: unknown) => e instanceof TrackingError && e.code === "UNAUTHENTICATED",
    );

    const client = new RestClient(srv.url, { token });
    const expId = await client.createExperiment("e2e", { tags: { purpose: "test" } });
    assert.equal((await client.getExperimentByName("e2e"))?.experimentId, expId);
    const run = await client.createRun({
      experimentId: expId,
      runName: "story-1",
      tags: { "mlflow.user": "tester" },
    });
    const runId = run.info.runId;
    assert.equal(run.info.artifactUri, `mlflow-artifacts:/${expId}/${runId}/artifacts`);
    await client.logParam(runId, "lr", 0.001);
    await client.setTag(runId, "stage", "pretrain");
    for (let step = 0; step < 5; step++) {
      await client.logMetric(runId, "loss", 3 - step * 0.5, { step, timestamp: 1000 + step });
    }
    const logger = new AsyncLogger(client, runId);
    for (let step = 0; step < 1500; step++) logger.logMetric("train/loss", 1 / (step + 1), step);
    await logger.close();

    const local = join(dir, "local");
    await Deno.mkdir(join(local, "model"), { recursive: true });
    await Deno.writeTextFile(join(local, "model", "MLmodel"), "flavors:\n  storyteller: {}\n");
    await Deno.writeFile(join(local, "model", "model.safetensors"), new Uint8Array([1, 2, 3, 4]));
    await Deno.writeTextFile(join(local, "samples.txt"), "Once upon a time");
    await client.logArtifacts(runId, join(local, "model"), "model");
    await client.logArtifact(runId, join(local, "samples.txt"));
    await client.setTerminated(runId, "FINISHED");

    const files = await client.listArtifacts(runId);
    assert.deepEqual(files.map((f) => f.path), ["model", "samples.txt"]);
    const onDisk = join(dir, "mlartifacts", expId, runId, "artifacts", "model", "model.safetensors");
    assert.deepEqual(await Deno.readFile(onDisk), new Uint8Array([1, 2, 3, 4]));

    const history = await client.getMetricHistory(runId, "train/loss");
    assert.equal(history.length, 1500);
    assert.deepEqual(history.map((m) => m.step), Array.from({ length: 1500 }, (_, i) => i));
    const found = await client.searchRuns({
      experimentIds: [expId],
      filterString: "metrics.loss < 2 AND params.lr = '0.001' AND tags.stage = 'pretrain'",
      orderBy: ["metrics.loss ASC"],
    });
    assert.deepEqual(found.runs.map((r) => r.info.runId), [runId]);
    assert.equal(found.runs[0].info.status, "FINISHED");
    assert.equal(found.runs[0].data.metrics.loss.value, 1);

    await client.createRegisteredModel("StoryModel");
    const mv = await client.createModelVersion("StoryModel", `runs:/${runId}/model`, { runId });
    assert.equal(mv.version, "1");
    await client.setRegisteredModelAlias("StoryModel", "champion", "1");
    const downloaded = await client.downloadArtifacts("models:/StoryModel@champion", join(dir, "dl"));
    assert.equal(await Deno.readTextFile(join(downloaded, "MLmodel")), "flavors:\n  storyteller: {}\n");
    assert.deepEqual(
      await Deno.readFile(join(downloaded, "model.safetensors")),
      new Uint8Array([1, 2, 3, 4]),
    );

    // What the server wrote is an ordinary mlruns store.
    const store = new FileStore(join(dir, "mlruns"));
    const stored = await store.getRun(runId);
    assert.equal(stored.data.params.lr, "0.001");
    assert.equal((await store.getMetricHistory(runId, "train/loss")).length, 1500);
    assert.equal((await store.getModelVersionByAlias("StoryModel", "champion")).version, "1");
  } finally {
    await srv.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
