/**
 * Launches kernels/optimizer.wgsl: the deterministic global gradient-norm reduction, AdamW with on-GPU clipping and
 * an in-place scale. Nothing here reads back; the learning rate comes from the host schedule (src/train/schedule.ts).
 */
import code from "../../kernels/optimizer.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";

export const OPTIMIZER: Kernel = { name: "optimizer", code };

/** skipSlot of an update that never skips (kernels/optimizer.wgsl's NO_SKIP). */
const NO_SKIP = 0xffffffff;
/** Threads per workgroup of every entry point. */
const WG = 256;
/** Most workgroups of the first reduction stage; the second stage reduces their partials in one workgroup. */
const MAX_PARTIALS = 1024;
/** Elements each thread of the first stage reads at least, so small inputs use few workgroups. */
const PER_THREAD = 8;
/** Most workgroups of the elementwise entry points (they loop over the rest). */
const MAX_GRID = 4096;

function grid(n: number): number {
  return Math.max(1, Math.min(MAX_GRID, Math.ceil(n / WG)));
}

/** Floats of scratch that `gradNormSquared` needs for `n` gradients (the first stage's partial sums). */
export function gradNormScratchFloats(n: number): number {
  return Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / (WG * PER_THREAD))));
}

/** Arguments of `gradNormSquared`. */
export interface GradNormArgs {
  /** (n) gradients, e.g. the whole flat dparams buffer (padding between tensors must be zero). */
  grads: Binding;
  n: number;
  /** (≥ gradNormScratchFloats(n)) f32 scratch. */
  scratch: Binding;
  /** f32 buffer; out[outSlot] receives Σ grads². */
  out: Binding;
  outSlot: number;
  /** out[outSlot] += Σ grads² instead of =, to combine several gradient buffers into one norm. */
  accumulate?: boolean;
}

/**
 * Records out[outSlot] = Σ grads² as a two-stage reduction in a fixed order (no atomics), so the same input always
 * gives the same bits. One dispatch when n is small, two otherwise.
 */
export function gradNormSquared(batch: CommandBatch, args: GradNormArgs): void {
  const { n, outSlot } = args;
  const partials = gradNormScratchFloats(n);
  const accumulate = !!args.accumulate;
  if (partials === 1) {
    reduce(batch, args.grads, args.out, n, outSlot, 1, true, accumulate);
    return;
  }
  reduce(batch, args.grads, args.scratch, n, 0, partials, true, false);
  reduce(batch, args.scratch, args.out, partials, outSlot, 1, false, accumulate);
}

/** `ReduceParams` of kernels/optimizer.wgsl. */
export const REDUCE_PARAMS = defineStruct("ReduceParams", {
  n: "u32",
  out_slot: "u32",
  _pad0: "u32",
  _pad1: "u32",
});
/** `Hyper` of kernels/optimizer.wgsl. */
export const HYPER = defineStruct("Hyper", {
  lr: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  step_size: "f32",
  bc2_sqrt: "f32",
  clip: "f32",
  _pad: "f32",
});
/** `Range` of kernels/optimizer.wgsl. */
export const RANGE = defineStruct("Range", {
  offset: "u32",
  count: "u32",
  norm_slot: "u32",
  weight_decay: "f32",
  skip_slot: "u32",
  _pad0: "u32",
  _pad1: "u32",
  _pad2: "u32",
});
/** `ScaleParams` of kernels/optimizer.wgsl. */
export const SCALE_PARAMS = defineStruct("ScaleParams", {
  n: "u32",
  scale: "f32",
  _pad0: "u32",
  _pad1: "u32",
});

function reduce(
  batch: CommandBatch,
  x: Binding, // (n)
  out: Binding, // (≥ slot + workgroups)
  n: number,
  slot: number,
  workgroups: number,
  square: boolean,
  accumulate: boolean,
): void {
  const params = packStruct(REDUCE_PARAMS, { n, out_slot: slot });
  batch.run(
    OPTIMIZER,
    "sum_squares",
    { WG, SQUARE: square, ACCUMULATE: accumulate },
    [x, out, batch.uniform(params)],
    [workgroups],
  );
}

/** Per-step AdamW hyperparameters; `step` counts from 1 (the first update is step 1). */
export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  step: number;
  /** Max global gradient norm; 0 turns clipping off. */
  clip: number;
}

/** Returns the per-step uniform of `adamw` (bias corrections computed here in double precision, like torch). */
export function adamwHyper(batch: CommandBatch, h: AdamwHyper): Binding {
  if (!(h.step >= 1) || !Number.isInteger(h.step)) {
    throw new Error(`Cannot build AdamW hyperparameters: step ${h.step} is not an integer ≥ 1`);
  }
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const { lr, beta1, beta2, eps, clip } = h;
  return batch.uniform(
    packStruct(HYPER, { lr, beta1, beta2, eps, step_size: h.lr / bc1, bc2_sqrt: Math.sqrt(bc2), clip }),
  );
}

/** Arguments of `adamw`. All tensors are flat f32 buffers sharing one layout (src/model/layout.ts). */
export interface AdamwArgs {
  /** (P) parameters, updated in place. */
  params: Binding;
  /** (P) gradients (not modified: the clip factor is applied on the fly). */
  grads: Binding;
  /** (P) first moment. */
  m: Binding;
  /** (P) second moment. */
  v: Binding;
  /** First element of the range to update. */
  offset: number;
  /** Elements in the range. */
  count: number;
  /** f32 buffer holding Σ grads² (from gradNormSquared) at normSlot. */
  normSq: Binding;
  normSlot: number;
  /** The uniform from adamwHyper() for this step. */
  hyper: Binding;
  /** Decoupled weight decay of this range (0 for norms and embeddings). */
  weightDecay: number;
  /** AMP: normSq[skipSlot] ≠ 0 (an overflowed step, see src/kernels/amp.ts) leaves everything unchanged. */
  skipSlot?: number;
}

/**
 * Records one AdamW update of params[offset, offset + count): clip factor min(1, clip / (‖g‖ + 1e-6)) from normSq,
 * p ← p·(1 − lr·wd), then Adam with bias correction — torch's clip_grad_norm_ followed by torch.optim.AdamW.
 * With skipSlot, nothing changes when that flag is set (an AMP step whose gradients were not finite).
 */
export function adamw(batch: CommandBatch, args: AdamwArgs): void {
  const { offset, count } = args;
  if (count === 0) return;
  const range = packStruct(RANGE, {
    offset,
    count,
    norm_slot: args.normSlot,
    weight_decay: args.weightDecay,
    skip_slot: args.skipSlot ?? NO_SKIP,
  });
  batch.run(
    OPTIMIZER,
    "adamw",
    { WG },
    [args.params, args.grads, args.m, args.v, args.normSq, args.hyper, batch.uniform(range)],
    [grid(count)],
  );
}

/** Arguments of `scaleInPlace`. */
export interface ScaleArgs {
  /** (n) values, scaled in place. */
  x: Binding;
  n: number;
  scale: number;
}

/** Records x[0, n) *= scale (e.g. averaging accumulated gradients). */
export function scaleInPlace(batch: CommandBatch, args: ScaleArgs): void {
  if (args.n === 0) return;
  const params = packStruct(SCALE_PARAMS, { n: args.n, scale: args.scale });
  batch.run(OPTIMIZER, "scale", { WG }, [args.x, batch.uniform(params)], [grid(args.n)]);
}
