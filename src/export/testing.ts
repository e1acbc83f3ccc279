/**
 * Test helpers for the exporters: the logits of every position and greedy continuations, from the plain-TypeScript
 * reference ops (src/reference, the project's oracle) over storyteller's own layout. Slow; tiny models only.
 */
import type { ModelConfig } from "../config/mod.ts";
import { buildLayout, modelDims } from "../model/layout.ts";
import { attentionForward } from "../reference/attention.ts";
import { embeddingForward } from "../reference/embedding.ts";
import { matmul } from "../reference/matmul.ts";
import { moeForward } from "../reference/moe.ts";
import { rmsnormForward } from "../reference/rmsnorm.ts";
import { ropeForward } from "../reference/rope.ts";
import { swigluForward } from "../reference/swiglu.ts";

/** Logits (T,V) of every position of `ids` (one sequence, no cache). */
export function referenceLogits(m: ModelConfig, params: Float32Array, ids: number[]): Float32Array {
  const d = modelDims(m);
  const layout = buildLayout(m);
  const P = (name: string) => {
    const e = layout.byName.get(name)!;
    return params.subarray(e.offset, e.offset + e.size);
  };
  const N = ids.length;
  const lin = (x: Float32Array, w: Float32Array, K: number, out: number) =>
    matmul(x, w, N, K, out, { transB: true });
  const addInto = (a: Float32Array, b: Float32Array) => {
    for (let i = 0; i < a.length; i++) a[i] += b[i];
  };
  const x = embeddingForward(Uint32Array.from(ids), P("embed.weight"), N, d.C); // (T,C)
  for (let l = 0; l < d.L; l++) {
    const p = `blocks.${l}`;
    const n1 = rmsnormForward(x, P(`${p}.n1.weight`), N, d.C, m.norm_eps).out;
    const q = ropeForward(lin(n1, P(`${p}.attn.q.weight`), d.C, d.NH * d.HS), 1, N, d.NH, d.HS, m.rope_theta);
    const k = ropeForward(
      lin(n1, P(`${p}.attn.k.weight`), d.C, d.KVH * d.HS),
      1,
      N,
      d.KVH,
      d.HS,
      m.rope_theta,
    );
    const v = lin(n1, P(`${p}.attn.v.weight`), d.C, d.KVH * d.HS);
    const att = attentionForward(q, k, v, 1, N, d.NH, d.KVH, d.HS).out;
    addInto(x, lin(att, P(`${p}.attn.o.weight`), d.NH * d.HS, d.C));
    const n2 = rmsnormForward(x, P(`${p}.n2.weight`), N, d.C, m.norm_eps).out;
    if (d.moeLayers.has(l)) {
      const w = {
        router: P(`${p}.mlp.router.weight`),
        gate: P(`${p}.mlp.experts.gate.weight`),
        up: P(`${p}.mlp.experts.up.weight`),
        down: P(`${p}.mlp.experts.down.weight`),
      };
      addInto(x, moeForward(n2, w, { N, C: d.C, E: d.E, K: d.K, I: d.I }, { auxCoef: 0, zCoef: 0 }).y);
    } else {
      const h = swigluForward(
        lin(n2, P(`${p}.mlp.gate.weight`), d.C, d.I),
        lin(n2, P(`${p}.mlp.up.weight`), d.C, d.I),
      );
      addInto(x, lin(h, P(`${p}.mlp.down.weight`), d.I, d.C));
    }
  }
  const nf = rmsnormForward(x, P("norm.weight"), N, d.C, m.norm_eps).out;
  return lin(nf, P(m.tie_embeddings ? "embed.weight" : "head.weight"), d.C, d.V);
}

/** Index of the largest value (the first on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** `steps` greedy tokens after `prompt` (stops early at `stop`), each from a full reference forward. */
export function referenceGreedy(
  m: ModelConfig,
  params: Float32Array,
  prompt: number[],
  steps: number,
  stop: number[] = [],
): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < steps && ids.length < m.max_seq_len; s++) {
    const logits = referenceLogits(m, params, ids);
    const next = argmax(logits.subarray((ids.length - 1) * m.vocab_size, ids.length * m.vocab_size));
    out.push(next);
    ids.push(next);
    if (stop.includes(next)) break;
  }
  return out;
}
