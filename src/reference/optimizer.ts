/**
 * Plain-TypeScript twin of kernels/optimizer.wgsl: the global gradient norm and one AdamW step with torch's
 * clip_grad_norm_ semantics. The oracle of the GPU optimizer tests; not used for training.
 */

/** Options of one AdamW step. `step` counts from 1. */
export interface AdamwOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  /** Max global gradient norm; 0 turns clipping off. */
  clip: number;
  /** First element to update (default 0). The clip norm is still taken over all of `grads`. */
  offset?: number;
  /** Elements to update (default: to the end). */
  count?: number;
}

/** ‖g‖₂ over one array or over several (the global norm of all parameters' gradients), in double precision. */
export function globalNorm(grads: ArrayLike<number> | ArrayLike<number>[]): number {
  const parts = Array.isArray(grads) && typeof grads[0] !== "number"
    ? grads as ArrayLike<number>[]
    : [grads as ArrayLike<number>];
  let s = 0;
  for (const g of parts) {
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  }
  return Math.sqrt(s);
}

/** torch.nn.utils.clip_grad_norm_'s factor: min(1, clip / (norm + 1e-6)); 1 when clip is 0. */
export function clipFactor(norm: number, clip: number): number {
  return clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
}

/**
 * One AdamW step in place on params[offset, offset + count) (all arrays (P)): gradients scaled by the clip factor of
 * the global norm of `grads`, p ← p·(1 − lr·wd), m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²,
 * p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps).
 */
export function adamwStep(
  params: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  o: AdamwOptions,
): void {
  const offset = o.offset ?? 0;
  const count = o.count ?? params.length - offset;
  if (offset < 0 || count < 0 || offset + count > params.length) {
    throw new Error(
      `Cannot run AdamW: range [${offset}, ${offset + count}) is outside ${params.length} params`,
    );
  }
  for (const [name, a] of [["grads", grads], ["m", m], ["v", v]] as const) {
    if (a.length !== params.length) {
      throw new Error(`Cannot run AdamW: ${name} has ${a.length} elements, params ${params.length}`);
    }
  }
  const coef = clipFactor(globalNorm(grads), o.clip);
  const decay = 1 - o.lr * o.weightDecay;
  const stepSize = o.lr / (1 - o.beta1 ** o.step);
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** o.step);
  for (let i = offset; i < offset + count; i++) {
    const g = grads[i] * coef;
    m[i] = m[i] + (1 - o.beta1) * (g - m[i]);
    v[i] = v[i] * o.beta2 + (1 - o.beta2) * g * g;
    params[i] = params[i] * decay - stepSize * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + o.eps);
  }
}
