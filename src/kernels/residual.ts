/**
 * Launches kernels/residual.wgsl: the residual add x += y and a constant fill, plus the 2-D grid helper the
 * elementwise kernels share. Not a fused norm or activation.
 */
import code from "../../kernels/residual.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";

export const RESIDUAL: Kernel = { name: "residual", code };

const WG = 256;

/**
 * Workgroups for `n` threads in groups of `wg`, folded into x·y so that neither dimension exceeds the adapter's
 * per-dimension limit; kernels recover the index as (wid.y · nwg.x + wid.x) · wg + lid.x and mask i ≥ n.
 */
export function elementwiseGrid(batch: CommandBatch, n: number, wg: number): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups === 0) return [0, 1];
  const x = Math.min(groups, batch.gpu.limits.maxComputeWorkgroupsPerDimension);
  return [x, Math.ceil(groups / x)];
}

/** `Params` of kernels/residual.wgsl. */
export const RESIDUAL_PARAMS = defineStruct("Params", { n: "u32", value: "f32", _a: "u32", _b: "u32" });

function params(n: number, value = 0): Uint8Array {
  return packStruct(RESIDUAL_PARAMS, { n, value });
}

/** One residual add: x (n) += y (n). x and y must be distinct buffers (or disjoint bindings). */
export interface AddArgs {
  /** (n), read_write */
  x: Binding;
  /** (n) */
  y: Binding;
  n: number;
}

/** Records x += y elementwise (vectorised when n % 4 == 0). */
export function addInPlace(batch: CommandBatch, { x, y, n }: AddArgs): void {
  const vec = n % 4 === 0;
  const count = vec ? n / 4 : n;
  const grid = elementwiseGrid(batch, count, WG);
  batch.run(RESIDUAL, vec ? "add4" : "add", { WG }, [x, y, batch.uniform(params(count))], grid);
}

/** One fill: x (n) = value. */
export interface FillArgs {
  /** (n), read_write */
  x: Binding;
  n: number;
  value: number;
}

/** Records x = value for the first n elements of x. */
export function fill(batch: CommandBatch, { x, n, value }: FillArgs): void {
  batch.run(RESIDUAL, "fill", { WG }, [x, batch.uniform(params(n, value))], elementwiseGrid(batch, n, WG));
}
