/**
 * Finite-difference gradient checks for the reference ops: central differences of a scalar loss against the
 * analytic gradient, on a sample of coordinates. The references are the oracle of every GPU kernel, so they are
 * themselves checked this way.
 */

/** Compares `analytic` with central differences of `loss` around `x` (x is perturbed in place and restored). */
export function checkGradient(
  label: string,
  loss: (x: Float32Array) => number,
  x: Float32Array,
  analytic: ArrayLike<number>,
  { eps = 1e-2, rtol = 2e-2, atol = 2e-3, samples = 24 }: {
    eps?: number;
    rtol?: number;
    atol?: number;
    samples?: number;
  } = {},
): void {
  if (analytic.length !== x.length) {
    throw new Error(`${label}: gradient length ${analytic.length} ≠ input length ${x.length}`);
  }
  const step = Math.max(1, Math.floor(x.length / samples));
  for (let i = 0; i < x.length; i += step) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = loss(x);
    x[i] = keep - eps;
    const down = loss(x);
    x[i] = keep;
    const numeric = (up - down) / (2 * eps);
    const err = Math.abs(numeric - analytic[i]);
    if (err > atol + rtol * Math.abs(numeric)) {
      throw new Error(`${label}: d/dx[${i}] analytic ${analytic[i]} vs numeric ${numeric} (error ${err})`);
    }
  }
}

/** A fixed random projection of `y`, turning any output into a scalar loss whose gradient is `weights`. */
export function projection(n: number, seed: number): Float32Array {
  const w = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    w[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return w;
}

/** Σ y·w in double precision. */
export function dot(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}
