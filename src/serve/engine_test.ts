import assert from "node:assert/strict";
import { gpuTest } from "../gpu/testing.ts";
import { defaultConfig } from "../config/mod.ts";
import { buildLayout } from "../model/layout.ts";
import { initParams } from "../model/init.ts";
import { Generator } from "../model/generate.ts";
import { CommandBatch, createBuffer, type Gpu } from "../gpu/mod.ts";
import { assertClose } from "../gpu/testing.ts";
import { logprobsReference, processLogits, sampleReference, type TokenLogprob } from "../reference/sample.ts";
import { InferenceEngine } from "./engine.ts";
import type { EngineLimits } from "./engine_buffers.ts";
import { type GenerationRequest, type GenerationResult, RequestTimeout, Scheduler } from "./scheduler.ts";

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
  opts: Omit<EngineLimits, "context">,
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
        request(prompts[3], 8, {
          temperature: 0.8,
          seed: 3,
          presencePenalty: 1,
          frequencyPenalty: 0.5,
          logprobs: 2,
        }),
        request(prompts[1], 5, { logprobs: 0, scorePrompt: true, frequencyPenalty: -1 }),
        // Logit bias lists of their own in one batch: a forced id, a forbidden and a favoured one, every id.
        request(prompts[0], 10, { temperature: 0.9, seed: 21, logitBias: [[17, 100]], logprobs: 1 }),
        request(prompts[2], 7, { logitBias: [[9, -100], [3, 2.5]], presencePenalty: 0.5 }),
        request(prompts[3], 9, {
          temperature: 1.1,
          topK: 12,
          seed: 4,
          logitBias: Array.from({ length: 61 }, (_, id) => [id, (id % 7) - 3] as const),
        }),
      ];
      const solo: GenerationResult[] = [];
      for (const r of reqs) solo.push(await scheduler.submit(r));
      const seen: number[][] = reqs.map(() => []);
      const streamed: TokenLogprob[][] = reqs.map(() => []);
      const together = await Promise.all(
        reqs.map((r, i) =>
          scheduler.submit({
            ...r,
            onToken: (id, lp) => {
              seen[i].push(id);
              if (lp) streamed[i].push(lp);
            },
          })
        ),
      );
      together.forEach((res, i) => {
        assert.deepEqual(res.tokens, solo[i].tokens, `request ${i}`);
        assert.deepEqual(seen[i], solo[i].tokens, `request ${i} streamed`);
        assert.equal(res.tokens.length, reqs[i].maxTokens);
        if (reqs[i].logprobs === undefined) return assert.equal(res.logprobs, undefined);
        assertRecords(res.logprobs!, solo[i].logprobs!, `request ${i} logprobs`);
        assert.deepEqual(streamed[i], res.logprobs, `request ${i}: onToken saw each record`);
        assert.equal(res.logprobs!.length, res.tokens.length);
        assert.ok(res.logprobs!.every((r) => r.top.length === reqs[i].logprobs && r.logprob <= 0));
      });
      assert.deepEqual(together[9].tokens, Array(10).fill(17), "+100 forces id 17 at every step");
      assert.ok(!together[10].tokens.includes(9), "−100 keeps id 9 out");
      assert.equal(together[8].promptLogprobs!.length, prompts[1].length - 1);
      assert.equal(together[7].promptLogprobs, undefined, "the prompt is scored only when asked");
      assertRecords(together[8].promptLogprobs!, solo[8].promptLogprobs!, "prompt records");
      assert.equal(scheduler.activeCount, 0);
      assert.equal(scheduler.queueLength, 0);
      // Stop ids end a sequence without being emitted; onToken returning true stops after that token.
      const stopAt = solo[4].tokens[3];
      const stopped = await scheduler.submit({ ...reqs[4], stopIds: [stopAt] });
      assert.equal(stopped.finishReason, "stop");
      assert.deepEqual(stopped.tokens, solo[4].tokens.slice(0, solo[4].tokens.indexOf(stopAt)));
      const first = solo[0].tokens[1];
      const cut = await scheduler.submit({ ...reqs[0], onToken: (id) => id === first });
      assert.deepEqual(cut.tokens, solo[0].tokens.slice(0, solo[0].tokens.indexOf(first) + 1));
      // With logprobs, the stop id's record comes back apart from the tokens'.
      const at = solo[7].tokens.indexOf(solo[7].tokens[3]);
      const ended = await scheduler.submit({ ...reqs[7], stopIds: [solo[7].tokens[3]] });
      assert.deepEqual(ended.tokens, solo[7].tokens.slice(0, at));
      assertRecords([ended.stopLogprob!], [solo[7].logprobs![at]], "the stop id's record");
      assert.equal(stopped.stopLogprob, undefined, "no record without logprobs");
      // A logit bias the kernel cannot take is refused before it reaches the GPU.
      for (
        const [bias, needle] of [
          [[[61, 1]], /id 61 is not a token id \(0 to 60\)/],
          [[[5, 1], [5, 2]], /id 5 is listed twice/],
          [[[5, 101]], /from -100 to 100/],
          [Array.from({ length: 301 }, (_, i) => [i % 61, 0]), /301 ids, at most 300/],
        ] as const
      ) {
        await assert.rejects(
          scheduler.submit(request([1], 2, { logitBias: bias as [number, number][] })),
          (e: Error) => e instanceof RangeError && needle.test(e.message),
        );
      }
    } finally {
      engine.destroy();
    }
  },
);

/** The penalties (and the logit bias) a request may set. */
type Penalties = Pick<
  GenerationRequest,
  "repetitionPenalty" | "presencePenalty" | "frequencyPenalty" | "logitBias"
>;

/** Raw logits (V) of each position of `ids` on the no-cache model: one full forward. */
async function rawRows(gpu: Gpu, generator: Generator, ids: number[]): Promise<Float32Array[]> {
  const engine = generator.engine;
  const V = engine.dims.V;
  const inputs = new Uint32Array(engine.T);
  inputs.set(ids);
  engine.upload({ inputs, targets: new Uint32Array(engine.T) });
  const batch = new CommandBatch(gpu, "oracle");
  engine.forward(batch);
  const rows = batch.read(engine.logits, 0, ids.length * V * 4);
  batch.submit();
  const all = new Float32Array(await rows);
  return ids.map((_, t) => all.slice(t * V, (t + 1) * V));
}

/**
 * Greedy decoding with the twin's logit bias and penalties on the no-cache model: one full forward per token.
 * Returns the tokens and the raw logits each was picked from.
 */
async function greedyWithPenalties(
  gpu: Gpu,
  generator: Generator,
  prompt: number[],
  n: number,
  p: Penalties,
) {
  const ids = [...prompt];
  const raw: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = (await rawRows(gpu, generator, ids)).at(-1)!;
    raw.push(row);
    const logits = processLogits(row, p, ids, ids.slice(prompt.length));
    ids.push(sampleReference(logits, { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 }));
  }
  return { tokens: ids.slice(prompt.length), raw };
}

/** Records of two model evaluations agree (the KV-cache engine and the no-cache model sum in other orders). */
function assertRecords(got: TokenLogprob[], want: TokenLogprob[], label: string): void {
  assert.equal(got.length, want.length, `${label}: records`);
  got.forEach((g, i) => {
    assert.deepEqual(g.top.map((t) => t.id), want[i].top.map((t) => t.id), `${label} ${i}: top ids`);
    assertClose(
      [g.logprob, ...g.top.map((t) => t.logprob)],
      [want[i].logprob, ...want[i].top.map((t) => t.logprob)],
      `${label} ${i}`,
      {
        atol: 2e-3,
        rtol: 1e-3,
      },
    );
  });
}

gpuTest(
  "serve engine: greedy decoding with repetition, presence and frequency penalties and the logprob records equal the no-cache model's",
  async (gpu) => {
    const config = tinyConfig(false, 2);
    const params = randomParams(config, 5);
    const pbuf = createBuffer(gpu.device, "generator params", params);
    const generator = new Generator(gpu, config, pbuf);
    const engine = servingEngine(gpu, config, params, { slots: 2, prefillRows: 32, maxChunk: 4 });
    const scheduler = new Scheduler(engine, { chunk: 4 });
    try {
      let differs = 0;
      const cases: [number[], Penalties][] = [
        [prompts[2], { repetitionPenalty: 1.6 }],
        [prompts[3], { repetitionPenalty: 3 }],
        [prompts[1], { repetitionPenalty: 0.7 }],
        [prompts[2], { presencePenalty: 1.5, frequencyPenalty: 0.5 }],
        [prompts[1], { repetitionPenalty: 1.2, presencePenalty: -0.5, frequencyPenalty: 0.8 }],
        [prompts[3], { frequencyPenalty: 2 }],
        [prompts[0], { presencePenalty: -2 }],
      ];
      for (const [i, [prompt, penalties]] of cases.entries()) {
        const n = config.model.max_seq_len - prompt.length;
        const label = `prompt ${prompt}, ${JSON.stringify(penalties)}`;
        const want = await greedyWithPenalties(gpu, generator, [...prompt], n, penalties);
        const k = i % 6;
        const got = await scheduler.submit(
          request([...prompt], n, { ...penalties, logprobs: k, scorePrompt: true }),
        );
        assert.deepEqual(got.tokens, want.tokens, label);
        // Records score the raw logits, whatever the penalties did to the pick.
        assertRecords(
          got.logprobs!,
          want.raw.map((row, t) => logprobsReference(row, want.tokens[t], k)),
          label,
        );
        const promptRows = await rawRows(gpu, generator, prompt);
        const wantPrompt = prompt.slice(1).map((id, t) => logprobsReference(promptRows[t], id, k));
        assertRecords(got.promptLogprobs!, wantPrompt, `${label}, prompt`);
        const plain = await scheduler.submit(request([...prompt], n));
        assert.equal(plain.logprobs, undefined);
        if (plain.tokens.join() !== want.tokens.join()) differs++;
      }
      assert.ok(differs >= 5, `the penalties change greedy output (${differs} of ${cases.length})`);
    } finally {
      generator.destroy();
      engine.destroy();
    }
  },
);

gpuTest(
  "serve engine: greedy decoding with a logit bias equals the no-cache model's; +100 forces an id, −100 on the greedy pick changes it",
  async (gpu) => {
    const config = tinyConfig(true, 2);
    const params = randomParams(config, 7);
    const pbuf = createBuffer(gpu.device, "generator params", params);
    const generator = new Generator(gpu, config, pbuf);
    const engine = servingEngine(gpu, config, params, { slots: 2, prefillRows: 32, maxChunk: 4 });
    const scheduler = new Scheduler(engine, { chunk: 4 });
    try {
      const prompt = prompts[1];
      const n = config.model.max_seq_len - prompt.length;
      const plain = (await scheduler.submit(request(prompt, n))).tokens;
      const pick = plain[0];
      const cases: Penalties[] = [
        { logitBias: [[pick, -100]] },
        { logitBias: [[pick, -100], [plain[1], 1.5]], repetitionPenalty: 1.3, presencePenalty: 0.5 },
        { logitBias: [[40, 100]], frequencyPenalty: 0.2 },
        {
          logitBias: Array.from({ length: 61 }, (_, id) => [id, ((id % 5) - 2) * 0.7]),
          repetitionPenalty: 0.7,
        },
      ];
      for (const [i, c] of cases.entries()) {
        const label = `case ${i}`;
        const want = await greedyWithPenalties(gpu, generator, [...prompt], n, c);
        const got = await scheduler.submit(request(prompt, n, { ...c, logprobs: 3 }));
        assert.deepEqual(got.tokens, want.tokens, label);
        // Records score the raw logits, a forced or forbidden id's too.
        assertRecords(
          got.logprobs!,
          want.raw.map((row, t) => logprobsReference(row, want.tokens[t], 3)),
          label,
        );
        if (i < 2) {
          assert.notEqual(got.tokens[0], pick, `${label}: −100 moves the greedy pick`);
          assert.ok(!got.tokens.includes(pick), `${label}: and keeps it out of the whole generation`);
        }
      }
      const forced = await scheduler.submit(
        request(prompt, n, { temperature: 1.3, seed: 9, logitBias: [[40, 100]] }),
      );
      assert.deepEqual(forced.tokens, Array(n).fill(40), "+100 forces the id through the whole generation");
      assert.ok(plain.filter((t) => t === 40).length < n / 2, "the model alone does not write it");
    } finally {
      generator.destroy();
      engine.destroy();
    }
  },
);

gpuTest(
  "serve engine: prompts scored in one prefill across 64-row pieces equal the no-cache model's records",
  async (gpu) => {
    const config = tinyConfig(true, 2);
    const params = randomParams(config, 9);
    const pbuf = createBuffer(gpu.device, "generator params", params);
    const generator = new Generator(gpu, config, pbuf);
    const engine = servingEngine(gpu, config, params, {
      slots: 3,
      prefillRows: 72,
      maxChunk: 2,
      promptPieceRows: 64,
    });
    const V = config.model.vocab_size;
    const ps = [1, 2, 3].map((k) => Array.from({ length: 23 }, (_, t) => (k * 13 + t * 7 + t * t) % V));
    const oracle = await Promise.all(ps.map((p) => rawRows(gpu, generator, p)));
    try {
      // 69 prefill rows: pieces 0..63 and 64..68; the last case leaves the second piece unscored.
      for (const scoring of [[true, true, true], [false, false, true], [true, false, false]]) {
        const spec = (i: number, counter: number) => ({
          dst: i,
          seed: 0,
          counter,
          temperature: 0,
          topK: 0,
          topP: 1,
          logprobs: i + 2,
        });
        const prefill = ps.map((prompt, i) => ({
          slot: i,
          prompt,
          spec: spec(i, 0),
          scorePrompt: scoring[i],
        }));
        const decode = ps.map((prompt, i) => ({ slot: i, pos: prompt.length, token: 0, spec: spec(i, 1) }));
        const { first, chunk } = engine.step(prefill, decode, 0);
        const out = await first;
        await chunk();
        ps.forEach((prompt, i) => {
          const n = i + 2;
          const rows = oracle[i];
          const label = `scoring ${scoring}, prompt ${i}`;
          assertRecords(
            [out.logprobs![i]!],
            [logprobsReference(rows.at(-1)!, out.ids[i], n)],
            `${label}: first token`,
          );
          if (!scoring[i]) return assert.equal(out.prompt![i], null, label);
          const want = prompt.slice(1).map((id, t) => logprobsReference(rows[t], id, n));
          assertRecords(out.prompt![i]!, want, label);
        });
      }
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

gpuTest(
  "serve scheduler: past the context the window slides (the last `slide` tokens prefilled again), greedy equal to " +
    "the no-cache model on the same windows; sampled sequences agree solo and batched",
  async (gpu) => {
    const config = tinyConfig(true, 2);
    const T = config.model.max_seq_len; // 24
    const params = randomParams(config, 5);
    const pbuf = createBuffer(gpu.device, "generator params", params);
    const generator = new Generator(gpu, config, pbuf);
    const engine = servingEngine(gpu, config, params, { slots: 3, prefillRows: 48, maxChunk: 5 });
    const scheduler = new Scheduler(engine, { chunk: 5 });
    try {
      const slide = 17;
      const prompt = prompts[2];
      const n = 3 * T;
      // The reference: each token from the no-cache model over the window the scheduler holds. A token is fed at
      // position (its index − window start); one that would land past T − 1 first moves the window start so the
      // last `slide` tokens remain.
      const all = [...prompt];
      let start = 0;
      while (all.length < prompt.length + n) {
        if (all.length - 1 - start >= T) start = all.length - slide;
        const [next] = await generator.generate(all.slice(start), { maxTokens: 1, temperature: 0 });
        all.push(next);
      }
      const want = all.slice(prompt.length);
      const got = await scheduler.submit(request(prompt, n, { slide }));
      assert.deepEqual(got.tokens, want);
      assert.equal(got.finishReason, "length");
      // Without `slide` such a request is refused; it stops at the context when it fits.
      await assert.rejects(scheduler.submit(request(prompt, n)), RangeError);
      await assert.rejects(
        scheduler.submit(request(prompt, n, { slide: T })),
        /Cannot slide the window to 24/,
      );

      // Sampled, with penalties and logprobs: alone and beside other sequences, the same tokens.
      const sampled = [
        request(prompts[1], 2 * T, {
          temperature: 0.9,
          seed: 9,
          slide: 12,
          logprobs: 1,
          repetitionPenalty: 1.2,
        }),
        request(prompts[3], T, { temperature: 1.1, seed: 2, slide: 20, topK: 7 }),
        request(prompts[0], 9, { temperature: 0.8, seed: 4 }),
      ];
      const solo: GenerationResult[] = [];
      for (const r of sampled) solo.push(await scheduler.submit(r));
      const together = await Promise.all(sampled.map((r) => scheduler.submit(r)));
      together.forEach((r, i) => {
        assert.deepEqual(r.tokens, solo[i].tokens, `request ${i}`);
        assert.equal(r.tokens.length, sampled[i].maxTokens);
      });
      assert.equal(together[0].logprobs?.length, 2 * T);
    } finally {
      generator.destroy();
      engine.destroy();
    }
  },
);
