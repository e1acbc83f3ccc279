/**
 * The optimizer's wiring, beyond the kernels' own tests: which tensors decay (Linear weights always, embeddings and
 * norms only when configured) and that `grad_clip` reaches the update, checked step by step against the reference.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import type { TrainingConfig } from "../config/mod.ts";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { buildLayout, type Layout } from "../model/mod.ts";
import { adamwStep, globalNorm } from "../reference/optimizer.ts";
import { AdamW, decayRanges } from "./optimizer.ts";

async function tinyLayout(sets: string[] = []): Promise<{ layout: Layout; t: TrainingConfig }> {
  const { config } = await loadConfig("tiny", sets);
  return { layout: buildLayout(config.model), t: config.training };
}

/** The weight decay that `ranges` give the tensor starting at `offset` (throws when no range covers it). */
function decayAt(ranges: ReturnType<typeof decayRanges>, offset: number, size: number): number {
  const r = ranges.find((r) => r.offset <= offset && offset + size <= r.offset + r.count);
  if (!r) throw new Error(`no decay range covers [${offset}, ${offset + size})`);
  return r.weightDecay;
}

Deno.test("decayRanges: Linear weights decay; embeddings and norms only when configured", async () => {
  for (const [norms, embeddings] of [[false, false], [true, false], [false, true], [true, true]]) {
    const { layout, t } = await tinyLayout([
      "training.weight_decay=0.25",
      `training.decay_norms=${norms}`,
      `training.decay_embeddings=${embeddings}`,
    ]);
    const ranges = decayRanges(layout, t);
    const kinds = new Set(layout.entries.map((e) => e.kind));
    assert.deepEqual([...kinds].sort(), ["embedding", "linear", "norm"], "the tiny layout has every kind");
    for (const e of layout.entries) {
      const expected =
        e.kind === "linear" || (e.kind === "norm" && norms) || (e.kind === "embedding" && embeddings)
          ? 0.25
          : 0;
      assert.equal(decayAt(ranges, e.offset, e.size), expected, `${e.name} (${e.kind}), norms ${norms}`);
    }
    // Ranges never overlap, so no element is updated twice.
    for (let i = 1; i < ranges.length; i++) {
      assert.ok(ranges[i - 1].offset + ranges[i - 1].count <= ranges[i].offset, `ranges ${i - 1} and ${i}`);
    }
  }
});

gpuTest(
  "AdamW over the tiny layout equals the reference: per-kind decay and the global-norm clip",
  async (gpu) => {
    for (const clip of [0.5, 0]) {
      const { layout, t } = await tinyLayout([
        "training.weight_decay=0.1",
        `training.grad_clip=${clip}`,
        "training.decay_norms=false",
        "training.decay_embeddings=true",
      ]);
      const P = layout.total;
      const params = randomArray(P, 3);
      // Gradients only inside tensors (padding stays 0, as the engine leaves it), large enough that the clip binds.
      const grads = new Float32Array(P);
      const noise = randomArray(P, 4, 0.05);
      for (const e of layout.entries) grads.set(noise.subarray(e.offset, e.offset + e.size), e.offset);
      const norm = globalNorm(grads);
      if (clip > 0) assert.ok(norm > 4 * clip, `the global norm ${norm} must exceed the clip ${clip}`);
      const m = randomArray(P, 5, 0.01);
      const v = randomArray(P, 6, 0.01).map(Math.abs);

      const opt = new AdamW(gpu, layout, t);
      const pBuf = createBuffer(gpu.device, "params", params); // (P)
      const gBuf = createBuffer(gpu.device, "dparams", grads); // (P)
      const scalars = createBuffer(gpu.device, "scalars", 8 * 4); // (8) slots
      gpu.device.queue.writeBuffer(opt.m, 0, m);
      gpu.device.queue.writeBuffer(opt.v, 0, v);
      const lr = 0.01;
      const step = 3;
      const batch = new CommandBatch(gpu, "adamw wiring test");
      opt.step(batch, { params: pBuf, grads: gBuf, scalars, normSlot: 2, lr, step });
      batch.submit();
      const got = new Float32Array(await readBuffer(gpu, pBuf));

      const want = params.slice();
      const [wm, wv] = [m.slice(), v.slice()];
      for (const e of layout.entries) {
        const weightDecay = e.kind === "norm" ? 0 : 0.1;
        adamwStep(want, grads, wm, wv, {
          lr,
          beta1: t.beta1,
          beta2: t.beta2,
          eps: t.adam_eps,
          weightDecay,
          step,
          clip,
          offset: e.offset,
          count: e.size,
        });
      }
      for (const e of layout.entries) {
        assertClose(
          got.subarray(e.offset, e.offset + e.size),
          want.subarray(e.offset, e.offset + e.size),
          `clip ${clip}: ${e.name}`,
          { rtol: 1e-5, atol: 1e-6 },
        );
      }
      opt.destroy();
      for (const b of [pBuf, gBuf, scalars]) b.destroy();
    }
  },
);
