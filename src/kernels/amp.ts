/**
 * Mixed precision's bookkeeping: which dtype a run really uses (float16 needs shader-f16, else bfloat16
 * emulation), where the AMP state lives in the engine's scalars buffer, and the launch of
 * kernels/loss_scale_amp.wgsl (skip/halve/double without a readback). The casts and matmuls are cast.ts/matmul.ts.
 */
import code from "../../kernels/loss_scale_amp.wgsl" with { type: "text" };
import type { TrainingConfig } from "../config/mod.ts";
import {
  type Binding,
  type CommandBatch,
  defineStruct,
  type Gpu,
  type Kernel,
  packStruct,
} from "../gpu/mod.ts";
import { GROWTH_INTERVAL, INIT_LOSS_SCALE, type LowPrecision } from "./contracts.ts";

export const LOSS_SCALE: Kernel = { name: "loss_scale_amp", code };

/** `Params` of kernels/loss_scale_amp.wgsl. */
export const LOSS_SCALE_PARAMS = defineStruct("Params", {
  norm_slot: "u32",
  state_slot: "u32",
  growth_interval: "u32",
  _pad: "u32",
});

/** What a run computes its matmuls in: float32 without AMP, else the (possibly fallen-back) AMP dtype. */
export type AmpDtype = "float32" | LowPrecision;

/** First of the four scalars slots [loss scale, clean steps, skipped steps, overflow flag]. */
export const AMP_STATE_SLOT = 8;
/** The overflow flag's slot: AdamW skips its update while it is 1. */
export const AMP_OVERFLOW_SLOT = AMP_STATE_SLOT + 3;

/** The AMP dtype that runs on `gpu` for `t`, and the warning to print once when it differs from the request. */
export function resolveAmpDtype(
  t: TrainingConfig,
  gpu: Pick<Gpu, "hasF16">,
): { dtype: AmpDtype; warning?: string } {
  if (!t.use_amp) return { dtype: "float32" };
  if (t.amp_dtype === "float16" && !gpu.hasF16) {
    return {
      dtype: "bfloat16",
      warning:
        "this adapter has no shader-f16: training in bfloat16 emulation (amp_dtype_effective=bfloat16)",
    };
  }
  return { dtype: t.amp_dtype };
}

/** Dynamic loss scaling settings (tests lower the interval; the defaults are torch's GradScaler's). */
export interface LossScaleOptions {
  /** The first loss scale (float16; bfloat16 always uses 1). Default 2^16. */
  initScale?: number;
  /** Clean steps before the scale doubles. Default 2000. */
  growthInterval?: number;
}

/** The AMP state a run starts with: [scale, 0 clean, 0 skipped, 0 overflow]. */
export function initialAmpState(dtype: LowPrecision, opts: LossScaleOptions = {}): Float32Array {
  return new Float32Array([dtype === "float16" ? (opts.initScale ?? INIT_LOSS_SCALE) : 1, 0, 0, 0]);
}

/** Arguments of `lossScaleUpdate`. */
export interface LossScaleArgs {
  /** f32 buffer holding Σg² at normSlot and the AMP state at stateSlot (the engine's scalars). */
  scalars: Binding;
  normSlot: number;
  stateSlot: number;
  /** float16 moves the scale; bfloat16 keeps it at 1 (and still skips non-finite steps). */
  dtype: LowPrecision;
  growthInterval?: number;
}

/** Records the per-step loss-scale decision (after gradNormSquared, before AdamW). */
export function lossScaleUpdate(batch: CommandBatch, args: LossScaleArgs): void {
  const interval = args.growthInterval ?? GROWTH_INTERVAL;
  if (!(interval >= 1) || !Number.isInteger(interval)) {
    throw new Error(`Cannot update the loss scale: growth interval ${interval} is not an integer ≥ 1`);
  }
  const params = packStruct(LOSS_SCALE_PARAMS, {
    norm_slot: args.normSlot,
    state_slot: args.stateSlot,
    growth_interval: interval,
  });
  batch.run(LOSS_SCALE, "update", { DYNAMIC: args.dtype === "float16" }, [
    args.scalars,
    batch.uniform(params),
  ], [1]);
}
