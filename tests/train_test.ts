/** End-to-end training on the built-in corpus: loss falls, checkpoints resume exactly, the model generates. */
import assert from "node:assert/strict";
import { gpuTest } from "../src/gpu/testing.ts";
import { loadConfig } from "../src/config/mod.ts";
import { type LogPoint, train } from "../src/train/trainer.ts";

async function smallConfig(dir: string, sets: string[] = []) {
  const { config } = await loadConfig("tiny", [
    "model.hidden_size=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "model.num_kv_heads=2",
    "model.intermediate_size=64",
    "model.max_seq_len=32",
    "model.vocab_size=300",
    "data.builtin_stories=300",
    `data.cache_dir=${dir}/cache`,
    "training.batch_size=4",
    "training.max_steps=12",
    "training.warmup_steps=2",
    "training.log_interval=1",
    "training.eval_interval=6",
    "training.eval_steps=2",
    "training.sample_tokens=8",
    `training.checkpoint_dir=${dir}/ckpt`,
    "training.learning_rate=0.01",
    "training.min_lr=0.001",
    ...sets,
  ]);
  return config;
}

gpuTest(
  "training on builtin:stories lowers the loss, and a resumed run follows the same trajectory",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const quiet = { log: () => {} };
      const full: LogPoint[] = [];
      const r1 = await train({
        config: await smallConfig(dir),
        runName: "full",
        hooks: { ...quiet, onLog: (p) => full.push(p) },
      });
      assert.equal(r1.steps, 12);
      assert.ok(full.at(-1)!.loss < full[0].loss - 0.3, `loss ${full[0].loss} → ${full.at(-1)!.loss}`);
      assert.ok(r1.finalValLoss! < Math.log(300));
      for (const f of ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json"]) {
        await Deno.stat(`${r1.modelDir}/${f}`);
      }

      // Stopped once step 6 has been logged (a checkpoint where it stopped), then resumed to 12.
      const stop = { requested: false };
      const first: LogPoint[] = [];
      const r0 = await train({
        config: await smallConfig(dir),
        runName: "split",
        stop,
        hooks: {
          ...quiet,
          onLog: (p) => {
            first.push(p);
            if (p.step >= 6) stop.requested = true;
          },
        },
      });
      const second: LogPoint[] = [];
      const r2 = await train({
        config: await smallConfig(dir),
        runName: "split",
        resume: true,
        hooks: { ...quiet, onLog: (p) => second.push(p) },
      });
      assert.equal(r2.steps, 12);
      assert.ok(r0.interrupted && r0.steps >= 6 && r0.steps < 12, `stopped at ${r0.steps}`);
      const resumed = [...first.filter((p) => p.step <= r0.steps), ...second];
      assert.deepEqual(resumed.map((p) => p.step), full.map((p) => p.step));
      for (let i = 0; i < full.length; i++) {
        assert.equal(resumed[i].loss, full[i].loss, `step ${full[i].step}: resumed loss differs`);
      }
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
