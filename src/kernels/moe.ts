/**
 * Launches kernels/moe.wgsl: router softmax/top-k, the dropless routing plan (count → scan → assign), gather,
 * grouped expert matmuls over GPU-resident row offsets, weighted combine, their backward passes, and the per-layer
 * statistics. Shapes: N tokens, C channels, E experts, K top-k, S = N·K routed slots.
 */
import code from "../../kernels/moe.wgsl" with { type: "text" };
import matmulCode from "../../kernels/moe_matmul.wgsl" with { type: "text" };
import block from "../../kernels/matmul_block.wgsl" with { type: "text" };
import tile from "../../kernels/matmul_tile.wgsl" with { type: "text" };
import { type Binding, bindingBytes, type CommandBatch, type Kernel } from "../gpu/mod.ts";
import { elementwiseGrid } from "./residual.ts";
import { compose } from "./_wgsl.ts";
import { matmulTile, SPLIT_TARGET_WORKGROUPS } from "./matmul.ts";

export const MOE: Kernel = { name: "moe", code };
/** The grouped expert matmul (its prelude + the shared tile loop of the dense matmul) and its split reduce. */
export const MOE_MATMUL: Kernel = { name: "moe_matmul", code: compose(matmulCode, block, tile) };

const WG = 256;
/** Slots per planning tile (TILE in the WGSL). */
export const MOE_TILE = 256;
/** The largest expert count the kernels support (MAXE in the WGSL). */
export const MOE_MAX_EXPERTS = 64;

function params(batch: CommandBatch, n: number, C: number, E: number, extra = 0, f0 = 0, f1 = 0): Binding {
  const u = new Uint32Array(8);
  u.set([n, C, E, extra]);
  new Float32Array(u.buffer, 16, 2).set([f0, f1]);
  return batch.uniform(u);
}

/** Tiles of the routing plan for S slots. */
export function moePlanTiles(S: number): number {
  return Math.ceil(S / MOE_TILE);
}

/** Floats (f32) of the stats record of one layer: balance, entropy, z, aux, then f (E) and P (E). */
export function moeStatsFloats(E: number): number {
  return 4 + 2 * E;
}

/** Router buffers: logits in, the routing decision out. */
export interface MoeRouteArgs {
  /** (N,E) */
  logits: Binding;
  /** (N,E) softmax */
  probs: Binding;
  /** u32 (N,K) chosen experts */
  idx: Binding;
  /** (N,K) renormalised weights */
  weights: Binding;
  /** (N,2) logsumexp and entropy per token */
  tok: Binding;
  N: number;
  E: number;
  K: number;
}

/** Records softmax, logsumexp, entropy and top-K with renormalised weights, one thread per token. */
export function moeRoute(batch: CommandBatch, a: MoeRouteArgs): void {
  if (a.E > MOE_MAX_EXPERTS || a.K < 1 || a.K > 2 || a.K > a.E) {
    throw new Error(
      `Cannot route to top-${a.K} of ${a.E} experts: need 1 ≤ K ≤ 2, K ≤ E ≤ ${MOE_MAX_EXPERTS}`,
    );
  }
  batch.run(MOE, "route", { WG, K: a.K }, [
    a.logits,
    a.probs,
    a.idx,
    a.weights,
    a.tok,
    params(batch, a.N, 0, a.E),
  ], elementwiseGrid(batch, a.N, WG));
}

/** Routing-plan buffers. */
export interface MoePlanArgs {
  /** u32 (S) expert of each slot (the router's idx) */
  idx: Binding;
  /** u32 (tiles,E) scratch */
  tileCounts: Binding;
  /** u32 (tiles,E) scratch */
  tileBase: Binding;
  /** u32 (E+1) first row of each expert */
  offsets: Binding;
  /** u32 (S) row of each slot */
  pos: Binding;
  /** u32 (S) slot of each row */
  rowSlot: Binding;
  S: number;
  E: number;
}

/** Records the stable counting sort of slots by expert: count per tile, scan, assign rows. */
export function moePlan(batch: CommandBatch, a: MoePlanArgs): void {
  const tiles = moePlanTiles(a.S);
  const grid = elementwiseGrid(batch, tiles, 1);
  batch.run(MOE, "count", {}, [a.idx, a.tileCounts, params(batch, a.S, 0, a.E)], grid);
  batch.run(MOE, "scan", {}, [a.tileCounts, a.tileBase, a.offsets, params(batch, a.S, 0, a.E, tiles)], [1]);
  batch.run(MOE, "assign", {}, [a.idx, a.tileBase, a.pos, a.rowSlot, params(batch, a.S, 0, a.E)], grid);
}

/** Records xg (S,C) = x[token of each row] (x is (N,C)). */
export function moeGather(
  batch: CommandBatch,
  a: { x: Binding; rowSlot: Binding; out: Binding; S: number; C: number; K: number },
): void {
  batch.run(
    MOE,
    "gather",
    { WG, K: a.K },
    [a.x, a.rowSlot, a.out, params(batch, a.S, a.C, 0)],
    elementwiseGrid(batch, a.S * a.C, WG),
  );
}

/** Records dyg (S,C) = w[slot] · dy[token] for each row (combine's backward for the expert rows). */
export function moeSpread(
  batch: CommandBatch,
  a: { dy: Binding; rowSlot: Binding; weights: Binding; out: Binding; S: number; C: number; K: number },
): void {
  batch.run(
    MOE,
    "spread",
    { WG, K: a.K },
    [a.dy, a.rowSlot, a.weights, a.out, params(batch, a.S, a.C, 0)],
    elementwiseGrid(batch, a.S * a.C, WG),
  );
}

/** Combine arguments: rows (S,C) back to tokens (N,C). */
export interface MoeCombineArgs {
  /** (S,C) */
  rows: Binding;
  /** u32 (S) */
  pos: Binding;
  /** (N,K); ignored (but bound) when weighted is false */
  weights: Binding;
  /** (N,C) */
  out: Binding;
  N: number;
  C: number;
  K: number;
  /** out += … instead of out = … */
  accumulate?: boolean;
  /** Σ_k w_k · row (default) or the plain Σ_k row (dx of the gathered input). */
  weighted?: boolean;
}

/** Records out[t] (+)= Σ_k w[t,k] · rows[pos[t·K+k]]: a gather per token, no atomics, deterministic. */
export function moeCombine(batch: CommandBatch, a: MoeCombineArgs): void {
  batch.run(
    MOE,
    "combine",
    { WG, K: a.K, ACCUMULATE: !!a.accumulate, WEIGHTED: a.weighted ?? true },
    [a.rows, a.pos, a.weights, a.out, params(batch, a.N, a.C, 0)],
    elementwiseGrid(batch, a.N * a.C, WG),
  );
}

/** Records dw (N,K) = dy[token] · yg[pos[slot]] for every slot. */
export function moeWeightGrad(
  batch: CommandBatch,
  a: { dy: Binding; rows: Binding; pos: Binding; dw: Binding; S: number; C: number; K: number },
): void {
  batch.run(
    MOE,
    "weight_grad",
    { WG, K: a.K },
    [a.dy, a.rows, a.pos, a.dw, params(batch, a.S, a.C, 0)],
    elementwiseGrid(batch, a.S, WG),
  );
}

/** Router backward buffers and the auxiliary-loss coefficients. */
export interface MoeRouteBackwardArgs {
  probs: Binding;
  idx: Binding;
  weights: Binding;
  /** (N,K) */
  dw: Binding;
  tok: Binding;
  offsets: Binding;
  /** (N,E), overwritten */
  dlogits: Binding;
  N: number;
  E: number;
  K: number;
  auxCoef: number;
  zCoef: number;
  /** Multiplier of the auxiliary losses' gradient (1/grad_accum_steps in training). */
  auxScale: number;
}

/** Records dlogits from dw through the renormalised top-k, plus the balance-loss and z-loss gradients. */
export function moeRouteBackward(batch: CommandBatch, a: MoeRouteBackwardArgs): void {
  const f0 = (a.auxScale * a.auxCoef * a.E) / a.N;
  const f1 = (a.auxScale * a.zCoef * 2) / a.N;
  batch.run(MOE, "route_backward", { WG, K: a.K }, [
    a.probs,
    a.idx,
    a.weights,
    a.dw,
    a.tok,
    a.offsets,
    a.dlogits,
    params(batch, a.N, 0, a.E, 0, f0, f1),
  ], elementwiseGrid(batch, a.N, WG));
}

/** Records the layer's stats record (moeStatsFloats(E) floats) from the routing decision. */
export function moeStats(
  batch: CommandBatch,
  a: {
    probs: Binding;
    tok: Binding;
    offsets: Binding;
    out: Binding;
    N: number;
    E: number;
    K: number;
    auxCoef: number;
    zCoef: number;
  },
): void {
  batch.run(MOE, "stats", { K: a.K }, [
    a.probs,
    a.tok,
    a.offsets,
    a.out,
    params(batch, a.N, 0, a.E, 0, a.auxCoef, a.zCoef),
  ], [1]);
}

/** Records acc[slot] += scale · stats.aux (the layer's auxiliary losses into a loss accumulator). */
export function moeAddLoss(
  batch: CommandBatch,
  a: { stats: Binding; acc: Binding; slot: number; scale: number },
): void {
  batch.run(MOE, "add_loss", {}, [a.stats, a.acc, params(batch, 0, 0, 0, a.slot, a.scale)], [1]);
}

function mparams(batch: CommandBatch, v: number[], alpha: number): Binding {
  const u = new Uint32Array(8);
  u.set(v);
  new Float32Array(u.buffer, 24, 1)[0] = alpha;
  return batch.uniform(u);
}

/** A grouped matmul over expert row ranges: C[r] (+)= A[r] · op(B_e), A (S,K), C (S,N). */
export interface GroupedRowsArgs {
  /** (S,K) expert-sorted rows */
  a: Binding;
  /** (E, N,K) with transB, else (E, K,N) */
  b: Binding;
  /** (S,N) */
  c: Binding;
  /** u32 (E+1) */
  offsets: Binding;
  S: number;
  K: number;
  N: number;
  E: number;
  transB?: boolean;
  accumulate?: boolean;
  alpha?: number;
}

/** Records one dispatch over all experts; workgroups past the routed rows exit at once. */
export function groupedMatmulRows(batch: CommandBatch, a: GroupedRowsArgs): void {
  const w = matmulTile(Math.ceil(a.S / a.E), a.N);
  const bm = w * 8;
  batch.run(
    MOE_MATMUL,
    "grouped",
    { GROUP_K: false, TRANS_B: !!a.transB, ACCUMULATE: !!a.accumulate, WX: w, WY: w },
    [a.a, a.b, a.c, a.offsets, mparams(batch, [a.S, a.N, a.K, a.E, a.K * a.N, 0], a.alpha ?? 1)],
    [Math.ceil(a.N / bm), Math.ceil(a.S / bm) + a.E, 1],
  );
}

/** Per-expert weight gradients: C_e (M,N) (+)= Σ over expert e's rows of A[r]ᵀ · B[r]. */
export interface GroupedKsumArgs {
  /** (S,M) expert-sorted rows */
  a: Binding;
  /** (S,N) expert-sorted rows */
  b: Binding;
  /** (E, M,N) */
  c: Binding;
  /** u32 (E+1) */
  offsets: Binding;
  S: number;
  M: number;
  N: number;
  E: number;
  accumulate?: boolean;
  alpha?: number;
  /** At least groupedKsumScratchFloats(…) floats: enables splitting each expert's rows when tiles are few. */
  scratch?: Binding;
  /** Workgroups a split aims for (0 = never split). */
  splitTarget?: number;
}

/** Workgroups a split ksum aims for by default: the same target as matmul's split-K. */
export const GROUPED_SPLIT_TARGET = SPLIT_TARGET_WORKGROUPS;
const MIN_SPLIT_ROWS = 256;

/** Splits of each expert's rows: 1 when the output tiles (× E) already reach `target`, else enough to reach it. */
export function groupedKsumSplits(
  S: number,
  M: number,
  N: number,
  E: number,
  target = GROUPED_SPLIT_TARGET,
): number {
  const bm = matmulTile(M, N) * 8;
  const tiles = Math.ceil(M / bm) * Math.ceil(N / bm) * E;
  if (target <= 0 || tiles >= target) return 1;
  return Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor(S / E / MIN_SPLIT_ROWS)));
}

/** Scratch floats a split ksum of this shape needs (0 when it would not split). */
export function groupedKsumScratchFloats(
  S: number,
  M: number,
  N: number,
  E: number,
  target = GROUPED_SPLIT_TARGET,
): number {
  const splits = groupedKsumSplits(S, M, N, E, target);
  return splits > 1 ? splits * E * M * N : 0;
}

/** Records one dispatch with workgroup z = expert (× split); each sums over its own share of rows only. */
export function groupedMatmulKsum(batch: CommandBatch, a: GroupedKsumArgs): void {
  const w = matmulTile(a.M, a.N);
  const bm = w * 8;
  const grid = (z: number): [number, number, number] => [Math.ceil(a.N / bm), Math.ceil(a.M / bm), z];
  const splits = a.scratch ? groupedKsumSplits(a.S, a.M, a.N, a.E, a.splitTarget) : 1;
  const mn = a.M * a.N;
  if (splits === 1) {
    batch.run(
      MOE_MATMUL,
      "grouped",
      { GROUP_K: true, ACCUMULATE: !!a.accumulate, WX: w, WY: w },
      [a.a, a.b, a.c, a.offsets, mparams(batch, [a.M, a.N, 1, a.E, 0, mn], a.alpha ?? 1)],
      grid(a.E),
    );
    return;
  }
  const n = a.E * mn;
  if (bindingBytes(a.scratch!) < splits * n * 4) {
    throw new Error(
      `Cannot split the expert gradient into ${splits}: the scratch holds fewer than ${splits * n} floats`,
    );
  }
  batch.run(
    MOE_MATMUL,
    "grouped",
    { GROUP_K: true, ACCUMULATE: false, WX: w, WY: w },
    [a.a, a.b, a.scratch!, a.offsets, mparams(batch, [a.M, a.N, splits, a.E, 0, mn], 1)],
    grid(a.E * splits),
  );
  batch.run(
    MOE_MATMUL,
    "reduce_splits",
    { WG, ACCUMULATE: !!a.accumulate },
    [a.scratch!, a.c, params(batch, n, 0, 0, splits, a.alpha ?? 1)],
    elementwiseGrid(batch, n, WG),
  );
}
