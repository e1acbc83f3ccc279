/**
 * Whole-model MoE checks: the reference model's gradients against finite differences, the GPU engine's loss (with
 * the auxiliary losses) and every gradient against the reference, and a short training run whose loss falls while
 * the MoE metrics come back.
 */
import assert from "node:assert/strict";
import { CommandBatch, readBuffer, upload } from "../src/gpu/mod.ts";
import { gpuTest } from "../src/gpu/testing.ts";
import { loadConfig } from "../src/config/mod.ts";
import { Engine } from "../src/model/engine.ts";
import { buildLayout } from "../src/model/layout.ts";
import { initParams } from "../src/model/init.ts";
import { modelLossAndGrads } from "../src/reference/model.ts";
import { checkGradient } from "../src/reference/gradcheck.ts";
import { type LogPoint, train } from "../src/train/trainer.ts";
import { B, gradientMismatches, inputs, T, targets, tinyModelConfig } from "./_whole_model.ts";
import { smallSets } from "./_small.ts";

/** Layer 0 MoE (top-k of 5 experts), layer 1 dense, large auxiliary coefficients so their gradients show. */
function tinyMoe(K: number) {
  const c = tinyModelConfig({ intermediate_size: 20 });
  c.model.moe = { num_experts: 5, top_k: K, layers: [0], aux_loss_coef: 0.2, z_loss_coef: 0.1 };
  return c;
}

Deno.test("the reference MoE model's gradients match finite differences of its loss", () => {
  const c = tinyMoe(2);
  Object.assign(c.model, {
    vocab_size: 11,
    hidden_size: 8,
    intermediate_size: 6,
    num_heads: 2,
    max_seq_len: 5,
  });
  c.model.moe.layers = "all";
  const layout = buildLayout(c.model);
  const params = initParams(layout, 3);
  for (const e of layout.entries) {
    if (e.kind !== "norm") { for (let i = e.offset; i < e.offset + e.size; i++) params[i] *= 5; }
  }
  const [B, T] = [2, 5];
  const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 11);
  const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 11);
  const { grads } = modelLossAndGrads(c.model, params, inputs, targets, B, T);
  for (const e of layout.entries) {
    const view = params.subarray(e.offset, e.offset + e.size);
    checkGradient(
      e.name,
      (x) => {
        view.set(x);
        return modelLossAndGrads(c.model, params, inputs, targets, B, T, false).loss;
      },
      view.slice(),
      grads.subarray(e.offset, e.offset + e.size),
      { eps: 1e-3, samples: 6, rtol: 5e-2, atol: 1e-3 },
    );
  }
});

for (const K of [1, 2]) {
  gpuTest(
    `MoE engine loss (with aux losses) and all gradients match the reference model (top_k=${K})`,
    async (gpu) => {
      const config = tinyMoe(K);
      const engine = new Engine(gpu, config, { batchSize: B, training: true });
      const params = initParams(engine.layout, 7);
      for (let i = 0; i < params.length; i++) params[i] *= 4;
      upload(gpu.device, engine.params, params);
      engine.upload({ inputs, targets });
      let metrics: Promise<Record<string, number>> | undefined;
      for (let micro = 0; micro < 2; micro++) {
        const batch = new CommandBatch(gpu, "moe engine test");
        if (micro === 0) engine.zeroGrads(batch);
        engine.trainMicroBatch(batch, 1 / (2 * B * T));
        if (micro === 1) metrics = engine.moeMetrics(batch);
        batch.submit();
      }
      const grads = new Float32Array(await readBuffer(gpu, engine.grads!));
      const lossSum = new Float32Array(await readBuffer(gpu, engine.scalars, 4))[0];
      const ref = modelLossAndGrads(config.model, params, inputs, targets, B, T);
      const loss = lossSum / (2 * B * T);
      assert.ok(Math.abs(loss - ref.loss) < 1e-4, `loss ${loss} vs ${ref.loss}`);
      assert.deepEqual(gradientMismatches(engine.layout, grads, ref.grads), []);
      const m = await metrics!;
      assert.deepEqual(
        Object.keys(m).filter((k) => !k.includes("_expert_")).sort(),
        ["moe/layer_0_aux_loss", "moe/layer_0_balance", "moe/layer_0_entropy", "moe/layer_0_z_loss"],
      );
      assert.ok(
        m["moe/layer_0_balance"] > 0 && m["moe/layer_0_entropy"] > 0 &&
          m["moe/layer_0_entropy"] <= Math.log(5),
      );
      engine.destroy();
    },
  );
}

gpuTest("an MoE model trains on builtin:stories: the loss falls and the model is saved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { config } = await loadConfig(
      "moe_model",
      smallSets(dir, [
        "model.num_layers=2",
        "model.intermediate_size=32",
        "training.max_steps=12",
        "training.log_interval=1",
        "training.eval_interval=12",
        "training.eval_steps=2",
        "training.sample_tokens=8",
        `training.checkpoint_dir=${dir}/ckpt`,
        "training.learning_rate=0.01",
        "training.min_lr=0.001",
        "training.use_mlflow=false",
      ]),
    );
    const logs: LogPoint[] = [];
    const r = await train({ config, runName: "moe", hooks: { log: () => {}, onLog: (p) => logs.push(p) } });
    assert.equal(r.steps, 12);
    assert.ok(logs.at(-1)!.loss < logs[0].loss - 0.3, `loss ${logs[0].loss} → ${logs.at(-1)!.loss}`);
    assert.ok(r.finalValLoss! < Math.log(300));
    await Deno.stat(`${r.modelDir}/model.safetensors`);
    // Every log point carries each MoE layer's router metrics; top-2 of 4 experts: fractions sum to 1.
    for (const p of logs) {
      for (const l of [0, 1]) {
        const balance = p.extra?.[`moe/layer_${l}_balance`];
        assert.ok(balance !== undefined && balance > 0 && balance <= 4, `layer ${l} balance ${balance}`);
        const entropy = p.extra![`moe/layer_${l}_entropy`];
        assert.ok(entropy > 0 && entropy <= Math.log(4) + 1e-4, `layer ${l} entropy ${entropy}`);
        const fractions = [0, 1, 2, 3].map((e) => p.extra![`moe/layer_${l}_expert_${e}_fraction`]);
        const total = fractions.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(total - 1) < 1e-4, `layer ${l} expert fractions sum to ${total}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
