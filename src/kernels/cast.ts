/**
 * Launches kernels/cast.wgsl: f32 → f16 or bf16 packed two per u32 (the AMP copies of weights, matmul inputs and
 * gradients), optionally multiplied by the loss scale read from the GPU-side AMP state. No readback.
 */
import code from "../../kernels/cast.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";
import type { LowPrecision } from "./contracts.ts";

export const CAST: Kernel = { name: "cast", code };

const WG = 256;
const MAX_GRID = 4096;

/** Bytes of a packed low-precision copy of `n` elements (two per u32; at least one word). */
export function lowPrecisionBytes(n: number): number {
  return Math.max(1, Math.ceil(n / 2)) * 4;
}

/** Arguments of `castLowPrecision`. */
export interface CastArgs {
  /** (n) f32 values. */
  src: Binding;
  /** (ceil(n/2)) u32 words: element 2i in the low half of word i. */
  dst: Binding;
  n: number;
  dtype: LowPrecision;
  /** Multiply by the f32 at `state[slot]` (the loss scale) before rounding. */
  scale?: { state: Binding; slot: number };
}

/** `Params` of kernels/cast.wgsl. */
export const CAST_PARAMS = defineStruct("Params", {
  n: "u32",
  scale_slot: "u32",
  _pad0: "u32",
  _pad1: "u32",
});

/** Records dst = round(src [· scale]) in `dtype`, round to nearest even, overflow to ±inf. */
export function castLowPrecision(batch: CommandBatch, args: CastArgs): void {
  if (args.n === 0) return;
  const params = packStruct(CAST_PARAMS, { n: args.n, scale_slot: args.scale?.slot ?? 0 });
  const words = Math.ceil(args.n / 2);
  batch.run(
    CAST,
    args.scale ? "narrow_scaled" : "narrow_copy",
    { WG, BF16: args.dtype === "bfloat16" },
    [args.src, args.dst, batch.uniform(params), args.scale?.state],
    [Math.max(1, Math.min(MAX_GRID, Math.ceil(words / WG)))],
  );
}
