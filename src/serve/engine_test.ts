import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { defaultConfig } from "../config/mod.ts";
import { buildLayout } from "../model/layout.ts";
import { initParams } from "../model/init.ts";
import { Generator } from "../model/generate.ts";
import { CommandBatch, createBuffer, type Gpu } from "../gpu/mod.ts";
import { applyRepetitionPenalty, sampleReference } from "../reference/sample.ts";
import { InferenceEngine } from "./engine.ts";
import { type GenerationRequest, RequestTimeout, Scheduler } from "./scheduler.ts";

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

/** An InferenceEngine over the tiny model's whole context. */
function servingEngine(
  gpu: Gpu,
  config: ReturnType<typeof tinyConfig>,
  params: Float32Array,
  opts: { slots: number; prefillRows: number; maxChunk: number },
) {
  return new InferenceEngine(gpu, config.model, params, { context: config.model.max_seq_len, ...opts });
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
      const engine = servingEngine(gpu, config, params, { slots: 3, prefillRows: 32, maxChunk: 5 });
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
    const engine = servingEngine(gpu, config, randomParams(config, 11), {
      slots: 3,
      prefillRows: 24,
      maxChunk: 4,
    });
    const scheduler = new Scheduler(engine, { chunk: 4 });
    try {
      const reqs = [
        request(prompts[0], 9),
        request(prompts[1], 3, { temperature: 0.9, seed: 5 }),
        request(prompts[2], 12, { temperature: 1.2, topK: 10, topP: 0.9, seed: 77, repetitionPenalty: 1.3 }),
        request(prompts[3], 2),
        request(prompts[1], 17, { temperature: 0.7, seed: 8 }),
        request(prompts[2], 6, { repetitionPenalty: 0.8 }),
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

/** Greedy decoding with the twin's repetition penalty on the no-cache model: one full forward per token. */
async function greedyWithPenalty(
  gpu: Gpu,
  generator: Generator,
  prompt: number[],
  n: number,
  penalty: number,
) {
  const engine = generator.engine;
  const T = engine.T;
  const V = engine.dims.V;
  const ids = [...prompt];
  for (let i = 0; i < n; i++) {
    const inputs = new Uint32Array(T);
    inputs.set(ids);
    engine.upload({ inputs, targets: new Uint32Array(T) });
    const batch = new CommandBatch(gpu, "oracle");
    engine.forward(batch);
    const row = batch.read(engine.logits, (ids.length - 1) * V * 4, V * 4);
    batch.submit();
    const logits = applyRepetitionPenalty(new Float32Array(await row), ids, penalty);
    ids.push(sampleReference(logits, { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 }));
  }
  return ids.slice(prompt.length);
}

gpuTest(
  "serve engine: greedy decoding with a repetition penalty equals the no-cache model with the twin's penalty",
  async (gpu) => {
    const config = tinyConfig(false, 2);
    const params = randomParams(config, 5);
    const pbuf = createBuffer(gpu.device, "generator params", params);
    const generator = new Generator(gpu, config, pbuf);
    const engine = servingEngine(gpu, config, params, { slots: 2, prefillRows: 32, maxChunk: 4 });
    const scheduler = new Scheduler(engine, { chunk: 4 });
    try {
      let differs = 0;
      for (const [prompt, penalty] of [[prompts[2], 1.6], [prompts[3], 3], [prompts[1], 0.7]] as const) {
        const n = config.model.max_seq_len - prompt.length;
        const want = await greedyWithPenalty(gpu, generator, [...prompt], n, penalty);
        const got = await scheduler.submit(request([...prompt], n, { repetitionPenalty: penalty }));
        assert.deepEqual(got.tokens, want, `prompt ${prompt}, penalty ${penalty}`);
        const plain = await scheduler.submit(request([...prompt], n));
        if (plain.tokens.join() !== want.join()) differs++;
      }
      assert.ok(differs >= 2, "the penalty changes greedy output");
    } finally {
      generator.destroy();
      engine.destroy();
    }
  },
);

gpuTest(
  "serve scheduler: requests past the timeout fail in the queue or in generation and free their slots",
  async (gpu) => {
    const config = tinyConfig(true, 2);
    const engine = servingEngine(gpu, config, randomParams(config, 11), {
      slots: 1,
      prefillRows: 24,
      maxChunk: 4,
    });
    const timeouts: string[] = [];
    const scheduler = new Scheduler(engine, {
      chunk: 4,
      timeoutMs: 1,
      events: { onTimeout: (where) => timeouts.push(where) },
    });
    try {
      // One slot: the first request is prefilling (several ms on any adapter) when the 1 ms timers fire.
      const results = await Promise.allSettled(
        [0, 1, 2].map(() => scheduler.submit(request(prompts[3], 12))),
      );
      const errors = results.map((r) => r.status === "rejected" ? r.reason : r.value);
      for (const e of errors) assert.ok(e instanceof RequestTimeout, `${e}`);
      assert.deepEqual(errors.map((e) => (e as RequestTimeout).where), ["generation", "queue", "queue"]);
      assert.match(
        (errors[1] as Error).message,
        /Cannot finish the request within 0\.001 s: it timed out waiting/,
      );
      assert.deepEqual(timeouts, ["generation", "queue", "queue"]);
      while (scheduler.busy) await new Promise((r) => setTimeout(r, 5));
      assert.equal(scheduler.queueLength, 0);
      assert.equal(scheduler.activeCount, 0);
      // The slot came back, and the next request runs as if nothing happened.
      const solo = new Scheduler(engine, { chunk: 4 });
      scheduler.options.timeoutMs = 0;
      const again = await scheduler.submit(request(prompts[1], 9));
      const fresh = await solo.submit(request(prompts[1], 9));
      assert.deepEqual(again.tokens, fresh.tokens);
    } finally {
      engine.destroy();
    }
  },
);
