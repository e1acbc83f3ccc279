/**
 * Launches kernels/crossentropy.wgsl (a workgroup per row, for a GPU) or kernels/crossentropy_cpu.wgsl (an invocation
 * per row, for a CPU adapter): fused softmax cross-entropy (per-token loss, dlogits written over the logits), its
 * loss-only evaluation mode, and the deterministic GPU sum of the losses into an accumulator slot. Not the LM-head
 * matmul, and no readback: the trainer reads the accumulator when it logs.
 */
import code from "../../kernels/crossentropy.wgsl" with { type: "text" };
import cpuCode from "../../kernels/crossentropy_cpu.wgsl" with { type: "text" };
import { type Binding, type CommandBatch, defineStruct, type Kernel, packStruct } from "../gpu/mod.ts";

export const CROSS_ENTROPY: Kernel = { name: "crossentropy", code };
export const CROSS_ENTROPY_CPU: Kernel = { name: "crossentropy_cpu", code: cpuCode };

/** The fused kernel's variants: "gpu" is a workgroup per row with tree reductions, "cpu" an invocation per row. */
export const CROSS_ENTROPY_VARIANTS = ["gpu", "cpu"] as const;
/** One of CROSS_ENTROPY_VARIANTS. */
export type CrossEntropyVariant = typeof CROSS_ENTROPY_VARIANTS[number];

/** Invocations per workgroup of the CPU variant (tools/bench_rownorm.ts). */
const CPU_WG = 8;

const MAXK = 16;

/** Threads per row: 256 for real vocabularies, fewer for tiny ones; the row stays in registers if it fits. */
function rowConstants(V: number): { WG: number; CACHED: boolean } {
  const WG = V <= 1024 ? 64 : 256;
  return { WG, CACHED: V <= MAXK * WG };
}

/** `Params` of kernels/crossentropy.wgsl and crossentropy_cpu.wgsl. */
export const CROSS_ENTROPY_PARAMS = defineStruct("Params", { N: "u32", V: "u32", dscale: "f32", _a: "u32" });
/** `SumParams` of kernels/crossentropy.wgsl. */
export const SUM_PARAMS = defineStruct("SumParams", { N: "u32", slot: "u32", accumulate: "u32", _a: "u32" });

function params(N: number, V: number, dscale: number): Uint8Array {
  return packStruct(CROSS_ENTROPY_PARAMS, { N, V, dscale });
}

/**
 * The adapter's tuned variant for this shape (src/kernels/tune.ts), else "cpu" on a fallback (CPU) adapter and
 * "gpu" elsewhere (and the shape is queued for the tuner).
 */
function tunedVariant(batch: CommandBatch, N: number, V: number, writeGrad: boolean): CrossEntropyVariant {
  const first = batch.gpu.summary.isFallback ? "cpu" : "gpu";
  const candidates = [first, first === "cpu" ? "gpu" : "cpu"];
  const shape = `${N}x${V}${writeGrad ? " grad" : ""}`;
  return batch.gpu.tuning.choice("crossentropy", shape, candidates, {
    N,
    V,
    writeGrad,
  }) as CrossEntropyVariant;
}

/** Records the fused kernel over N rows in the chosen variant (default: the tuned one, see tunedVariant). */
function rows(
  batch: CommandBatch,
  bindings: [Binding, Binding, Binding],
  N: number,
  V: number,
  dscale: number,
  writeGrad: boolean,
  variant: CrossEntropyVariant | undefined,
): void {
  const u = batch.uniform(params(N, V, dscale));
  const max = batch.gpu.limits.maxComputeWorkgroupsPerDimension;
  if ((variant ?? tunedVariant(batch, N, V, writeGrad)) === "cpu") {
    const entry = V % 4 === 0 ? "main4" : "main";
    const constants = { WG: CPU_WG, WRITE_GRAD: writeGrad };
    batch.run(CROSS_ENTROPY_CPU, entry, constants, [...bindings, u], [Math.min(Math.ceil(N / CPU_WG), max)]);
    return;
  }
  batch.run(CROSS_ENTROPY, "main", { ...rowConstants(V), WRITE_GRAD: writeGrad }, [...bindings, u], [
    Math.min(N, max),
  ]);
}

/** Fused cross-entropy buffers. */
export interface CrossEntropyArgs {
  /** (N,V), read_write: overwritten IN PLACE with dlogits */
  logits: Binding;
  /** u32 (N); a target ≥ V is ignored (loss 0, zero gradient row) */
  targets: Binding;
  /** (N), overwritten: per-token loss = logsumexp − logit[target] */
  losses: Binding;
  N: number;
  V: number;
  /** dlogits = (softmax − onehot) · dscale, e.g. 1/(N·grad_accum) for a mean over the accumulated tokens */
  dscale: number;
  /** Default: "cpu" on a fallback (CPU) adapter, else "gpu". */
  variant?: CrossEntropyVariant;
}

/** Records the per-token losses and overwrites the logits with dlogits. */
export function crossEntropy(batch: CommandBatch, args: CrossEntropyArgs): void {
  const { logits, targets, losses, N, V, dscale } = args;
  rows(batch, [logits, targets, losses], N, V, dscale, true, args.variant);
}

/** Loss-only cross-entropy buffers (evaluation). */
export interface CrossEntropyLossArgs {
  /** (N,V), left untouched (still bound read_write) */
  logits: Binding;
  /** u32 (N) */
  targets: Binding;
  /** (N), overwritten */
  losses: Binding;
  N: number;
  V: number;
  /** Default: "cpu" on a fallback (CPU) adapter, else "gpu". */
  variant?: CrossEntropyVariant;
}

/** Records the per-token losses only, for evaluation. */
export function crossEntropyLoss(batch: CommandBatch, args: CrossEntropyLossArgs): void {
  const { logits, targets, losses, N, V } = args;
  rows(batch, [logits, targets, losses], N, V, 0, false, args.variant);
}

/** Loss accumulation buffers. */
export interface LossSumArgs {
  /** (N) */
  losses: Binding;
  /** (slots) f32 accumulators, e.g. one for the training loss and one for evaluation */
  acc: Binding;
  slot: number;
  N: number;
  /** acc[slot] += Σ losses (true) or acc[slot] = Σ losses (false) */
  accumulate: boolean;
}

/** Records acc[slot] (+)= Σ losses with a fixed-order tree in one workgroup (deterministic, no readback). */
export function lossSum(batch: CommandBatch, { losses, acc, slot, N, accumulate }: LossSumArgs): void {
  const u = packStruct(SUM_PARAMS, { N, slot, accumulate: accumulate ? 1 : 0 });
  batch.run(CROSS_ENTROPY, "loss_sum", {}, [losses, acc, batch.uniform(u)], [1]);
}
