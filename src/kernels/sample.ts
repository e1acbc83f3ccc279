/**
 * Launches kernels/sample.wgsl: per-sequence token sampling on the GPU (greedy, temperature, top-k, top-p, seeded)
 * with a logit bias (a per-sequence (id, bias) list) and repetition, presence and frequency penalties over per-slot
 * state (a seen-token bitmap, then the counts of generated ids), writing the sampled id where the next decode step
 * reads it, and, when asked, each sampled id's log-probability with the top-n alternatives; `promptLogprobs` scores
 * prefill rows the same way. The host-side layouts of the specs, bias lists, slot state and logprob records live
 * here too. Twin: src/reference/sample.ts.
 */
import code from "../../kernels/sample.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";
import type { LogitBias, SampleSpec, TokenLogprob } from "./contracts.ts";

export const SAMPLE: Kernel = { name: "sample", code };

/** Bytes of one Spec struct in the WGSL. */
export const SPEC_BYTES = 56;

/** Most (id, bias) pairs one sequence's logit bias may list (OpenAI's limit for `logit_bias`; the WGSL's LB). */
export const MAX_LOGIT_BIAS = 300;

/** Most top entries a logprob record holds (OpenAI's limit for `logprobs`). */
export const LOGPROB_TOP_MAX = 5;

/** u32 words per logprob record: the logprob, LOGPROB_TOP_MAX ids, their logprobs (f32 as bits). */
export const LOGPROB_WORDS = 1 + 2 * LOGPROB_TOP_MAX;

/** The `targets` entry of a prefill row that is not scored. */
export const NO_TARGET = 0xffffffff;

/** One sequence's spec: its sampling settings and `dst`, the index of its next decode row. */
export interface GpuSampleSpec extends SampleSpec {
  dst: number;
  /** The counter whose token goes to output row `step` (default `counter`); later counters go to later rows. */
  start?: number;
  /** Record the sampled id's logprob and this many top alternatives (0 to LOGPROB_TOP_MAX); absent: off. */
  logprobs?: number;
  /** Where `logitBias` sits in the launch's bias buffer (in pairs, as packLogitBias wrote it); needed with one. */
  biasOffset?: number;
}

/** u32 words of one seen-token bitmap over V ids. */
export function seenWords(V: number): number {
  return Math.ceil(V / 32);
}

/** u32 words of one slot's sampling state: the seen bitmap, then a count per id of the ids generated so far. */
export function slotWords(V: number): number {
  return seenWords(V) + V;
}

/** The seen-token bitmap (words) of `ids`. */
export function seenBitmap(ids: Iterable<number>, V: number): Uint32Array {
  const out = new Uint32Array(seenWords(V));
  for (const id of ids) {
    if (id >= 0 && id < V) out[id >>> 5] |= 1 << (id & 31);
  }
  return out;
}

/** A logit bias as the kernel's bias buffer holds it: (id, f32 bias bits) u32 pairs. */
export function packLogitBias(bias: LogitBias): Uint32Array {
  const out = new Uint32Array(2 * bias.length);
  const f = new Float32Array(out.buffer);
  bias.forEach(([id, b], k) => {
    out[2 * k] = id;
    f[2 * k + 1] = b;
  });
  return out;
}

/** Packs specs into the (S) array<Spec> layout of the kernel. */
export function packSpecs(specs: GpuSampleSpec[]): Uint32Array {
  const out = new Uint32Array((specs.length * SPEC_BYTES) / 4);
  const f = new Float32Array(out.buffer);
  specs.forEach((s, i) => {
    const o = (i * SPEC_BYTES) / 4;
    const biased = s.logitBias?.length ?? 0;
    if (biased > 0 && s.biasOffset === undefined) {
      throw new Error(
        `Cannot pack sampling spec ${i}: it has a logit bias of ${biased} ids but no biasOffset`,
      );
    }
    if (biased > MAX_LOGIT_BIAS) {
      throw new RangeError(
        `Cannot pack sampling spec ${i}: a logit bias of ${biased} ids, at most ${MAX_LOGIT_BIAS}`,
      );
    }
    out[o] = s.dst;
    out[o + 1] = s.seed >>> 0;
    out[o + 2] = s.counter >>> 0;
    out[o + 3] = s.topK > 0 ? s.topK : 0;
    f[o + 4] = s.temperature > 0 ? s.temperature : 0;
    f[o + 5] = s.topP > 0 && s.topP < 1 ? s.topP : 1;
    out[o + 6] = (s.start ?? s.counter) >>> 0;
    f[o + 7] = s.repetitionPenalty ?? 1;
    f[o + 8] = s.presencePenalty ?? 0;
    f[o + 9] = s.frequencyPenalty ?? 0;
    out[o + 10] = s.logprobs === undefined ? 0 : 1 + Math.min(LOGPROB_TOP_MAX, Math.max(0, s.logprobs));
    out[o + 11] = biased > 0 ? s.biasOffset! : 0;
    out[o + 12] = biased;
  });
  return out;
}

/** Record `i` of `records` (LOGPROB_WORDS each) with its first `n` top entries; ids ≥ V (no such entry) dropped. */
export function readLogprob(records: Uint32Array, i: number, n: number, V: number): TokenLogprob {
  const o = i * LOGPROB_WORDS;
  const f = new Float32Array(records.buffer, records.byteOffset, records.length);
  const top: TokenLogprob["top"] = [];
  for (let j = 0; j < Math.min(n, LOGPROB_TOP_MAX); j++) {
    const id = records[o + 1 + j];
    if (id < V) top.push({ id, logprob: f[o + 1 + LOGPROB_TOP_MAX + j] });
  }
  return { logprob: f[o], top };
}

/** One sampling launch over S rows of logits. */
export interface SampleArgs {
  /** (S,V); rescaled in place where a penalty applies */
  logits: Binding;
  /** (S) packed by packSpecs; DECODE advances each counter */
  specs: Binding;
  /** u32, ids[dst] = sampled token */
  ids: Binding;
  /** u32: out[step·S + s] = sampled token; its logprob record at lpBase + (step·S + s)·LOGPROB_WORDS */
  out: Binding;
  /** (rows) {slot, pos} u32 pairs; DECODE advances rows[dst].pos */
  rows: Binding;
  /** u32 (slots, slotWords(V)): each slot's seen bitmap (the sampled id is added), then its generated-id counts
   * (the sampled id's count grows when the spec has a presence or frequency penalty) */
  seen: Binding;
  /** (S,V) f32 scratch: the raw logits of the ids a bias or penalty changes, kept for the logprob records */
  raw: Binding;
  /** u32 (pairs,2): the specs' logit bias lists (packLogitBias), at their biasOffset; read only where one is set */
  bias: Binding;
  S: number;
  V: number;
  /** Output row of each spec's `start` counter. */
  step: number;
  /** u32 index in `out` of the first logprob record (only written for specs with `logprobs`). */
  lpBase: number;
  /** Advance positions and counters for the next decode step (false for the prefill's first token). */
  decode: boolean;
}

/** Records one sampling dispatch (one workgroup per sequence). */
export function sample(batch: CommandBatch, a: SampleArgs): void {
  if (a.S === 0) return;
  batch.run(
    SAMPLE,
    "main",
    { DECODE: a.decode },
    [
      a.logits,
      a.specs,
      a.ids,
      a.out,
      a.rows,
      batch.uniform(Uint32Array.of(a.V, a.S, a.step, seenWords(a.V), a.lpBase, 0, 0, 0)),
      a.seen,
      a.raw,
      undefined, // binding 8: prompt_logprobs' targets
      a.bias,
    ],
    [a.S],
  );
}

/** Prompt logprobs for R prefill rows whose head outputs are `logits`. */
export interface PromptLogprobsArgs {
  /** (R,V) raw logits of prefill rows row0 .. row0 + R − 1 */
  logits: Binding;
  /** u32 (rows): the next prompt id of each prefill row, or NO_TARGET for a row not scored */
  targets: Binding;
  /** u32: the record of prefill row r lands at lpBase + r·LOGPROB_WORDS */
  out: Binding;
  R: number;
  V: number;
  row0: number;
  lpBase: number;
  /** Top entries per record (0 to LOGPROB_TOP_MAX). */
  topN: number;
}

/** Records one prompt_logprobs dispatch (one workgroup per row). */
export function promptLogprobs(batch: CommandBatch, a: PromptLogprobsArgs): void {
  if (a.R === 0) return;
  const n = Math.min(LOGPROB_TOP_MAX, Math.max(0, a.topN));
  const params = Uint32Array.of(a.V, a.R, 0, seenWords(a.V), a.lpBase, a.row0, n, 0);
  batch.run(
    SAMPLE,
    "prompt_logprobs",
    {},
    // bindings 0 (logits), 3 (out), 5 (params) and 8 (targets); the sampler's others are unused
    [
      a.logits,
      undefined,
      undefined,
      a.out,
      undefined,
      batch.uniform(params),
      undefined,
      undefined,
      a.targets,
    ],
    [a.R],
  );
}
