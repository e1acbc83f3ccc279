/**
 * Plain TypeScript RMSNorm, the oracle for kernels/rmsnorm.wgsl: y = x · rsqrt(mean(x²) + eps) · w, exactly
 * torch_reference's RMSNorm (no mean subtraction, no bias), forward and backward with f64 accumulation.
 */

/** out (N,C) and the per-row rstd (N) = 1/sqrt(mean(x²) + eps) that the backward reuses. */
export function rmsnormForward(
  x: Float32Array,
  w: Float32Array,
  N: number,
  C: number,
  eps: number,
): { out: Float32Array; rstd: Float32Array } {
  const out = new Float32Array(N * C);
  const rstd = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = x[n * C + c] * r * w[c];
  }
  return { out, rstd };
}

/**
 * dx (N,C) = r·w·dout − r³/C · x · Σ_c(dout·w·x) per row, dw (C) = Σ_n dout·x·r, from dout (N,C), x (N,C),
 * w (C) and the forward's rstd (N).
 */
export function rmsnormBackward(
  dout: Float32Array,
  x: Float32Array,
  w: Float32Array,
  rstd: Float32Array,
  N: number,
  C: number,
): { dx: Float32Array; dw: Float32Array } {
  const dx = new Float32Array(N * C);
  const dw64 = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let dot = 0;
    for (let c = 0; c < C; c++) {
      const i = n * C + c;
      dot += dout[i] * w[c] * x[i];
      dw64[c] += dout[i] * x[i] * r;
    }
    const k = (r * r * r * dot) / C;
    for (let c = 0; c < C; c++) {
      const i = n * C + c;
      dx[i] = r * w[c] * dout[i] - k * x[i];
    }
  }
  return { dx, dw: Float32Array.from(dw64) };
}
