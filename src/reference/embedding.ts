/**
 * Plain TypeScript token embedding, the oracle for kernels/embedding.wgsl: a row gather forward and a
 * scatter-add backward. Not the LM head (a matmul) and no positional embedding (RoPE is its own op).
 */

/** out (N,C) = weight (V,C) rows at ids (N). */
export function embeddingForward(ids: Uint32Array, weight: Float32Array, N: number, C: number): Float32Array {
  const out = new Float32Array(N * C);
  for (let n = 0; n < N; n++) out.set(weight.subarray(ids[n] * C, ids[n] * C + C), n * C);
  return out;
}

/**
 * dweight (V,C) = Σ over positions n of dout (N,C) row n into row ids[n], summed in f64; added into `out`
 * when given (as the GPU accumulates into the gradient buffer), else into zeros.
 */
export function embeddingBackward(
  ids: Uint32Array,
  dout: Float32Array,
  N: number,
  C: number,
  V: number,
  out?: Float32Array,
): Float32Array {
  const acc = new Float64Array(V * C);
  if (out) acc.set(out);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) acc[ids[n] * C + c] += dout[n * C + c];
  }
  const dweight = out ?? new Float32Array(V * C);
  dweight.set(acc);
  return dweight;
}
