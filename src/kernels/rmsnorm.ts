/**
 * Launches kernels/rmsnorm.wgsl (a workgroup per row, for a GPU) or kernels/rmsnorm_cpu.wgsl (an invocation per row,
 * for a CPU adapter): RMSNorm forward (keeping rstd) and backward (dx, and dweight through a deterministic two-stage
 * reduction over row groups). Not LayerNorm: no mean, no bias.
 */
import code from "../../kernels/rmsnorm.wgsl" with { type: "text" };
import cpuCode from "../../kernels/rmsnorm_cpu.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";

export const RMSNORM: Kernel = { name: "rmsnorm", code };
export const RMSNORM_CPU: Kernel = { name: "rmsnorm_cpu", code: cpuCode };

/** The kernel variants: "gpu" is a workgroup per row with tree reductions, "cpu" an invocation per row. */
export const RMSNORM_VARIANTS = ["gpu", "cpu"] as const;
/** One of RMSNORM_VARIANTS. */
export type RmsnormVariant = typeof RMSNORM_VARIANTS[number];

/** Invocations per workgroup of the CPU variant (tools/bench_rownorm.ts). */
const CPU_WG = 8;

/**
 * The variant to record: the caller's, else the adapter's tuned one for this shape (src/kernels/tune.ts), else
 * "cpu" on a fallback (CPU) adapter and "gpu" elsewhere (and the shape is queued for the tuner).
 */
function pickVariant(
  batch: CommandBatch,
  variant: RmsnormVariant | undefined,
  spec: { pass: "forward" | "backward"; N: number; C: number; accumulateDx?: boolean },
): RmsnormVariant {
  if (variant) return variant;
  const first = batch.gpu.summary.isFallback ? "cpu" : "gpu";
  const shape = `${spec.pass} ${spec.N}x${spec.C}${spec.accumulateDx ? " acc" : ""}`;
  const candidates = [first, first === "cpu" ? "gpu" : "cpu"];
  return batch.gpu.tuning.choice("rmsnorm", shape, candidates, { ...spec }) as RmsnormVariant;
}

/** Channels per thread the backward keeps in registers (MAXK in the WGSL). */
const MAXK = 16;

/** Threads per row: a power of two, enough that the backward holds ≤ MAXK channels per thread. */
function rowThreads(C: number): number {
  if (C > MAXK * 256) throw new Error(`Cannot run RMSNorm: C=${C} exceeds ${MAXK * 256} channels`);
  return C <= 128 ? 32 : C <= 1024 ? 64 : C <= 2048 ? 128 : 256;
}

/** Rows each backward workgroup reduces into one partial dw row (≥ 8; grows so groups stay ≤ 4096). */
function rowsPerGroup(N: number): number {
  return Math.max(8, Math.ceil(N / 4096));
}

/** `Params` of kernels/rmsnorm.wgsl and rmsnorm_cpu.wgsl. */
export const RMSNORM_PARAMS = defineStruct("Params", {
  N: "u32",
  C: "u32",
  eps: "f32",
  rows: "u32",
  groups: "u32",
  _a: "u32",
  _b: "u32",
  _c: "u32",
});

function params(N: number, C: number, eps: number): { bytes: Uint8Array; groups: number } {
  const rows = rowsPerGroup(N);
  const groups = Math.ceil(N / rows);
  return { bytes: packStruct(RMSNORM_PARAMS, { N, C, eps, rows, groups }), groups };
}

/** RMSNorm forward buffers. */
export interface RmsnormForwardArgs {
  /** (N,C) */
  x: Binding;
  /** (C) */
  weight: Binding;
  /** (N,C), overwritten; must not alias x */
  out: Binding;
  /** (N), overwritten: 1/sqrt(mean(x²) + eps) per row, for the backward */
  rstd: Binding;
  N: number;
  C: number;
  eps: number;
  /** Default: "cpu" on a fallback (CPU) adapter, else "gpu". */
  variant?: RmsnormVariant;
}

/** Records out = x · rstd · weight with rstd = rsqrt(mean(x²) + eps) per row. */
export function rmsnormForward(batch: CommandBatch, args: RmsnormForwardArgs): void {
  const { x, weight, out, rstd, N, C, eps } = args;
  const u = batch.uniform(params(N, C, eps).bytes);
  const max = batch.gpu.limits.maxComputeWorkgroupsPerDimension;
  if (pickVariant(batch, args.variant, { pass: "forward", N, C }) === "cpu") {
    const entry = C % 4 === 0 ? "forward4" : "forward";
    batch.run(RMSNORM_CPU, entry, { WG: CPU_WG }, [x, weight, out, rstd, u], [
      Math.min(Math.ceil(N / CPU_WG), max),
    ]);
    return;
  }
  batch.run(
    RMSNORM,
    "forward",
    { WG: rowThreads(C) },
    [x, weight, out, rstd, u],
    [Math.min(N, max)],
  );
}

/** Floats of scratch rmsnormBackward needs for the partial sums of dweight: (ceil(N/rows), C). */
export function rmsnormScratchFloats(N: number, C: number): number {
  return Math.ceil(N / rowsPerGroup(N)) * C;
}

/** RMSNorm backward buffers. */
export interface RmsnormBackwardArgs {
  /** (N,C) */
  dout: Binding;
  /** (N,C), the forward's input */
  x: Binding;
  /** (C) */
  weight: Binding;
  /** (N), from rmsnormForward */
  rstd: Binding;
  /** (N,C); must not alias dout or x */
  dx: Binding;
  /** (C), accumulated: dweight += Σ_n dout·x·rstd */
  dweight: Binding;
  /** ≥ rmsnormScratchFloats(N, C) floats, clobbered */
  scratch: Binding;
  N: number;
  C: number;
  /** dx += instead of dx = (e.g. straight into the residual stream's gradient). */
  accumulateDx?: boolean;
  /** Default: "cpu" on a fallback (CPU) adapter, else "gpu". */
  variant?: RmsnormVariant;
}

/** Records dx (= or +=) and dweight += for RMSNorm, deterministically (two dispatches). */
export function rmsnormBackward(batch: CommandBatch, args: RmsnormBackwardArgs): void {
  const { dout, x, weight, rstd, dx, dweight, scratch, N, C } = args;
  if (N === 0) return;
  const { bytes, groups } = params(N, C, 0);
  if (groups > batch.gpu.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`Cannot run RMSNorm backward: ${groups} row groups exceed the grid limit`);
  }
  const p = batch.uniform(bytes);
  const accumulate = { ACCUMULATE_DX: !!args.accumulateDx };
  const spec = { pass: "backward" as const, N, C, accumulateDx: !!args.accumulateDx };
  if (pickVariant(batch, args.variant, spec) === "cpu") {
    const entry = C % 4 === 0 ? "backward4" : "backward";
    const grid = Math.ceil(groups / CPU_WG);
    batch.run(RMSNORM_CPU, entry, { WG: CPU_WG, ...accumulate }, [dout, x, weight, rstd, dx, scratch, p], [
      grid,
    ]);
    batch.run(RMSNORM_CPU, "dweight_reduce", { WG: CPU_WG }, [scratch, dweight, p], [Math.ceil(C / CPU_WG)]);
    return;
  }
  batch.run(
    RMSNORM,
    "backward",
    { WG: rowThreads(C), ...accumulate },
    [dout, x, weight, rstd, dx, scratch, p],
    [groups],
  );
  batch.run(RMSNORM, "dweight_reduce", {}, [scratch, dweight, p], [Math.ceil(C / 16)]);
}
