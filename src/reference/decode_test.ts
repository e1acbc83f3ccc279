import assert from "node:assert/strict";
import { randomArray } from "../gpu/testing.ts";
import { attentionForward } from "./attention.ts";
import { ropeForward } from "./rope.ts";
import { attendReference, type CacheRow, kvAppendReference, ropeRowsReference } from "./decode.ts";

Deno.test("a prompt appended to the cache and attended row by row equals full causal attention", () => {
  const [T, NH, KVH, HS, TMAX] = [7, 4, 2, 6, 10];
  const W = KVH * HS;
  const q = ropeForward(randomArray(T * NH * HS, 1), 1, T, NH, HS, 10000);
  const k = ropeForward(randomArray(T * W, 2), 1, T, KVH, HS, 10000);
  const v = randomArray(T * W, 3);
  const want = attentionForward(q, k, v, 1, T, NH, KVH, HS).out;
  const slots = 3;
  const kc = new Float32Array(slots * TMAX * W);
  const vc = new Float32Array(slots * TMAX * W);
  const rows: CacheRow[] = Array.from({ length: T }, (_, t) => ({ slot: 2, pos: t }));
  kvAppendReference(k, v, kc, vc, rows, W, TMAX);
  const got = attendReference(q, kc, vc, rows, NH, KVH, HS, TMAX);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5, `element ${i}: ${g} vs ${want[i]}`));
  assert.ok(kc.subarray(0, 2 * TMAX * W).every((x) => x === 0), "other slots untouched");
});

Deno.test("ropeRowsReference rotates each row at its own position", () => {
  const [H, HS] = [2, 8];
  const x = randomArray(3 * H * HS, 4);
  const rows = [{ slot: 0, pos: 5 }, { slot: 1, pos: 0 }, { slot: 0, pos: 17 }];
  const got = ropeRowsReference(x, rows, H, HS, 10000);
  rows.forEach((row, r) => {
    const w = H * HS;
    const want = ropeForward(x.subarray(r * w, (r + 1) * w), 1, 1, H, HS, 10000, row.pos);
    assert.deepEqual(got.subarray(r * w, (r + 1) * w), want);
  });
});
