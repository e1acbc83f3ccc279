/**
 * Training-step benchmark: full steps (forward, loss, backward, AdamW) on random tokens, as
 * ../shared/bench/torch_reference.py times them, reporting tokens/s, ms/step and per-kernel GPU time from
 * timestamp queries (a separate profiled run, since one pass per dispatch slows the step).
 */
import type { Config } from "../config/mod.ts";
import { CommandBatch, drain, type Gpu, Profiler, upload } from "../gpu/mod.ts";
import { Engine } from "../model/engine.ts";
import { SCALAR_SLOT } from "../model/scalars.ts";
import { initParams } from "../model/init.ts";
import { AdamW } from "./optimizer.ts";
import { type TunedShape, tunePending } from "../kernels/tune.ts";

export interface BenchResult {
  tokensPerStep: number;
  msPerStep: number;
  tokensPerSec: number;
  /** Host time per step spent recording (encoding, pipelines, bind groups, uniforms), before queue.submit. */
  cpuMsPerStep: number;
  /** Host time per step inside submit (a CPU adapter like lavapipe may run the work right there). */
  submitMsPerStep: number;
  /** What the Linear matmuls ran in (float32, or the AMP dtype effective on this adapter). */
  precision: string;
  /** GPU ms per step by pipeline label, largest first (empty without timestamp-query). */
  kernels: { label: string; msPerStep: number; count: number }[];
  /** The shapes the tuner timed during warm-up (empty when tuning was off or every shape was cached). */
  tuned: TunedShape[];
}

/** Times `steps` training steps after `warmup` untimed ones. */
export async function benchTraining(
  gpu: Gpu,
  config: Config,
  steps: number,
  warmup = 3,
  opts: {
    splitTarget?: number;
    tune?: boolean;
    onTuned?: (t: TunedShape) => void;
    /** After each step is recorded: the phase, steps done in it and its length (progress for slow adapters). */
    onStep?: (phase: "warm-up" | "timed" | "profiled", done: number, total: number) => void;
  } = {},
): Promise<BenchResult> {
  const B = config.training.batch_size;
  const engine = new Engine(gpu, config, { batchSize: B, training: true, splitTarget: opts.splitTarget });
  const optimizer = new AdamW(gpu, engine.layout, config.training);
  upload(gpu.device, engine.params, initParams(engine.layout, 0));
  let seed = 1;
  const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const V = engine.dims.V;
  const tokens = () => Uint32Array.from({ length: engine.N }, () => random() % V);
  engine.upload({ inputs: tokens(), targets: tokens() });
  let cpuMs = 0;
  let submitMs = 0;
  const step = (i: number, profiler?: Profiler) => {
    const started = performance.now();
    const batch = new CommandBatch(gpu, `bench step ${i}`, profiler);
    engine.zeroGrads(batch);
    engine.trainMicroBatch(batch, 1 / engine.N);
    optimizer.step(batch, {
      params: engine.params,
      grads: engine.grads!,
      scalars: engine.scalars,
      normSlot: SCALAR_SLOT.gradNormSq,
      lr: 1e-4,
      step: i + 1,
      amp: engine.ampStep, // training.use_amp: the loss-scale step and its skip flag, as in training
    });
    const recorded = performance.now();
    batch.submit();
    cpuMs += recorded - started;
    submitMs += performance.now() - recorded;
  };
  const tuned: TunedShape[] = [];
  for (let i = 0; i < warmup; i++) {
    step(i);
    opts.onStep?.("warm-up", i + 1, warmup);
    // The first step queued the shapes it met without a tuned variant: time them now, as training does.
    if (i === 0 && opts.tune !== false) tuned.push(...await tunePending(gpu, { onShape: opts.onTuned }));
  }
  if (opts.tune === false) gpu.tuning.clearPending();
  await drain(gpu);
  cpuMs = 0;
  submitMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    step(warmup + i);
    opts.onStep?.("timed", i + 1, steps);
  }
  await drain(gpu);
  const ms = (performance.now() - t0) / steps;
  const cpuMsPerStep = cpuMs / steps;
  const submitMsPerStep = submitMs / steps;
  const kernels: BenchResult["kernels"] = [];
  if (gpu.hasTimestamps) {
    const profiler = new Profiler(gpu);
    const profiled = Math.max(1, Math.min(3, steps));
    for (let i = 0; i < profiled; i++) {
      step(warmup + steps + i, profiler);
      opts.onStep?.("profiled", i + 1, profiled);
    }
    for (const [label, t] of await profiler.totals()) {
      kernels.push({ label, msPerStep: t.ms / profiled, count: t.count / profiled });
    }
    kernels.sort((a, b) => b.msPerStep - a.msPerStep);
  }
  optimizer.destroy();
  engine.destroy();
  return {
    tokensPerStep: engine.N,
    precision: engine.precision,
    msPerStep: ms,
    tokensPerSec: (engine.N / ms) * 1000,
    cpuMsPerStep,
    submitMsPerStep,
    kernels,
    tuned,
  };
}
