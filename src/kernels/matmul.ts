/**
 * Launches the dense matmul (kernels/matmul*.wgsl): C (M,N) = alpha · op(A) · op(B) [+ C], optionally batched, and
 * split along K into a scratch (then reduced) when the output has too few tiles to fill the GPU — the weight-gradient
 * Aᵀ·B case, where K = B·T is large and the output is a small (out, in) matrix. The AMP variants read f16 or bf16.
 */
import front from "../../kernels/matmul.wgsl" with { type: "text" };
import frontF16 from "../../kernels/matmul_f16.wgsl" with { type: "text" };
import frontBf16 from "../../kernels/matmul_bf16.wgsl" with { type: "text" };
import dense from "../../kernels/matmul_dense.wgsl" with { type: "text" };
import block from "../../kernels/matmul_block.wgsl" with { type: "text" };
import tile from "../../kernels/matmul_tile.wgsl" with { type: "text" };
import reg from "../../kernels/matmul_reg.wgsl" with { type: "text" };
import reg4 from "../../kernels/matmul_reg4.wgsl" with { type: "text" };
import {
  type Binding,
  bindingBytes,
  type CommandBatch,
  defineStruct,
  type Kernel,
  packStruct,
} from "../gpu/mod.ts";
import type { LowPrecision } from "./contracts.ts";
import { compose } from "./_wgsl.ts";

// Each module is the dense prelude + the shared tile loop + its input-type front (A/B bindings, element reads, extra
// entry points). The order matters to naga 29: with the front first, a module whose two entry points both reach the
// tile (matmul_f16/bf16) panics in pipeline creation (handlevec.rs assertion); the test that builds every pipeline
// guards it.
export const MATMUL: Kernel = { name: "matmul", code: compose(dense, block, tile, front) };
/** f16 A and B, f32 accumulation and C; compiled only when used (needs shader-f16). */
export const MATMUL_F16: Kernel = { name: "matmul_f16", code: compose(dense, block, tile, frontF16) };
/** bf16 A and B packed two per u32, f32 accumulation and C (no shader-f16 needed). */
export const MATMUL_BF16: Kernel = { name: "matmul_bf16", code: compose(dense, block, tile, frontBf16) };
/** The three modules again with the barrier-free core (kernels/matmul_reg.wgsl), for CPU adapters. */
export const MATMUL_REG: Kernel = { name: "matmul_reg", code: compose(dense, block, reg, front) };
export const MATMUL_REG_F16: Kernel = { name: "matmul_reg_f16", code: compose(dense, block, reg, frontF16) };
export const MATMUL_REG_BF16: Kernel = {
  name: "matmul_reg_bf16",
  code: compose(dense, block, reg, frontBf16),
};
/** f32 only: the barrier-free core reading A and B as vec4s (kernels/matmul_reg4.wgsl; rows aligned to 4 floats). */
export const MATMUL_REG4: Kernel = { name: "matmul_reg4", code: compose(dense, block, reg4) };

/**
 * The ways to run one matmul: the core (shared vec4 tiles with barriers; barrier-free register blocks; the same
 * reading vec4s, "vec4") and the threads per side of a workgroup (WX along N, WY along M; every thread computes
 * 8×8 outputs). The tile variants suit GPUs, the register ones CPU adapters; the tuner (src/kernels/tune.ts) times
 * them on the adapter. The vec4 core runs f32 only, on aligned shapes (matmulVariantFits).
 */
export const MATMUL_VARIANTS = {
  tile16: { core: "tile", wx: 16, wy: 16 },
  tile8: { core: "tile", wx: 8, wy: 8 },
  reg8: { core: "reg", wx: 8, wy: 8 },
  reg4: { core: "reg", wx: 4, wy: 4 },
  reg2: { core: "reg", wx: 2, wy: 4 },
  vec8: { core: "vec4", wx: 8, wy: 8 },
  vec4: { core: "vec4", wx: 4, wy: 4 },
  vec2: { core: "vec4", wx: 2, wy: 4 },
} as const;
/** A variant's name. */
export type MatmulVariant = keyof typeof MATMUL_VARIANTS;
/** Every variant, in a fixed order (the tuner's candidates, the tests' loop). */
export const MATMUL_VARIANT_NAMES = Object.keys(MATMUL_VARIANTS) as MatmulVariant[];

/** Workgroups a split-K matmul aims for: 2× the SM count of a large GPU (an H100/H200 has 132). */
export const SPLIT_TARGET_WORKGROUPS = 264;
/** The least K one split handles, so the partial sums stay a small share of the work. */
export const MIN_SPLIT_K = 256;
const BK = 8;

/** One matmul launch. Shapes: op(A) (M,K), op(B) (K,N), C (M,N). */
export interface MatmulArgs {
  a: Binding;
  b: Binding;
  c: Binding;
  M: number;
  K: number;
  N: number;
  /** A stored (K,M). */
  transA?: boolean;
  /** B stored (N,K). */
  transB?: boolean;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  alpha?: number;
  /** Independent matmuls along workgroup z, `strides` elements apart in A, B and C. */
  count?: number;
  strides?: [number, number, number];
  /**
   * Scratch of at least matmulScratchFloats(M, N, K, target) floats: enables split-K when the output is small.
   * Shared freely between matmuls of one batch (dispatches run in order).
   */
  scratch?: Binding;
  /** Workgroups split-K aims for (default SPLIT_TARGET_WORKGROUPS; 0 = never split). */
  splitTarget?: number;
  /** How to run it (default: defaultMatmulVariant for the adapter and shape). Results agree within f32 rounding. */
  variant?: MatmulVariant;
}

/** Threads per side of the workgroup: 16×16 (128×128 blocks) for large outputs, 8×8 (64×64) for thin ones. */
export function matmulTile(M: number, N: number): number {
  return M <= 64 || N <= 64 || M * N <= 128 * 128 * 16 ? 8 : 16;
}

/**
 * The variant a matmul runs when no tuned choice is given: on a GPU the shared-tile core sized by matmulTile, on a
 * CPU adapter the barrier-free 8×8-thread core.
 */
export function defaultMatmulVariant(isFallback: boolean, M: number, N: number): MatmulVariant {
  if (isFallback) return "reg8";
  return matmulTile(M, N) === 16 ? "tile16" : "tile8";
}

/**
 * Whether `variant` can run this call: the vec4 core needs f32 inputs and every row it reads to start on a 4-float
 * boundary (K a multiple of 4, M too with A stored (K,M), N with B stored (K,N), batch strides as well).
 */
export function matmulVariantFits(variant: MatmulVariant, args: MatmulArgs, f32: boolean): boolean {
  if (MATMUL_VARIANTS[variant].core !== "vec4") return true;
  const [sa, sb, sc] = args.strides ?? [0, 0, 0];
  return f32 && args.K % 4 === 0 && (!args.transA || args.M % 4 === 0) && (args.transB || args.N % 4 === 0) &&
    sa % 4 === 0 && sb % 4 === 0 && sc % 4 === 0;
}

/**
 * K chunks of a matmul: 1 when its output tiles already reach `target` workgroups, else enough chunks to reach it,
 * each at least MIN_SPLIT_K long (a multiple of the kernel's K slice). `variant` sets the output block of one
 * workgroup (default: the GPU default for the shape).
 */
export function matmulSplit(
  M: number,
  N: number,
  K: number,
  target = SPLIT_TARGET_WORKGROUPS,
  variant: MatmulVariant = defaultMatmulVariant(false, M, N),
): number {
  const v = MATMUL_VARIANTS[variant];
  const tiles = Math.ceil(M / (v.wy * 8)) * Math.ceil(N / (v.wx * 8));
  if (target <= 0 || tiles >= target) return 1;
  const wanted = Math.min(Math.ceil(target / tiles), Math.floor(K / MIN_SPLIT_K));
  if (wanted <= 1) return 1;
  const chunk = Math.ceil(K / wanted / BK) * BK;
  return Math.ceil(K / chunk);
}

/** Scratch floats a split-K launch of this shape needs (0 when it would not split). */
export function matmulScratchFloats(
  M: number,
  N: number,
  K: number,
  target = SPLIT_TARGET_WORKGROUPS,
): number {
  const s = matmulSplit(M, N, K, target);
  return s > 1 ? s * M * N : 0;
}

function checkScratch(scratch: Binding, splits: number, M: number, K: number, N: number): void {
  if (bindingBytes(scratch) < splits * M * N * 4) {
    throw new Error(
      `Cannot split matmul ${M}×${K}×${N} into ${splits}: the scratch holds ${
        bindingBytes(scratch) / 4
      } floats, ` +
        `${splits * M * N} needed (size it with matmulScratchFloats)`,
    );
  }
}

/** `Params` of kernels/matmul_dense.wgsl (every matmul module's prelude, and reduce_split). */
export const MATMUL_PARAMS = defineStruct("Params", {
  M: "u32",
  N: "u32",
  K: "u32",
  alpha: "f32",
  stride_a: "u32",
  stride_b: "u32",
  stride_c: "u32",
  k_chunk: "u32",
  splits: "u32",
  a_off: "u32",
  b_off: "u32",
  scale_slot: "u32",
});

/** C (+)= alpha · Σ partials: the second dispatch of a split-K matmul (f32 partials, whatever the inputs). */
function reduceSplit(batch: CommandBatch, scratch: Binding, args: MatmulArgs, splits: number): void {
  const { M, N, K } = args;
  const reduce = packStruct(MATMUL_PARAMS, {
    M,
    N,
    K,
    alpha: args.alpha ?? 1,
    stride_a: 0,
    stride_b: 0,
    stride_c: 0,
    k_chunk: 0,
    splits,
    a_off: 0,
    b_off: 0,
    scale_slot: 0,
  });
  batch.run(
    MATMUL,
    "reduce_split",
    { ACCUMULATE: !!args.accumulate },
    [scratch, undefined, args.c, batch.uniform(reduce)],
    [Math.min(Math.ceil((args.M * args.N) / 256), 1024)],
  );
}

/**
 * The variant the adapter's tuning table holds for this call's shape class, else the default (and the shape is
 * queued for the tuner). The class is everything that changes the work: module, shape, transposes, accumulation,
 * batch count, split-K target, the unscale entry.
 */
function tunedVariant(
  batch: CommandBatch,
  module: string,
  args: MatmulArgs,
  unscale: boolean,
): MatmulVariant {
  const { M, K, N } = args;
  const f32 = module === MATMUL.name;
  const fits = MATMUL_VARIANT_NAMES.filter((v) => matmulVariantFits(v, args, f32));
  // On a CPU adapter the vec4 core where it fits, else the scalar register core; on a GPU the tile core.
  const cpuFirst: MatmulVariant = fits.includes("vec8") ? "vec8" : "reg8";
  const first = batch.gpu.summary.isFallback ? cpuFirst : defaultMatmulVariant(false, M, N);
  const candidates = [first, ...fits.filter((v) => v !== first)];
  const spec = {
    module,
    M,
    K,
    N,
    transA: !!args.transA,
    transB: !!args.transB,
    accumulate: !!args.accumulate,
    count: args.count ?? 1,
    splitTarget: args.scratch && (args.count ?? 1) === 1 ? args.splitTarget ?? SPLIT_TARGET_WORKGROUPS : 0,
    unscale,
  };
  const shape =
    `${module} ${M}x${K}x${N} t${+spec.transA}${+spec.transB} a${+spec.accumulate} b${spec.count} ` +
    `s${spec.splitTarget}${unscale ? " u" : ""}`;
  return batch.gpu.tuning.choice("matmul", shape, candidates, spec) as MatmulVariant;
}

/**
 * Records the dispatch of one matmul from the variant's kernel's `entry`, or with a scratch and too few output tiles the split-K
 * dispatch and the f32 reduce. `lowPrecision` fills a_off, b_off, scale_slot and `state` binding 4 (the
 * low-precision fronts).
 */
function record(
  batch: CommandBatch,
  kernels: { tile: Kernel; reg: Kernel; vec4?: Kernel },
  entry: string,
  args: MatmulArgs,
  lowPrecision: { a_off: number; b_off: number; scale_slot: number } = { a_off: 0, b_off: 0, scale_slot: 0 },
  state?: Binding,
): void {
  const { M, K, N } = args;
  const variant = args.variant ?? tunedVariant(batch, kernels.tile.name, args, state !== undefined);
  const v = MATMUL_VARIANTS[variant];
  if (!v) {
    throw new Error(
      `Cannot run matmul: unknown variant '${variant}' (one of ${MATMUL_VARIANT_NAMES.join(", ")})`,
    );
  }
  const kernel = kernels[v.core];
  if (!kernel || !matmulVariantFits(variant, args, kernels.tile === MATMUL)) {
    throw new Error(
      `Cannot run matmul ${M}×${K}×${N} with variant '${variant}': its vec4 core needs f32 inputs and rows aligned ` +
        `to 4 floats (K, and M or N by the transposes, multiples of 4)`,
    );
  }
  const constants = { TRANS_A: !!args.transA, TRANS_B: !!args.transB, WX: v.wx, WY: v.wy };
  // A variant with smaller blocks than the default splits less; one with larger blocks is held to the default's
  // split count, which is what matmulScratchFloats sized the scratch for.
  const splits = args.scratch && (args.count ?? 1) === 1
    ? Math.min(matmulSplit(M, N, K, args.splitTarget, variant), matmulSplit(M, N, K, args.splitTarget))
    : 1;
  const grid = (
    z: number,
  ): [number, number, number] => [Math.ceil(N / (v.wx * 8)), Math.ceil(M / (v.wy * 8)), z];
  const bindings = (c: Binding, params: Uint8Array) => [args.a, args.b, c, batch.uniform(params), state];
  if (splits > 1) {
    const scratch = args.scratch!;
    checkScratch(scratch, splits, M, K, N);
    const chunk = Math.ceil(K / splits / BK) * BK;
    const params = packStruct(MATMUL_PARAMS, {
      M,
      N,
      K,
      alpha: 0, // the reduce applies it
      stride_a: 0,
      stride_b: 0,
      stride_c: M * N,
      k_chunk: chunk,
      splits,
      ...lowPrecision,
    });
    batch.run(
      kernel,
      entry,
      { ...constants, ACCUMULATE: false, SPLIT_K: true },
      bindings(scratch, params),
      grid(splits),
    );
    reduceSplit(batch, scratch, args, splits);
    return;
  }
  const [sa, sb, sc] = args.strides ?? [0, 0, 0];
  const params = packStruct(MATMUL_PARAMS, {
    M,
    N,
    K,
    alpha: args.alpha ?? 1,
    stride_a: sa,
    stride_b: sb,
    stride_c: sc,
    k_chunk: 0,
    splits: 0,
    ...lowPrecision,
  });
  batch.run(
    kernel,
    entry,
    { ...constants, ACCUMULATE: !!args.accumulate, SPLIT_K: false },
    bindings(args.c, params),
    grid(args.count ?? 1),
  );
}

/** Records one matmul (two dispatches when split along K) into `batch`. */
export function matmul(batch: CommandBatch, args: MatmulArgs): void {
  record(batch, { tile: MATMUL, reg: MATMUL_REG, vec4: MATMUL_REG4 }, "main", args);
}

/** One matmul whose A and B are stored in f16 or bf16 (the AMP copies); C and the accumulation stay f32. */
export interface LowPrecisionMatmulArgs extends MatmulArgs {
  /** float16 reads A and B as array<f16> (needs shader-f16); bfloat16 as u32 pairs (kernels/cast.wgsl's packing). */
  dtype: LowPrecision;
  /** First element of op(A) in `a` (a tensor inside a packed copy, where no binding offset can point). */
  aOffset?: number;
  /** First element of op(B) in `b`. */
  bOffset?: number;
  /** Multiply the result by 1/S, S the f32 at state[slot]: A or B holds gradients stored times the loss scale. */
  unscale?: { state: Binding; slot: number };
}

/**
 * Records one low-precision-input matmul (two dispatches when split along K; the f32 kernel's reduce sums the
 * partials). float16 needs an adapter with shader-f16.
 */
export function matmulLowPrecision(batch: CommandBatch, args: LowPrecisionMatmulArgs): void {
  if (args.dtype === "float16" && !batch.gpu.hasF16) {
    throw new Error(
      `Cannot run the f16 matmul on ${batch.gpu.summary.description}: the adapter lacks shader-f16`,
    );
  }
  const kernels = args.dtype === "float16"
    ? { tile: MATMUL_F16, reg: MATMUL_REG_F16 }
    : { tile: MATMUL_BF16, reg: MATMUL_REG_BF16 };
  const entry = args.unscale ? "main_unscale" : "main";
  const front = { a_off: args.aOffset ?? 0, b_off: args.bOffset ?? 0, scale_slot: args.unscale?.slot ?? 0 };
  record(batch, kernels, entry, args, front, args.unscale?.state);
}
