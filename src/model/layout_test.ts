import assert from "node:assert/strict";
import { defaultConfig, loadConfig } from "../config/mod.ts";
import { activeParamCount, buildLayout, estimateTrainingMemory, PARAM_ALIGN } from "./layout.ts";

Deno.test("base_model has about 7.2M parameters, aligned and non-overlapping", async () => {
  const { config } = await loadConfig("base_model");
  const layout = buildLayout(config.model);
  assert.ok(layout.count > 7.1e6 && layout.count < 7.3e6, `count ${layout.count}`);
  let end = 0;
  for (const e of layout.entries) {
    assert.equal(e.offset % PARAM_ALIGN, 0, e.name);
    assert.ok(e.offset >= end, `${e.name} overlaps`);
    end = e.offset + e.size;
  }
  assert.ok(layout.total >= end);
  assert.deepEqual(layout.byName.get("blocks.0.attn.q.weight")!.shape, [288, 288]);
  assert.equal(layout.byName.get("head.weight"), undefined, "tied embeddings have no separate head");
});

Deno.test("MoE layers hold packed experts and count top_k of them as active", async () => {
  const { config } = await loadConfig("moe_model");
  const layout = buildLayout(config.model);
  assert.deepEqual(layout.byName.get("blocks.1.mlp.experts.gate.weight")!.shape, [4, 768, 288]);
  const dense = buildLayout((await loadConfig("base_model")).config.model).count;
  const active = activeParamCount(config.model);
  // top-2 of 4 experts: active MLP parameters are twice the dense MLP, plus the routers.
  assert.equal(active - dense, 6 * (3 * 288 * 768 + 4 * 288));
});

Deno.test("the AMP memory estimate trades f32 saved activations for 16-bit ones and adds the weight copy", () => {
  const m = defaultConfig().model;
  const f32 = estimateTrainingMemory(m, 8);
  const amp = estimateTrainingMemory(m, 8, { amp: true });
  assert.equal(f32.amp, 0);
  assert.equal(amp.params, f32.params);
  assert.ok(amp.activations < f32.activations);
  assert.ok(amp.amp >= buildLayout(m).total * 2);
  assert.equal(amp.total, 4 * amp.params + amp.activations + amp.amp);
});
