/**
 * The parameter layout table: every tensor of the model, its shape, and its offset in the one contiguous
 * parameter buffer (gradients and AdamW moments use the same offsets in their own buffers). Names and shapes
 * follow ../shared/bench/torch_reference.py (Linear weights are (out, in)), so safetensors files map 1:1.
 */
import type { ModelConfig } from "../config/mod.ts";

/** One parameter tensor in the flat buffer. */
export interface ParamEntry {
  name: string;
  shape: number[];
  /** Offset in elements (f32) from the start of the buffer; a multiple of PARAM_ALIGN. */
  offset: number;
  /** Elements in the tensor. */
  size: number;
  kind: "embedding" | "norm" | "linear";
  /** Standard deviation of the N(0, std) initialisation; norms start at 1. */
  initStd: number;
}

/** The whole table. */
export interface Layout {
  entries: ParamEntry[];
  /** Elements in the buffer, padding included. */
  total: number;
  /** Parameters without padding (what a user calls the parameter count). */
  count: number;
  byName: Map<string, ParamEntry>;
}

/** Offsets are aligned to 64 elements (256 bytes) so any tensor can be bound as its own storage range. */
export const PARAM_ALIGN = 64;

/** Derived sizes every part of the engine agrees on. */
export interface ModelDims {
  V: number;
  C: number;
  L: number;
  NH: number;
  KVH: number;
  HS: number;
  I: number;
  T: number;
  E: number;
  K: number;
  moeLayers: Set<number>;
}

/** Resolves the nullable and derived model sizes. */
export function modelDims(m: ModelConfig): ModelDims {
  const E = m.moe.num_experts;
  return {
    V: m.vocab_size,
    C: m.hidden_size,
    L: m.num_layers,
    NH: m.num_heads,
    KVH: m.num_kv_heads ?? m.num_heads,
    HS: m.hidden_size / m.num_heads,
    I: m.intermediate_size ?? 4 * m.hidden_size,
    T: m.max_seq_len,
    E,
    K: m.moe.top_k,
    moeLayers: moeLayerSet(m),
  };
}

/** The layers whose MLP is a mixture of experts (empty for a dense model). */
export function moeLayerSet(m: ModelConfig): Set<number> {
  if (m.moe.num_experts <= 0) return new Set();
  const L = m.num_layers;
  if (m.moe.layers === "all") return new Set(Array.from({ length: L }, (_, i) => i));
  if (m.moe.layers === "every_other") {
    return new Set(Array.from({ length: L }, (_, i) => i).filter((i) => i % 2 === 1));
  }
  return new Set(m.moe.layers);
}

/** Builds the layout table for a model config. */
export function buildLayout(m: ModelConfig): Layout {
  const d = modelDims(m);
  const entries: ParamEntry[] = [];
  let offset = 0;
  let count = 0;
  const residualStd = 0.02 / Math.sqrt(2 * d.L);
  const add = (name: string, shape: number[], kind: ParamEntry["kind"], initStd = 0.02) => {
    const size = shape.reduce((a, b) => a * b, 1);
    entries.push({ name, shape, offset, size, kind, initStd: kind === "norm" ? 0 : initStd });
    offset += Math.ceil(size / PARAM_ALIGN) * PARAM_ALIGN;
    count += size;
  };
  add("embed.weight", [d.V, d.C], "embedding");
  for (let l = 0; l < d.L; l++) {
    const p = `blocks.${l}`;
    add(`${p}.n1.weight`, [d.C], "norm");
    add(`${p}.attn.q.weight`, [d.NH * d.HS, d.C], "linear");
    add(`${p}.attn.k.weight`, [d.KVH * d.HS, d.C], "linear");
    add(`${p}.attn.v.weight`, [d.KVH * d.HS, d.C], "linear");
    add(`${p}.attn.o.weight`, [d.C, d.NH * d.HS], "linear", residualStd);
    add(`${p}.n2.weight`, [d.C], "norm");
    if (d.moeLayers.has(l)) {
      add(`${p}.mlp.router.weight`, [d.E, d.C], "linear");
      add(`${p}.mlp.experts.gate.weight`, [d.E, d.I, d.C], "linear");
      add(`${p}.mlp.experts.up.weight`, [d.E, d.I, d.C], "linear");
      add(`${p}.mlp.experts.down.weight`, [d.E, d.C, d.I], "linear", residualStd);
    } else {
      add(`${p}.mlp.gate.weight`, [d.I, d.C], "linear");
      add(`${p}.mlp.up.weight`, [d.I, d.C], "linear");
      add(`${p}.mlp.down.weight`, [d.C, d.I], "linear", residualStd);
    }
  }
  add("norm.weight", [d.C], "norm");
  if (!m.tie_embeddings) add("head.weight", [d.V, d.C], "linear");
  return { entries, total: offset, count, byName: new Map(entries.map((e) => [e.name, e])) };
}

/** Parameters a token actually uses (MoE layers count top_k experts); for FLOP and speed comparisons. */
export function activeParamCount(m: ModelConfig): number {
  const d = modelDims(m);
  let n = 0;
  for (const e of buildLayout(m).entries) {
    n += e.name.includes(".experts.") ? (e.size / d.E) * d.K : e.size;
  }
  return n;
}

/** A rough estimate of GPU memory for training, in bytes, by part. */
export function estimateTrainingMemory(
  m: ModelConfig,
  batchSize: number,
  opts: { amp?: boolean } = {},
): { params: number; grads: number; optimizer: number; activations: number; amp: number; total: number } {
  const d = modelDims(m);
  const layout = buildLayout(m);
  const p = layout.total * 4;
  const BT = batchSize * d.T;
  const kvw = d.KVH * d.HS;
  // Per token per layer, the activations kept for backward: block input, two norm outputs and their rstd,
  // q/k/v (after RoPE), attention output and its log-sum-exp, the mid residual, gate/up/SwiGLU outputs.
  const mlpWidth = d.moeLayers.size > 0 ? d.I * d.K + d.E * 2 : d.I;
  const perTokenLayer = 5 * d.C + 2 + d.C + 2 * kvw + d.NH + 3 * mlpWidth;
  let activations = 4 * (BT * d.L * perTokenLayer + BT * d.C * 2 + BT * d.V * 2);
  let amp = 0;
  if (opts.amp) {
    // Under AMP the matmul inputs saved for backward (n1, dense n2, h) are 16-bit, their f32 twins one shared
    // transient; the Linear weights get a 16-bit copy (see docs/amp.md).
    const dense = d.L - d.moeLayers.size;
    activations -= 2 * BT * (d.L * d.C + dense * (d.C + d.I));
    amp = layout.total * 2 + BT * Math.max(d.C, d.I) * 4;
  }
  return { params: p, grads: p, optimizer: 2 * p, activations, amp, total: 4 * p + activations + amp };
}
