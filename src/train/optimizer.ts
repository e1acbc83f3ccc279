/**
 * The AdamW optimizer over the flat parameter buffer: moments in two more flat buffers, the global gradient norm
 * reduced and clipping applied on the GPU, decay per contiguous range of tensors (Linear weights decay; norms and
 * embeddings only when configured). Under AMP the loss-scale decision runs between the norm and the update, which
 * skips an overflowed step. Records into the step's batch; never reads back.
 */
import type { TrainingConfig } from "../config/mod.ts";
import { type CommandBatch, createBuffer, type Gpu } from "../gpu/mod.ts";
import { adamw, adamwHyper, gradNormScratchFloats, gradNormSquared } from "../kernels/optimizer.ts";
import { AMP_OVERFLOW_SLOT, AMP_STATE_SLOT, lossScaleUpdate } from "../kernels/amp.ts";
import type { LowPrecision } from "../kernels/contracts.ts";
import type { Layout } from "../model/mod.ts";

/** A contiguous range of the flat buffer with one weight-decay value. */
export interface DecayRange {
  offset: number;
  count: number;
  weightDecay: number;
}

/** Groups the layout into contiguous ranges of equal weight decay. */
export function decayRanges(layout: Layout, t: TrainingConfig): DecayRange[] {
  const ranges: DecayRange[] = [];
  for (const e of layout.entries) {
    const decays = e.kind === "linear" || (e.kind === "embedding" && t.decay_embeddings) ||
      (e.kind === "norm" && t.decay_norms);
    const wd = decays ? t.weight_decay : 0;
    const last = ranges.at(-1);
    if (last && last.weightDecay === wd) last.count = e.offset + e.size - last.offset;
    else ranges.push({ offset: e.offset, count: e.size, weightDecay: wd });
  }
  return ranges;
}

export class AdamW {
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  readonly ranges: DecayRange[];
  #scratch: GPUBuffer;

  constructor(readonly gpu: Gpu, readonly layout: Layout, readonly t: TrainingConfig) {
    const bytes = layout.total * 4;
    this.m = createBuffer(gpu.device, "adam m", bytes);
    this.v = createBuffer(gpu.device, "adam v", bytes);
    this.#scratch = createBuffer(gpu.device, "grad-norm scratch", gradNormScratchFloats(layout.total) * 4);
    this.ranges = decayRanges(layout, t);
  }

  /**
   * Records one update (step counts from 1): Σg² into scalars[normSlot], then AdamW with the clip factor computed
   * from it on the GPU. With `amp` (the engine's ampStep), the loss-scale state in the scalars (src/kernels/amp.ts)
   * is updated from that sum and AdamW skips the step when it was not finite.
   */
  step(
    batch: CommandBatch,
    a: {
      params: GPUBuffer;
      grads: GPUBuffer;
      scalars: GPUBuffer;
      normSlot: number;
      lr: number;
      step: number;
      amp?: { dtype: LowPrecision; growthInterval?: number };
    },
  ): void {
    const t = this.t;
    gradNormSquared(batch, {
      grads: a.grads,
      n: this.layout.total,
      scratch: this.#scratch,
      out: a.scalars,
      outSlot: a.normSlot,
    });
    if (a.amp) {
      lossScaleUpdate(batch, {
        scalars: a.scalars,
        normSlot: a.normSlot,
        stateSlot: AMP_STATE_SLOT,
        dtype: a.amp.dtype,
        growthInterval: a.amp.growthInterval,
      });
    }
    const hyper = adamwHyper(batch, {
      lr: a.lr,
      beta1: t.beta1,
      beta2: t.beta2,
      eps: t.adam_eps,
      step: a.step,
      clip: t.grad_clip,
    });
    for (const r of this.ranges) {
      adamw(batch, {
        params: a.params,
        grads: a.grads,
        m: this.m,
        v: this.v,
        offset: r.offset,
        count: r.count,
        normSq: a.scalars,
        normSlot: a.normSlot,
        hyper,
        weightDecay: r.weightDecay,
        skipSlot: a.amp ? AMP_OVERFLOW_SLOT : undefined,
      });
    }
  }

  destroy(): void {
    this.m.destroy();
    this.v.destroy();
    this.#scratch.destroy();
  }
}
