/**
 * The whole model in plain TypeScript, composed from the reference ops (dense or MoE MLP per layer): forward, mean
 * cross-entropy loss plus the MoE auxiliary losses, and the gradient of every parameter, over the same flat layout
 * as the GPU engine. The oracle of the whole-model tests; slow, for tiny shapes only.
 */
import type { ModelConfig } from "../config/mod.ts";
import { buildLayout, modelDims } from "../model/layout.ts";
import { matmul } from "./matmul.ts";
import { embeddingBackward, embeddingForward } from "./embedding.ts";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { ropeBackward, ropeForward } from "./rope.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { swigluBackward, swigluForward } from "./swiglu.ts";
import { crossEntropyBackward, crossEntropyForward } from "./crossentropy.ts";
import { moeBackward, moeForward, type MoeSaved, type MoeWeights } from "./moe.ts";

function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

function addInto(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/**
 * Mean cross-entropy over the B·T positions plus, for MoE layers, aux_loss_coef · balance + z_loss_coef · z per
 * layer (the training loss), and (optionally) the flat gradient of every parameter.
 */
export function modelLossAndGrads(
  m: ModelConfig,
  params: Float32Array,
  inputs: Uint32Array,
  targets: Uint32Array,
  B: number,
  T: number,
  withGrads = true,
): { loss: number; grads: Float32Array } {
  const d = modelDims(m);
  const layout = buildLayout(m);
  const N = B * T;
  const P = (name: string) => {
    const e = layout.byName.get(name)!;
    return params.subarray(e.offset, e.offset + e.size);
  };
  const grads = new Float32Array(layout.total);
  const G = (name: string) => {
    const e = layout.byName.get(name)!;
    return grads.subarray(e.offset, e.offset + e.size);
  };
  const qw = d.NH * d.HS;
  const kvw = d.KVH * d.HS;
  const lin = (x: Float32Array, w: Float32Array, K: number, out: number) =>
    matmul(x, w, N, K, out, { transB: true });
  type Saved = Record<string, Float32Array>;
  const saved: Saved[] = [];
  const moeSaved = new Map<number, MoeSaved>();
  const moeShape = { N, C: d.C, E: d.E, K: d.K, I: d.I };
  const coefs = { auxCoef: m.moe.aux_loss_coef, zCoef: m.moe.z_loss_coef };
  const experts = (l: number, of: (name: string) => Float32Array): MoeWeights => ({
    router: of(`blocks.${l}.mlp.router.weight`),
    gate: of(`blocks.${l}.mlp.experts.gate.weight`),
    up: of(`blocks.${l}.mlp.experts.up.weight`),
    down: of(`blocks.${l}.mlp.experts.down.weight`),
  });
  let aux = 0;
  let x = embeddingForward(inputs, P("embed.weight"), N, d.C);
  for (let l = 0; l < d.L; l++) {
    const p = `blocks.${l}`;
    const s: Saved = { x };
    const n1 = rmsnormForward(x, P(`${p}.n1.weight`), N, d.C, m.norm_eps);
    s.n1 = n1.out;
    s.rstd1 = n1.rstd;
    s.q = ropeForward(lin(n1.out, P(`${p}.attn.q.weight`), d.C, qw), B, T, d.NH, d.HS, m.rope_theta);
    s.k = ropeForward(lin(n1.out, P(`${p}.attn.k.weight`), d.C, kvw), B, T, d.KVH, d.HS, m.rope_theta);
    s.v = lin(n1.out, P(`${p}.attn.v.weight`), d.C, kvw);
    const att = attentionForward(s.q, s.k, s.v, B, T, d.NH, d.KVH, d.HS);
    s.att = att.out;
    s.lse = att.lse;
    s.xmid = add(x, lin(att.out, P(`${p}.attn.o.weight`), qw, d.C));
    const n2 = rmsnormForward(s.xmid, P(`${p}.n2.weight`), N, d.C, m.norm_eps);
    s.n2 = n2.out;
    s.rstd2 = n2.rstd;
    if (d.moeLayers.has(l)) {
      const f = moeForward(n2.out, experts(l, P), moeShape, coefs);
      moeSaved.set(l, f.saved);
      aux += f.aux;
      x = add(s.xmid, f.y);
      saved.push(s);
      continue;
    }
    s.gate = lin(n2.out, P(`${p}.mlp.gate.weight`), d.C, d.I);
    s.up = lin(n2.out, P(`${p}.mlp.up.weight`), d.C, d.I);
    s.h = swigluForward(s.gate, s.up);
    x = add(s.xmid, lin(s.h, P(`${p}.mlp.down.weight`), d.I, d.C));
    saved.push(s);
  }
  const nf = rmsnormForward(x, P("norm.weight"), N, d.C, m.norm_eps);
  const head = m.tie_embeddings ? "embed.weight" : "head.weight";
  const logits = lin(nf.out, P(head), d.C, d.V);
  const { losses } = crossEntropyForward(logits, targets, N, d.V);
  let loss = 0;
  for (const v of losses) loss += v;
  loss = loss / N + aux;
  if (!withGrads) return { loss, grads };

  const dlogits = crossEntropyBackward(logits, targets, N, d.V, 1 / N);
  // dW += dyᵀ·x for y = x·Wᵀ
  const dW = (name: string, dy: Float32Array, xin: Float32Array, outDim: number, inDim: number) =>
    matmul(dy, xin, outDim, N, inDim, { transA: true, out: G(name) });
  dW(head, dlogits, nf.out, d.V, d.C);
  const rf = rmsnormBackward(matmul(dlogits, P(head), N, d.V, d.C), x, P("norm.weight"), nf.rstd, N, d.C);
  addInto(G("norm.weight"), rf.dw);
  let dx = rf.dx;
  for (let l = d.L - 1; l >= 0; l--) {
    const p = `blocks.${l}`;
    const s = saved[l];
    let dn2: Float32Array;
    const ms = moeSaved.get(l);
    if (ms) {
      const g = moeBackward(dx, ms, experts(l, P), moeShape, coefs);
      const gw = experts(l, G);
      addInto(gw.router, g.dRouter);
      addInto(gw.gate, g.dGate);
      addInto(gw.up, g.dUp);
      addInto(gw.down, g.dDown);
      dn2 = g.dx;
    } else {
      const dh = matmul(dx, P(`${p}.mlp.down.weight`), N, d.C, d.I);
      dW(`${p}.mlp.down.weight`, dx, s.h, d.C, d.I);
      const { dgate, dup } = swigluBackward(dh, s.gate, s.up);
      dn2 = matmul(dgate, P(`${p}.mlp.gate.weight`), N, d.I, d.C);
      matmul(dup, P(`${p}.mlp.up.weight`), N, d.I, d.C, { out: dn2 });
      dW(`${p}.mlp.gate.weight`, dgate, s.n2, d.I, d.C);
      dW(`${p}.mlp.up.weight`, dup, s.n2, d.I, d.C);
    }
    const r2 = rmsnormBackward(dn2, s.xmid, P(`${p}.n2.weight`), s.rstd2, N, d.C);
    addInto(G(`${p}.n2.weight`), r2.dw);
    dx = add(dx, r2.dx);
    const datt = matmul(dx, P(`${p}.attn.o.weight`), N, d.C, qw);
    dW(`${p}.attn.o.weight`, dx, s.att, d.C, qw);
    const ab = attentionBackward(datt, s.q, s.k, s.v, s.att, s.lse, B, T, d.NH, d.KVH, d.HS);
    const dq = ropeBackward(ab.dq, B, T, d.NH, d.HS, m.rope_theta);
    const dk = ropeBackward(ab.dk, B, T, d.KVH, d.HS, m.rope_theta);
    const dn1 = matmul(dq, P(`${p}.attn.q.weight`), N, qw, d.C);
    matmul(dk, P(`${p}.attn.k.weight`), N, kvw, d.C, { out: dn1 });
    matmul(ab.dv, P(`${p}.attn.v.weight`), N, kvw, d.C, { out: dn1 });
    dW(`${p}.attn.q.weight`, dq, s.n1, qw, d.C);
    dW(`${p}.attn.k.weight`, dk, s.n1, kvw, d.C);
    dW(`${p}.attn.v.weight`, ab.dv, s.n1, kvw, d.C);
    const r1 = rmsnormBackward(dn1, s.x, P(`${p}.n1.weight`), s.rstd1, N, d.C);
    addInto(G(`${p}.n1.weight`), r1.dw);
    dx = add(dx, r1.dx);
  }
  embeddingBackward(inputs, dx, N, d.C, d.V, G("embed.weight"));
  return { loss, grads };
}
