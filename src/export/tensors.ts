/**
 * The model's tensors in the order and roles every export format needs, read from the flat parameter buffer. A
 * MoE model whose dense layers sit between MoE layers (`moe.layers: every_other` or a list) is written with every
 * layer a MoE layer, as llama.cpp and Mixtral require: a dense MLP becomes E identical experts behind a zero router,
 * whose renormalised top-k weights sum to 1, so the layer computes the same function.
 */
import type { ModelConfig } from "../config/mod.ts";
import { buildLayout, modelDims } from "../model/layout.ts";

/** What a tensor is, independent of any format's name for it. */
export type Role =
  | "embed"
  | "attn_norm"
  | "q"
  | "k"
  | "v"
  | "o"
  | "ffn_norm"
  | "gate"
  | "up"
  | "down"
  | "router"
  | "gate_exps"
  | "up_exps"
  | "down_exps"
  | "norm"
  | "head";

/** One tensor: row-major `shape` as in the layout table (Linear weights are (out, in)). */
export interface ModelTensor {
  role: Role;
  /** Block index, absent for embed, norm and head. */
  layer?: number;
  shape: number[];
  data: Float32Array;
}

/** True when the model has experts in some layers but not all. */
export function hasMixedMoe(m: ModelConfig): boolean {
  const d = modelDims(m);
  return d.moeLayers.size > 0 && d.moeLayers.size < d.L;
}

/** The tensors of `params` (flat, layout order) in export order: embed, per block, final norm, untied head. */
export function modelTensors(m: ModelConfig, params: Float32Array): ModelTensor[] {
  const d = modelDims(m);
  const layout = buildLayout(m);
  const get = (name: string) => {
    const e = layout.byName.get(name);
    if (!e) throw new Error(`Cannot export the model: the layout has no tensor ${name}`);
    return { shape: e.shape, data: params.subarray(e.offset, e.offset + e.size) };
  };
  const out: ModelTensor[] = [{ role: "embed", ...get("embed.weight") }];
  const moe = d.moeLayers.size > 0;
  for (let l = 0; l < d.L; l++) {
    const p = `blocks.${l}`;
    const at = (role: Role, name: string) => out.push({ role, layer: l, ...get(`${p}.${name}`) });
    at("attn_norm", "n1.weight");
    at("q", "attn.q.weight");
    at("k", "attn.k.weight");
    at("v", "attn.v.weight");
    at("o", "attn.o.weight");
    at("ffn_norm", "n2.weight");
    if (d.moeLayers.has(l)) {
      at("router", "mlp.router.weight");
      at("gate_exps", "mlp.experts.gate.weight");
      at("up_exps", "mlp.experts.up.weight");
      at("down_exps", "mlp.experts.down.weight");
    } else if (moe) {
      out.push({ role: "router", layer: l, shape: [d.E, d.C], data: new Float32Array(d.E * d.C) });
      for (const [role, name] of [["gate_exps", "gate"], ["up_exps", "up"], ["down_exps", "down"]] as const) {
        const w = get(`${p}.mlp.${name}.weight`);
        const data = new Float32Array(d.E * w.data.length);
        for (let e = 0; e < d.E; e++) data.set(w.data, e * w.data.length);
        out.push({ role, layer: l, shape: [d.E, ...w.shape], data });
      }
    } else {
      at("gate", "mlp.gate.weight");
      at("up", "mlp.up.weight");
      at("down", "mlp.down.weight");
    }
  }
  out.push({ role: "norm", ...get("norm.weight") });
  if (!m.tie_embeddings) out.push({ role: "head", ...get("head.weight") });
  return out;
}

/**
 * The rows of a (heads·HS, C) q or k projection reordered per head from rotate-half pairs (i, i + HS/2) to the
 * adjacent pairs (2i, 2i + 1) of llama.cpp's interleaved RoPE: convert_hf_to_gguf.py's `permute`, i.e.
 * `w.reshape(heads, 2, HS/2, C).swapaxes(1, 2).reshape(w.shape)`.
 */
export function permuteRopeRows(w: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const hs = rows / heads;
  const half = hs / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * hs + s * half + j) * cols;
        const to = (h * hs + 2 * j + s) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}
