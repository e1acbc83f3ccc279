/**
 * Plain TypeScript twins of kernels/decode.wgsl: RoPE at per-row positions, the KV-cache append, attention of each
 * row over its slot's cached positions 0..pos, and the row gather. Rows are (slot, pos) pairs.
 */
import { ropeForward } from "./rope.ts";

/** One row of a step: a token of the sequence in cache slot `slot` at position `pos`. */
export interface CacheRow {
  slot: number;
  pos: number;
}

/** RoPE of x (R,H,HS) with row r at position rows[r].pos → (R,H,HS). */
export function ropeRowsReference(
  x: Float32Array,
  rows: CacheRow[],
  H: number,
  HS: number,
  theta: number,
): Float32Array {
  const out = new Float32Array(x.length);
  rows.forEach((row, r) => {
    const w = H * HS;
    out.set(ropeForward(x.subarray(r * w, (r + 1) * w), 1, 1, H, HS, theta, row.pos), r * w);
  });
  return out;
}

/** Writes k and v (R,W) into the caches (slots,TMAX,W) at each row's (slot, min(pos, TMAX−1)), in place. */
export function kvAppendReference(
  k: Float32Array,
  v: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  rows: CacheRow[],
  W: number,
  TMAX: number,
): void {
  rows.forEach((row, r) => {
    const o = (row.slot * TMAX + Math.min(row.pos, TMAX - 1)) * W;
    kc.set(k.subarray(r * W, (r + 1) * W), o);
    vc.set(v.subarray(r * W, (r + 1) * W), o);
  });
}

/** out (R,NH,HS): softmax(q·kᵀ/√HS)·v of each row over cached positions 0..pos of its slot, head h → kv head h/group. */
export function attendReference(
  q: Float32Array,
  kc: Float32Array,
  vc: Float32Array,
  rows: CacheRow[],
  NH: number,
  KVH: number,
  HS: number,
  TMAX: number,
): Float32Array {
  const out = new Float32Array(rows.length * NH * HS);
  const W = KVH * HS;
  const scale = 1 / Math.sqrt(HS);
  rows.forEach((row, r) => {
    const n = Math.min(row.pos, TMAX - 1) + 1;
    for (let h = 0; h < NH; h++) {
      const qo = (r * NH + h) * HS;
      const base = row.slot * TMAX * W + Math.floor(h / (NH / KVH)) * HS;
      const s = new Float64Array(n);
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        let d = 0;
        for (let e = 0; e < HS; e++) d += q[qo + e] * kc[base + j * W + e];
        s[j] = d * scale;
        m = Math.max(m, s[j]);
      }
      let l = 0;
      for (let j = 0; j < n; j++) l += s[j] = Math.exp(s[j] - m);
      for (let e = 0; e < HS; e++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += s[j] * vc[base + j * W + e];
        out[qo + e] = acc / l;
      }
    }
  });
  return out;
}
