/**
 * The engine's scalars buffer: one small f32 buffer the GPU accumulates into and the trainer reads back every
 * log interval, never per step. This file is its slot table and the typed readers of what a read returns; the
 * kernels that write it take a slot index (lossSum, gradNormSquared, lossScaleUpdate, AdamW's skip flag).
 */
import { AMP_OVERFLOW_SLOT, AMP_STATE_SLOT } from "../kernels/amp.ts";

/** Bytes of one slot (an f32). */
export const SLOT_BYTES = 4;

/** The f32 slots of the scalars buffer; 3 and 4–7 are spare. */
export const SCALAR_SLOT = {
  /** Σ over the log window of N·loss of every training micro-batch (MoE aux losses included). */
  trainLoss: 0,
  /** Σ over one evaluation of N·loss of its micro-batches. */
  evalLoss: 1,
  /** Σg² of the latest step's gradients (before clipping). */
  gradNormSq: 2,
  /** AMP state [loss scale, clean steps, skipped steps, overflow flag] from here (src/kernels/amp.ts). */
  ampScale: AMP_STATE_SLOT,
  ampClean: AMP_STATE_SLOT + 1,
  ampSkipped: AMP_STATE_SLOT + 2,
  ampOverflow: AMP_OVERFLOW_SLOT,
} as const;

/** f32 slots in the buffer. */
export const SCALAR_SLOTS = 16;

/** Byte offset of `slot`, for reads, clears and uploads. */
export function slotOffset(slot: number): number {
  return slot * SLOT_BYTES;
}

/** What a training log read holds: the window's loss sum, the last step's Σg², and under AMP the scale state. */
export interface TrainScalars {
  trainLossSum: number;
  gradNormSq: number;
  amp?: { scale: number; skipped: number };
}

/** Bytes from offset 0 a training log read covers: up to Σg², or through the AMP state under AMP. */
export function trainScalarsBytes(amp: boolean): number {
  return amp ? slotOffset(AMP_STATE_SLOT + 4) : slotOffset(SCALAR_SLOT.gradNormSq + 1);
}

/** Reads a training log read (`trainScalarsBytes` from offset 0). */
export function readTrainScalars(buf: ArrayBuffer): TrainScalars {
  const s = new Float32Array(buf);
  const out: TrainScalars = { trainLossSum: s[SCALAR_SLOT.trainLoss], gradNormSq: s[SCALAR_SLOT.gradNormSq] };
  if (s.length > SCALAR_SLOT.ampScale) {
    out.amp = { scale: s[SCALAR_SLOT.ampScale], skipped: s[SCALAR_SLOT.ampSkipped] };
  }
  return out;
}

/** Reads an evaluation's loss sum (a one-slot read at `slotOffset(SCALAR_SLOT.evalLoss)`). */
export function readEvalLossSum(buf: ArrayBuffer): number {
  return new Float32Array(buf)[0];
}
