/** Whole-model check with split-K weight gradients forced on (lavapipe turns them off by default). */
import assert from "node:assert/strict";
import { CommandBatch, readBuffer, upload } from "../src/gpu/mod.ts";
import { assertClose, gpuTest } from "../src/gpu/testing.ts";
import { defaultConfig } from "../src/config/mod.ts";
import { Engine } from "../src/model/engine.ts";
import { initParams } from "../src/model/init.ts";
import { modelLossAndGrads } from "../src/reference/model.ts";
import { matmulSplit } from "../src/kernels/matmul.ts";

gpuTest("engine gradients with split-K weight gradients match the reference model", async (gpu) => {
  const config = defaultConfig();
  Object.assign(config.model, {
    vocab_size: 37,
    hidden_size: 24,
    num_layers: 1,
    num_heads: 4,
    num_kv_heads: 2,
    intermediate_size: 40,
    max_seq_len: 131,
    tie_embeddings: false,
  });
  const [B, T] = [4, 131]; // N = 524: K = N splits in two at a target of 64 workgroups
  assert.equal(matmulSplit(24, 40, B * T, 64), 2);
  const engine = new Engine(gpu, config, { batchSize: B, training: true, splitTarget: 64 });
  const params = initParams(engine.layout, 3);
  for (let i = 0; i < params.length; i++) params[i] *= 4;
  upload(gpu.device, engine.params, params);
  const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 13 + 5) % 37);
  const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 11 + 2) % 37);
  engine.upload({ inputs, targets });
  const batch = new CommandBatch(gpu, "split engine test");
  engine.zeroGrads(batch);
  engine.trainMicroBatch(batch, 1 / (B * T));
  batch.submit();
  const grads = new Float32Array(await readBuffer(gpu, engine.grads!));
  const ref = modelLossAndGrads(config.model, params, inputs, targets, B, T);
  for (const e of engine.layout.entries) {
    assertClose(
      grads.subarray(e.offset, e.offset + e.size),
      ref.grads.subarray(e.offset, e.offset + e.size),
      `d${e.name}`,
      { rtol: 2e-3, atol: 2e-5 },
    );
  }
  engine.destroy();
});
