/**
 * The learning-rate schedule: linear warmup, then cosine, linear or constant decay to min_lr. Computed on the host
 * and passed to the GPU as a uniform (src/kernels/optimizer.ts). "cosine" is exactly torch_reference.py's lr_at.
 */
import type { TrainingConfig } from "../config/mod.ts";

/** The schedule fields of the training config. */
export type ScheduleConfig = Pick<
  TrainingConfig,
  "learning_rate" | "min_lr" | "warmup_steps" | "max_steps" | "lr_schedule"
>;

/**
 * Learning rate of optimizer step `step` (0-based): learning_rate·(step + 1)/warmup_steps during warmup, then a
 * decay from learning_rate to min_lr that reaches min_lr at max_steps and stays there.
 *
 * @example
 * ```ts
 * const t = { learning_rate: 1e-3, min_lr: 1e-4, warmup_steps: 10, max_steps: 100, lr_schedule: "cosine" as const };
 * learningRate(0, t); // 1e-4
 * learningRate(100, t); // 1e-4
 * ```
 */
export function learningRate(step: number, t: ScheduleConfig): number {
  const lr = t.learning_rate;
  const lo = t.min_lr;
  const warm = t.warmup_steps;
  const total = Math.max(1, t.max_steps);
  if (step < warm) return lr * (step + 1) / warm;
  const p = Math.min(1, (step - warm) / Math.max(1, total - warm));
  switch (t.lr_schedule) {
    case "cosine":
      return lo + 0.5 * (lr - lo) * (1 + Math.cos(Math.PI * p));
    case "linear":
      return lo + (lr - lo) * (1 - p);
    case "constant":
      return lr;
    default:
      throw new Error(`Cannot compute the learning rate: unknown lr_schedule '${t.lr_schedule as string}'`);
  }
}
