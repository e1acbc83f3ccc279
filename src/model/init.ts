/** Parameter initialisation on the host: N(0, std) per the layout table (residual projections scaled), norms at 1. */
import type { Layout } from "./layout.ts";

/** A seeded generator of standard normal samples (xorshift128+ with Box–Muller). */
export function normalSampler(seed: number): () => number {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let s1 = (Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0 || 2;
  const uniform = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * uniform();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/** Fresh parameters for `layout`, deterministic in `seed`. Padding between tensors stays zero. */
export function initParams(layout: Layout, seed: number): Float32Array {
  const out = new Float32Array(layout.total);
  const normal = normalSampler(seed);
  for (const e of layout.entries) {
    const view = out.subarray(e.offset, e.offset + e.size);
    if (e.kind === "norm") view.fill(1);
    else for (let i = 0; i < view.length; i++) view[i] = normal() * e.initStd;
  }
  return out;
}
