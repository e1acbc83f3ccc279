import assert from "node:assert/strict";
import { checkGradient, dot, projection } from "./gradcheck.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference attention: first row copies v, lse is the log-sum-exp of the scaled scores", () => {
  const [B, T, NH, KVH, HS] = [1, 3, 2, 1, 4];
  const q = randomArray(B * T * NH * HS, 1);
  const k = randomArray(B * T * KVH * HS, 2);
  const v = randomArray(B * T * KVH * HS, 3);
  const { out, lse } = attentionForward(q, k, v, B, T, NH, KVH, HS);
  for (let h = 0; h < NH; h++) {
    for (let e = 0; e < HS; e++) assert.ok(Math.abs(out[h * HS + e] - v[e]) < 1e-6); // t = 0 sees only key 0
  }
  // Row t = 2 of head 1: log Σ_j exp(q·k_j / √HS) over j ≤ 2.
  let sum = 0;
  for (let j = 0; j <= 2; j++) {
    let s = 0;
    for (let e = 0; e < HS; e++) s += q[(2 * NH + 1) * HS + e] * k[j * HS + e];
    sum += Math.exp(s / Math.sqrt(HS));
  }
  assert.ok(Math.abs(lse[1 * T + 2] - Math.log(sum)) < 1e-5);
});

Deno.test("reference attention gradients match finite differences, grouped kv heads", () => {
  const [B, T, NH, KVH, HS] = [2, 5, 4, 2, 3];
  const q = randomArray(B * T * NH * HS, 1);
  const k = randomArray(B * T * KVH * HS, 2);
  const v = randomArray(B * T * KVH * HS, 3);
  const w = projection(B * T * NH * HS, 4); // loss = Σ out·w, so dout = w
  const { out, lse } = attentionForward(q, k, v, B, T, NH, KVH, HS);
  const { dq, dk, dv } = attentionBackward(w, q, k, v, out, lse, B, T, NH, KVH, HS);
  const opts = { samples: 40 };
  checkGradient("dq", (x) => dot(attentionForward(x, k, v, B, T, NH, KVH, HS).out, w), q, dq, opts);
  checkGradient("dk", (x) => dot(attentionForward(q, x, v, B, T, NH, KVH, HS).out, w), k, dk, opts);
  checkGradient("dv", (x) => dot(attentionForward(q, k, x, B, T, NH, KVH, HS).out, w), v, dv, opts);
});
