/**
 * The training loop: data → engine → optimizer, one submit per micro-batch and no per-step readback. Loss and
 * gradient norm accumulate on the GPU and are read asynchronously every log_interval steps (the loop waits only
 * for the read of the previous interval, so the CPU never runs more than one interval ahead). Evaluation,
 * samples, checkpoints, resume and Ctrl-C live here (which run and checkpoint: resume.ts); tracking hooks in
 * through `hooks`. An evaluation due at step N runs before the checkpoint of step N, so a checkpoint covers every
 * point and sample of its steps (state.json `extra.evalStep` says which evaluation it includes).
 */
import type { Config } from "../config/mod.ts";
import { closeGpu, CommandBatch, type Gpu, openGpu, readBuffer, upload } from "../gpu/mod.ts";
import {
  BatchSampler,
  type BatchSamplerState,
  EvalSampler,
  prepareData,
  type PreparedData,
  tokenizerToJson,
} from "../data/mod.ts";
import { Engine, type TokenBatch } from "../model/engine.ts";
import type { AmpState } from "../model/amp.ts";
import {
  readEvalLossSum,
  readTrainScalars,
  SCALAR_SLOT,
  SLOT_BYTES,
  slotOffset,
  trainScalarsBytes,
} from "../model/scalars.ts";
import { initParams } from "../model/init.ts";
import { capTokens, InferenceEngine, Scheduler } from "../serve/mod.ts";
import {
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  saveModelDir,
  type TrainState,
} from "../model/checkpoint.ts";
import { AdamW } from "./optimizer.ts";
import { learningRate } from "./schedule.ts";
import { lockRunDir } from "./run_lock.ts";
import { attachTuningCache, tunePending } from "../kernels/tune.ts";
import { resolveRun, type Resume, type RunPlan, settleResume } from "./resume.ts";
import { UsageError } from "../errors.ts";
import { type LossScaleOptions, resolveAmpDtype } from "../kernels/amp.ts";

/** One log line's numbers. */
export interface LogPoint {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  /** More metrics at this step, logged as named (e.g. `moe/layer_0_balance`, AMP loss-scale events). */
  extra?: Record<string, number>;
}

/** One evaluation's numbers and its story sample. */
export interface EvalPoint {
  step: number;
  loss: number;
  perplexity: number;
  sample: string;
  /** More metrics at this step, logged as named. */
  extra?: Record<string, number>;
}

/** What the trainer knows once the model, data and GPU are ready, before the first step. */
export interface StartInfo {
  runName: string;
  gpu: Gpu;
  data: PreparedData;
  paramCount: number;
  startStep: number;
  /** Where this run's checkpoints go (`<checkpoint_dir>/<run name>`). */
  ckptDir: string;
  /** The tracking run id stored in the checkpoint being resumed, if any. */
  runId?: string;
  /** The resumed checkpoint's state.json `extra`: what `beforeCheckpoint` returned when it was written. */
  extra?: Record<string, unknown>;
}

/** Callbacks for progress display and tracking. */
export interface TrainHooks {
  /**
   * Awaited before the first step. A returned `runId` (the tracking run) is stored in every checkpoint, so that
   * `--resume` continues the same tracked run.
   */
  onStart?(info: StartInfo): void | { runId?: string } | Promise<void | { runId?: string }>;
  onLog?(p: LogPoint): void;
  onEval?(p: EvalPoint): void;
  /** After each evaluation batch is recorded (a long evaluation on a CPU adapter shows it is alive). */
  onEvalProgress?(step: number, done: number, total: number): void;
  /**
   * Awaited before each checkpoint is written, once everything up to its step has gone through onLog and onEval.
   * What it returns is stored in the checkpoint's state.json `extra` (and comes back as `StartInfo.extra` on
   * resume): the tracker makes the checkpoint a durability point for the tracked data this way.
   */
  beforeCheckpoint?(step: number): Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
  onCheckpoint?(path: string, step: number): void;
  log?(line: string): void;
}

export interface TrainOptions {
  config: Config;
  /** true: the latest checkpoint of this run name; a string: that checkpoint directory. */
  resume?: string | boolean;
  runName?: string;
  hooks?: TrainHooks;
  /** Set to true (e.g. by a SIGINT handler) to stop after the current step with a checkpoint. */
  stop?: { requested: boolean };
  /** float16 AMP's loss-scale start and growth interval (defaults 2^16 and 2000; tests lower them). */
  lossScale?: LossScaleOptions;
  /**
   * Time the kernel variants of every shape the first step meets and train on the fastest, with the choices
   * cached per adapter in the user's cache dir (src/kernels/tune.ts). Off by default, so library callers and tests
   * run the adapter's default variants; the CLI turns it on.
   */
  tuneKernels?: boolean;
  /** Where tuned choices are cached (default: tuningCachePath(); null: not cached). */
  tuningCache?: string | null;
}

export interface TrainResult {
  runName: string;
  /** The tracking run id (from onStart, or carried over from the resumed checkpoint). */
  runId?: string;
  steps: number;
  interrupted: boolean;
  finalValLoss?: number;
  modelDir: string;
  checkpoint?: string;
}

function splitWindows(rows: Uint32Array, B: number, T: number): TokenBatch {
  const inputs = new Uint32Array(B * T);
  const targets = new Uint32Array(B * T);
  for (let b = 0; b < B; b++) {
    const row = rows.subarray(b * (T + 1), (b + 1) * (T + 1));
    inputs.set(row.subarray(0, T), b * T);
    targets.set(row.subarray(1, T + 1), b * T);
  }
  return { inputs, targets };
}

/**
 * Trains per the config; resolves when max_steps is reached or a stop was requested. The checkpoint to resume is
 * checked before anything is written; the run's directory stays locked (run_lock.ts) until training ends.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config } = opts;
  const t = config.training;
  const log = opts.hooks?.log ?? ((line: string) => console.log(line));
  const run = await resolveRun(opts, log);
  let lock: Awaited<ReturnType<typeof lockRunDir>> | undefined;
  const gpu = await openGpu(t.device);
  if (opts.tuneKernels) attachTuningCache(gpu, (m) => log(`warning: ${m}`), opts.tuningCache);
  try {
    // Locked once the model's buffers fit the adapter: a model it cannot hold leaves nothing behind, not even a lock.
    return await trainOn(gpu, opts, run, log, async () => {
      lock = await lockRunDir(run.ckptDir, run.runName);
      return await settleResume(opts, run, log);
    });
  } finally {
    await closeGpu(gpu); // also after a failure or an interrupt: nothing may still run when the process exits
    lock?.release();
  }
}

async function trainOn(
  gpu: Gpu,
  opts: TrainOptions,
  { runName, ckptDir }: RunPlan,
  log: (line: string) => void,
  begin: () => Promise<Resume | undefined>,
): Promise<TrainResult> {
  const { config } = opts;
  const t = config.training;
  const amp = resolveAmpDtype(t, gpu);
  if (amp.warning) log(`warning: ${amp.warning}`);
  const T = config.model.max_seq_len;
  const B = t.batch_size;
  // The model's buffers first: a model or batch beyond the adapter's limits fails before any data preparation.
  const engine = new Engine(gpu, config, { batchSize: B, training: true, lossScale: opts.lossScale });
  const optimizer = new AdamW(gpu, engine.layout, t);
  const resume = await begin();
  const data = await prepareData(config, { log, seqLen: T });
  if (data.tokenizer.vocabSize > config.model.vocab_size) {
    throw new UsageError(
      `Cannot train: the tokenizer has ${data.tokenizer.vocabSize} tokens, more than model.vocab_size ${config.model.vocab_size}`,
    );
  }
  let startStep = 0;
  let samplerState: BatchSamplerState | undefined;
  let runId: string | undefined;
  let extra: Record<string, unknown> | undefined;
  if (resume) {
    const ck = await loadCheckpoint(resume.path, engine.layout);
    upload(gpu.device, engine.params, ck.params);
    upload(gpu.device, optimizer.m, ck.m);
    upload(gpu.device, optimizer.v, ck.v);
    startStep = ck.state.step;
    samplerState = ck.state.sampler; // written by sampler.state() below
    runId = ck.state.runId;
    extra = ck.state.extra;
    restoreAmp(engine, ck.state.amp, log);
    log(`resumed from ${resume.path} at step ${startStep}`);
  } else {
    upload(gpu.device, engine.params, initParams(engine.layout, t.seed));
  }
  const sampler = new BatchSampler(data.train, {
    batchSize: B,
    seqLen: T,
    seed: t.seed,
    state: samplerState,
  });
  // No validation text (data.val empty, data.val_fraction 0) means no evaluations, not a failure.
  const evalSampler = data.val.length > T
    ? new EvalSampler(data.val, { batchSize: B, seqLen: T })
    : undefined;
  if (!evalSampler) {
    log("no validation tokens (data.val is empty and data.val_fraction is 0): evaluation skipped");
  }
  // Eval samples come from the serving engine (KV cache, GPU sampling) reading the training weights in place.
  const inference = t.sample_tokens > 0
    ? new InferenceEngine(gpu, config.model, engine.params, {
      slots: 1,
      context: T,
      prefillRows: T,
      maxChunk: 16,
    })
    : undefined;
  const storyteller = inference && new Scheduler(inference, { chunk: 16 });
  const started = await opts.hooks?.onStart?.({
    runName,
    gpu,
    data,
    paramCount: engine.layout.count,
    startStep,
    ckptDir,
    runId,
    extra,
  });
  runId = started?.runId ?? runId;

  const eot = data.tokenizer.eotId ?? undefined;
  const evaluate = async (step: number): Promise<EvalPoint | undefined> => {
    if (!evalSampler) return undefined;
    for (let k = 0; k < t.eval_steps; k++) {
      engine.upload(splitWindows(evalSampler.batch(k), B, T));
      const batch = new CommandBatch(gpu, `eval ${k}`);
      engine.evalMicroBatch(batch, SCALAR_SLOT.evalLoss);
      batch.submit();
      opts.hooks?.onEvalProgress?.(step, k + 1, t.eval_steps);
    }
    const batch = new CommandBatch(gpu, "eval read");
    const evalLoss = slotOffset(SCALAR_SLOT.evalLoss);
    const read = batch.read(engine.scalars, evalLoss, SLOT_BYTES);
    batch.clear(engine.scalars, evalLoss, SLOT_BYTES);
    batch.submit();
    const loss = readEvalLossSum(await read) / (engine.N * t.eval_steps);
    let sample = "";
    const prompt = data.tokenizer.encode(t.sample_prompt);
    if (storyteller && prompt.length > 0 && prompt.length < T) {
      const r = await storyteller.submit({
        prompt,
        maxTokens: capTokens(t.sample_tokens, prompt.length, T),
        temperature: 0,
        topK: 0,
        topP: 1,
        seed: 0,
        stopIds: eot === undefined ? [] : [eot],
      });
      sample = t.sample_prompt + data.tokenizer.decode(r.tokens);
    }
    const p = { step, loss, perplexity: Math.exp(loss), sample };
    opts.hooks?.onEval?.(p);
    return p;
  };

  const dscale = 1 / (engine.N * t.grad_accum_steps);
  let lastEval: EvalPoint | undefined;
  // The evaluation the resumed checkpoint already includes: not repeated (its points and sample are tracked).
  let evalStep = typeof extra?.evalStep === "number" ? extra.evalStep : undefined;
  let pendingLog: Promise<void> | undefined;
  let windowStart = performance.now();
  let windowSteps = 0;
  let step = startStep;
  let checkpoint: string | undefined;

  /** Saves a checkpoint; also hands back the parameters it read, so the final model does not read them again. */
  const writeCheckpoint = async (): Promise<{ path: string; params: Float32Array }> => {
    const read = async (b: GPUBuffer) => new Float32Array(await readBuffer(gpu, b));
    const [params, m, v, amp] = await Promise.all([
      read(engine.params),
      read(optimizer.m),
      read(optimizer.v),
      engine.readAmpState(), // the loss-scale state (AMP), so that a resume continues it
    ]);
    if (pendingLog) await pendingLog; // every point up to this step has reached onLog
    const hooked = await opts.hooks?.beforeCheckpoint?.(step);
    const state: TrainState = {
      step,
      config,
      sampler: sampler.state(),
      runName,
      runId,
      amp,
      extra: { ...hooked, evalStep },
    };
    const path = await saveCheckpoint(ckptDir, engine.layout, { params, m, v }, state);
    await pruneCheckpoints(ckptDir, t.checkpoint_keep);
    opts.hooks?.onCheckpoint?.(path, step);
    return { path, params };
  };

  const evalDue = (s: number) => s === 0 || s % t.eval_interval === 0 || s === t.max_steps;
  const evaluateAt = async (s: number) => {
    lastEval = await evaluate(s);
    evalStep = s;
  };
  // A fresh run evaluates at step 0; a resumed one where its checkpoint stopped short of a due evaluation
  // (a stop between the step and its evaluation).
  if (evalDue(step) && evalStep !== step && !opts.stop?.requested) await evaluateAt(step);
  while (step < t.max_steps && !opts.stop?.requested) {
    const lr = learningRate(step, t);
    for (let micro = 0; micro < t.grad_accum_steps; micro++) {
      engine.upload(splitWindows(sampler.next(), B, T));
      const batch = new CommandBatch(gpu, `step ${step + 1}.${micro}`);
      if (micro === 0) engine.zeroGrads(batch);
      engine.trainMicroBatch(batch, dscale);
      const last = micro === t.grad_accum_steps - 1;
      if (last) {
        optimizer.step(batch, {
          params: engine.params,
          grads: engine.grads!,
          scalars: engine.scalars,
          normSlot: SCALAR_SLOT.gradNormSq,
          lr,
          step: step + 1,
          amp: engine.ampStep,
        });
      }
      step += last ? 1 : 0;
      windowSteps += last ? 1 : 0;
      const logNow = last && (step % t.log_interval === 0 || step === t.max_steps);
      let read: Promise<ArrayBuffer> | undefined;
      let moeRead: Promise<Record<string, number>> | undefined;
      if (logNow) {
        // Under AMP also the loss-scale state: the scale and the skipped steps in this run, resumes included.
        read = batch.read(engine.scalars, 0, trainScalarsBytes(!!engine.ampStep));
        batch.clear(engine.scalars, slotOffset(SCALAR_SLOT.trainLoss), SLOT_BYTES);
        // Router balance, entropy and per-expert fractions of this step's last micro-batch (MoE models only).
        moeRead = engine.moeMetrics(batch);
      }
      batch.submit();
      if (opts.tuneKernels && gpu.tuning.pending.length) {
        // The shapes this step (and the first evaluation) met without a tuned variant ran their defaults: time the
        // candidates now, once per adapter and shape, so the rest of the run uses the fastest.
        const tuningStarted = performance.now();
        const tuned = await tunePending(gpu, { warn: (m) => log(`warning: ${m}`) });
        if (tuned.length) {
          log(`tuned ${tuned.length} kernel shapes on ${gpu.summary.description} (cached for next runs)`);
        }
        // The window's tokens/s counts its steps' time, not the tuning's.
        windowStart += performance.now() - tuningStarted;
      }
      if (read) {
        const steps = windowSteps;
        const started = windowStart;
        const atStep = step;
        const atLr = lr;
        if (pendingLog) await pendingLog; // at most one interval in flight
        pendingLog = Promise.all([read, moeRead]).then(([buf, moeExtra]) => {
          const s = readTrainScalars(buf);
          const extra = s.amp
            ? { ...moeExtra, "train/loss_scale": s.amp.scale, "train/skipped_steps": s.amp.skipped }
            : moeExtra;
          const seconds = (performance.now() - started) / 1000;
          opts.hooks?.onLog?.({
            step: atStep,
            loss: s.trainLossSum / (engine.N * t.grad_accum_steps * steps),
            lr: atLr,
            gradNorm: Math.sqrt(s.gradNormSq),
            tokensPerSec: (steps * engine.N * t.grad_accum_steps) / seconds,
            extra,
          });
        });
        windowStart = performance.now();
        windowSteps = 0;
      }
    }
    // Skipped on a stop request short of max_steps, which then exits at once: the resume evaluates instead
    // (evalStep says so).
    if (evalDue(step) && (step === t.max_steps || !opts.stop?.requested)) await evaluateAt(step);
    if (t.checkpoint_interval > 0 && step % t.checkpoint_interval === 0 && step < t.max_steps) {
      checkpoint = (await writeCheckpoint()).path;
    }
  }
  if (pendingLog) await pendingLog;
  const interrupted = step < t.max_steps;
  const final = await writeCheckpoint();
  checkpoint = final.path;
  const modelDir = `${ckptDir}/model`;
  await saveModelDir(modelDir, engine.layout, final.params, config, tokenizerToJson(data.tokenizer), {
    max_new_tokens: Math.min(256, T),
    temperature: 0.8,
    top_k: 50,
    top_p: 0.95,
    eos_token_id: eot ?? -1,
  });
  storyteller?.close();
  inference?.destroy(true);
  optimizer.destroy();
  engine.destroy();
  return { runName, runId, steps: step, interrupted, finalValLoss: lastEval?.loss, modelDir, checkpoint };
}

/** Continues a checkpoint's AMP loss-scale state when the resumed run computes in the same dtype. */
function restoreAmp(engine: Engine, saved: AmpState | undefined, log: (line: string) => void): void {
  if (!saved || engine.precision === "float32") return;
  if (saved.dtype !== engine.precision) {
    log(
      `note: the checkpoint's ${saved.dtype} loss scale is not carried over: this run computes in ${engine.precision}`,
    );
    return;
  }
  engine.restoreAmpState(saved);
}
