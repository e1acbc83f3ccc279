/** Plain TypeScript matmul, the oracle for kernels/matmul.wgsl: C (M,N) = alpha · op(A) · op(B) [+ C]. */

/** Options of one matmul: stored transposes, scale, accumulation into `out`. */
export interface MatmulOptions {
  /** A is stored (K, M) instead of (M, K). */
  transA?: boolean;
  /** B is stored (N, K) instead of (K, N). */
  transB?: boolean;
  alpha?: number;
  /** Add into this (M, N) array instead of returning a fresh one. */
  out?: Float32Array;
}

/** op(A) (M,K) · op(B) (K,N) → (M,N), accumulated in f64. */
export function matmul(
  a: Float32Array,
  b: Float32Array,
  M: number,
  K: number,
  N: number,
  opts: MatmulOptions = {},
): Float32Array {
  const { transA = false, transB = false, alpha = 1 } = opts;
  const out = opts.out ?? new Float32Array(M * N);
  const accumulate = opts.out !== undefined;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += a[transA ? k * M + m : m * K + k] * b[transB ? n * K + k : k * N + n];
      }
      out[m * N + n] = alpha * s + (accumulate ? out[m * N + n] : 0);
    }
  }
  return out;
}
