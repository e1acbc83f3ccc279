/**
 * End-to-end training on the built-in corpus: loss falls, checkpoints resume exactly (float32, and float16 AMP with
 * its loss scale carried over), also after a crash in the middle of replacing one; the model generates.
 */
import assert from "node:assert/strict";
import { gpuTest } from "../src/gpu/testing.ts";
import { loadConfig } from "../src/config/mod.ts";
import { type LogPoint, train, type TrainOptions } from "../src/train/trainer.ts";
import type { TrainState } from "../src/model/checkpoint.ts";
import { smallSets } from "./_small.ts";

async function smallConfig(dir: string, sets: string[] = []) {
  const { config } = await loadConfig(
    "tiny",
    smallSets(dir, [
      "training.max_steps=12",
      "training.log_interval=1",
      "training.eval_interval=6",
      "training.eval_steps=2",
      "training.sample_tokens=8",
      `training.checkpoint_dir=${dir}/ckpt`,
      "training.learning_rate=0.01",
      "training.min_lr=0.001",
      ...sets,
    ]),
  );
  return config;
}

/**
 * Trains 12 steps uninterrupted (run `<name>-full`), then the same run stopped once step 6 has been logged (a
 * checkpoint where it stopped) and resumed to 12 (run `<name>-split`). Returns both runs' log points.
 */
async function fullAndResumed(dir: string, name: string, sets: string[], extra: Partial<TrainOptions> = {}) {
  const quiet = { log: () => {} };
  const full: LogPoint[] = [];
  const r1 = await train({
    ...extra,
    config: await smallConfig(dir, sets),
    runName: `${name}-full`,
    hooks: { ...quiet, onLog: (p) => full.push(p) },
  });
  assert.equal(r1.steps, 12);
  const stop = { requested: false };
  const first: LogPoint[] = [];
  const r0 = await train({
    ...extra,
    config: await smallConfig(dir, sets),
    runName: `${name}-split`,
    stop,
    hooks: {
      ...quiet,
      onLog: (p) => {
        first.push(p);
        if (p.step >= 6) stop.requested = true;
      },
    },
  });
  assert.ok(r0.interrupted && r0.steps >= 6 && r0.steps < 12, `stopped at ${r0.steps}`);
  const second: LogPoint[] = [];
  const r2 = await train({
    ...extra,
    config: await smallConfig(dir, sets),
    runName: `${name}-split`,
    resume: true,
    hooks: { ...quiet, onLog: (p) => second.push(p) },
  });
  assert.equal(r2.steps, 12);
  const resumed = [...first.filter((p) => p.step <= r0.steps), ...second];
  assert.deepEqual(resumed.map((p) => p.step), full.map((p) => p.step));
  for (let i = 0; i < full.length; i++) {
    assert.equal(resumed[i].loss, full[i].loss, `step ${full[i].step}: resumed loss differs`);
  }
  return { full, resumed, r1, stoppedAt: r0.steps, checkpoint: r0.checkpoint! };
}

gpuTest(
  "training on builtin:stories lowers the loss, and a resumed run follows the same trajectory",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const { full, r1 } = await fullAndResumed(dir, "f32", []);
      assert.ok(full.at(-1)!.loss < full[0].loss - 0.3, `loss ${full[0].loss} → ${full.at(-1)!.loss}`);
      assert.ok(r1.finalValLoss! < Math.log(300));
      for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
        await Deno.stat(`${r1.modelDir}/${f}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "a resumed float16 AMP run continues the loss scale and follows the uninterrupted trajectory",
  { f16: true },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      // From 2^24 four of the first five steps overflow and halve the scale; it doubles at steps 8 and 11 (lavapipe),
      // so a resume that restarted at 2^24 would skip steps and one that lost the clean count would double late.
      const sets = ["training.use_amp=true", "training.amp_dtype=float16", "training.sample_tokens=0"];
      const lossScale = { initScale: 2 ** 24, growthInterval: 3 };
      const { full, resumed, stoppedAt, checkpoint } = await fullAndResumed(dir, "f16", sets, { lossScale });
      const amp = (p: LogPoint) => [p.extra?.["train/loss_scale"], p.extra?.["train/skipped_steps"]];
      assert.deepEqual(resumed.map(amp), full.map(amp));
      const state = JSON.parse(await Deno.readTextFile(`${checkpoint}/state.json`)) as TrainState;
      const atStop = full.find((p) => p.step === stoppedAt)!;
      assert.deepEqual(state.amp && [state.amp.lossScale, state.amp.skippedSteps], amp(atStop));
      assert.equal(state.amp?.dtype, "float16");
      assert.ok(state.amp!.lossScale < 2 ** 24 && state.amp!.skippedSteps >= 1, JSON.stringify(state.amp));
      // A damaged loss-scale entry is refused with the file named, not resumed with a garbage scale.
      const bad = { ...state, amp: { ...state.amp!, lossScale: -1 } };
      await Deno.writeTextFile(`${checkpoint}/state.json`, JSON.stringify(bad));
      await assert.rejects(
        train({
          config: await smallConfig(dir, sets),
          runName: "f16-split",
          resume: checkpoint,
          lossScale,
          hooks: { log: () => {} },
        }),
        /Cannot resume from .*state\.json: field 'amp\.lossScale' is -1, expected a finite number above 0/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("without validation text the run trains and skips evaluation with a note", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await smallConfig(dir, [
      "data.val_fraction=0",
      "training.max_steps=3",
      "training.use_mlflow=false",
    ]);
    const lines: string[] = [];
    let evals = 0;
    const r = await train({
      config,
      runName: "noval",
      hooks: { log: (l) => lines.push(l), onEval: () => evals++ },
    });
    assert.equal(r.steps, 3);
    assert.equal(r.finalValLoss, undefined);
    assert.equal(evals, 0);
    assert.ok(lines.some((l) => /evaluation skipped/.test(l)), lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "--resume without a run name continues the run that checkpointed last; a path continues its own run",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const quiet = { log: () => {} };
      const config = await smallConfig(dir, ["training.max_steps=2", "training.use_mlflow=false"]);
      await train({ config, runName: "older", hooks: quiet });
      await new Promise((r) => setTimeout(r, 20));
      await train({ config, runName: "newer", hooks: quiet });
      const more = await smallConfig(dir, ["training.max_steps=3", "training.use_mlflow=false"]);
      const lines: string[] = [];
      const r = await train({ config: more, resume: true, hooks: { log: (l) => lines.push(l) } });
      assert.equal(r.runName, "newer");
      assert.equal(r.steps, 3);
      assert.ok(lines.some((l) => /resuming 'newer'/.test(l)), lines.join("\n"));
      const byPath = await train({ config: more, resume: `${dir}/ckpt/older/step_2`, hooks: quiet });
      assert.equal(byPath.runName, "older");
      await Deno.stat(`${dir}/ckpt/older/step_3`);
      const empty = await smallConfig(dir, [
        `training.checkpoint_dir=${dir}/none`,
        "training.use_mlflow=false",
      ]);
      await assert.rejects(
        train({ config: empty, resume: true, hooks: quiet }),
        /Cannot resume: no checkpoint under/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "checkpoint_keep keeps the newest checkpoints of a run and deletes the older ones (0 keeps all)",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const quiet = { log: () => {} };
      const sets = ["training.max_steps=5", "training.checkpoint_interval=1", "training.use_mlflow=false"];
      await train({
        config: await smallConfig(dir, [...sets, "training.checkpoint_keep=2"]),
        runName: "k2",
        hooks: quiet,
      });
      const names = (run: string) =>
        [...Deno.readDirSync(`${dir}/ckpt/${run}`)].map((e) => e.name).filter((n) => n !== ".lock").sort();
      assert.deepEqual(names("k2"), ["model", "step_4", "step_5"]);
      await train({
        config: await smallConfig(dir, [...sets, "training.checkpoint_keep=0"]),
        runName: "all",
        hooks: quiet,
      });
      assert.deepEqual(names("all"), ["model", "step_1", "step_2", "step_3", "step_4", "step_5"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "a run killed while replacing its checkpoint and model resumes from the copy set aside, and cleans up",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const quiet = { log: () => {} };
      const sets = ["training.checkpoint_keep=1", "training.use_mlflow=false", "training.sample_tokens=0"];
      await train({
        config: await smallConfig(dir, ["training.max_steps=2", ...sets]),
        runName: "k",
        hooks: quiet,
      });
      // As replaceDir leaves it when killed between its renames: the old copies aside, the new ones unfinished.
      const run = `${dir}/ckpt/k`;
      await Deno.rename(`${run}/step_2`, `${run}/step_2.old-4242-1`);
      await Deno.rename(`${run}/model`, `${run}/model.old-4242-2`);
      await Deno.mkdir(`${run}/step_2.tmp-4242`);
      await Deno.mkdir(`${run}/model.tmp-4242`);
      const lines: string[] = [];
      const r = await train({
        config: await smallConfig(dir, ["training.max_steps=3", ...sets]),
        runName: "k",
        resume: true,
        hooks: { log: (l) => lines.push(l) },
      });
      assert.equal(r.steps, 3);
      assert.ok(lines.some((l) => /resumed from .*\/step_2 at step 2/.test(l)), lines.join("\n"));
      const names = [...Deno.readDirSync(run)].map((e) => e.name).sort();
      assert.deepEqual(names, [".lock", "model", "step_3"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "with kernel tuning the first step's shapes are timed once, cached, and a second run reuses the cache",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const cache = `${dir}/cache/tuning.json`;
      const sets = ["training.max_steps=4", "training.use_mlflow=false", "training.sample_tokens=0"];
      const run = async (name: string) => {
        const lines: string[] = [];
        const points: LogPoint[] = [];
        const r = await train({
          config: await smallConfig(dir, sets),
          runName: name,
          tuneKernels: true,
          tuningCache: cache,
          hooks: { log: (l) => lines.push(l), onLog: (p) => points.push(p) },
        });
        assert.equal(r.steps, 4);
        assert.ok(points.every((p) => Number.isFinite(p.loss)), JSON.stringify(points));
        return lines.filter((l) => /tuned \d+ kernel shapes/.test(l));
      };
      const first = await run("t1");
      assert.equal(first.length, 1, "one tuning pass, after the first step");
      const n = Number(/tuned (\d+)/.exec(first[0])![1]);
      const file = JSON.parse(await Deno.readTextFile(cache));
      const entries = Object.values(file.adapters as Record<string, Record<string, unknown>>)[0];
      assert.equal(Object.keys(entries).length, n);
      assert.ok(Object.keys(entries).some((k) => k.startsWith("matmul/")), Object.keys(entries).join(", "));
      assert.deepEqual(await run("t2"), [], "the second run finds every shape in the cache");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
