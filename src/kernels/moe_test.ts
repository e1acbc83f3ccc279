import assert from "node:assert/strict";
import { CommandBatch, createBuffer, type Gpu, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { matmul as refMatmul } from "../reference/matmul.ts";
import * as ref from "../reference/moe.ts";
import {
  groupedKsumScratchFloats,
  groupedKsumSplits,
  groupedMatmulKsum,
  groupedMatmulRows,
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
} from "./moe.ts";

const f32 = async (gpu: Gpu, b: GPUBuffer) => new Float32Array(await readBuffer(gpu, b));
const u32 = async (gpu: Gpu, b: GPUBuffer) => new Uint32Array(await readBuffer(gpu, b));
const buf = (gpu: Gpu, data: Float32Array | Uint32Array | number) =>
  createBuffer(gpu.device, "moe test", typeof data === "number" ? Math.max(4, data * 4) : data);

/** Logits that starve some experts: expert e gets a bias, so with E ≥ 5 the last ones rarely or never win. */
function skewedLogits(N: number, E: number, seed: number): Float32Array {
  const l = randomArray(N * E, seed, 1);
  for (let t = 0; t < N; t++) for (let e = 0; e < E; e++) l[t * E + e] += e >= 3 ? -20 : 0;
  return l;
}

gpuTest(
  "moe route, plan and stats match the reference (odd token counts, experts with zero tokens)",
  async (gpu) => {
    for (const [N, E, K] of [[1, 4, 1], [37, 5, 2], [301, 6, 2], [129, 4, 1]]) {
      const logits = E > 4 ? skewedLogits(N, E, N) : randomArray(N * E, N, 3);
      const want = ref.moeRoute(logits, N, E, K);
      const S = N * K;
      const tiles = moePlanTiles(S);
      const L = buf(gpu, logits);
      const [P, W, TOK, ST] = [N * E, N * K, 2 * N, moeStatsFloats(E)].map((n) => buf(gpu, n));
      const [IDX, TC, TB, OFF, POS, RS] = [S, tiles * E, tiles * E, E + 1, S, S].map((n) => buf(gpu, n));
      const batch = new CommandBatch(gpu, "moe route test");
      moeRoute(batch, { logits: L, probs: P, idx: IDX, weights: W, tok: TOK, N, E, K });
      moePlan(batch, { idx: IDX, tileCounts: TC, tileBase: TB, offsets: OFF, pos: POS, rowSlot: RS, S, E });
      moeStats(batch, { probs: P, tok: TOK, offsets: OFF, out: ST, N, E, K, auxCoef: 0.01, zCoef: 0.001 });
      batch.submit();
      const label = `N=${N} E=${E} K=${K}`;
      assertClose(await f32(gpu, P), want.probs, `probs ${label}`, { rtol: 1e-5, atol: 1e-6 });
      const idx = await u32(gpu, IDX);
      assert.deepEqual([...idx], [...want.idx], `idx ${label}`);
      assertClose(await f32(gpu, W), want.weights, `weights ${label}`, { rtol: 1e-5, atol: 1e-6 });
      const tok = await f32(gpu, TOK);
      assertClose(tok.filter((_, i) => i % 2 === 0), want.lse, `lse ${label}`, { rtol: 1e-5, atol: 1e-5 });
      assertClose(tok.filter((_, i) => i % 2 === 1), want.entropy, `entropy ${label}`, {
        rtol: 1e-4,
        atol: 1e-5,
      });
      const plan = ref.moePlan(want.idx, E);
      if (E > 4) assert.ok(plan.counts.includes(0), `${label}: the test should starve an expert`);
      assert.deepEqual([...(await u32(gpu, OFF))], [...plan.offsets], `offsets ${label}`);
      assert.deepEqual([...(await u32(gpu, POS))], [...plan.pos], `pos ${label}`);
      assert.deepEqual([...(await u32(gpu, RS))], [...plan.rowSlot], `rowSlot ${label}`);
      const s = ref.moeStats(want, N, E, K, { auxCoef: 0.01, zCoef: 0.001 });
      const stats = await f32(gpu, ST);
      assertClose(
        stats,
        [s.balance, s.entropy, s.z, s.aux, ...s.fractions, ...s.meanProbs],
        `stats ${label}`,
        { rtol: 1e-4, atol: 1e-5 },
      );
      for (const b of [L, P, W, TOK, ST, IDX, TC, TB, OFF, POS, RS]) b.destroy();
    }
  },
);

gpuTest("moe gather, spread, combine and weight_grad match plain loops", async (gpu) => {
  const [N, C, E, K] = [23, 7, 5, 2];
  const S = N * K;
  const r = ref.moeRoute(skewedLogits(N, E, 4), N, E, K);
  const plan = ref.moePlan(r.idx, E);
  const x = randomArray(N * C, 1);
  const rows = randomArray(S * C, 2);
  const dy = randomArray(N * C, 3);
  const prev = randomArray(N * C, 5);
  const [X, ROWS, DY, RS, POS, W, PREV] = [x, rows, dy, plan.rowSlot, plan.pos, r.weights, prev].map((a) =>
    buf(gpu, a)
  );
  const [XG, DYG, Y, Y2, DW] = [S * C, S * C, N * C, N * C, S].map((n) => buf(gpu, n));
  const batch = new CommandBatch(gpu, "moe gather test");
  moeGather(batch, { x: X, rowSlot: RS, out: XG, S, C, K });
  moeSpread(batch, { dy: DY, rowSlot: RS, weights: W, out: DYG, S, C, K });
  moeCombine(batch, { rows: ROWS, pos: POS, weights: W, out: PREV, N, C, K, accumulate: true });
  moeCombine(batch, { rows: ROWS, pos: POS, weights: W, out: Y2, N, C, K, weighted: false });
  moeWeightGrad(batch, { dy: DY, rows: ROWS, pos: POS, dw: DW, S, C, K });
  batch.submit();
  const xg = new Float32Array(S * C);
  const dyg = new Float32Array(S * C);
  const y = prev.slice();
  const y2 = new Float32Array(N * C);
  const dw = new Float32Array(S);
  for (let s = 0; s < S; s++) {
    const t = Math.floor(s / K);
    const row = plan.pos[s];
    for (let c = 0; c < C; c++) {
      xg[row * C + c] = x[t * C + c];
      dyg[row * C + c] = r.weights[s] * dy[t * C + c];
      y[t * C + c] += r.weights[s] * rows[row * C + c];
      y2[t * C + c] += rows[row * C + c];
      dw[s] += dy[t * C + c] * rows[row * C + c];
    }
  }
  const tol = { rtol: 1e-5, atol: 1e-6 };
  assertClose(await f32(gpu, XG), xg, "gather", tol);
  assertClose(await f32(gpu, DYG), dyg, "spread", tol);
  assertClose(await f32(gpu, PREV), y, "combine (weighted, accumulate)", tol);
  assertClose(await f32(gpu, Y2), y2, "combine (unweighted)", tol);
  assertClose(await f32(gpu, DW), dw, "weight_grad", { rtol: 1e-5, atol: 1e-5 });
  for (const b of [X, ROWS, DY, RS, POS, W, PREV, XG, DYG, Y, Y2, DW]) b.destroy();
});

gpuTest("grouped expert matmuls match per-expert matmuls, empty experts included", async (gpu) => {
  // Counts with empty experts at the start, middle and end, and ranges that are not tile multiples.
  // The last case is large enough for the 16×16-thread (128×128) tiles.
  const cases: [number[], number, number][] = [
    [[0, 5, 0, 70, 1, 0], 19, 13],
    [[3], 19, 13],
    [[130, 0, 67], 19, 13],
    [[0, 300], 160, 1800],
    [[1100, 0, 437], 19, 13], // ≥ 512 rows per expert: the weight gradient splits each expert's rows in two
  ];
  for (const [counts, Kd, Nd] of cases) {
    const E = counts.length;
    const S = counts.reduce((a, b) => a + b, 0);
    const offsets = new Uint32Array(E + 1);
    counts.forEach((c, e) => (offsets[e + 1] = offsets[e] + c));
    const a = randomArray(S * Kd, 1);
    const bT = randomArray(E * Nd * Kd, 2); // (E, N,K)
    const bN = randomArray(E * Kd * Nd, 3); // (E, K,N)
    const prev = randomArray(S * Nd, 4);
    const g = randomArray(S * Nd, 5); // (S,N) for the weight gradient: Σ_r aᵀ·g per expert → (E, K,N)
    const prevW = randomArray(E * Kd * Nd, 6);
    const [A, BT, BN, PREV, G, PW, OFF] = [a, bT, bN, prev, g, prevW, offsets].map((v) => buf(gpu, v));
    const C1 = buf(gpu, S * Nd);
    const splitTarget = 100;
    const splits = groupedKsumSplits(S, Kd, Nd, E, splitTarget);
    assert.equal(splits > 1, S === 1537, `splits ${splits} for ${counts}`);
    const SCRATCH = buf(gpu, Math.max(1, groupedKsumScratchFloats(S, Kd, Nd, E, splitTarget)));
    const batch = new CommandBatch(gpu, "grouped test");
    groupedMatmulRows(batch, { a: A, b: BT, c: C1, offsets: OFF, S, K: Kd, N: Nd, E, transB: true });
    groupedMatmulRows(batch, { a: A, b: BN, c: PREV, offsets: OFF, S, K: Kd, N: Nd, E, accumulate: true });
    const ksum = { a: A, b: G, c: PW, offsets: OFF, S, M: Kd, N: Nd, E, accumulate: true };
    groupedMatmulKsum(batch, { ...ksum, scratch: SCRATCH, splitTarget });
    batch.submit();
    const want1 = new Float32Array(S * Nd);
    const want2 = prev.slice();
    const wantW = prevW.slice();
    for (let e = 0; e < E; e++) {
      const [lo, n] = [offsets[e], counts[e]];
      if (n === 0) continue;
      const ae = a.subarray(lo * Kd, (lo + n) * Kd);
      refMatmul(ae, bT.subarray(e * Nd * Kd, (e + 1) * Nd * Kd), n, Kd, Nd, { transB: true }).forEach((
        v,
        i,
      ) => want1[lo * Nd + i] = v);
      refMatmul(ae, bN.subarray(e * Kd * Nd, (e + 1) * Kd * Nd), n, Kd, Nd, {
        out: want2.subarray(lo * Nd, (lo + n) * Nd),
      });
      refMatmul(ae, g.subarray(lo * Nd, (lo + n) * Nd), Kd, n, Nd, {
        transA: true,
        out: wantW.subarray(e * Kd * Nd, (e + 1) * Kd * Nd),
      });
    }
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose(await f32(gpu, C1), want1, `rows transB ${counts}`, tol);
    assertClose(await f32(gpu, PREV), want2, `rows accumulate ${counts}`, tol);
    assertClose(await f32(gpu, PW), wantW, `ksum ${counts}`, tol);
    for (const b of [A, BT, BN, PREV, G, PW, OFF, C1, SCRATCH]) b.destroy();
  }
});

gpuTest("moe router backward matches the reference (renormalised top-k, balance and z-loss)", async (gpu) => {
  for (const [N, E, K] of [[29, 5, 2], [17, 4, 1]]) {
    const coefs = { auxCoef: 0.3, zCoef: 0.2 };
    const r = ref.moeRoute(skewedLogits(N, E, 9), N, E, K);
    const stats = ref.moeStats(r, N, E, K, coefs);
    const plan = ref.moePlan(r.idx, E);
    const dw = randomArray(N * K, 7);
    const tok = new Float32Array(2 * N);
    r.lse.forEach((v, t) => (tok[2 * t] = v));
    const want = ref.moeRouterBackward(r, dw, stats, { N, E, K, C: 0, I: 0 }, coefs, 0.5);
    const [P, IDX, W, DW, TOK, OFF] = [r.probs, r.idx, r.weights, dw, tok, plan.offsets].map((v) =>
      buf(gpu, v)
    );
    const DL = buf(gpu, N * E);
    const batch = new CommandBatch(gpu, "route backward test");
    moeRouteBackward(batch, {
      probs: P,
      idx: IDX,
      weights: W,
      dw: DW,
      tok: TOK,
      offsets: OFF,
      dlogits: DL,
      N,
      E,
      K,
      ...coefs,
      auxScale: 0.5,
    });
    batch.submit();
    assertClose(await f32(gpu, DL), want, `dlogits N=${N} K=${K}`, { rtol: 1e-4, atol: 1e-6 });
    for (const b of [P, IDX, W, DW, TOK, OFF, DL]) b.destroy();
  }
});
