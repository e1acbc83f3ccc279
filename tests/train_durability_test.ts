/**
 * A checkpoint as a durability point for tracked data, against a live tracking server that goes down: what the
 * store has not taken when a checkpoint is written is journaled in it, and a resume after a kill delivers it once.
 * No GPU: the tracker is driven by hand, as train() would drive it.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config/mod.ts";
import { openTracking } from "../src/tracking/mod.ts";
import { RunTracker } from "../src/train/tracking.ts";
import { fakeStartInfo } from "../src/train/testing.ts";
import { flakyServer } from "./_flaky_server.ts";

Deno.test("points the store missed at a checkpoint are journaled in it; the resume after a kill delivers them once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st-train-journal-" });
  // Two servers over one store: the killed training's goes down for good, as the training itself would vanish.
  const first = flakyServer(dir);
  const { server, url } = flakyServer(dir);
  try {
    const configAt = async (uri: string) =>
      (await loadConfig("tiny", [
        `training.checkpoint_dir=${dir}/ckpt`,
        `training.mlflow_tracking_uri=${uri}`,
      ]))
        .config;
    const messages: string[] = [];
    const options = {
      warn: (m: string) => messages.push(`warning: ${m}`),
      info: (m: string) => messages.push(m),
      flushIntervalMs: 10,
      checkpointFlushMs: 300,
      exitTimeoutMs: 2000,
    };
    const point = (step: number) => ({
      step,
      loss: 5 - step / 10,
      lr: 1e-3,
      gradNorm: 0.5,
      tokensPerSec: 1000,
    });
    const info = fakeStartInfo("journal", dir);
    const killed = new RunTracker(await configAt(first.url), options);
    const { runId } = await killed.start(info);
    killed.logPoint(point(2));
    assert.deepEqual(await killed.checkpointing(2), { tracking: { undelivered: [] } });
    first.state.down = true;
    killed.logPoint(point(4));
    killed.evalPoint({ step: 4, loss: 4.4, perplexity: 81, sample: "Once upon" });
    const extra = await killed.checkpointing(4);
    const journal = (extra.tracking as { undelivered: { key: string; step: number }[] }).undelivered;
    assert.deepEqual(
      journal.map((m) => `${m.key}@${m.step}`).sort(),
      [
        "train/grad_norm",
        "train/learning_rate",
        "train/loss",
        "train/tokens_per_sec",
        "val/loss",
        "val/perplexity",
      ]
        .map((k) => `${k}@4`),
    );
    killed.logPoint(point(6)); // past the checkpoint, never delivered: the kill comes
    await killed.abort(300); // stands in for the kill: nothing more reaches the store

    const resumed = new RunTracker(await configAt(url), options);
    await resumed.start({ ...info, runId, startStep: 4, extra });
    resumed.logPoint(point(6));
    await resumed.finish({ runName: "journal", steps: 6, interrupted: false, modelDir: await model(dir) });

    const client = openTracking(url);
    const steps = async (key: string) =>
      (await client.getMetricHistory(runId, key)).map((m) => m.step).sort();
    assert.deepEqual(await steps("train/loss"), [2, 4, 6]);
    assert.deepEqual(await steps("val/perplexity"), [4]);
    assert.deepEqual((await client.listArtifacts(runId, "samples")).map((a) => a.path), [
      "samples/step_0000004.txt",
    ]);
    assert.equal((await client.getRun(runId)).info.status, "FINISHED");
    await assert.rejects(Deno.stat(`${info.ckptDir}/staging`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${info.ckptDir}/mlruns`), Deno.errors.NotFound);
  } finally {
    await first.server.shutdown();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A stand-in model directory with the files MLmodel describes. */
async function model(dir: string): Promise<string> {
  const modelDir = `${dir}/model`;
  await Deno.mkdir(modelDir, { recursive: true });
  for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
    await Deno.writeTextFile(`${modelDir}/${f}`, "{}");
  }
  return modelDir;
}
