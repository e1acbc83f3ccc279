import assert from "node:assert/strict";
import { checkGradient, dot, projection } from "./gradcheck.ts";
import { ropeBackward, ropeForward } from "./rope.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference rope rotates each (x1, x2) pair by pos·theta^(−2i/HS)", () => {
  // HS = 4: pair 0 turns by t radians, pair 1 by t/theta... with theta = 100: t·100^(−1/2) = t/10.
  const x = new Float32Array([1, 0, 0, 1]); // (B=1,T=1,H=1,HS=4): pair 0 = (1, 0), pair 1 = (0, 1)
  const y = ropeForward(x, 1, 1, 1, 4, 100, 2);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
  close(y[0], Math.cos(2)); // x1' = x1·cos − x2·sin
  close(y[2], Math.sin(2)); // x2' = x2·cos + x1·sin
  close(y[1], -Math.sin(0.2));
  close(y[3], Math.cos(0.2));
});

Deno.test("reference rope at pos0 equals the later rows of a longer sequence", () => {
  const [B, T, H, HS, pos0] = [2, 3, 2, 8, 4];
  const long = randomArray(B * (pos0 + T) * H * HS, 7);
  const tail = new Float32Array(B * T * H * HS);
  const row = H * HS;
  for (let b = 0; b < B; b++) {
    tail.set(long.subarray((b * (pos0 + T) + pos0) * row, (b + 1) * (pos0 + T) * row), b * T * row);
  }
  const full = ropeForward(long, B, pos0 + T, H, HS, 10000);
  const part = ropeForward(tail, B, T, H, HS, 10000, pos0);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T * row; i++) {
      assert.ok(Math.abs(part[b * T * row + i] - full[(b * (pos0 + T) + pos0) * row + i]) < 1e-6);
    }
  }
});

Deno.test("reference rope gradient matches finite differences", () => {
  const [B, T, H, HS, theta, pos0] = [2, 5, 3, 6, 10000, 1];
  const x = randomArray(B * T * H * HS, 1);
  const w = projection(x.length, 2);
  const dx = ropeBackward(w, B, T, H, HS, theta, pos0);
  checkGradient("dx", (v) => dot(ropeForward(v, B, T, H, HS, theta, pos0), w), x, dx, { samples: 60 });
});
