/**
 * Plain-TS twins of the mixed-precision kernels: f32 → f16 / bf16 rounding (round to nearest even, overflow to
 * ±inf, NaN kept), the two-per-u32 packing kernels/cast.wgsl writes, and the dynamic loss-scale update of
 * kernels/loss_scale_amp.wgsl. The oracle of their GPU contract tests; not used at run time.
 */

import type { LowPrecision } from "../kernels/contracts.ts";

export type { LowPrecision };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of an f32 (after Math.fround). */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The f32 whose bits are `b`. */
export function f32FromBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0];
}

/** f32 → IEEE half bits, round to nearest even; beyond 65504 (after rounding) → ±inf, NaN → quiet NaN. */
export function f16Bits(x: number): number {
  const u = f32Bits(x);
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man !== 0 ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = man | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

/** IEEE half bits → number (exact). */
export function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** f32 → bfloat16 bits (the upper half of the f32), round to nearest even; NaN stays a quiet NaN. */
export function bf16Bits(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits → number (exact). */
export function bf16Value(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

/** Rounds every element to `dtype` and back to a number (what a kernel reading the low-precision copy sees). */
export function roundTo(x: ArrayLike<number>, dtype: LowPrecision): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    out[i] = dtype === "float16" ? f16Value(f16Bits(x[i])) : bf16Value(bf16Bits(x[i]));
  }
  return out;
}

/**
 * The packed words kernels/cast.wgsl writes for `x · scale`: element 2i in the low half of word i, 2i+1 in the
 * high half (zero past the end). The product is rounded to f32 first, as on the GPU.
 */
export function packLowPrecision(x: ArrayLike<number>, dtype: LowPrecision, scale = 1): Uint32Array {
  const out = new Uint32Array(Math.ceil(x.length / 2));
  const bits = dtype === "float16" ? f16Bits : bf16Bits;
  for (let i = 0; i < x.length; i++) {
    const b = bits(Math.fround(x[i] * scale));
    out[i >> 1] |= (i & 1) === 0 ? b : b << 16;
  }
  return out;
}

/** The AMP state that lives in four f32 slots of the engine's scalars buffer. */
export interface AmpState {
  /** The loss scale S that gradients are multiplied by when they are stored in f16. */
  scale: number;
  /** Clean (finite) steps since the last change of the scale. */
  clean: number;
  /** Steps skipped for a non-finite gradient since training (re)started. */
  skipped: number;
  /** 1 when the latest step was skipped (AdamW reads this), else 0. */
  overflow: number;
}

/**
 * One step of dynamic loss scaling, given Σg² of the step's gradients: non-finite → skip the step, halve the
 * scale (when dynamic), reset the clean count; finite → count it, doubling the scale after `growthInterval`
 * clean steps (when dynamic).
 */
export function ampUpdate(s: AmpState, normSq: number, growthInterval: number, dynamic: boolean): AmpState {
  if (!Number.isFinite(Math.fround(normSq))) {
    return { scale: dynamic ? s.scale * 0.5 : s.scale, clean: 0, skipped: s.skipped + 1, overflow: 1 };
  }
  const clean = s.clean + 1;
  if (dynamic && clean >= growthInterval) {
    return { scale: s.scale * 2, clean: 0, skipped: s.skipped, overflow: 0 };
  }
  return { scale: s.scale, clean, skipped: s.skipped, overflow: 0 };
}
