/**
 * Plain TypeScript Mixture-of-Experts MLP, the oracle for kernels/moe.wgsl and src/model/moe.ts: a linear router,
 * softmax, top-k with renormalised weights, SwiGLU experts, the Switch load-balancing loss and the router z-loss,
 * forward and backward. Also the routing plan (counts, offsets, gather order) the GPU computes. Slow; tiny shapes.
 */
import { matmul } from "./matmul.ts";

/** Sizes of one MoE layer: N tokens, C channels, E experts, K experts per token, I expert hidden width. */
export interface MoeShape {
  N: number;
  C: number;
  E: number;
  K: number;
  I: number;
}

/** The layer's weights, laid out as in the parameter table (Linear weights are (out, in)). */
export interface MoeWeights {
  /** (E,C) */
  router: Float32Array;
  /** (E,I,C) */
  gate: Float32Array;
  /** (E,I,C) */
  up: Float32Array;
  /** (E,C,I) */
  down: Float32Array;
}

/** Coefficients of the two auxiliary losses. */
export interface MoeCoefs {
  auxCoef: number;
  zCoef: number;
}

/** What the router decides for each token. */
export interface MoeRouting {
  /** (N,E) softmax of the router logits */
  probs: Float32Array;
  /** (N) logsumexp of the router logits */
  lse: Float32Array;
  /** (N) entropy of probs in nats */
  entropy: Float32Array;
  /** (N,K) chosen experts, most probable first (ties: lower index first) */
  idx: Uint32Array;
  /** (N,K) renormalised weights of the chosen experts */
  weights: Float32Array;
}

/** Softmax, entropy, logsumexp and top-k of router logits (N,E). */
export function moeRoute(logits: Float32Array, N: number, E: number, K: number): MoeRouting {
  const probs = new Float32Array(N * E);
  const lse = new Float32Array(N);
  const entropy = new Float32Array(N);
  const idx = new Uint32Array(N * K);
  const weights = new Float32Array(N * K);
  for (let t = 0; t < N; t++) {
    const row = logits.subarray(t * E, t * E + E);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    lse[t] = max + Math.log(sum);
    let h = lse[t];
    for (let e = 0; e < E; e++) {
      const p = Math.exp(row[e] - lse[t]);
      probs[t * E + e] = p;
      h -= p * row[e];
    }
    entropy[t] = h;
    const taken: number[] = [];
    for (let k = 0; k < K; k++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        if (taken.includes(e)) continue;
        if (best < 0 || probs[t * E + e] > probs[t * E + best]) best = e;
      }
      taken.push(best);
    }
    let s = 0;
    for (const e of taken) s += probs[t * E + e];
    taken.forEach((e, k) => {
      idx[t * K + k] = e;
      weights[t * K + k] = probs[t * E + e] / s;
    });
  }
  return { probs, lse, entropy, idx, weights };
}

/** Where each routed slot (token·K + k) lands in the expert-sorted buffer of S = N·K rows. */
export interface MoePlan {
  /** (E) slots per expert */
  counts: Uint32Array;
  /** (E+1) first row of each expert; offsets[E] = S */
  offsets: Uint32Array;
  /** (S) row of each slot */
  pos: Uint32Array;
  /** (S) slot of each row (the inverse of pos) */
  rowSlot: Uint32Array;
}

/** Counting sort of the slots by expert, stable in slot order (what the GPU's count/scan/assign produce). */
export function moePlan(idx: Uint32Array, E: number): MoePlan {
  const S = idx.length;
  const counts = new Uint32Array(E);
  for (const e of idx) counts[e]++;
  const offsets = new Uint32Array(E + 1);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
  const next = offsets.slice(0, E);
  const pos = new Uint32Array(S);
  const rowSlot = new Uint32Array(S);
  for (let s = 0; s < S; s++) {
    const row = next[idx[s]]++;
    pos[s] = row;
    rowSlot[row] = s;
  }
  return { counts, offsets, pos, rowSlot };
}

/** Per-layer statistics: what is logged and what the auxiliary losses are made of. */
export interface MoeStats {
  /** E · Σ f_i · P_i: 1.0 when perfectly balanced */
  balance: number;
  /** mean per-token router entropy, nats */
  entropy: number;
  /** mean of logsumexp(router logits)² */
  z: number;
  /** auxCoef · balance + zCoef · z: what this layer adds to the training loss */
  aux: number;
  /** (E) f_i: fraction of routed slots sent to expert i */
  fractions: Float32Array;
  /** (E) P_i: mean router probability of expert i */
  meanProbs: Float32Array;
}

/** Statistics of one routing decision over N tokens. */
export function moeStats(r: MoeRouting, N: number, E: number, K: number, coefs: MoeCoefs): MoeStats {
  const fractions = new Float32Array(E);
  for (const e of r.idx) fractions[e] += 1 / (N * K);
  const meanProbs = new Float32Array(E);
  let entropy = 0;
  let z = 0;
  for (let t = 0; t < N; t++) {
    for (let e = 0; e < E; e++) meanProbs[e] += r.probs[t * E + e] / N;
    entropy += r.entropy[t] / N;
    z += (r.lse[t] * r.lse[t]) / N;
  }
  let balance = 0;
  for (let e = 0; e < E; e++) balance += E * fractions[e] * meanProbs[e];
  return { balance, entropy, z, aux: coefs.auxCoef * balance + coefs.zCoef * z, fractions, meanProbs };
}

/** Everything forward keeps for backward. */
export interface MoeSaved {
  x: Float32Array;
  routing: MoeRouting;
  stats: MoeStats;
  /** (N·K, I) per slot: expert gate and up pre-activations */
  gate: Float32Array;
  up: Float32Array;
  /** (N·K, C) per slot: the expert's output before weighting */
  yk: Float32Array;
}

function expertRows(w: Float32Array, e: number, rows: number, cols: number): Float32Array {
  return w.subarray(e * rows * cols, (e + 1) * rows * cols);
}

const silu = (g: number) => g / (1 + Math.exp(-g));

/** y (N,C) = Σ_k w_k · expert_{i_k}(x); also the layer's auxiliary loss value (stats.aux). */
export function moeForward(
  x: Float32Array,
  w: MoeWeights,
  s: MoeShape,
  coefs: MoeCoefs,
): { y: Float32Array; aux: number; stats: MoeStats; saved: MoeSaved } {
  const { N, C, E, K, I } = s;
  const routing = moeRoute(matmul(x, w.router, N, C, E, { transB: true }), N, E, K);
  const stats = moeStats(routing, N, E, K, coefs);
  const y = new Float32Array(N * C);
  const gate = new Float32Array(N * K * I);
  const up = new Float32Array(N * K * I);
  const yk = new Float32Array(N * K * C);
  for (let t = 0; t < N; t++) {
    const xt = x.subarray(t * C, t * C + C);
    for (let k = 0; k < K; k++) {
      const slot = t * K + k;
      const e = routing.idx[slot];
      const g = matmul(xt, expertRows(w.gate, e, I, C), 1, C, I, { transB: true });
      const u = matmul(xt, expertRows(w.up, e, I, C), 1, C, I, { transB: true });
      const h = g.map((v, i) => silu(v) * u[i]);
      const o = matmul(h, expertRows(w.down, e, C, I), 1, I, C, { transB: true });
      gate.set(g, slot * I);
      up.set(u, slot * I);
      yk.set(o, slot * C);
      for (let c = 0; c < C; c++) y[t * C + c] += routing.weights[slot] * o[c];
    }
  }
  return { y, aux: stats.aux, stats, saved: { x, routing, stats, gate, up, yk } };
}

/** Gradients of one layer, given dy (N,C); `auxScale` multiplies the auxiliary losses' own gradient. */
export function moeBackward(
  dy: Float32Array,
  saved: MoeSaved,
  w: MoeWeights,
  s: MoeShape,
  coefs: MoeCoefs,
  auxScale = 1,
): { dx: Float32Array; dRouter: Float32Array; dGate: Float32Array; dUp: Float32Array; dDown: Float32Array } {
  const { N, C, E, K, I } = s;
  const { x, routing: r, stats } = saved;
  const dx = new Float32Array(N * C);
  const dGate = new Float32Array(E * I * C);
  const dUp = new Float32Array(E * I * C);
  const dDown = new Float32Array(E * C * I);
  const dwAll = new Float32Array(N * K);
  for (let t = 0; t < N; t++) {
    const xt = x.subarray(t * C, t * C + C);
    const dyt = dy.subarray(t * C, t * C + C);
    const dw = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      const slot = t * K + k;
      const e = r.idx[slot];
      for (let c = 0; c < C; c++) dw[k] += dyt[c] * saved.yk[slot * C + c];
      const dyk = dyt.map((v) => v * r.weights[slot]);
      const g = saved.gate.subarray(slot * I, slot * I + I);
      const u = saved.up.subarray(slot * I, slot * I + I);
      const h = g.map((v, i) => silu(v) * u[i]);
      const dh = matmul(dyk, expertRows(w.down, e, C, I), 1, C, I);
      matmul(dyk, h, C, 1, I, { transA: true, out: expertRows(dDown, e, C, I) });
      const dg = new Float32Array(I);
      const du = new Float32Array(I);
      for (let i = 0; i < I; i++) {
        const sg = 1 / (1 + Math.exp(-g[i]));
        dg[i] = dh[i] * u[i] * sg * (1 + g[i] * (1 - sg));
        du[i] = dh[i] * g[i] * sg;
      }
      const dxt = dx.subarray(t * C, t * C + C);
      matmul(dg, expertRows(w.gate, e, I, C), 1, I, C, { out: dxt });
      matmul(du, expertRows(w.up, e, I, C), 1, I, C, { out: dxt });
      matmul(dg, xt, I, 1, C, { transA: true, out: expertRows(dGate, e, I, C) });
      matmul(du, xt, I, 1, C, { transA: true, out: expertRows(dUp, e, I, C) });
    }
    dwAll.set(dw, t * K);
  }
  const dlogits = moeRouterBackward(r, dwAll, stats, s, coefs, auxScale);
  const dRouter = matmul(dlogits, x, E, N, C, { transA: true });
  matmul(dlogits, w.router, N, E, C, { out: dx });
  return { dx, dRouter, dGate, dUp, dDown };
}

/**
 * dlogits (N,E) of the router: dw (N,K) through the renormalised top-k weights, plus the balance loss (f_i is a
 * count, so only P_i = mean_t p_ti carries gradient) and the z-loss, both multiplied by `auxScale`.
 */
export function moeRouterBackward(
  r: MoeRouting,
  dwAll: Float32Array,
  stats: MoeStats,
  s: MoeShape,
  coefs: MoeCoefs,
  auxScale = 1,
): Float32Array {
  const { N, E, K } = s;
  const dlogits = new Float32Array(N * E);
  for (let t = 0; t < N; t++) {
    const dw = dwAll.subarray(t * K, t * K + K);
    // Renormalised weights w_k = p_{i_k} / Σ_j p_{i_j}: dp_{i_k} = (dw_k − Σ_j dw_j w_j) / Σ_j p_{i_j}.
    const dp = new Float64Array(E);
    let psum = 0;
    let wdot = 0;
    for (let k = 0; k < K; k++) {
      psum += r.probs[t * E + r.idx[t * K + k]];
      wdot += dw[k] * r.weights[t * K + k];
    }
    for (let k = 0; k < K; k++) dp[r.idx[t * K + k]] += (dw[k] - wdot) / psum;
    // Balance loss E · Σ f_i · P_i with P_i = mean_t p_ti (f_i is a count: no gradient).
    for (let e = 0; e < E; e++) dp[e] += (auxScale * coefs.auxCoef * E * stats.fractions[e]) / N;
    let pdot = 0;
    for (let e = 0; e < E; e++) pdot += r.probs[t * E + e] * dp[e];
    // z-loss mean_t lse_t²: d/dlogit = 2 · lse · p / N.
    const zg = (auxScale * coefs.zCoef * 2 * r.lse[t]) / N;
    for (let e = 0; e < E; e++) {
      const p = r.probs[t * E + e];
      dlogits[t * E + e] = p * (dp[e] - pdot) + zg * p;
    }
  }
  return dlogits;
}
