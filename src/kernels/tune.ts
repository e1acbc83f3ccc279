/**
 * The kernel tuner: times every candidate variant of each shape a launcher queued in the device's tuning table
 * (src/gpu/tuning.ts) on this adapter and keeps the fastest, so later recordings run it. Timing uses timestamp
 * queries where the adapter has them (per-dispatch GPU time), else the wall clock around a submit of many calls.
 * Variants differ in speed only: each is tested against the same reference (src/kernels/*_test.ts).
 */
import {
  CommandBatch,
  createBuffer,
  type Gpu,
  Profiler,
  tuningCachePath,
  type TuningRequest,
  type TuningResult,
} from "../gpu/mod.ts";
import {
  MATMUL,
  matmul,
  MATMUL_BF16,
  MATMUL_F16,
  MATMUL_REG,
  MATMUL_REG4,
  MATMUL_REG_BF16,
  MATMUL_REG_F16,
  matmulLowPrecision,
  matmulScratchFloats,
  type MatmulVariant,
} from "./matmul.ts";
import { VERSION } from "../version.ts";
import {
  ATTENTION,
  ATTENTION_CPU,
  ATTENTION_CPU4,
  ATTENTION_ROWS,
  attentionBackward,
  attentionForward,
  attentionScratchFloats,
  type AttentionVariant,
} from "./attention.ts";
import {
  RMSNORM,
  RMSNORM_CPU,
  rmsnormBackward,
  rmsnormForward,
  rmsnormScratchFloats,
  type RmsnormVariant,
} from "./rmsnorm.ts";
import {
  CROSS_ENTROPY,
  CROSS_ENTROPY_CPU,
  crossEntropy,
  crossEntropyLoss,
  type CrossEntropyVariant,
} from "./crossentropy.ts";

/** Calls recorded per measurement, and measurements per candidate (alternating candidates; the median counts). */
const CALLS = 6;
const ROUNDS = 3;
/** Dispatches one call of a tuned kernel records at most (attention's backward: 3; a split matmul: 2). */
const MAX_DISPATCHES_PER_CALL = 4;

/** Something the tuner can run many times: records one call of a variant, frees its buffers when done. */
interface Trial {
  record(batch: CommandBatch, variant: string): void;
  destroy(): void;
}

/** Builds the trial of one queued request, by family. */
const FAMILIES: Record<string, (gpu: Gpu, spec: TuningRequest["spec"]) => Trial> = {
  matmul: matmulTrial,
  rmsnorm: rmsnormTrial,
  crossentropy: crossEntropyTrial,
  attention: attentionTrial,
};

function attentionTrial(gpu: Gpu, spec: TuningRequest["spec"]): Trial {
  const n = (k: string) => spec[k] as number;
  const [B, T, NH, KVH, HS] = [n("B"), n("T"), n("NH"), n("KVH"), n("HS")];
  const rows = B * T * NH * HS;
  const kvRows = B * T * KVH * HS;
  const [q, out, dout, dq] = ["q", "out", "dout", "dq"].map((l) => floats(gpu, rows, `tune ${l}`, 0.1));
  const [k, v, dk, dv] = ["k", "v", "dk", "dv"].map((l) => floats(gpu, kvRows, `tune ${l}`, 0.1));
  const lse = floats(gpu, B * NH * T, "tune lse", 0);
  const scratch = floats(gpu, attentionScratchFloats(B, T, NH), "tune delta", 0);
  const shape = { B, T, NH, KVH, HS };
  return {
    record(batch, variant) {
      const kernel = variant as AttentionVariant;
      if (spec.pass === "forward") attentionForward(batch, { ...shape, kernel, q, k, v, out, lse });
      else attentionBackward(batch, { ...shape, kernel, q, k, v, out, lse, dout, dq, dk, dv, scratch });
    },
    destroy() {
      for (const b of [q, out, dout, dq, k, v, dk, dv, lse, scratch]) b.destroy();
    },
  };
}

function floats(gpu: Gpu, elements: number, label: string, fill = 0.5): GPUBuffer {
  return createBuffer(gpu.device, label, new Float32Array(Math.max(4, elements)).fill(fill));
}

function rmsnormTrial(gpu: Gpu, spec: TuningRequest["spec"]): Trial {
  const [N, C] = [spec.N as number, spec.C as number];
  const x = floats(gpu, N * C, "tune x");
  const w = floats(gpu, C, "tune weight");
  const out = floats(gpu, N * C, "tune out");
  const dx = floats(gpu, N * C, "tune dx");
  const rstd = floats(gpu, N, "tune rstd");
  const dw = floats(gpu, C, "tune dweight");
  const scratch = floats(gpu, rmsnormScratchFloats(N, C), "tune scratch");
  return {
    record(batch, variant) {
      const v = variant as RmsnormVariant;
      if (spec.pass === "forward") {
        rmsnormForward(batch, { x, weight: w, out, rstd, N, C, eps: 1e-5, variant: v });
      } else {
        const accumulateDx = spec.accumulateDx as boolean;
        rmsnormBackward(batch, {
          dout: out,
          x,
          weight: w,
          rstd,
          dx,
          dweight: dw,
          scratch,
          N,
          C,
          accumulateDx,
          variant: v,
        });
      }
    },
    destroy() {
      for (const b of [x, w, out, dx, rstd, dw, scratch]) b.destroy();
    },
  };
}

function crossEntropyTrial(gpu: Gpu, spec: TuningRequest["spec"]): Trial {
  const [N, V] = [spec.N as number, spec.V as number];
  const logits = floats(gpu, N * V, "tune logits", 0.01);
  const targets = createBuffer(gpu.device, "tune targets", new Uint32Array(Math.max(4, N)));
  const losses = floats(gpu, N, "tune losses");
  return {
    record(batch, variant) {
      const v = variant as CrossEntropyVariant;
      // The fused form overwrites the logits with dlogits: later calls read those, the same amount of work.
      if (spec.writeGrad) crossEntropy(batch, { logits, targets, losses, N, V, dscale: 1 / N, variant: v });
      else crossEntropyLoss(batch, { logits, targets, losses, N, V, variant: v });
    },
    destroy() {
      for (const b of [logits, targets, losses]) b.destroy();
    },
  };
}

function matmulTrial(gpu: Gpu, spec: TuningRequest["spec"]): Trial {
  const n = (k: string) => spec[k] as number;
  const [M, K, N, count] = [n("M"), n("K"), n("N"), n("count")];
  const f32 = (elements: number, label: string) =>
    createBuffer(gpu.device, label, Math.max(16, elements * 4));
  const a = f32(count * (M * K + 3), "tune A");
  const b = f32(count * (K * N + 3), "tune B");
  const c = f32(count * (M * N + 3), "tune C");
  const splitTarget = n("splitTarget");
  const scratchFloats = splitTarget > 0 ? matmulScratchFloats(M, N, K, splitTarget) : 0;
  const scratch = scratchFloats > 0 ? f32(scratchFloats, "tune scratch") : undefined;
  const state = f32(4, "tune amp state");
  const module = spec.module as string;
  return {
    record(batch, variant) {
      const args = {
        a,
        b,
        c,
        M,
        K,
        N,
        transA: spec.transA as boolean,
        transB: spec.transB as boolean,
        accumulate: spec.accumulate as boolean,
        count,
        // Batch items a multiple of 4 floats apart, so the vec4 core (a candidate only for aligned calls) fits too.
        strides: [M * K, K * N, M * N].map((n) => Math.ceil(n / 4) * 4) as [number, number, number],
        scratch,
        splitTarget: splitTarget > 0 ? splitTarget : undefined,
        variant: variant as MatmulVariant,
      };
      if (module === MATMUL.name) matmul(batch, args);
      else {
        const dtype = module === MATMUL_F16.name ? "float16" : "bfloat16";
        matmulLowPrecision(batch, { ...args, dtype, unscale: spec.unscale ? { state, slot: 1 } : undefined });
      }
    },
    destroy() {
      for (const x of [a, b, c, scratch, state]) x?.destroy();
    },
  };
}

/**
 * Microseconds per call of each variant, in the order given. With timestamp queries every variant gets its own
 * batch and profiler and all are submitted before one wait (each wait costs ≥ 10 ms on some adapters); without
 * them, each variant is timed on the wall clock around its own submit.
 */
async function measure(gpu: Gpu, trial: Trial, variants: string[]): Promise<number[]> {
  if (!gpu.hasTimestamps) {
    const out: number[] = [];
    for (const v of variants) {
      const batch = new CommandBatch(gpu, `tune ${v}`);
      for (let i = 0; i < CALLS; i++) trial.record(batch, v);
      const t0 = performance.now();
      batch.submit();
      await gpu.device.queue.onSubmittedWorkDone();
      out.push((performance.now() - t0) * 1000 / CALLS);
    }
    return out;
  }
  const profilers = variants.map((v) => {
    const profiler = new Profiler(gpu, CALLS * MAX_DISPATCHES_PER_CALL);
    const batch = new CommandBatch(gpu, `tune ${v}`, profiler);
    for (let i = 0; i < CALLS; i++) trial.record(batch, v);
    batch.submit();
    return profiler;
  });
  const out: number[] = [];
  for (const profiler of profilers) {
    let ms = 0;
    for (const t of (await profiler.totals()).values()) ms += t.ms;
    profiler.querySet.destroy();
    out.push(ms * 1000 / CALLS);
  }
  return out;
}

/** One tuned shape, for reports. */
export interface TunedShape {
  family: string;
  shape: string;
  result: TuningResult;
}

/**
 * Times the candidates of every shape queued in `gpu.tuning`, keeps the fastest of each, and saves the table to its
 * cache (when one is attached). Returns what it tuned, in queue order.
 */
export async function tunePending(
  gpu: Gpu,
  opts: { warn?: (message: string) => void; onShape?: (t: TunedShape) => void } = {},
): Promise<TunedShape[]> {
  const warn = opts.warn ?? ((m: string) => console.error(`warning: ${m}`));
  const done: TunedShape[] = [];
  for (const req of gpu.tuning.pending) {
    const make = FAMILIES[req.family];
    if (!make) {
      gpu.tuning.set(req.family, req.shape, { variant: req.candidates[0], times: {} });
      continue;
    }
    const trial = make(gpu, req.spec);
    try {
      const samples = new Map<string, number[]>(req.candidates.map((v) => [v, []]));
      // The first measurement of each candidate compiles its pipeline: it does not count. Later rounds rotate
      // the order, so no candidate always runs first (or last) in a submit.
      await measure(gpu, trial, req.candidates);
      for (let r = 0; r < ROUNDS; r++) {
        const order = req.candidates.map((_, i) => req.candidates[(i + r) % req.candidates.length]);
        const times = await measure(gpu, trial, order);
        order.forEach((v, i) => samples.get(v)!.push(times[i]));
      }
      const times: Record<string, number> = {};
      for (const [v, s] of samples) times[v] = Math.round(s.sort((x, y) => x - y)[s.length >> 1] * 100) / 100;
      // Ties (within 3 %) go to the earlier candidate: the default is first, so noise does not flip choices.
      let best = req.candidates[0];
      for (const v of req.candidates) if (times[v] < times[best] * 0.97) best = v;
      const result = { variant: best, times };
      gpu.tuning.set(req.family, req.shape, result);
      const tuned = { family: req.family, shape: req.shape, result };
      done.push(tuned);
      opts.onShape?.(tuned);
    } finally {
      trial.destroy();
    }
    gpu.check();
  }
  if (done.length) gpu.tuning.save(warn);
  return done;
}

/**
 * Whether commands tune kernels at all: STORYTELLER_TUNING=off (or 0, false) runs every kernel's default variant
 * (the test suite does, so its many short trainings spend no time timing variants).
 */
export function tuningEnabled(): boolean {
  try {
    return !/^(off|0|false|no)$/i.test(Deno.env.get("STORYTELLER_TUNING") ?? "");
  } catch {
    return true;
  }
}

/** A short hash of the tunable kernels' sources: a kernel change must not reuse the old kernel's timings. */
function kernelsHash(): string {
  let h = 0x811c9dc5;
  const kernels = [
    ...[MATMUL, MATMUL_F16, MATMUL_BF16, MATMUL_REG, MATMUL_REG_F16, MATMUL_REG_BF16, MATMUL_REG4],
    ...[RMSNORM, RMSNORM_CPU, CROSS_ENTROPY, CROSS_ENTROPY_CPU],
    ...[ATTENTION, ATTENTION_ROWS, ATTENTION_CPU, ATTENTION_CPU4],
  ];
  for (const k of kernels) {
    for (let i = 0; i < k.code.length; i++) h = Math.imul(h ^ k.code.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * Loads this adapter's tuned choices from the user's cache (tuningCachePath) and saves new ones there. The key
 * names the adapter, its driver description, Deno (wgpu), storyteller and the kernels' sources. Off when
 * STORYTELLER_TUNING_CACHE=off.
 */
export function attachTuningCache(
  gpu: Gpu,
  warn: (message: string) => void,
  path: string | null = tuningCachePath(),
): string | null {
  if (!path) return null;
  const s = gpu.summary;
  const adapterKey = [s.description, s.vendor, s.architecture, s.device, `deno ${Deno.version.deno}`, VERSION]
    .join(" | ") + ` | kernels ${kernelsHash()}`;
  gpu.tuning.attach({ path, adapterKey }, warn);
  return path;
}
