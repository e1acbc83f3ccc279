import assert from "node:assert/strict";
import { randomArray } from "../gpu/testing.ts";
import {
  applyLogitBias,
  applyPresenceFrequency,
  applyRepetitionPenalty,
  keptSet,
  logprobsReference,
  orderedKey,
  pcgHash,
  sampleReference,
  uniformAt,
} from "./sample.ts";

Deno.test("orderedKey preserves the order of floats, negatives and zero included", () => {
  const xs = [-1e30, -3.5, -1, -1e-20, 0, 1e-20, 0.5, 1, 7, 1e30];
  for (let i = 1; i < xs.length; i++) {
    assert(orderedKey(xs[i - 1]) < orderedKey(xs[i]), `${xs[i - 1]} < ${xs[i]}`);
  }
});

Deno.test("uniformAt is in [0, 1), differs by seed and counter, and looks uniform", () => {
  assert.equal(pcgHash(0), pcgHash(0));
  const seen = new Set<number>();
  let sum = 0;
  for (let c = 0; c < 4000; c++) {
    const u = uniformAt(42, c);
    assert(u >= 0 && u < 1);
    seen.add(u);
    sum += u;
  }
  assert(seen.size > 3990, `only ${seen.size} distinct values`);
  assert(Math.abs(sum / 4000 - 0.5) < 0.02, `mean ${sum / 4000}`);
  assert(uniformAt(1, 0) !== uniformAt(2, 0));
});

Deno.test("greedy and top_k = 1 take the first maximum", () => {
  const l = Float32Array.of(0.1, 2, -1, 2, 0.3);
  assert.equal(sampleReference(l, { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 }), 1);
  for (let c = 0; c < 20; c++) {
    assert.equal(sampleReference(l, { temperature: 1.5, topK: 1, topP: 1, seed: 3, counter: c }) % 2, 1);
  }
});

Deno.test("sampled frequencies follow softmax(l / T)", () => {
  const l = Float32Array.of(1, 0, 2, -1, 0.5);
  const T = 0.7;
  const p = Array.from(l, (x) => Math.exp(x / T));
  const z = p.reduce((a, b) => a + b, 0);
  const counts = new Array(l.length).fill(0);
  const n = 20000;
  for (let c = 0; c < n; c++) {
    counts[sampleReference(l, { temperature: T, topK: 0, topP: 1, seed: 9, counter: c })]++;
  }
  counts.forEach((k, i) => assert(Math.abs(k / n - p[i] / z) < 0.015, `token ${i}: ${k / n} vs ${p[i] / z}`));
});

Deno.test("top-k and top-p keep exactly the documented set", () => {
  for (let trial = 0; trial < 30; trial++) {
    const l = randomArray(37, 100 + trial, 3);
    const spec = {
      temperature: 0.5 + (trial % 4) * 0.3,
      topK: [0, 1, 5, 12][trial % 4],
      topP: [1, 0.9, 0.5, 0.2][trial % 3],
    };
    const allowed = keptSet(l, spec);
    const hits = new Set<number>();
    for (let c = 0; c < 400; c++) hits.add(sampleReference(l, { ...spec, seed: trial, counter: c }));
    for (const h of hits) assert(allowed.has(h), `trial ${trial}: ${h} outside the kept set`);
    if (spec.topK > 0) assert(allowed.size <= spec.topK);
  }
});

Deno.test("the repetition penalty divides seen positive logits and multiplies seen negative ones", () => {
  const logits = Float32Array.of(2, -1, 0, 3, -0.5, 1.5);
  const out = applyRepetitionPenalty(logits, [0, 1, 2, 4, 4, 9, -1], 2);
  assert.deepEqual([...out], [1, -2, 0, 3, -1, 1.5]);
  assert.deepEqual([...logits], [2, -1, 0, 3, -0.5, 1.5], "the input is left alone");
  assert.deepEqual([...applyRepetitionPenalty(logits, [0, 1], 1)], [...logits]);
  assert.deepEqual([...applyRepetitionPenalty(logits, [0, 1], 0)], [...logits]);
  // Greedy moves off a repeated maximum once the penalty brings it under the runner-up.
  const spec = { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 };
  assert.equal(sampleReference(logits, spec), 3);
  assert.equal(sampleReference(applyRepetitionPenalty(logits, [3], 2.5), spec), 0);
  assert.equal(sampleReference(applyRepetitionPenalty(logits, [3], 1.4), spec), 3);
});

Deno.test("presence and frequency penalties subtract presence + frequency·count from generated ids only", () => {
  const logits = Float32Array.of(2, -1, 0, 3, -0.5, 1.5);
  // id 3 generated 3 times, id 1 once, id 9 and -1 out of range; ids 0, 2, 4, 5 never generated.
  const out = applyPresenceFrequency(logits, [3, 1, 3, 3, 9, -1], 0.5, 0.25);
  assert.deepEqual([...out], [2, -1.75, 0, 1.75, -0.5, 1.5]);
  assert.deepEqual([...logits], [2, -1, 0, 3, -0.5, 1.5], "the input is left alone");
  assert.deepEqual([...applyPresenceFrequency(logits, [3, 1], 0, 0)], [...logits]);
  // Negative values reward repeats; they stack with the repetition penalty applied first.
  assert.deepEqual([...applyPresenceFrequency(logits, [5, 5], -1, -0.5)], [2, -1, 0, 3, -0.5, 3.5]);
  const both = applyPresenceFrequency(applyRepetitionPenalty(logits, [3, 1], 2), [3], 1, 0);
  assert.deepEqual([...both], [2, -2, 0, 0.5, -0.5, 1.5]);
  const spec = { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 };
  assert.equal(sampleReference(logits, spec), 3);
  assert.equal(sampleReference(applyPresenceFrequency(logits, [3, 3], 0.2, 0.5), spec), 0);
});

Deno.test("logprob records: log-softmax of the row, the top n best first with ties to the lower id", () => {
  const logits = Float32Array.of(1, 3, -2, 3, 0.5, 2);
  const r = logprobsReference(logits, 4, 3);
  const z = Array.from(logits, (l) => Math.exp(l)).reduce((a, b) => a + b, 0);
  assert(Math.abs(r.logprob - (0.5 - Math.log(z))) < 1e-12);
  assert.deepEqual(r.top.map((t) => t.id), [1, 3, 5]);
  assert(Math.abs(r.top[0].logprob - (3 - Math.log(z))) < 1e-12);
  assert.equal(r.top[0].logprob, r.top[1].logprob);
  assert.deepEqual(logprobsReference(logits, 4, 0).top, []);
  // A large common offset changes nothing (the max is subtracted before exp).
  const shifted = logprobsReference(logits.map((l) => l + 1000), 4, 2);
  assert(Math.abs(shifted.logprob - r.logprob) < 1e-9);
  const all = logprobsReference(randomArray(50, 3, 5), 0, 50);
  const mass = all.top.reduce((a, t) => a + Math.exp(t.logprob), 0);
  assert(Math.abs(mass - 1) < 1e-9, `probabilities sum to ${mass}`);
});

Deno.test("the logit bias adds to the listed ids only; +100 forces an id and −100 forbids one", () => {
  const logits = Float32Array.of(2, -1, 0, 3, -0.5, 1.5);
  const out = applyLogitBias(logits, [[1, 4.5], [3, -0.25], [9, 100], [-1, 100]]);
  assert.deepEqual([...out], [2, 3.5, 0, 2.75, -0.5, 1.5]);
  assert.deepEqual([...logits], [2, -1, 0, 3, -0.5, 1.5], "the input is left alone");
  assert.deepEqual([...applyLogitBias(logits, [])], [...logits]);
  // In f32, as the kernel adds it: 0.1 is not exact.
  assert.equal(applyLogitBias(Float32Array.of(1), [[0, 0.1]])[0], Math.fround(1 + Math.fround(0.1)));
  const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0, counter: 0 };
  assert.equal(sampleReference(logits, greedy), 3);
  assert.equal(sampleReference(applyLogitBias(logits, [[3, -100]]), greedy), 0);
  for (let c = 0; c < 200; c++) {
    const hot = { temperature: 1.5, topK: 0, topP: 1, seed: 4, counter: c };
    assert.equal(sampleReference(applyLogitBias(logits, [[4, 100]]), hot), 4);
    const banned = sampleReference(applyLogitBias(logits, [[3, -100], [0, -100]]), hot);
    assert.ok(banned !== 3 && banned !== 0, `draw ${c}: ${banned}`);
  }
});
