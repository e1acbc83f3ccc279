/**
 * Launches kernels/rope.wgsl: rotary position embedding applied in place to q or k (B,T,H,HS), or its transpose
 * for the backward. Not the attention itself (attention.ts).
 */
import code from "../../kernels/rope.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";

export const ROPE: Kernel = { name: "rope", code };

const THREADS = 256;
const MAX_HS = 128;

/** One in-place RoPE launch over x (B,T,H,HS). */
export interface RopeArgs {
  /** (B,T,H,HS), read and rotated in place. */
  x: Binding;
  B: number;
  T: number;
  H: number;
  HS: number;
  /** rope_theta (10000 in Llama). */
  theta: number;
  /** Position of t = 0 (default 0); for KV-cache decoding. */
  pos0?: number;
  /** Apply Rᵀ instead of R: the backward, dx = Rᵀ·dout, also in place. */
  inverse?: boolean;
}

/**
 * inv_freq_i = theta^(−2i/HS) for i < HS/2, rounded to f32 step by step as torch_reference.py computes it
 * (f32 exponent, f32 power, f32 reciprocal), so angles pos·inv_freq match torch bit for bit.
 */
export function ropeFrequencies(HS: number, theta: number): Float32Array {
  const out = new Float32Array(HS / 2);
  for (let i = 0; i < HS / 2; i++) {
    const exponent = Math.fround((2 * i) / HS);
    out[i] = Math.fround(1 / Math.fround(Math.pow(theta, exponent)));
  }
  return out;
}

/** `Params` of kernels/rope.wgsl. */
export const ROPE_PARAMS = defineStruct("Params", {
  pairs: "u32",
  T: "u32",
  H: "u32",
  HS: "u32",
  pos0: "u32",
  _pad0: "u32",
  _pad1: "u32",
  _pad2: "u32",
  inv_freq: "array<vec4<f32>, 16>", // MAX_HS / 2 frequencies, four per vec4
});

/** Records one in-place RoPE dispatch (forward, or with `inverse` its backward) into `batch`. */
export function rope(batch: CommandBatch, args: RopeArgs): void {
  const { B, T, H, HS, theta, pos0 = 0, inverse = false } = args;
  if (HS % 2 !== 0 || HS < 2 || HS > MAX_HS) {
    throw new Error(`Cannot apply RoPE: head size ${HS} must be even and at most ${MAX_HS}`);
  }
  if (!Number.isInteger(pos0) || pos0 < 0) {
    throw new Error(`Cannot apply RoPE: pos0 ${pos0} must be a non-negative integer`);
  }
  const pairs = B * T * H * (HS / 2);
  if (pairs === 0) return;
  const params = packStruct(ROPE_PARAMS, { pairs, T, H, HS, pos0, inv_freq: ropeFrequencies(HS, theta) });
  batch.run(
    ROPE,
    "main",
    { INVERSE: inverse },
    [args.x, batch.uniform(params)],
    elementwiseGrid(batch, pairs, THREADS),
  );
}
