/**
 * Launches kernels/rmsnorm.wgsl: RMSNorm forward (keeping rstd) and backward (dx, and dweight through a
 * deterministic two-stage reduction over row groups). Not LayerNorm: no mean, no bias.
 */
import code from "../../kernels/rmsnorm.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";

export const RMSNORM: Kernel = { name: "rmsnorm", code };

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

function params(N: number, C: number, eps: number): Uint32Array {
  const rows = rowsPerGroup(N);
  const u = Uint32Array.of(N, C, 0, rows, Math.ceil(N / rows), 0, 0, 0);
  new Float32Array(u.buffer)[2] = eps;
  return u;
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
}

/** Records out = x · rstd · weight with rstd = rsqrt(mean(x²) + eps) per row. */
export function rmsnormForward(batch: CommandBatch, args: RmsnormForwardArgs): void {
  const { x, weight, out, rstd, N, C, eps } = args;
  batch.run(
    RMSNORM,
    "forward",
    { WG: rowThreads(C) },
    [x, weight, out, rstd, batch.uniform(params(N, C, eps))],
    [Math.min(N, batch.gpu.limits.maxComputeWorkgroupsPerDimension)],
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
}

/** Records dx (= or +=) and dweight += for RMSNorm, deterministically (two dispatches). */
export function rmsnormBackward(batch: CommandBatch, args: RmsnormBackwardArgs): void {
  const { dout, x, weight, rstd, dx, dweight, scratch, N, C } = args;
  if (N === 0) return;
  const u = params(N, C, 0);
  const groups = u[4];
  if (groups > batch.gpu.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`Cannot run RMSNorm backward: ${groups} row groups exceed the grid limit`);
  }
  const p = batch.uniform(u);
  batch.run(
    RMSNORM,
    "backward",
    { WG: rowThreads(C), ACCUMULATE_DX: !!args.accumulateDx },
    [dout, x, weight, rstd, dx, scratch, p],
    [groups],
  );
  batch.run(RMSNORM, "dweight_reduce", {}, [scratch, dweight, p], [Math.ceil(C / 16)]);
}
