import assert from "node:assert/strict";
import { checkGradient, dot, projection } from "./gradcheck.ts";
import { moeBackward, moeForward, moePlan, moeRoute, moeStats, type MoeWeights } from "./moe.ts";
import { randomArray } from "../gpu/testing.ts";

const near = (a: number, b: number, label: string) =>
  assert.ok(Math.abs(a - b) < 1e-6, `${label}: ${a} vs ${b}`);

Deno.test("reference moe balance, entropy and z-loss equal hand-computed values", () => {
  const ln3 = Math.log(3);
  const coefs = { auxCoef: 0.01, zCoef: 0.001 };
  // Two tokens preferring different experts 3:1 — balanced routing, balance exactly 1.
  const even = moeStats(moeRoute(Float32Array.of(ln3, 0, 0, ln3), 2, 2, 1), 2, 2, 1, coefs);
  near(even.balance, 1, "balanced");
  const h = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
  near(even.entropy, h, "entropy");
  near(even.z, Math.log(4) ** 2, "z");
  near(even.aux, 0.01 * 1 + 0.001 * Math.log(4) ** 2, "aux");
  assert.deepEqual([...even.fractions], [0.5, 0.5]);
  // Both tokens on expert 0: f = (1, 0), P = (0.75, 0.25), balance = 2 · 0.75.
  const skew = moeStats(moeRoute(Float32Array.of(ln3, 0, ln3, 0), 2, 2, 1), 2, 2, 1, coefs);
  near(skew.balance, 1.5, "all on one expert");
  // Top-2 of 2 sends every token everywhere: f = (0.5, 0.5) whatever the probabilities.
  const both = moeStats(moeRoute(Float32Array.of(ln3, 0, ln3, 0), 2, 2, 2), 2, 2, 2, coefs);
  near(both.balance, 1, "top-2 of 2");
  // Uniform router: entropy ln E, balance 1 under top-1 only when counts are even (ties pick expert 0).
  const flat = moeStats(moeRoute(new Float32Array(3 * 4), 3, 4, 1), 3, 4, 1, coefs);
  near(flat.entropy, Math.log(4), "uniform entropy");
  near(flat.balance, 4 * 1 * 0.25, "ties all go to expert 0");
  near(flat.z, Math.log(4) ** 2, "uniform z");
});

Deno.test("reference moe routing renormalises the top-k weights and orders experts by probability", () => {
  const r = moeRoute(Float32Array.of(0, 2, 1, -1), 1, 4, 2);
  assert.deepEqual([...r.idx], [1, 2]);
  const [p1, p2] = [r.probs[1], r.probs[2]];
  near(r.weights[0], p1 / (p1 + p2), "w0");
  near(r.weights[0] + r.weights[1], 1, "sum");
});

Deno.test("reference moe plan sorts slots by expert, stable, with empty experts", () => {
  const idx = Uint32Array.of(3, 0, 3, 3, 0, 5, 3);
  const plan = moePlan(idx, 6);
  assert.deepEqual([...plan.counts], [2, 0, 0, 4, 0, 1]);
  assert.deepEqual([...plan.offsets], [0, 2, 2, 2, 6, 6, 7]);
  assert.deepEqual([...plan.rowSlot], [1, 4, 0, 2, 3, 6, 5]);
  for (let s = 0; s < idx.length; s++) assert.equal(plan.rowSlot[plan.pos[s]], s);
});

for (const K of [1, 2]) {
  Deno.test(`reference moe layer gradients match finite differences (top_k=${K})`, () => {
    const s = { N: 7, C: 5, E: 4, K, I: 6 };
    const coefs = { auxCoef: 0.3, zCoef: 0.2 }; // large, so their gradients are visible
    const x = randomArray(s.N * s.C, 1, 1.5);
    const w: MoeWeights = {
      router: randomArray(s.E * s.C, 2, 1.5),
      gate: randomArray(s.E * s.I * s.C, 3, 0.8),
      up: randomArray(s.E * s.I * s.C, 4, 0.8),
      down: randomArray(s.E * s.C * s.I, 5, 0.8),
    };
    const proj = projection(s.N * s.C, 6);
    const loss = () => {
      const f = moeForward(x, w, s, coefs);
      return dot(f.y, proj) + f.aux;
    };
    const f = moeForward(x, w, s, coefs);
    const g = moeBackward(proj, f.saved, w, s, coefs);
    const opts = { eps: 1e-3, samples: 40, rtol: 2e-2, atol: 1e-3 };
    const check = (label: string, v: Float32Array, analytic: Float32Array) =>
      checkGradient(
        label,
        (nv) => {
          v.set(nv);
          return loss();
        },
        v.slice(),
        analytic,
        opts,
      );
    check("dx", x, g.dx);
    check("drouter", w.router, g.dRouter);
    check("dgate", w.gate, g.dGate);
    check("dup", w.up, g.dUp);
    check("ddown", w.down, g.dDown);
  });
}
