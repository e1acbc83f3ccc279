/**
 * Plain TypeScript twin of kernels/sample.wgsl: the GPU sampling contract (greedy argmax, or temperature with
 * top-k and top-p thresholds found by bitwise search over order-preserving float keys, then an index-order pick
 * with a counter-based per-sequence RNG; the logit bias, then the repetition penalty, then the presence and
 * frequency penalties, applied before, in vLLM's order) and the logprob records (log-softmax of the raw logits,
 * top-n). Not the host sampler of src/model/generate.ts (it sorts instead).
 */

import type { LogitBias, SampleSpec, TokenLogprob } from "../kernels/contracts.ts";

export type { LogitBias, SampleSpec, TokenLogprob };

/**
 * Logits after OpenAI's logit bias, as vLLM applies it before the penalties: each listed id's logit plus its bias,
 * in f32 as the kernel adds it. Ids outside [0, V) change nothing; +100 all but forces an id, −100 all but bans it.
 */
export function applyLogitBias(logits: Float32Array, bias: LogitBias): Float32Array {
  const out = Float32Array.from(logits);
  for (const [id, b] of bias) {
    if (id >= 0 && id < out.length) out[id] = out[id] + Math.fround(b);
  }
  return out;
}

/**
 * Logits after a CTRL-style repetition penalty (Keskar et al. 2019, as Hugging Face applies it): each id in
 * `seen` (prompt and generated tokens) has a positive logit divided by `penalty`, others multiplied by it, in f32.
 * A penalty of 1, or ≤ 0, changes nothing.
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  seen: Iterable<number>,
  penalty: number,
): Float32Array {
  const out = Float32Array.from(logits);
  if (!(penalty > 0) || penalty === 1) return out;
  const p = Math.fround(penalty);
  for (const id of new Set(seen)) {
    if (id < 0 || id >= out.length) continue;
    const l = out[id];
    out[id] = l > 0 ? l / p : l * p;
  }
  return out;
}

/**
 * Logits after OpenAI's presence and frequency penalties, as vLLM applies them after the repetition penalty: each
 * id generated c > 0 times (`generated` lists the sequence's generated ids, repeats included; not the prompt) has
 * presence + frequency·c subtracted, in f32 as the kernel computes it. Negative values reward repeats.
 */
export function applyPresenceFrequency(
  logits: Float32Array,
  generated: Iterable<number>,
  presence: number,
  frequency: number,
): Float32Array {
  const out = Float32Array.from(logits);
  if (presence === 0 && frequency === 0) return out;
  const counts = new Map<number, number>();
  for (const id of generated) if (id >= 0 && id < out.length) counts.set(id, (counts.get(id) ?? 0) + 1);
  const p = Math.fround(presence);
  const f = Math.fround(frequency);
  for (const [id, c] of counts) out[id] = out[id] - Math.fround(p + Math.fround(f * c));
  return out;
}

/**
 * One row's logits as the sampler picks from them, in the kernel's order: the logit bias, then the repetition
 * penalty over `seen` (prompt and generated ids), then the presence/frequency penalties over `generated`.
 */
export function processLogits(
  logits: Float32Array,
  spec: Pick<SampleSpec, "logitBias" | "repetitionPenalty" | "presencePenalty" | "frequencyPenalty">,
  seen: Iterable<number>,
  generated: Iterable<number>,
): Float32Array {
  const biased = applyLogitBias(logits, spec.logitBias ?? []);
  const repeated = applyRepetitionPenalty(biased, seen, spec.repetitionPenalty ?? 1);
  return applyPresenceFrequency(repeated, generated, spec.presencePenalty ?? 0, spec.frequencyPenalty ?? 0);
}

/**
 * The logprob record the kernel writes for `token` over one row of raw logits (V): log-softmax(logits)[token] and
 * the n largest entries (ties to the lower index), computed in f64.
 */
export function logprobsReference(logits: Float32Array, token: number, n: number): TokenLogprob {
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  let sum = 0;
  for (const l of logits) sum += Math.exp(l - max);
  const norm = max + Math.log(sum);
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  return {
    logprob: logits[token] - norm,
    top: order.slice(0, n).map((id) => ({ id, logprob: logits[id] - norm })),
  };
}

/** PCG hash (O'Neill's RXS-M-XS output on one LCG step), as the WGSL computes it in u32 arithmetic. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The uniform in [0, 1) that token `counter` of a sequence seeded `seed` draws (24 bits, exact in f32). */
export function uniformAt(seed: number, counter: number): number {
  const h = pcgHash((seed ^ pcgHash((counter ^ 0x9e3779b9) >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Order-preserving u32 key of an f32: a < b ⇔ key(a) < key(b) (for non-NaN values). */
export function orderedKey(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** Largest key t such that pred(t) holds, bit by bit from the top (pred must be monotone: true, then false). */
function searchKey(pred: (t: number) => boolean): number {
  let t = 0;
  for (let b = 31; b >= 0; b--) {
    const cand = (t | (1 << b)) >>> 0;
    if (pred(cand)) t = cand;
  }
  return t;
}

/**
 * The token kernels/sample.wgsl picks from one row of logits (V). Greedy takes the first maximum. Otherwise the
 * kept set is {i : key_i ≥ k-th largest key} (ties at the threshold all kept) narrowed to the smallest set of
 * top weights reaching top_p of the kept mass; weights are exp((l − max)/temperature); the pick is the first
 * index (in index order) whose running kept mass exceeds u · kept total.
 */
export function sampleReference(logits: Float32Array, spec: SampleSpec): number {
  const V = logits.length;
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
  if (!(spec.temperature > 0)) return best;
  const keys = Uint32Array.from(logits, orderedKey);
  let kth = 0;
  if (spec.topK > 0 && spec.topK < V) {
    kth = searchKey((t) => keys.reduce((n, k) => n + (k >= t ? 1 : 0), 0) >= spec.topK);
  }
  const max = logits[best];
  const w = Float32Array.from(
    logits,
    (l, i) => (keys[i] >= kth ? Math.exp((l - max) / spec.temperature) : 0),
  );
  const massAbove = (t: number) => w.reduce((s, x, i) => s + (keys[i] >= t ? x : 0), 0);
  let threshold = kth;
  if (spec.topP < 1) {
    const target = spec.topP * massAbove(kth);
    threshold = Math.max(kth, searchKey((t) => massAbove(t) >= target));
  }
  const total = massAbove(threshold);
  const r = uniformAt(spec.seed, spec.counter) * total;
  let run = 0;
  for (let i = 0; i < V; i++) {
    if (keys[i] < threshold) continue;
    run += w[i];
    if (run > r) return i;
  }
  return best;
}

/** The set of token ids sampleReference may return for these settings (for membership tests). */
export function keptSet(logits: Float32Array, spec: Omit<SampleSpec, "seed" | "counter">): Set<number> {
  const out = new Set<number>();
  const V = logits.length;
  const keys = Uint32Array.from(logits, orderedKey);
  const ranked = Array.from(keys.keys()).sort((a, b) => keys[b] - keys[a]);
  const k = spec.topK > 0 && spec.topK < V ? spec.topK : V;
  const kth = keys[ranked[k - 1]];
  const max = logits[ranked[0]];
  const kept = ranked.filter((i) => keys[i] >= kth);
  const w = kept.map((i) => Math.exp((logits[i] - max) / spec.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let mass = 0;
  for (let j = 0; j < kept.length; j++) {
    out.add(kept[j]);
    mass += w[j];
    if (spec.topP < 1 && mass >= spec.topP * total && keys[kept[j + 1]] !== keys[kept[j]]) break;
  }
  return out;
}
