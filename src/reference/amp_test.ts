/** The AMP twins: half/bfloat16 rounding against the independent safetensors encoder and fixed points. */
import assert from "node:assert/strict";
import { randomArray } from "../gpu/testing.ts";
import { fromF32 } from "../model/safetensors.ts";
import {
  ampUpdate,
  bf16Bits,
  bf16Value,
  f16Bits,
  f16Value,
  f32FromBits,
  packLowPrecision,
  roundTo,
} from "./amp.ts";

function edgeValues(): Float32Array {
  const v = [
    0,
    -0,
    1,
    -1,
    65504,
    65519.99,
    65520,
    -65520,
    1e9,
    Infinity,
    -Infinity,
    2 ** -14,
    2 ** -24,
    2 ** -25,
  ];
  v.push(
    1.5 * 2 ** -25,
    2 ** -26,
    3 * 2 ** -25,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
  );
  for (let e = -30; e <= 20; e++) v.push(2 ** e * 1.3337, -(2 ** e) * 1.999);
  const bits = new Uint32Array(4000);
  for (let i = 0; i < bits.length; i++) bits[i] = (Math.imul(i, 2654435761) >>> 0) & 0xbfffffff; // no NaN
  return Float32Array.from([...v, ...new Float32Array(bits.buffer), ...randomArray(1000, 3, 70000)]);
}

Deno.test("f16Bits rounds to nearest even like the safetensors encoder, overflow to inf", () => {
  const x = edgeValues();
  const want = fromF32(x, "F16");
  for (let i = 0; i < x.length; i++) assert.equal(f16Bits(x[i]), want[i], `f16 of ${x[i]}`);
  assert.equal(f16Bits(65504), 0x7bff);
  assert.equal(f16Bits(65520), 0x7c00);
  assert.equal(f16Bits(2 ** -25), 0); // tie to even zero
  assert.equal(f16Bits(1.5 * 2 ** -25), 1);
  assert.equal(f16Bits(1 + 2 ** -11), 0x3c00); // tie down to even
  assert.equal(f16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie up to even
  assert.equal(f16Bits(NaN) & 0x7e00, 0x7e00);
  assert.equal(f16Value(0x3c01), 1 + 2 ** -10);
});

Deno.test("bf16Bits rounds to nearest even like the safetensors encoder; values are the upper f32 half", () => {
  const x = edgeValues();
  const want = fromF32(x, "BF16");
  for (let i = 0; i < x.length; i++) assert.equal(bf16Bits(x[i]), want[i], `bf16 of ${x[i]}`);
  assert.equal(bf16Bits(1 + 2 ** -8), 0x3f80); // tie down
  assert.equal(bf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie up
  assert.equal(bf16Value(0x3f81), 1 + 2 ** -7);
  assert.ok(Number.isNaN(bf16Value(bf16Bits(NaN))));
  assert.equal(bf16Value(bf16Bits(f32FromBits(0x7f7fffff))), Infinity); // the largest f32 rounds up
});

Deno.test("packLowPrecision puts element 2i low and 2i+1 high, scaled first", () => {
  const words = packLowPrecision([1, -2, 0.5], "float16", 2);
  assert.deepEqual([...words], [(f16Bits(-4) << 16 | f16Bits(2)) >>> 0, f16Bits(1)]);
  assert.deepEqual([...roundTo([1 + 2 ** -12], "float16")], [1]);
});

Deno.test("ampUpdate skips and halves on non-finite, doubles after the growth interval", () => {
  let s = { scale: 8, clean: 0, skipped: 0, overflow: 0 };
  s = ampUpdate(s, Infinity, 3, true);
  assert.deepEqual(s, { scale: 4, clean: 0, skipped: 1, overflow: 1 });
  s = ampUpdate(s, NaN, 3, true);
  assert.deepEqual(s, { scale: 2, clean: 0, skipped: 2, overflow: 1 });
  s = ampUpdate(ampUpdate(s, 1, 3, true), 2, 3, true);
  assert.deepEqual(s, { scale: 2, clean: 2, skipped: 2, overflow: 0 });
  s = ampUpdate(s, 1e30, 3, true);
  assert.deepEqual(s, { scale: 4, clean: 0, skipped: 2, overflow: 0 });
  assert.equal(ampUpdate(s, 1e39, 3, true).overflow, 1); // overflows f32
  assert.deepEqual(ampUpdate(s, Infinity, 3, false), { scale: 4, clean: 0, skipped: 3, overflow: 1 });
});
