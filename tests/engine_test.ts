/** Whole-model check: loss and every gradient of a tiny model on the GPU equal the TypeScript reference. */
import assert from "node:assert/strict";
import { CommandBatch, readBuffer, upload } from "../src/gpu/mod.ts";
import { gpuTest } from "../src/gpu/testing.ts";
import { Engine } from "../src/model/engine.ts";
import { initParams } from "../src/model/init.ts";
import { modelLossAndGrads } from "../src/reference/model.ts";
import { B, gradientMismatches, inputs, T, targets, tinyModelConfig } from "./_whole_model.ts";

for (const tie of [true, false]) {
  gpuTest(`engine loss and all gradients match the reference model (tie_embeddings=${tie})`, async (gpu) => {
    const config = tinyModelConfig({ tie_embeddings: tie });
    const engine = new Engine(gpu, config, { batchSize: B, training: true });
    const params = initParams(engine.layout, 7);
    for (let i = 0; i < params.length; i++) params[i] *= 4; // livelier activations than the init
    upload(gpu.device, engine.params, params);
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
    assert.deepEqual(gradientMismatches(engine.layout, grads, ref.grads), []);
    engine.destroy();
  });
}
