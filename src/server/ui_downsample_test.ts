import assert from "node:assert/strict";
import { downsampleM4, lowerBound, sortByX, upperBound } from "./ui_downsample.ts";

function noisy(n: number): { x: Float64Array; y: Float64Array } {
  const x = new Float64Array(n), y = new Float64Array(n);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    x[i] = i;
    y[i] = 2 + Math.sin(i / 1000) + (seed / 2147483648) * 0.1;
  }
  return { x, y };
}

Deno.test("downsampleM4: a single-point spike in a million points survives", () => {
  const s = noisy(1_000_000);
  s.y[654_321] = 50;
  s.y[123_457] = -40;
  const d = downsampleM4(s, 800);
  assert.ok(d.x.length <= 800 * 4 + 2, `kept ${d.x.length}`);
  assert.equal(d.total, 1_000_000);
  assert.ok(d.y.includes(50));
  assert.ok(d.y.includes(-40));
  assert.equal(d.x[d.y.indexOf(50)], 654_321);
  // the kept points are in x order and start/end at the series ends
  for (let i = 1; i < d.x.length; i++) assert.ok(d.x[i] > d.x[i - 1]);
  assert.equal(d.x[0], 0);
  assert.equal(d.x.at(-1), 999_999);
});

Deno.test("downsampleM4: every bucket's min and max are kept", () => {
  const s = noisy(100_000);
  const d = downsampleM4(s, 100);
  const w = 99_999 / 100;
  const bucket = (x: number) => Math.min(99, Math.floor(x / w));
  for (let b = 0; b < 100; b++) {
    let mn = Infinity, mx = -Infinity;
    for (let i = 0; i < s.x.length; i++) {
      if (bucket(i) !== b) continue;
      mn = Math.min(mn, s.y[i]);
      mx = Math.max(mx, s.y[i]);
    }
    const kept = d.y.filter((_, k) => bucket(d.x[k]) === b);
    assert.ok(kept.length <= 4);
    assert.ok(Math.min(...kept) <= mn + 1e-12 && Math.max(...kept) >= mx - 1e-12, `bucket ${b}`);
  }
});

Deno.test("downsampleM4: a zoom range returns that window plus one point each side", () => {
  const s = noisy(10_000);
  const d = downsampleM4(s, 1000, 2000, 2100);
  assert.equal(d.inRange, 101);
  assert.equal(d.x[0], 1999);
  assert.equal(d.x.at(-1), 2101);
  assert.equal(d.x.length, 103); // small enough to return untouched
  assert.equal(d.xMin, 0);
  assert.equal(d.xMax, 9999);
  const z = downsampleM4(s, 10, 2000, 6000);
  assert.ok(z.x.length <= 10 * 4 + 2);
  assert.ok(z.x[0] >= 1999 && z.x.at(-1)! <= 6001);
});

Deno.test("downsampleM4: empty, tiny and non-finite inputs", () => {
  assert.deepEqual(downsampleM4({ x: [], y: [] }, 10).x, []);
  assert.deepEqual(downsampleM4({ x: [5], y: [1] }, 10).y, [1]);
  const x = Array.from({ length: 1000 }, (_, i) => i);
  const y = x.map((i) => (i === 500 ? NaN : i === 501 ? 1e9 : 1));
  const d = downsampleM4({ x, y }, 10);
  assert.ok(d.y.includes(1e9));
});

Deno.test("bounds and sortByX", () => {
  const xs = [1, 2, 2, 3];
  assert.equal(lowerBound(xs, 2), 1);
  assert.equal(upperBound(xs, 2), 3);
  const s = sortByX(new Float64Array([3, 1, 2, 1]), new Float64Array([30, 10, 20, 11]));
  assert.deepEqual(Array.from(s.x), [1, 1, 2, 3]);
  assert.deepEqual(Array.from(s.y), [10, 11, 20, 30]);
});
