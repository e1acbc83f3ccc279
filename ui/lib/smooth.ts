/** Chart smoothing: TensorBoard's debiased exponential moving average (no lag at the start of a curve). */

/** EMA with weight `w` in [0, 1): non-finite values pass through unsmoothed and do not poison later points. */
export function smoothEma(ys: ArrayLike<number | null>, w: number): (number | null)[] {
  const out: (number | null)[] = new Array(ys.length);
  if (w <= 0) {
    for (let i = 0; i < ys.length; i++) out[i] = ys[i];
    return out;
  }
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    n++;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}
