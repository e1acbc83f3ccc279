/**
 * The inference engine's limits and buffers: which models it serves, the KV-cache bytes per slot, and allocating
 * the activations for R rows, the per-layer KV cache (slots × context), the prefill/decode id, row, spec and output
 * buffers (sampled ids, then their logprob records), the per-slot sampling state and logit bias lists, and the
 * MoE layers. Sizes and allocation only; what runs over them is engine.ts.
 */
import type { ModelConfig } from "../config/mod.ts";
import { createBuffer, type Gpu } from "../gpu/mod.ts";
import { LOGPROB_WORDS, MAX_LOGIT_BIAS, slotWords, SPEC_BYTES } from "../kernels/sample.ts";
import { type ModelDims, modelDims } from "../model/layout.ts";
import { MoeLayer } from "../model/moe.ts";

/** Bytes per f32. */
export const F32 = 4;

/** Sizes of the engine's buffers. */
export interface EngineLimits {
  /** Sequences decoded together (KV-cache slots). */
  slots: number;
  /** Positions per slot; the model's max_seq_len by default. */
  context: number;
  /** Prompt tokens one prefill pass takes (≥ context). */
  prefillRows: number;
  /** Decode steps one chunk may run. */
  maxChunk: number;
  /**
   * Prefill rows one prompt-scoring matmul covers (a multiple of 64); default: as many as ~64 MiB of f32 logits
   * hold. Only prefills that score their prompt (echo with logprobs) allocate this (rows, V) buffer.
   */
  promptPieceRows?: number;
}

/** Bytes of KV cache one slot of `context` positions needs for this model. */
export function kvBytesPerSlot(model: ModelConfig, context = model.max_seq_len): number {
  const d = modelDims(model);
  return 2 * d.L * context * d.KVH * d.HS * F32;
}

/** The error for models this engine cannot run; every dense and MoE Llama-style model runs today. */
export function checkServable(model: ModelConfig): void {
  const d = modelDims(model);
  if (d.E > 0 && (d.K < 1 || d.K > d.E)) {
    throw new Error(`Cannot serve a Mixture-of-Experts model with top_k ${d.K} of ${d.E} experts`);
  }
}

/** Every buffer one engine owns (the parameters excepted). Shapes in floats unless marked u32. */
export interface EngineBuffers {
  /**
   * Over R rows: x, n (R,C), rstd (R), q/att (R,NH*HS), k/v (R,KVH*HS), gate/up/h (R,I); hs (S,C), logits (S,V),
   * raw (S,V): the sampler's copy of the raw logits it penalizes, for logprob records.
   */
  a: Record<
    "x" | "n" | "rstd" | "q" | "k" | "v" | "att" | "gate" | "up" | "h" | "hs" | "logits" | "raw",
    GPUBuffer
  >;
  /** Per layer (slots,context,KVH,HS). */
  kc: GPUBuffer[];
  vc: GPUBuffer[];
  /**
   * u32: ids (R), rows (R,2), pick (S), targets (R: next prompt id per row, for prompt logprobs); out: S sampled ids,
   * then S logprob records (LOGPROB_WORDS each) from word S, then R prompt-row records from word S·(1 + LOGPROB_WORDS).
   */
  pre: Record<"ids" | "rows" | "pick" | "targets" | "specs" | "out", GPUBuffer>;
  /**
   * u32: ids (S), rows (S,2); out: a chunk over S' ≤ S sequences writes (maxChunk,S') sampled ids, then their
   * logprob records from word maxChunk·S'.
   */
  dec: Record<"ids" | "rows" | "specs" | "out", GPUBuffer>;
  /** u32 (slots, slotWords(V)): the ids each slot's sequence holds (prompt included), then its generated-id counts. */
  seen: GPUBuffer;
  /** u32 (slots, MAX_LOGIT_BIAS, 2): each slot's logit bias list as (id, f32 bias bits), written at its prefill. */
  bias: GPUBuffer;
  /** Layer → its MoE MLP (inference-only use of the training block). */
  moe: Map<number, MoeLayer>;
}

/** Allocates the engine's buffers for R = max(prefillRows, slots) rows and S = slots sequences. */
export function allocateEngineBuffers(
  gpu: Gpu,
  model: ModelConfig,
  d: ModelDims,
  limits: EngineLimits,
  R: number,
): EngineBuffers {
  const buf = (label: string, floats: number) => createBuffer(gpu.device, `serve ${label}`, floats * F32);
  const S = limits.slots;
  const qw = d.NH * d.HS;
  const kvw = d.KVH * d.HS;
  const a = {
    x: buf("x", R * d.C),
    n: buf("n", R * d.C),
    rstd: buf("rstd", R),
    q: buf("q", R * qw),
    k: buf("k", R * kvw),
    v: buf("v", R * kvw),
    att: buf("att", R * qw),
    gate: buf("gate", R * d.I),
    up: buf("up", R * d.I),
    h: buf("h", R * d.I),
    hs: buf("hs", S * d.C),
    logits: buf("logits", S * d.V),
    raw: buf("raw logits", S * d.V),
  };
  const moe = new Map<number, MoeLayer>();
  const moeDims = { N: R, C: d.C, I: d.I, E: d.E, K: d.K };
  for (const l of d.moeLayers) moe.set(l, new MoeLayer(gpu, moeDims, l, model.moe));
  const cache = S * limits.context * kvw;
  const kc = Array.from({ length: d.L }, (_, l) => buf(`L${l}.kcache`, cache));
  const vc = Array.from({ length: d.L }, (_, l) => buf(`L${l}.vcache`, cache));
  const pre = {
    ids: buf("prefill ids", R),
    rows: buf("prefill rows", 2 * R),
    pick: buf("prefill pick", S),
    targets: buf("prefill targets", R),
    specs: buf("prefill specs", (S * SPEC_BYTES) / F32),
    out: buf("prefill out", S * (1 + LOGPROB_WORDS) + R * LOGPROB_WORDS),
  };
  const dec = {
    ids: buf("decode ids", S),
    rows: buf("decode rows", 2 * S),
    specs: buf("decode specs", (S * SPEC_BYTES) / F32),
    out: buf("decode out", limits.maxChunk * S * (1 + LOGPROB_WORDS)),
  };
  const seen = buf("seen", S * slotWords(d.V));
  const bias = buf("logit bias", S * MAX_LOGIT_BIAS * 2);
  return { a, kc, vc, pre, dec, seen, bias, moe };
}

/** Releases every buffer of `b`. */
export function destroyEngineBuffers(b: EngineBuffers): void {
  for (const group of [b.a, b.pre, b.dec]) for (const x of Object.values(group)) x.destroy();
  for (const x of [...b.kc, ...b.vc, b.seen, b.bias]) x.destroy();
  for (const moe of b.moe.values()) moe.destroy();
}
