/**
 * The engine's activation buffers: per block what forward keeps for backward, the final norm and logits, and
 * (training) the gradient scratch, each with its shape (N = B·T). Under AMP the matmul inputs get 16-bit copies too.
 * Not the step that fills them (engine.ts) and not the weight copy or loss scale (amp.ts).
 */
import { createBuffer } from "../gpu/mod.ts";
import { lowPrecisionBytes } from "../kernels/cast.ts";
import { matmulScratchFloats } from "../kernels/matmul.ts";
import { rmsnormScratchFloats } from "../kernels/rmsnorm.ts";
import { attentionScratchFloats } from "../kernels/attention.ts";
import type { LowPrecision } from "../kernels/contracts.ts";
import type { ModelDims } from "./layout.ts";

const F32 = 4;

/**
 * A Linear layer's input: the f32 tensor its producer (RMSNorm, attention, SwiGLU) writes and, under AMP, the
 * packed f16/bf16 copy (two per u32) that the matmuls and the weight gradient read. Under AMP an f32 that nothing
 * else reads is one transient buffer shared by all such inputs (`lp` is what is kept for backward).
 */
export interface MatmulInput {
  f32: GPUBuffer;
  lp?: GPUBuffer;
}

/** Activations of one block, kept from forward for backward. */
export interface BlockActs {
  x: GPUBuffer; // (N,C) block input (residual stream)
  n1: MatmulInput; // (N,C) attention-norm output; AMP: f32 transient
  rstd1: GPUBuffer; // (N)
  q: GPUBuffer; // (B,T,NH,HS) after RoPE
  k: GPUBuffer; // (B,T,KVH,HS) after RoPE
  v: GPUBuffer; // (B,T,KVH,HS)
  att: MatmulInput; // (B,T,NH,HS) attention output; f32 kept under AMP too (the attention backward reads it)
  lse: GPUBuffer; // (B,NH,T)
  xmid: GPUBuffer; // (N,C) residual after attention
  n2: MatmulInput; // (N,C) mlp-norm output; AMP: f32 transient, except in MoE layers (f32 experts, no copy)
  rstd2: GPUBuffer; // (N)
  gate: GPUBuffer; // (N,I) dense MLP only
  up: GPUBuffer; // (N,I) dense MLP only
  h: MatmulInput; // (N,I) silu(gate)·up, dense MLP only; AMP: f32 transient
}

/** After the last block: the final norm, the logits and the per-token losses. */
export interface FinalActs {
  x: GPUBuffer; // (N,C) output of the last block
  nf: MatmulInput; // (N,C) final-norm output; AMP: f32 transient
  rstdf: GPUBuffer; // (N)
  logits: GPUBuffer; // (N,V), dlogits after the fused loss
  losses: GPUBuffer; // (N)
}

/** Gradient scratch of backward: one of each, reused by every block. */
export interface GradScratch {
  dx: GPUBuffer; // (N,C) gradient of the residual stream
  dn: GPUBuffer; // (N,C) gradient of a norm output
  datt: GPUBuffer; // (N,NH·HS)
  dq: GPUBuffer; // (N,NH·HS)
  dk: GPUBuffer; // (N,KVH·HS)
  dv: GPUBuffer; // (N,KVH·HS)
  dh: GPUBuffer; // (N,I)
  dgate: GPUBuffer; // (N,I)
  dup: GPUBuffer; // (N,I)
  normScratch: GPUBuffer; // rmsnormScratchFloats(N, C)
  attScratch: GPUBuffer; // (B,NH,T) attention delta
  splitK: GPUBuffer; // split-K partial sums of the weight-gradient matmuls (the largest of them)
}

/** All activations of an engine for micro-batches of B sequences of T tokens. */
export interface Activations {
  blocks: BlockActs[];
  final: FinalActs;
}

/**
 * Allocates the activations. With `lowPrecision` every matmul input gets its 16-bit copy, and n1, n2 (dense
 * layers), h and nf, whose f32 only feeds that copy, write one shared f32 buffer of N·max(C, I) floats.
 */
export function allocateActivations(
  device: GPUDevice,
  d: ModelDims,
  B: number,
  T: number,
  lowPrecision?: LowPrecision,
): Activations {
  const N = B * T;
  const buf = (label: string, floats: number) => createBuffer(device, label, floats * F32);
  const transient = lowPrecision && buf("amp f32 transient", N * Math.max(d.C, d.I));
  // A matmul input of n floats: AMP keeps the 16-bit copy (and the f32 too when `keepF32`), f32 the f32 only.
  const input = (label: string, n: number, keepF32 = false): MatmulInput =>
    lowPrecision
      ? {
        f32: keepF32 ? buf(label, n) : transient!,
        lp: createBuffer(device, `${label} (${lowPrecision})`, lowPrecisionBytes(n)),
      }
      : { f32: buf(label, n) };
  const qw = d.NH * d.HS;
  const kvw = d.KVH * d.HS;
  const blocks = Array.from({ length: d.L }, (_, l): BlockActs => {
    const moe = d.moeLayers.has(l);
    return {
      x: buf(`L${l}.x`, N * d.C),
      n1: input(`L${l}.n1`, N * d.C),
      rstd1: buf(`L${l}.rstd1`, N),
      q: buf(`L${l}.q`, N * qw),
      k: buf(`L${l}.k`, N * kvw),
      v: buf(`L${l}.v`, N * kvw),
      att: input(`L${l}.att`, N * qw, true),
      lse: buf(`L${l}.lse`, B * d.NH * T),
      xmid: buf(`L${l}.xmid`, N * d.C),
      n2: moe ? { f32: buf(`L${l}.n2`, N * d.C) } : input(`L${l}.n2`, N * d.C),
      rstd2: buf(`L${l}.rstd2`, N),
      gate: buf(`L${l}.gate`, moe ? 1 : N * d.I),
      up: buf(`L${l}.up`, moe ? 1 : N * d.I),
      h: moe ? { f32: buf(`L${l}.h`, 1) } : input(`L${l}.h`, N * d.I),
    };
  });
  const final: FinalActs = {
    x: buf("final.x", N * d.C),
    nf: input("final.nf", N * d.C),
    rstdf: buf("final.rstd", N),
    logits: buf("logits", N * d.V),
    losses: buf("losses", N),
  };
  return { blocks, final };
}

/** Allocates the backward scratch; the split-K scratch fits the largest weight gradient at `splitTarget`. */
export function allocateGradScratch(
  device: GPUDevice,
  d: ModelDims,
  B: number,
  T: number,
  splitTarget: number,
): GradScratch {
  const N = B * T;
  const buf = (label: string, floats: number) => createBuffer(device, label, floats * F32);
  const qw = d.NH * d.HS;
  const kvw = d.KVH * d.HS;
  // Weight-gradient shapes (out, in) with K = N; the largest split scratch serves them all, one at a time.
  const dW = [[d.V, d.C], [d.C, d.I], [d.I, d.C], [d.C, qw], [qw, d.C], [kvw, d.C]];
  const splitFloats = Math.max(...dW.map(([o, i]) => matmulScratchFloats(o, i, N, splitTarget)));
  return {
    dx: buf("dx", N * d.C),
    dn: buf("dn", N * d.C),
    datt: buf("datt", N * qw),
    dq: buf("dq", N * qw),
    dk: buf("dk", N * kvw),
    dv: buf("dv", N * kvw),
    dh: buf("dh", N * d.I),
    dgate: buf("dgate", N * d.I),
    dup: buf("dup", N * d.I),
    normScratch: buf("rmsnorm scratch", rmsnormScratchFloats(N, d.C)),
    attScratch: buf("attention scratch", attentionScratchFloats(B, T, d.NH)),
    splitK: buf("split-K scratch", splitFloats),
  };
}

/** Every distinct GPU buffer of the activations (the shared AMP transient once), for destroy. */
export function activationBuffers(acts: Activations): Set<GPUBuffer> {
  const all = new Set<GPUBuffer>();
  for (const group of [...acts.blocks, acts.final]) {
    for (const b of Object.values(group) as (GPUBuffer | MatmulInput)[]) {
      if ("f32" in b) {
        all.add(b.f32);
        if (b.lp) all.add(b.lp);
      } else all.add(b);
    }
  }
  return all;
}
