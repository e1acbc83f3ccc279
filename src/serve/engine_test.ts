import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { defaultConfig } from "../config/mod.ts";
import { buildLayout } from "../model/layout.ts";
import { initParams } from "../model/init.ts";
import { Generator } from "../model/generate.ts";
import { createBuffer } from "../gpu/mod.ts";
import { InferenceEngine } from "./engine.ts";
import { type GenerationRequest, Scheduler } from "./scheduler.ts";

function tinyConfig(tie: boolean, kvHeads: number, experts = 0) {
  const c = defaultConfig();
  c.model.moe = { ...c.model.moe, num_experts: experts, top_k: 2, layers: "every_other" };
  Object.assign(c.model, {
    vocab_size: 61,
    hidden_size: 24,
    num_layers: 2,
    num_heads: 4,
    num_kv_heads: kvHeads,
    intermediate_size: 40,
    max_seq_len: 24,
    tie_embeddings: tie,
  });
  return c;
}

function randomParams(config: ReturnType<typeof tinyConfig>, seed: number): Float32Array {
  const params = initParams(buildLayout(config.model), seed);
  for (let i = 0; i < params.length; i++) params[i] *= 5; // sharper logits than the init: fewer near-ties
  return params;
}

const prompts = [[1], [5, 9, 2], [7, 7, 7, 7, 7, 3, 1], [60, 0, 13, 44, 2, 8, 31, 30, 29, 11, 12]];

const request = (
  prompt: number[],
  maxTokens: number,
  extra: Partial<GenerationRequest> = {},
): GenerationRequest => ({
  prompt,
  maxTokens,
  temperature: 0,
  topK: 0,
  topP: 1,
  seed: 0,
  stopIds: [],
  ...extra,
});

for (const [tie, kvHeads, experts] of [[true, 4, 0], [false, 2, 0], [true, 2, 4]] as const) {
  gpuTest(
    `serve engine: greedy KV-cache decoding equals the no-cache Generator (tie=${tie}, KVH=${kvHeads}, E=${experts})`,
    async (gpu) => {
      const config = tinyConfig(tie, kvHeads, experts);
      const params = randomParams(config, 3);
      const pbuf = createBuffer(gpu.device, "generator params", params);
      const generator = new Generator(gpu, config, pbuf);
      const engine = new InferenceEngine(gpu, config.model, params, {
        slots: 3,
        context: config.model.max_seq_len,
        prefillRows: 32,
        maxChunk: 5,
      });
      const scheduler = new Scheduler(engine, { chunk: 5 });
      try {
        for (const prompt of prompts) {
          const n = config.model.max_seq_len - prompt.length;
          const want = await generator.generate(prompt, { maxTokens: n, temperature: 0 });
          const got = await scheduler.submit(request(prompt, n));
          assert.deepEqual(got.tokens, want, `prompt ${prompt}`);
          assert.ok(new Set(want).size > 3, `a livelier model: ${want}`);
          assert.equal(got.finishReason, "length");
        }
      } finally {
        generator.destroy();
        engine.destroy();
      }
    },
  );
}

gpuTest(
  "serve scheduler: concurrent requests join and leave the batch and each gets its solo output",
  async (gpu) => {
    const config = tinyConfig(true, 2);
    const params = randomParams(config, 11);
    const engine = new InferenceEngine(gpu, config.model, params, {
      slots: 3,
      context: config.model.max_seq_len,
      prefillRows: 24,
      maxChunk: 4,
    });
    const scheduler = new Scheduler(engine, { chunk: 4 });
    try {
      const reqs = [
        request(prompts[0], 9),
        request(prompts[1], 3, { temperature: 0.9, seed: 5 }),
        request(prompts[2], 12, { temperature: 1.2, topK: 10, topP: 0.9, seed: 77 }),
        request(prompts[3], 2),
        request(prompts[1], 17, { temperature: 0.7, seed: 8 }),
        request(prompts[2], 6),
        request([3, 4], 1),
      ];
      const solo: number[][] = [];
      for (const r of reqs) solo.push((await scheduler.submit(r)).tokens);
      const seen: number[][] = reqs.map(() => []);
      const together = await Promise.all(
        reqs.map((r, i) => scheduler.submit({ ...r, onToken: (id) => void seen[i].push(id) })),
      );
      together.forEach((res, i) => {
        assert.deepEqual(res.tokens, solo[i], `request ${i}`);
        assert.deepEqual(seen[i], solo[i], `request ${i} streamed`);
        assert.equal(res.tokens.length, reqs[i].maxTokens);
      });
      assert.equal(scheduler.activeCount, 0);
      assert.equal(scheduler.queueLength, 0);
      // Stop ids end a sequence without being emitted; onToken returning true stops after that token.
      const stopAt = solo[4][3];
      const stopped = await scheduler.submit({ ...reqs[4], stopIds: [stopAt] });
      assert.equal(stopped.finishReason, "stop");
      assert.deepEqual(stopped.tokens, solo[4].slice(0, solo[4].indexOf(stopAt)));
      const cut = await scheduler.submit({ ...reqs[0], onToken: (id) => id === solo[0][1] });
      assert.deepEqual(cut.tokens, solo[0].slice(0, solo[0].indexOf(solo[0][1]) + 1));
    } finally {
      engine.destroy();
    }
  },
);
