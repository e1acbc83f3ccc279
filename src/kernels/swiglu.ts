/** Launches kernels/swiglu.wgsl: h = silu(gate) · up and its backward, elementwise over (N,I). */
import code from "../../kernels/swiglu.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";

export const SWIGLU: Kernel = { name: "swiglu", code };

const WG = 256;

/** SwiGLU forward buffers; n = N·I. */
export interface SwigluForwardArgs {
  /** (N,I) */
  gate: Binding;
  /** (N,I) */
  up: Binding;
  /** (N,I) */
  out: Binding;
  n: number;
}

/** `Params` of kernels/swiglu.wgsl. */
export const SWIGLU_PARAMS = defineStruct("Params", { n: "u32", _a: "u32", _b: "u32", _c: "u32" });

/** Records out = silu(gate) · up (vectorised when n % 4 == 0). */
export function swigluForward(batch: CommandBatch, { gate, up, out, n }: SwigluForwardArgs): void {
  const vec = n % 4 === 0;
  const count = vec ? n / 4 : n;
  const params = batch.uniform(packStruct(SWIGLU_PARAMS, { n: count }));
  batch.run(
    SWIGLU,
    vec ? "forward4" : "forward",
    { WG },
    [gate, up, out, params],
    elementwiseGrid(batch, count, WG),
  );
}

/** SwiGLU backward buffers; n = N·I. */
export interface SwigluBackwardArgs {
  /** (N,I) */
  dout: Binding;
  /** (N,I) */
  gate: Binding;
  /** (N,I) */
  up: Binding;
  /** (N,I), overwritten */
  dgate: Binding;
  /** (N,I), overwritten */
  dup: Binding;
  n: number;
}

/** Records dgate = dout · up · σ(g)(1 + g(1 − σ(g))) and dup = dout · silu(gate). */
export function swigluBackward(batch: CommandBatch, args: SwigluBackwardArgs): void {
  const { dout, gate, up, dgate, dup, n } = args;
  const vec = n % 4 === 0;
  const count = vec ? n / 4 : n;
  const params = batch.uniform(packStruct(SWIGLU_PARAMS, { n: count }));
  batch.run(
    SWIGLU,
    vec ? "backward4" : "backward",
    { WG },
    [dout, gate, up, dgate, dup, params],
    elementwiseGrid(batch, count, WG),
  );
}
