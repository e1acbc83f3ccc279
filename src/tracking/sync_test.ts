/** syncRuns between two file stores: appending a fallback, a whole local run as a new run, reruns, conflicts. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FixableError, UsageError } from "../errors.ts";
import {
  describeSync,
  FALLBACK_TAG,
  getOrCreateExperiment,
  openTracking,
  parseFallbackTag,
  SYNCED_TAG,
  syncRuns,
} from "./mod.ts";
import type { DatasetInput, Run, TrackingClient } from "./mod.ts";

const T0 = 1_790_000_000_000;
const point = (step: number, value: number) => ({ key: "train/loss", value, step, timestamp: T0 + step });

/** A target run with steps 1–2 (RUNNING) and its fallback with steps 2–4, a new param, tag and artifacts. */
async function fallbackPair(dir: string) {
  const target = openTracking(join(dir, "target"));
  const tExp = await getOrCreateExperiment(target, "storyteller");
  const t = await target.createRun({ experimentId: tExp, runName: "flaky", startTime: T0, userId: "me" });
  const tId = t.info.runId;
  await target.logBatch(tId, {
    params: [{ key: "lr", value: "0.001" }],
    metrics: [point(1, 5), point(2, 4.5)],
  });

  const source = openTracking(join(dir, "fb"));
  const sExp = await getOrCreateExperiment(source, "storyteller");
  const f = await source.createRun({
    experimentId: sExp,
    runName: "flaky",
    userId: "me",
    tags: { [FALLBACK_TAG]: `${target.trackingUri} run ${tId}` },
  });
  const fId = f.info.runId;
  await source.logBatch(fId, {
    params: [{ key: "lr", value: "0.001" }, { key: "layers", value: "2" }],
    tags: [{ key: "storyteller.checkpoint", value: "/ckpt/flaky/step_4" }],
    metrics: [point(2, 4.5), point(3, 4), point(4, 3.5), { ...point(4, 2.5), key: "val/loss" }],
  });
  const files = await Deno.makeTempDir({ dir });
  await Deno.mkdir(join(files, "samples"));
  await Deno.writeTextFile(join(files, "samples", "step_0000004.txt"), "Once upon\n");
  await Deno.writeTextFile(join(files, "config.yaml"), "model: {}\n");
  await source.logArtifacts(fId, files);
  await source.setTerminated(fId, "FINISHED", T0 + 999);
  return { target, tId, source, fId, root: join(dir, "fb") };
}

const history = async (c: TrackingClient, runId: string, key = "train/loss") =>
  (await c.getMetricHistory(runId, key)).map((m) => [m.step, m.value, m.timestamp]);

async function files(c: TrackingClient, runId: string, path?: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of await c.listArtifacts(runId, path)) {
    out.push(...(f.isDir ? await files(c, runId, f.path) : [`${f.path}:${f.fileSize}`]));
  }
  return out.sort();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "st-sync-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseFallbackTag reads the run tracker's tag, including a run never created", () => {
  assert.deepEqual(parseFallbackTag("http://h:5000 run abc"), { uri: "http://h:5000", runId: "abc" });
  assert.deepEqual(parseFallbackTag("file:///a%20run/mlruns run (not created)"), {
    uri: "file:///a%20run/mlruns",
    runId: undefined,
  });
  assert.throws(() => parseFallbackTag("nonsense"), UsageError);
});

Deno.test("a fallback run: only the missing points, params, tags and files are appended, then FINISHED", async () => {
  await withDir(async (dir) => {
    const { target, tId, source, fId, root } = await fallbackPair(dir);
    const dry = await syncRuns(root, { dryRun: true });
    assert.equal(dry[0].points, 3);
    assert.deepEqual(
      await history(target, tId),
      [[1, 5, T0 + 1], [2, 4.5, T0 + 2]],
      "a dry run sends nothing",
    );

    const [r] = await syncRuns(root);
    assert.deepEqual(
      { ...r, targetUri: undefined },
      {
        sourceRunId: fId,
        runName: "flaky",
        targetUri: undefined,
        targetRunId: tId,
        created: false,
        reason: undefined,
        points: 3,
        params: 1,
        tags: 1, // storyteller.checkpoint
        artifacts: 2,
        datasets: 0,
        models: 0,
        modelsLeft: [],
        status: "FINISHED",
        conflicts: [],
      },
    );
    assert.deepEqual(await history(target, tId), [[1, 5, T0 + 1], [2, 4.5, T0 + 2], [3, 4, T0 + 3], [
      4,
      3.5,
      T0 + 4,
    ]]);
    assert.deepEqual(await history(target, tId, "val/loss"), [[4, 2.5, T0 + 4]]);
    const after = await target.getRun(tId);
    assert.equal(after.info.status, "FINISHED");
    assert.equal(after.info.endTime, T0 + 999);
    assert.equal(after.info.runName, "flaky");
    assert.deepEqual(after.data.params, { lr: "0.001", layers: "2" });
    assert.equal(after.data.tags["storyteller.checkpoint"], "/ckpt/flaky/step_4");
    assert.equal(after.data.tags[FALLBACK_TAG], undefined);
    assert.deepEqual(await files(target, tId), await files(source, fId));
    assert.equal((await source.getRun(fId)).data.tags[SYNCED_TAG], `${target.trackingUri}#${tId}`);

    const again = await syncRuns(root);
    assert.deepEqual(
      [again[0].points, again[0].params, again[0].tags, again[0].artifacts, again[0].datasets],
      [0, 0, 0, 0, 0],
    );
    assert.equal(again[0].status, undefined);
    assert.equal((await target.getMetricHistory(tId, "train/loss")).length, 4);
  });
});

/** Everything a copy must keep, without ids and the local-only tags. */
async function content(c: TrackingClient, run: Run) {
  const tags = { ...run.data.tags };
  delete tags[FALLBACK_TAG];
  delete tags[SYNCED_TAG];
  return {
    experiment: (await c.getExperiment(run.info.experimentId)).name,
    name: run.info.runName,
    user: run.info.userId,
    start: run.info.startTime,
    end: run.info.endTime,
    status: run.info.status,
    params: run.data.params,
    tags,
    loss: await history(c, run.info.runId),
    files: await files(c, run.info.runId),
  };
}

Deno.test("a whole local run becomes a new run with the same content; a second sync adds nothing", async () => {
  await withDir(async (dir) => {
    const source = openTracking(join(dir, "fb"));
    const target = openTracking(join(dir, "target"));
    const expId = await getOrCreateExperiment(source, "stories");
    const ids: string[] = [];
    const tags: Record<string, string>[] = [
      { [FALLBACK_TAG]: `${target.trackingUri} run (not created)` },
      {},
    ];
    for (const tag of tags) {
      const r = await source.createRun({
        experimentId: expId,
        runName: `r${ids.length}`,
        startTime: T0,
        tags: tag,
      });
      const id = r.info.runId;
      const params = Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
      const metrics = Array.from({ length: 2100 }, (_, i) => point(i, 1 / (i + 1)));
      await source.logBatch(id, { params: params.slice(0, 100), metrics: metrics.slice(0, 900) });
      await source.logBatch(id, { params: params.slice(100), metrics: metrics.slice(900, 1800) });
      await source.logBatch(id, { metrics: metrics.slice(1800) });
      const history = JSON.stringify([{ run_id: id, artifact_path: "model" }]);
      await source.setTag(id, "mlflow.log-model.history", history);
      const model = await Deno.makeTempDir({ dir });
      await Deno.writeTextFile(join(model, "MLmodel"), `artifact_path: model\nrun_id: ${id}\n`);
      await source.logArtifacts(id, model, "model");
      await source.setTerminated(id, "KILLED", T0 + 5000);
      ids.push(id);
    }
    // The untagged run needs a target: without one nothing is sent at all.
    await assert.rejects(syncRuns(join(dir, "fb")), /has no storyteller.fallback_for tag/);
    assert.equal((await target.searchRuns({})).runs.length, 0);

    const results = await syncRuns(join(dir, "fb"), { to: join(dir, "target") });
    assert.deepEqual(results.map((r) => [r.created, r.points, r.params, r.artifacts, r.status]), [
      [true, 2100, 150, 1, "KILLED"],
      [true, 2100, 150, 1, "KILLED"],
    ]);
    for (const r of results) {
      const local = await source.getRun(r.sourceRunId);
      const copy = await target.getRun(r.targetRunId!);
      assert.equal(local.data.tags[SYNCED_TAG], `${target.trackingUri}#${r.targetRunId}`);
      const want = await content(source, local);
      want.tags["mlflow.log-model.history"] = want.tags["mlflow.log-model.history"].replace(
        r.sourceRunId,
        r.targetRunId!,
      );
      assert.deepEqual(await content(target, copy), want);
      const mlmodel = await Deno.readTextFile(
        join(await target.downloadArtifacts(`runs:/${copy.info.runId}/model`), "MLmodel"),
      );
      assert.match(mlmodel, new RegExp(`run_id: ${copy.info.runId}`));
    }

    const again = await syncRuns(join(dir, "fb"));
    assert.deepEqual(again.map((r) => [r.created, r.points, r.params, r.tags, r.artifacts, r.status]), [
      [false, 0, 0, 0, 0, undefined],
      [false, 0, 0, 0, 0, undefined],
    ]);
    assert.equal((await target.searchRuns({})).runs.length, 2);
  });
});

Deno.test("a param the target holds with another value is reported and skipped; the rest is sent", async () => {
  await withDir(async (dir) => {
    const { target, tId, root } = await fallbackPair(dir);
    await target.logParam(tId, "layers", "4");
    const [r] = await syncRuns(root);
    assert.deepEqual(r.conflicts, ["layers (2 → 4)"]);
    assert.equal(r.params, 0);
    assert.equal(r.points, 3);
    assert.equal((await target.getRun(tId)).data.params.layers, "4");
  });
});

Deno.test("a target run that is gone: a new run is created; unknown run ids fail before anything", async () => {
  await withDir(async (dir) => {
    const { target, tId, fId, root } = await fallbackPair(dir);
    await assert.rejects(syncRuns(root, { runIds: [fId, "nope"] }), UsageError);
    assert.equal((await target.getMetricHistory(tId, "train/loss")).length, 2);
    await target.deleteRun(tId);
    const [r] = await syncRuns(root, { runIds: [fId] });
    assert.equal(r.created, true);
    assert.match(r.reason!, /deleted/);
    assert.notEqual(r.targetRunId, tId);
    assert.deepEqual((await history(target, r.targetRunId!)).map(([s]) => s), [2, 3, 4]);
  });
});

Deno.test("a target that cannot be written stops with what was delivered and how to continue", async () => {
  await withDir(async (dir) => {
    const { root } = await fallbackPair(dir);
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (l.addr as Deno.NetAddr).port;
      l.close();
      return p;
    })();
    const err = await syncRuns(root, { to: `http://127.0.0.1:${port}`, rest: { maxRetries: 0 } }).then(
      () => assert.fail("expected a failure"),
      (e) => e,
    );
    assert.ok(err instanceof FixableError);
    assert.match(err.message, new RegExp(`Cannot sync run \\w+ to http://127.0.0.1:${port}: Cannot reach`));
    assert.match(
      err.hint,
      /delivered before it failed: 0 points, 0 params.*rerun the same command to continue/,
    );
    await assert.rejects(syncRuns(root, { to: root }), /that is the store it is in/);
  });
});

/** A dataset input as the run tracker logs one. */
const input = (context: string, digest: string): DatasetInput => ({
  dataset: {
    name: "builtin:stories",
    digest,
    sourceType: "code",
    source: '{"tags":{"storyteller.stories":"4000"}}',
    schema: '{"mlflow_colspec":[{"type":"string","name":"text","required":true}]}',
    profile: '{"num_documents":10,"num_tokens":1000}',
  },
  tags: { "mlflow.data.context": context },
});

/** context → digest of a run's dataset inputs. */
const datasetsOf = async (c: TrackingClient, runId: string) =>
  Object.fromEntries(
    (await c.getRun(runId)).inputs!.datasetInputs.map((
      d,
    ) => [d.tags["mlflow.data.context"], d.dataset.digest]),
  );

Deno.test("dataset inputs and model links: what the target lacks is sent once; links to absent models stay", async () => {
  await withDir(async (dir) => {
    const { target, tId, source, fId, root } = await fallbackPair(dir);
    // The store took the training input at start; the fallback run holds both, as the run tracker writes it.
    await target.logInputs(tId, { datasets: [input("training", "0a1b2c3d")] });
    await source.logInputs(fId, {
      datasets: [input("training", "0a1b2c3d"), input("validation", "4e5f6a7b")],
    });
    // A logged model the store has (its copy in the local store under the same id), and one only local.
    const shared = await target.createLoggedModel(
      (await target.getRun(tId)).info.experimentId,
      { name: "model", sourceRunId: tId },
    );
    const sExp = (await source.getRun(fId)).info.experimentId;
    const sharedDir = join(dir, "target", shared.experimentId, "models", shared.modelId);
    await Deno.mkdir(join(root, sExp, "models"), { recursive: true });
    const cp = await new Deno.Command("cp", { args: ["-r", sharedDir, join(root, sExp, "models")] }).output();
    assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
    const local = await source.createLoggedModel(sExp, { name: "model", sourceRunId: fId });
    await source.logInputs(fId, { models: [{ modelId: shared.modelId }] });
    await source.logOutputs(fId, [{ modelId: shared.modelId, step: 4 }, { modelId: local.modelId, step: 4 }]);

    const [dry] = await syncRuns(root, { dryRun: true });
    assert.deepEqual([dry.datasets, dry.models, dry.modelsLeft], [1, 2, [local.modelId]]);
    assert.deepEqual(await datasetsOf(target, tId), { training: "0a1b2c3d" }, "a dry run sends nothing");

    const [r] = await syncRuns(root);
    assert.deepEqual([r.datasets, r.models, r.modelsLeft], [1, 2, [local.modelId]]);
    const after = await target.getRun(tId);
    assert.deepEqual(await datasetsOf(target, tId), { training: "0a1b2c3d", validation: "4e5f6a7b" });
    assert.deepEqual(
      after.inputs!.datasetInputs.find((d) => d.tags["mlflow.data.context"] === "validation"),
      input("validation", "4e5f6a7b"),
      "the dataset arrives whole: source, schema and profile",
    );
    assert.deepEqual(after.inputs!.modelInputs, [{ modelId: shared.modelId }]);
    assert.deepEqual(after.outputs!.modelOutputs, [{ modelId: shared.modelId, step: 4 }]);

    const [again] = await syncRuns(root);
    assert.deepEqual([again.datasets, again.models, again.modelsLeft], [0, 0, [local.modelId]]);
    assert.equal((await target.getRun(tId)).inputs!.datasetInputs.length, 2);
    assert.match(
      describeSync(again),
      new RegExp(`0 datasets, links to 1 logged model left behind \\(not in the target: ${local.modelId}\\)`),
    );
  });
});

Deno.test("a whole local run synced as a new run carries its dataset inputs", async () => {
  await withDir(async (dir) => {
    const source = openTracking(join(dir, "fb"));
    const target = openTracking(join(dir, "target"));
    const r = await source.createRun({
      experimentId: await getOrCreateExperiment(source, "storyteller"),
      runName: "offline",
      tags: { [FALLBACK_TAG]: `${target.trackingUri} run (not created)` },
    });
    const inputs = [input("training", "0a1b2c3d"), input("validation", "4e5f6a7b")];
    await source.logInputs(r.info.runId, { datasets: inputs });
    await source.setTerminated(r.info.runId, "FINISHED");
    const [first] = await syncRuns(join(dir, "fb"));
    assert.equal(first.created, true);
    assert.equal(first.datasets, 2);
    const copy = await target.getRun(first.targetRunId!);
    // Listed in input-id order, which the run id decides: compare by context.
    const byContext = (l: DatasetInput[]) =>
      l.toSorted((a, b) => a.tags["mlflow.data.context"].localeCompare(b.tags["mlflow.data.context"]));
    assert.deepEqual(byContext(copy.inputs!.datasetInputs), inputs);
    assert.equal((await syncRuns(join(dir, "fb")))[0].datasets, 0);
  });
});
