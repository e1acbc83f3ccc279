/**
 * Launches kernels/decode.wgsl: the KV-cache side of inference over R rows at per-row (slot, pos) — RoPE at each
 * row's position, the append of k and v into the cache, attention over the cached positions 0..pos, and the
 * gather of sampled rows. Not the projections (matmul.ts) and not sampling (sample.ts). Twin: src/reference/decode.ts.
 */
import code from "../../kernels/decode.wgsl" with { type: "text" };
import type { Binding, CommandBatch, Kernel } from "../gpu/mod.ts";
import { ropeFrequencies } from "./rope.ts";
import { elementwiseGrid } from "./residual.ts";

export const DECODE: Kernel = { name: "decode", code };

const MAX_HS = 128;
const ATTEND_WG = 64;

/** Largest cache length `attend` supports: its scores live in workgroup memory (4 bytes per position). */
export function maxCacheLength(maxWorkgroupStorage: number): number {
  return Math.floor((maxWorkgroupStorage - 4 * (MAX_HS + ATTEND_WG)) / 4);
}

/** In-place RoPE of x (R,H,HS) at positions rows[r].pos. */
export function ropeRows(
  batch: CommandBatch,
  a: { x: Binding; rows: Binding; R: number; H: number; HS: number; theta: number },
): void {
  const { R, H, HS } = a;
  if (HS % 2 !== 0 || HS > MAX_HS) {
    throw new Error(`Cannot apply RoPE: head size ${HS} must be even and ≤ ${MAX_HS}`);
  }
  const pairs = R * H * (HS / 2);
  if (pairs === 0) return;
  const params = new ArrayBuffer(16 + 16 * 16);
  new Uint32Array(params, 0, 4).set([pairs, H, HS, 0]);
  new Float32Array(params, 16, HS / 2).set(ropeFrequencies(HS, a.theta));
  batch.run(
    DECODE,
    "rope_rows",
    {},
    [a.x, a.rows, batch.uniform(new Uint8Array(params))],
    elementwiseGrid(batch, pairs, 256),
  );
}

/** kc[slot, pos] = k[r] and vc[slot, pos] = v[r] for every row; W = KVH·HS. */
export function kvAppend(
  batch: CommandBatch,
  a: { k: Binding; v: Binding; kc: Binding; vc: Binding; rows: Binding; R: number; W: number; TMAX: number },
): void {
  const params = batch.uniform(Uint32Array.of(a.R, a.W, a.TMAX, 0));
  batch.run(
    DECODE,
    "kv_append",
    {},
    [a.k, a.v, a.kc, a.vc, a.rows, params],
    elementwiseGrid(batch, a.R * a.W, 256),
  );
}

/** out (R,NH,HS) = causal attention of q (R,NH,HS) over each row's cached keys and values 0..pos. */
export function attendCached(
  batch: CommandBatch,
  a: {
    q: Binding;
    kc: Binding;
    vc: Binding;
    rows: Binding;
    out: Binding;
    R: number;
    NH: number;
    KVH: number;
    HS: number;
    TMAX: number;
  },
): void {
  const max = maxCacheLength(batch.gpu.limits.maxComputeWorkgroupStorageSize);
  if (a.TMAX > max) throw new Error(`Cannot attend over ${a.TMAX} cached positions: this device fits ${max}`);
  if (a.NH % a.KVH !== 0) {
    throw new Error(`Cannot attend: ${a.NH} heads are not a multiple of ${a.KVH} kv heads`);
  }
  const params = new Uint32Array(8);
  params.set([a.NH, a.KVH, a.HS, a.TMAX]);
  new Float32Array(params.buffer)[4] = 1 / Math.sqrt(a.HS);
  // Pipelines are specialised by the cache length, rounded up so a few sizes cover every model.
  const MAXT = Math.min(max, 2 ** Math.ceil(Math.log2(Math.max(64, a.TMAX))));
  batch.run(
    DECODE,
    "attend",
    { WG: ATTEND_WG, MAXT },
    [a.q, a.kc, a.vc, a.rows, a.out, batch.uniform(params)],
    [a.NH, a.R],
  );
}

/** dst (S,C) = src[pick[s]] (C floats per row). */
export function gatherRows(
  batch: CommandBatch,
  a: { src: Binding; pick: Binding; dst: Binding; S: number; C: number },
): void {
  batch.run(DECODE, "gather", {}, [a.src, a.pick, a.dst, batch.uniform(Uint32Array.of(a.S, a.C, 0, 0))], [
    Math.ceil((a.S * a.C) / 256),
  ]);
}
