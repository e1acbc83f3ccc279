/**
 * The Mixture-of-Experts MLP of one layer on the GPU: router → softmax/top-k → dropless plan → gather → grouped
 * SwiGLU experts → weighted combine, its backward in exact reverse order (router included), the auxiliary losses
 * and a per-layer stats record (balance, entropy, z, per-expert fractions). Not the attention half of the block.
 */
import type { MoeConfig } from "../config/mod.ts";
import { type Binding, type CommandBatch, createBuffer, type Gpu } from "../gpu/mod.ts";
import { matmul, matmulScratchFloats } from "../kernels/matmul.ts";
import { swigluBackward, swigluForward } from "../kernels/swiglu.ts";
import {
  GROUPED_SPLIT_TARGET,
  groupedKsumScratchFloats,
  groupedMatmulKsum,
  groupedMatmulRows,
  moeAddLoss,
  moeCombine,
  moeGather,
  moePlan,
  moePlanTiles,
  moeRoute,
  moeRouteBackward,
  moeSpread,
  moeStats,
  moeStatsFloats,
  moeWeightGrad,
} from "../kernels/moe.ts";

const F32 = 4;

/** The four tensors of one MoE layer (parameters or their gradients), as bindings into the flat buffer. */
export interface MoeTensors {
  /** (E,C) */
  router: Binding;
  /** (E,I,C) */
  gate: Binding;
  /** (E,I,C) */
  up: Binding;
  /** (E,C,I) */
  down: Binding;
}

/** Bindings of layer `l`'s MoE tensors through a name → binding lookup (Engine.w or Engine.g). */
export function moeTensors(l: number, lookup: (name: string) => Binding): MoeTensors {
  const p = `blocks.${l}.mlp`;
  return {
    router: lookup(`${p}.router.weight`),
    gate: lookup(`${p}.experts.gate.weight`),
    up: lookup(`${p}.experts.up.weight`),
    down: lookup(`${p}.experts.down.weight`),
  };
}

/** Sizes of an MoE layer: up to N tokens, C channels, I expert width, E experts, top-K. */
export interface MoeDims {
  N: number;
  C: number;
  I: number;
  E: number;
  K: number;
}

/** Backward temporaries, shared by every MoE layer of a model (S = N·K). */
export class MoeScratch {
  readonly dyg: GPUBuffer; // (S,C) weighted upstream gradient per expert row
  readonly dh: GPUBuffer; // (S,I)
  readonly dgate: GPUBuffer; // (S,I)
  readonly dup: GPUBuffer; // (S,I)
  readonly dxg: GPUBuffer; // (S,C)
  readonly dw: GPUBuffer; // (N,K)
  readonly dlogits: GPUBuffer; // (N,E)
  readonly splitK: GPUBuffer; // partial sums of the split weight-gradient sums (expert and router)

  /** `splitTarget`: workgroups the weight-gradient splits aim for (0 = never split, as on CPU adapters). */
  constructor(gpu: Gpu, d: MoeDims, readonly splitTarget = GROUPED_SPLIT_TARGET) {
    const S = d.N * d.K;
    const buf = (label: string, floats: number) => createBuffer(gpu.device, `moe.${label}`, floats * F32);
    this.dyg = buf("dyg", S * d.C);
    this.dh = buf("dh", S * d.I);
    this.dgate = buf("dgate", S * d.I);
    this.dup = buf("dup", S * d.I);
    this.dxg = buf("dxg", S * d.C);
    this.dw = buf("dw", d.N * d.K);
    this.dlogits = buf("dlogits", d.N * d.E);
    this.splitK = buf(
      "split scratch",
      Math.max(
        groupedKsumScratchFloats(S, d.C, d.I, d.E, splitTarget),
        groupedKsumScratchFloats(S, d.I, d.C, d.E, splitTarget),
        matmulScratchFloats(d.E, d.C, d.N, splitTarget),
      ),
    );
  }

  destroy(): void {
    for (const b of Object.values(this)) if (b instanceof GPUBuffer) b.destroy();
  }
}

/** One layer's MoE MLP: the buffers forward keeps (for backward and the stats) and the launches. */
export class MoeLayer {
  readonly S: number;
  /** The stats record: [balance, entropy, z, aux, f (E), P (E)], rewritten by every forward. */
  readonly stats: GPUBuffer;
  readonly #b: Record<
    | "logits"
    | "probs"
    | "idx"
    | "weights"
    | "tok"
    | "tileCounts"
    | "tileBase"
    | "offsets"
    | "pos"
    | "rowSlot"
    | "xg"
    | "gate"
    | "up"
    | "h"
    | "yg",
    GPUBuffer
  >;

  constructor(gpu: Gpu, readonly d: MoeDims, readonly layer: number, readonly moe: MoeConfig) {
    const { N, C, I, E, K } = d;
    const S = (this.S = N * K);
    const tiles = moePlanTiles(S);
    const buf = (label: string, floats: number) =>
      createBuffer(gpu.device, `L${layer}.moe.${label}`, floats * F32);
    this.#b = {
      logits: buf("logits", N * E), // (N,E)
      probs: buf("probs", N * E), // (N,E)
      idx: buf("idx", S), // u32 (N,K)
      weights: buf("weights", S), // (N,K)
      tok: buf("tok", 2 * N), // (N,2) lse, entropy
      tileCounts: buf("tileCounts", tiles * E), // u32 (tiles,E)
      tileBase: buf("tileBase", tiles * E), // u32 (tiles,E)
      offsets: buf("offsets", E + 1), // u32 (E+1)
      pos: buf("pos", S), // u32 (S)
      rowSlot: buf("rowSlot", S), // u32 (S)
      xg: buf("xg", S * C), // (S,C) gathered input rows, expert-sorted
      gate: buf("gate", S * I), // (S,I)
      up: buf("up", S * I), // (S,I)
      h: buf("h", S * I), // (S,I) silu(gate)·up
      yg: buf("yg", S * C), // (S,C) expert outputs before weighting
    };
    this.stats = buf("stats", moeStatsFloats(E));
  }

  /**
   * Records out (n,C) (+)= MoE(x (n,C)) for the first n ≤ N tokens, and the stats record. Needs no backward
   * buffers, so inference can call it alone (n may change from call to call, e.g. per decode step).
   */
  forward(
    batch: CommandBatch,
    a: { x: Binding; out: Binding; w: MoeTensors; accumulate?: boolean; n?: number },
  ): void {
    const { C, I, E, K } = this.d;
    const N = a.n ?? this.d.N;
    if (N > this.d.N) {
      throw new Error(`Cannot run MoE layer ${this.layer} on ${N} tokens: built for ${this.d.N}`);
    }
    const S = N * K;
    const b = this.#b;
    matmul(batch, { a: a.x, b: a.w.router, c: b.logits, M: N, K: C, N: E, transB: true });
    moeRoute(batch, {
      logits: b.logits,
      probs: b.probs,
      idx: b.idx,
      weights: b.weights,
      tok: b.tok,
      N,
      E,
      K,
    });
    moePlan(batch, {
      idx: b.idx,
      tileCounts: b.tileCounts,
      tileBase: b.tileBase,
      offsets: b.offsets,
      pos: b.pos,
      rowSlot: b.rowSlot,
      S,
      E,
    });
    moeStats(batch, {
      probs: b.probs,
      tok: b.tok,
      offsets: b.offsets,
      out: this.stats,
      N,
      E,
      K,
      auxCoef: this.moe.aux_loss_coef,
      zCoef: this.moe.z_loss_coef,
    });
    moeGather(batch, { x: a.x, rowSlot: b.rowSlot, out: b.xg, S, C, K });
    const rows = { offsets: b.offsets, S, E, transB: true };
    groupedMatmulRows(batch, { ...rows, a: b.xg, b: a.w.gate, c: b.gate, K: C, N: I });
    groupedMatmulRows(batch, { ...rows, a: b.xg, b: a.w.up, c: b.up, K: C, N: I });
    swigluForward(batch, { gate: b.gate, up: b.up, out: b.h, n: S * I });
    groupedMatmulRows(batch, { ...rows, a: b.h, b: a.w.down, c: b.yg, K: I, N: C });
    moeCombine(batch, {
      rows: b.yg,
      pos: b.pos,
      weights: b.weights,
      out: a.out,
      N,
      C,
      K,
      accumulate: a.accumulate,
    });
  }

  /** Records acc[slot] += scale · (aux_loss_coef · balance + z_loss_coef · z) of the last forward. */
  addAuxLoss(batch: CommandBatch, acc: GPUBuffer, slot: number, scale: number): void {
    moeAddLoss(batch, { stats: this.stats, acc, slot, scale });
  }

  /**
   * Records the backward of the last full forward (n = N): dx (N,C) = d(MoE)/dx · dy (overwritten), gradients
   * accumulated into `g`. `auxScale` multiplies the auxiliary losses' gradient (1/grad_accum_steps).
   */
  backward(
    batch: CommandBatch,
    a: {
      dy: Binding;
      dx: Binding;
      x: Binding;
      w: MoeTensors;
      g: MoeTensors;
      scratch: MoeScratch;
      auxScale: number;
    },
  ): void {
    const { N, C, I, E, K } = this.d;
    const S = this.S;
    const b = this.#b;
    const s = a.scratch;
    const split = { S, scratch: s.splitK, splitTarget: s.splitTarget };
    // combine: out += Σ_k w_k · yg[pos]
    moeWeightGrad(batch, { dy: a.dy, rows: b.yg, pos: b.pos, dw: s.dw, S, C, K });
    moeSpread(batch, { dy: a.dy, rowSlot: b.rowSlot, weights: b.weights, out: s.dyg, S, C, K });
    // down: yg = h · Wd[e]ᵀ
    groupedMatmulRows(batch, { a: s.dyg, b: a.w.down, c: s.dh, offsets: b.offsets, S, E, K: C, N: I });
    groupedMatmulKsum(batch, {
      ...split,
      a: s.dyg,
      b: b.h,
      c: a.g.down,
      offsets: b.offsets,
      M: C,
      N: I,
      E,
      accumulate: true,
    });
    swigluBackward(batch, { dout: s.dh, gate: b.gate, up: b.up, dgate: s.dgate, dup: s.dup, n: S * I });
    // gate/up: xg · Wg[e]ᵀ, xg · Wu[e]ᵀ
    const rows = { offsets: b.offsets, S, E, K: I, N: C };
    groupedMatmulRows(batch, { ...rows, a: s.dgate, b: a.w.gate, c: s.dxg });
    groupedMatmulRows(batch, { ...rows, a: s.dup, b: a.w.up, c: s.dxg, accumulate: true });
    const ksum = { ...split, b: b.xg, offsets: b.offsets, M: I, N: C, E, accumulate: true };
    groupedMatmulKsum(batch, { ...ksum, a: s.dgate, c: a.g.gate });
    groupedMatmulKsum(batch, { ...ksum, a: s.dup, c: a.g.up });
    // gather: xg[row] = x[token]
    moeCombine(batch, { rows: s.dxg, pos: b.pos, weights: b.weights, out: a.dx, N, C, K, weighted: false });
    // router: softmax/top-k (+ balance and z-loss), logits = x · Wrᵀ
    moeRouteBackward(batch, {
      probs: b.probs,
      idx: b.idx,
      weights: b.weights,
      dw: s.dw,
      tok: b.tok,
      offsets: b.offsets,
      dlogits: s.dlogits,
      N,
      E,
      K,
      auxCoef: this.moe.aux_loss_coef,
      zCoef: this.moe.z_loss_coef,
      auxScale: a.auxScale,
    });
    matmul(batch, {
      a: s.dlogits,
      b: a.x,
      c: a.g.router,
      M: E,
      K: N,
      N: C,
      transA: true,
      accumulate: true,
      scratch: s.splitK,
      splitTarget: s.splitTarget,
    });
    matmul(batch, { a: s.dlogits, b: a.w.router, c: a.dx, M: N, K: E, N: C, accumulate: true });
  }

  /** Releases this layer's buffers. */
  destroy(): void {
    for (const b of Object.values(this.#b)) b.destroy();
    this.stats.destroy();
  }
}

/** Decoded stats of MoE layers, keyed as logged: moe/layer_X_balance, _entropy, _z_loss, _expert_i_fraction. */
export type MoeMetrics = Record<string, number>;

/**
 * Appends a read of every layer's stats record to `batch`; the promise settles (after submit) with the metrics of
 * the last forward pass: `moe/layer_X_balance` (1.0 = balanced), `moe/layer_X_entropy` (nats),
 * `moe/layer_X_z_loss`, `moe/layer_X_aux_loss` (coefficient-weighted) and `moe/layer_X_expert_i_fraction`.
 */
export function readMoeMetrics(batch: CommandBatch, layers: MoeLayer[]): Promise<MoeMetrics> {
  const reads = layers.map((l) => batch.read(l.stats, 0, moeStatsFloats(l.d.E) * F32));
  return Promise.all(reads).then((all) => {
    const out: MoeMetrics = {};
    all.forEach((data, i) => {
      const s = new Float32Array(data);
      const { layer, d } = layers[i];
      const p = `moe/layer_${layer}`;
      out[`${p}_balance`] = s[0];
      out[`${p}_entropy`] = s[1];
      out[`${p}_z_loss`] = s[2];
      out[`${p}_aux_loss`] = s[3];
      for (let e = 0; e < d.E; e++) out[`${p}_expert_${e}_fraction`] = s[4 + e];
    });
    return out;
  });
}
