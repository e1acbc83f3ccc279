/**
 * Launches kernels/sample.wgsl: per-sequence token sampling on the GPU (greedy, temperature, top-k, top-p, seeded)
 * with a repetition penalty over per-slot seen-token bitmaps, writing the sampled id where the next decode step
 * reads it. The host-side layout of the per-sequence specs and bitmaps lives here too. Twin: src/reference/sample.ts.
 */
import code from "../../kernels/sample.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";
import type { SampleSpec } from "../reference/sample.ts";

export const SAMPLE: Kernel = { name: "sample", code };

/** Bytes of one Spec struct in the WGSL. */
export const SPEC_BYTES = 32;

/** One sequence's spec: its sampling settings and `dst`, the index of its next decode row. */
export interface GpuSampleSpec extends SampleSpec {
  dst: number;
  /** The counter whose token goes to output row `step` (default `counter`); later counters go to later rows. */
  start?: number;
}

/** u32 words of one seen-token bitmap over V ids. */
export function seenWords(V: number): number {
  return Math.ceil(V / 32);
}

/** The seen-token bitmap (words) of `ids`. */
export function seenBitmap(ids: Iterable<number>, V: number): Uint32Array {
  const out = new Uint32Array(seenWords(V));
  for (const id of ids) {
    if (id >= 0 && id < V) out[id >>> 5] |= 1 << (id & 31);
  }
  return out;
}

/** Packs specs into the (S) array<Spec> layout of the kernel. */
export function packSpecs(specs: GpuSampleSpec[]): Uint32Array {
  const out = new Uint32Array((specs.length * SPEC_BYTES) / 4);
  const f = new Float32Array(out.buffer);
  specs.forEach((s, i) => {
    const o = (i * SPEC_BYTES) / 4;
    out[o] = s.dst;
    out[o + 1] = s.seed >>> 0;
    out[o + 2] = s.counter >>> 0;
    out[o + 3] = s.topK > 0 ? s.topK : 0;
    f[o + 4] = s.temperature > 0 ? s.temperature : 0;
    f[o + 5] = s.topP > 0 && s.topP < 1 ? s.topP : 1;
    out[o + 6] = (s.start ?? s.counter) >>> 0;
    f[o + 7] = s.repetitionPenalty ?? 1;
  });
  return out;
}

/** One sampling launch over S rows of logits. */
export interface SampleArgs {
  /** (S,V); rescaled in place where a repetition penalty applies */
  logits: Binding;
  /** (S) packed by packSpecs; DECODE advances each counter */
  specs: Binding;
  /** u32, ids[dst] = sampled token */
  ids: Binding;
  /** u32 (steps,S): out[step·S + s] = sampled token */
  out: Binding;
  /** (rows) {slot, pos} u32 pairs; DECODE advances rows[dst].pos */
  rows: Binding;
  /** u32 (slots, seenWords(V)) bitmaps of the ids each slot has seen; the sampled id is added */
  seen: Binding;
  S: number;
  V: number;
  /** Output row of each spec's `start` counter. */
  step: number;
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
      batch.uniform(Uint32Array.of(a.V, a.S, a.step, seenWords(a.V))),
      a.seen,
    ],
    [a.S],
  );
}
