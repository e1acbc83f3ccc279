/** Whole-model check: loss and every gradient of a tiny model on the GPU equal the TypeScript reference. */
import assert from "node:assert/strict";
import { CommandBatch, readBuffer, upload } from "../src/gpu/mod.ts";
import { assertClose, gpuTest } from "../src/gpu/testing.ts";
import { defaultConfig } from "../src/config/mod.ts";
import { Engine } from "../src/model/engine.ts";
import { initParams } from "../src/model/init.ts";
import { modelLossAndGrads } from "../src/reference/model.ts";

function tinyConfig(tie: boolean) {
  const c = defaultConfig();
  Object.assign(c.model, {
    vocab_size: 37,
    hidden_size: 24,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: 2,
    intermediate_size: 40,
    max_seq_len: 13,
    tie_embeddings: tie,
  });
  return c;
}

for (const tie of [true, false]) {
  gpuTest(`engine loss and all gradients match the reference model (tie_embeddings=${tie})`, async (gpu) => {
    const config = tinyConfig(tie);
    const [B, T] = [3, 13];
    const engine = new Engine(gpu, config, { batchSize: B, training: true });
    const params = initParams(engine.layout, 7);
    for (let i = 0; i < params.length; i++) params[i] *= 4; // livelier activations than the init
    upload(gpu.device, engine.params, params);
    const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 13 + 5) % 37);
    const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 11 + 2) % 37);
    engine.upload({ inputs, targets });
    // Two micro-batches of the same data with dscale 1/(2N): the accumulated gradient equals one batch's.
    for (let micro = 0; micro < 2; micro++) {
      const batch = new CommandBatch(gpu, "engine test");
      if (micro === 0) engine.zeroGrads(batch);
      engine.trainMicroBatch(batch, 1 / (2 * B * T));
      batch.submit();
    }
    const grads = new Float32Array(await readBuffer(gpu, engine.grads!));
    const lossSum = new Float32Array(await readBuffer(gpu, engine.scalars, 4))[0];
    const ref = modelLossAndGrads(config.model, params, inputs, targets, B, T);
    assert.ok(
      Math.abs(lossSum / (2 * B * T) - ref.loss) < 1e-4,
      `loss ${lossSum / (2 * B * T)} vs ${ref.loss}`,
    );
    const failures: string[] = [];
    for (const e of engine.layout.entries) {
      try {
        assertClose(
          grads.subarray(e.offset, e.offset + e.size),
          ref.grads.subarray(e.offset, e.offset + e.size),
          `d${e.name}`,
          { rtol: 2e-3, atol: 2e-5 },
        );
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    assert.deepEqual(failures, []);
    engine.destroy();
  });
}
