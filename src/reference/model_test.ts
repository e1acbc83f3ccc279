import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { buildLayout } from "../model/layout.ts";
import { initParams } from "../model/init.ts";
import { checkGradient } from "./gradcheck.ts";
import { modelLossAndGrads } from "./model.ts";

/** A model small enough for finite differences over the whole network. */
export function tinyModel() {
  const c = defaultConfig();
  Object.assign(c.model, {
    vocab_size: 11,
    hidden_size: 8,
    num_layers: 2,
    num_heads: 2,
    num_kv_heads: 1,
    intermediate_size: 12,
    max_seq_len: 5,
  });
  return c;
}

Deno.test("the reference model's gradients match finite differences of its loss", () => {
  const c = tinyModel();
  const layout = buildLayout(c.model);
  const params = initParams(layout, 3);
  // Larger weights than the init (norms stay at 1) so every path carries signal.
  for (const e of layout.entries) {
    if (e.kind !== "norm") { for (let i = e.offset; i < e.offset + e.size; i++) params[i] *= 5; }
  }
  const [B, T] = [2, 5];
  const inputs = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 11);
  const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 11);
  const { loss, grads } = modelLossAndGrads(c.model, params, inputs, targets, B, T);
  assert.ok(loss > 0 && Number.isFinite(loss));
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
