/**
 * Mixed precision end to end: the whole model under float16 and bfloat16 AMP against the f32 reference (loss and
 * every gradient within AMP tolerances, dense and MoE), an overflowing loss scale that skips the step and halves,
 * growth after N clean steps, the trainer's log points and effective-dtype param, and which f32 activations AMP
 * keeps beside their 16-bit copies.
 */
import assert from "node:assert/strict";
import { CommandBatch, type Gpu, readBuffer, upload } from "../src/gpu/mod.ts";
import { gpuTest } from "../src/gpu/testing.ts";
import { type Config, loadConfig } from "../src/config/mod.ts";
import { Engine } from "../src/model/engine.ts";
import { activationBuffers, allocateActivations } from "../src/model/activations.ts";
import { modelDims } from "../src/model/layout.ts";
import { initParams } from "../src/model/init.ts";
import { modelLossAndGrads } from "../src/reference/model.ts";
import { AMP_STATE_SLOT, type LossScaleOptions } from "../src/kernels/amp.ts";
import { AdamW } from "../src/train/optimizer.ts";
import { type LogPoint, train } from "../src/train/trainer.ts";
import { startParams } from "../src/train/tracking_params.ts";
import { B, inputs, T, targets, tinyModelConfig } from "./_whole_model.ts";

function tinyConfig(dtype: "float16" | "bfloat16", moe = false): Config {
  const c = tinyModelConfig({ tie_embeddings: false });
  if (moe) c.model.moe = { num_experts: 5, top_k: 2, layers: [0], aux_loss_coef: 0.2, z_loss_coef: 0.1 };
  Object.assign(c.training, { use_amp: true, amp_dtype: dtype });
  return c;
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

const cases = [["float16", false], ["bfloat16", false], ["float16", true], ["bfloat16", true]] as const;
for (const [dtype, moe] of cases) {
  gpuTest(
    `${dtype} AMP: loss and every gradient match the f32 reference within AMP tolerance (moe=${moe})`,
    { f16: dtype === "float16" },
    async (gpu) => {
      const config = tinyConfig(dtype, moe);
      const engine = new Engine(gpu, config, { batchSize: B, training: true });
      assert.equal(engine.precision, dtype);
      const params = initParams(engine.layout, 7);
      // Livelier activations than the init; ×2 only with MoE: at ×4 bf16 rounding flips some tokens' top-k expert
      // choice, a discontinuity that no tolerance covers.
      const gain = moe ? 2 : 4;
      for (let i = 0; i < params.length; i++) params[i] *= gain;
      upload(gpu.device, engine.params, params);
      engine.upload({ inputs, targets });
      const batch = new CommandBatch(gpu, "amp engine test");
      engine.zeroGrads(batch);
      engine.trainMicroBatch(batch, 1 / (B * T));
      batch.submit();
      const grads = new Float32Array(await readBuffer(gpu, engine.grads!));
      const loss = new Float32Array(await readBuffer(gpu, engine.scalars, 4))[0] / (B * T);
      const ref = modelLossAndGrads(config.model, params, inputs, targets, B, T);
      // bf16 keeps 8 significant bits, f16 11: the tolerances are a few units of the last place of the inputs.
      const [lossTol, gradTol] = dtype === "float16" ? [2e-3, 1e-2] : [2e-2, 6e-2];
      assert.ok(Math.abs(loss - ref.loss) < lossTol * ref.loss, `loss ${loss} vs ${ref.loss}`);
      const failures: string[] = [];
      let exact = 0;
      for (const e of engine.layout.entries) {
        const g = grads.subarray(e.offset, e.offset + e.size);
        const r = ref.grads.subarray(e.offset, e.offset + e.size);
        const err = norm(g.map((x, i) => x - r[i])) / (norm(r) + 1e-12);
        if (!(err < gradTol)) failures.push(`d${e.name}: relative error ${err.toExponential(2)}`);
        if (err < 1e-6 && !e.name.includes("norm")) exact++;
      }
      assert.deepEqual(failures, []);
      // The Linear gradients really went through low precision (f32 would agree to ~1e-6).
      assert.ok(exact < engine.layout.entries.length / 2, `${exact} gradients are f32-exact`);
      engine.destroy();
    },
  );
}

gpuTest(
  "AMP activations: the f32 n1, n2, h and nf share one transient buffer; att and a MoE layer's n2 keep theirs",
  (gpu) => {
    const d = modelDims(tinyConfig("bfloat16", true).model); // layer 0 MoE, layer 1 dense
    const amp = allocateActivations(gpu.device, d, B, T, "bfloat16");
    const [moe, dense] = amp.blocks;
    const transient = dense.n1.f32;
    for (const x of [moe.n1, dense.n2, dense.h, amp.final.nf]) assert.equal(x.f32, transient);
    for (const x of [moe.n1, dense.n1, dense.n2, dense.h, amp.final.nf, moe.att, dense.att]) assert.ok(x.lp);
    assert.ok(transient.size >= B * T * Math.max(d.C, d.I) * 4);
    for (const x of [moe.att, dense.att, moe.n2]) assert.notEqual(x.f32, transient);
    assert.equal(moe.n2.lp, undefined); // the MoE experts read f32 only
    const f32 = allocateActivations(gpu.device, d, B, T);
    const all = [...f32.blocks.flatMap((a) => [a.n1, a.n2, a.h, a.att]), f32.final.nf];
    assert.equal(new Set(all.map((x) => x.f32)).size, all.length);
    assert.ok(all.every((x) => x.lp === undefined));
    for (const acts of [amp, f32]) for (const b of activationBuffers(acts)) b.destroy();
  },
);

/** A few full optimizer steps; returns the AMP state and the params after each. */
async function steps(gpu: Gpu, config: Config, n: number, lossScale: LossScaleOptions) {
  const engine = new Engine(gpu, config, { batchSize: B, training: true, lossScale });
  const optimizer = new AdamW(gpu, engine.layout, config.training);
  const params = initParams(engine.layout, 3);
  upload(gpu.device, engine.params, params);
  engine.upload({ inputs, targets });
  const states: number[][] = [];
  const after: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const batch = new CommandBatch(gpu, `amp step ${i + 1}`);
    engine.zeroGrads(batch);
    engine.trainMicroBatch(batch, 1 / (B * T));
    optimizer.step(batch, {
      params: engine.params,
      grads: engine.grads!,
      scalars: engine.scalars,
      normSlot: 2,
      lr: 1e-2,
      step: i + 1,
      amp: engine.ampStep,
    });
    batch.submit();
    const s = new Float32Array(await readBuffer(gpu, engine.scalars));
    states.push([...s.subarray(AMP_STATE_SLOT, AMP_STATE_SLOT + 4)]);
    after.push(new Float32Array(await readBuffer(gpu, engine.params)));
  }
  optimizer.destroy();
  engine.destroy();
  return { params, states, after };
}

gpuTest(
  "float16 AMP: an overflowing loss scale skips the step (params unchanged) and halves the scale",
  { f16: true },
  async (gpu) => {
    const { params, states, after } = await steps(gpu, tinyConfig("float16"), 2, { initScale: 2 ** 40 });
    assert.deepEqual(states[0], [2 ** 39, 0, 1, 1]); // scale, clean, skipped, overflow
    assert.deepEqual(after[0], params);
    assert.deepEqual(states[1], [2 ** 38, 0, 2, 1]);
    assert.deepEqual(after[1], params);
  },
);

gpuTest(
  "float16 AMP: the scale doubles after the growth interval of clean steps",
  { f16: true },
  async (gpu) => {
    const { params, states, after } = await steps(gpu, tinyConfig("float16"), 7, {
      initScale: 4,
      growthInterval: 3,
    });
    assert.deepEqual(states.map((s) => s[0]), [4, 4, 8, 8, 8, 16, 16]);
    assert.deepEqual(states.map((s) => s[2]), [0, 0, 0, 0, 0, 0, 0]);
    assert.ok(after[0].some((x, i) => x !== params[i]), "a clean step updates the params");
  },
);

gpuTest("bfloat16 AMP keeps the loss scale at 1", async (gpu) => {
  const { states } = await steps(gpu, tinyConfig("bfloat16"), 2, { initScale: 2 ** 40, growthInterval: 1 });
  assert.deepEqual(states, [[1, 1, 0, 0], [1, 2, 0, 0]]);
});

gpuTest(
  "trainer under float16 AMP logs train/loss_scale and train/skipped_steps, then trains",
  { f16: true },
  async (gpu) => {
    const dir = await Deno.makeTempDir();
    try {
      const { config } = await loadConfig("tiny", [
        "model.hidden_size=32",
        "model.num_layers=1",
        "model.num_heads=2",
        "model.num_kv_heads=2",
        "model.intermediate_size=64",
        "model.max_seq_len=16",
        "model.vocab_size=300",
        "data.builtin_stories=200",
        `data.cache_dir=${dir}/cache`,
        "training.batch_size=2",
        "training.max_steps=8",
        "training.log_interval=2",
        "training.eval_interval=100",
        "training.eval_steps=1",
        "training.sample_tokens=0",
        `training.checkpoint_dir=${dir}/ckpt`,
        "training.use_amp=true",
        "training.amp_dtype=float16",
      ]);
      const logs: LogPoint[] = [];
      // dlogits are ≤ 1/(B·T) = 1/32: times 2^22 they overflow f16 until the scale has halved to 2^20.
      const r = await train({
        config,
        runName: "amp",
        hooks: { log: () => {}, onLog: (p) => logs.push(p) },
        lossScale: { initScale: 2 ** 22 },
      });
      assert.equal(r.steps, 8);
      assert.deepEqual(logs.map((p) => p.step), [2, 4, 6, 8]);
      const skipped = logs.map((p) => p.extra?.["train/skipped_steps"]);
      const scale = logs.map((p) => p.extra?.["train/loss_scale"]);
      assert.ok(skipped[0]! >= 1 && skipped.at(-1)! >= skipped[0]!, `skipped ${skipped}`);
      assert.ok(skipped.at(-1)! < 8, `skipped ${skipped}: some steps trained`);
      assert.equal(scale.at(-1), 2 ** (22 - skipped.at(-1)!));
      assert.ok(Number.isFinite(r.finalValLoss!));
      const p = startParams(config, {
        gpu,
        paramCount: 1,
        data: {
          stats: {
            sources: "",
            valSources: "",
            trainTokens: 0,
            valTokens: 0,
            trainDocs: 0,
            valDocs: 0,
            tokenizerSource: "",
          },
          tokenizer: { vocabSize: 300 },
        } as never,
      });
      assert.equal(p.find((kv) => kv.key === "hardware.amp_dtype_effective")?.value, "float16");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
