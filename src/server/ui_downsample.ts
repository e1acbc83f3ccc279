/**
 * Downsampling of long metric histories for charts: M4 (first, last, min and max of every pixel-column bucket),
 * so a line drawn through the kept points looks the same as one through all of them — spikes included.
 * Pure: the server runs it over cached histories (ui_series.ts) and the browser only draws what it sends;
 * nothing here knows about files or HTTP.
 */

/** A metric history as columns, sorted by `x` (step or timestamp). NaN/±Inf values are kept as they are. */
export interface Series {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** The kept points plus what a chart needs to know about the whole series. */
export interface Downsampled {
  x: number[];
  y: number[];
  /** Points in the whole series. */
  total: number;
  /** Points inside the requested x range. */
  inRange: number;
  /** x extent of the whole series (null when empty). */
  xMin: number | null;
  xMax: number | null;
}

/** First index i with xs[i] >= v (xs sorted ascending). */
export function lowerBound(xs: ArrayLike<number>, v: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with xs[i] > v (xs sorted ascending). */
export function upperBound(xs: ArrayLike<number>, v: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Keeps at most ~4 points per bucket of `buckets` equal-width x buckets over [from, to] (default: the whole
 * series), plus the nearest point outside each end so the line runs to the chart's edges. Non-finite values
 * never win min/max but are kept as a bucket's first/last so gaps stay visible.
 *
 * @example
 * ```ts
 * const d = downsampleM4({ x: [0, 1, 2, 3], y: [1, 9, 1, 1] }, 1);
 * // d.y includes 9: the spike survives
 * ```
 */
export function downsampleM4(s: Series, buckets: number, from?: number, to?: number): Downsampled {
  const n = s.x.length;
  const out: Downsampled = {
    x: [],
    y: [],
    total: n,
    inRange: 0,
    xMin: n ? s.x[0] : null,
    xMax: n ? s.x[n - 1] : null,
  };
  if (n === 0) return out;
  const lo = from ?? s.x[0], hi = to ?? s.x[n - 1];
  const start = lowerBound(s.x, lo);
  const end = upperBound(s.x, hi); // exclusive
  out.inRange = Math.max(0, end - start);
  const push = (i: number) => {
    out.x.push(s.x[i]);
    out.y.push(s.y[i]);
  };
  // One point beyond each edge keeps the line running to the chart's borders.
  if (start > 0) push(start - 1);
  buckets = Math.max(1, Math.floor(buckets));
  if (end - start <= buckets * 4) {
    for (let i = start; i < end; i++) push(i);
  } else {
    const width = (hi - lo) / buckets || 1;
    const bucketOf = (i: number) => Math.min(buckets - 1, Math.floor((s.x[i] - lo) / width));
    let i = start;
    while (i < end) {
      const b = bucketOf(i);
      const first = i;
      let minI = -1, maxI = -1;
      for (; i < end && bucketOf(i) === b; i++) {
        const v = s.y[i];
        if (!Number.isFinite(v)) continue;
        if (minI < 0 || v < s.y[minI]) minI = i;
        if (maxI < 0 || v > s.y[maxI]) maxI = i;
      }
      const keep = [first, minI, maxI, i - 1].filter((k) => k >= 0).sort((p, q) => p - q);
      let prev = -1;
      for (const k of keep) {
        if (k !== prev) push(k);
        prev = k;
      }
    }
  }
  if (end < n && end >= start) push(end);
  return out;
}

/**
 * Sorts a history by x (stable on the original order, so equal steps keep their logging order); returns the
 * inputs untouched when already sorted, which is the common case for training logs.
 */
export function sortByX(x: Float64Array, y: Float64Array): Series {
  let sorted = true;
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return { x, y };
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  const sx = new Float64Array(x.length), sy = new Float64Array(x.length);
  idx.forEach((j, i) => {
    sx[i] = x[j];
    sy[i] = y[j];
  });
  return { x: sx, y: sy };
}
