import assert from "node:assert/strict";
import { randomArray } from "../gpu/testing.ts";
import { adamwStep, clipFactor, globalNorm } from "./optimizer.ts";

const close = (a: number, b: number, tol: number, label: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${label}: ${a} vs ${b}`);

Deno.test("globalNorm is the 2-norm of one array or of several together", () => {
  assert.equal(globalNorm(new Float32Array([3, 4])), 5);
  assert.equal(globalNorm([new Float32Array([3]), new Float32Array([]), [4]]), 5);
  assert.equal(globalNorm(new Float32Array(0)), 0);
  assert.equal(clipFactor(0.5, 0), 1);
  assert.equal(clipFactor(0.5, 1), 1);
  close(clipFactor(4, 1), 1 / (4 + 1e-6), 1e-15, "clip");
});

Deno.test("adamwStep matches a hand-computed first and second step", () => {
  const lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01;
  const p = new Float32Array([1, -2, 0.5]);
  const g1 = new Float32Array([0.3, -0.4, 0]);
  const m = new Float32Array(3);
  const v = new Float32Array(3);
  adamwStep(p, g1, m, v, { lr, beta1, beta2, eps, weightDecay, step: 1, clip: 0 });
  // Step 1: m̂ = g, v̂ = g², so p ← p·(1 − lr·wd) − lr·g/(|g| + eps).
  close(p[0], 0.999 - 0.1 * 0.3 / (0.3 + 1e-8), 1e-7, "p0");
  close(p[1], -1.998 + 0.1 * 0.4 / (0.4 + 1e-8), 1e-7, "p1");
  close(p[2], 0.4995, 1e-7, "p2 (zero gradient: decay only)");
  close(m[0], 0.03, 1e-7, "m0");
  close(v[1], 0.001 * 0.16, 1e-7, "v1");
  // Step 2 with g2 = (0.1, 0.2, -0.5): m = 0.09·g1 + 0.1·g2, v = 0.000999·g1² + 0.001·g2²,
  // bias corrections 1 − 0.9² = 0.19 and 1 − 0.999² = 0.001999.
  const g2 = new Float32Array([0.1, 0.2, -0.5]);
  const before = Float64Array.from(p);
  adamwStep(p, g2, m, v, { lr, beta1, beta2, eps, weightDecay, step: 2, clip: 0 });
  for (let i = 0; i < 3; i++) {
    const mi = 0.09 * g1[i] + 0.1 * g2[i];
    const vi = 0.000999 * g1[i] ** 2 + 0.001 * g2[i] ** 2;
    const want = before[i] * 0.999 - (0.1 / 0.19) * mi / (Math.sqrt(vi / 0.001999) + 1e-8);
    close(p[i], want, 2e-7, `step 2 p${i}`);
  }
});

Deno.test("adamwStep clips by the global norm of all gradients, even for a partial range", () => {
  const p = new Float32Array([1, 1, 1, 1]);
  const g = new Float32Array([3, 0, 0, 4]); // norm 5
  const m = new Float32Array(4);
  const v = new Float32Array(4);
  adamwStep(p, g, m, v, {
    lr: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0,
    step: 1,
    clip: 1,
    offset: 0,
    count: 2,
  });
  close(m[0], 0.1 * 3 / (5 + 1e-6), 1e-7, "m0 uses the clipped gradient");
  assert.deepEqual([...p.subarray(2)], [1, 1], "outside the range nothing changes");
  assert.deepEqual([...m.subarray(2)], [0, 0]);
  assert.throws(
    () =>
      adamwStep(p, g, m, v, {
        lr: 1,
        beta1: 0,
        beta2: 0,
        eps: 0,
        weightDecay: 0,
        step: 1,
        clip: 0,
        offset: 3,
        count: 2,
      }),
    /Cannot run AdamW: range \[3, 5\)/,
  );
});

/** Independent transcription of torch: clip_grad_norm_ over a list of tensors, then _single_tensor_adamw per group. */
function torchStep(
  groups: { params: Float32Array[]; weightDecay: number }[],
  grads: Float32Array[][],
  state: { m: Float32Array; v: Float32Array }[][],
  lr: number,
  step: number,
  clip: number,
) {
  const [beta1, beta2, eps] = [0.9, 0.95, 1e-8];
  // clip_grad_norm_: norm of the per-tensor norms, grads multiplied in place by the clamped coefficient.
  const norms = grads.flat().map((g) => Math.sqrt(g.reduce((s, x) => s + x * x, 0)));
  const total = Math.sqrt(norms.reduce((s, x) => s + x * x, 0));
  const coef = Math.min(1, clip / (total + 1e-6));
  for (const g of grads.flat()) for (let i = 0; i < g.length; i++) g[i] *= coef;
  groups.forEach((group, gi) => {
    group.params.forEach((param, pi) => {
      const grad = grads[gi][pi];
      const { m: expAvg, v: expAvgSq } = state[gi][pi];
      for (let i = 0; i < param.length; i++) param[i] *= 1 - lr * group.weightDecay;
      for (let i = 0; i < param.length; i++) expAvg[i] += (1 - beta1) * (grad[i] - expAvg[i]); // lerp_
      for (let i = 0; i < param.length; i++) {
        expAvgSq[i] = expAvgSq[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
      }
      const stepSize = lr / (1 - beta1 ** step);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
      for (let i = 0; i < param.length; i++) {
        param[i] += -stepSize * expAvg[i] / (Math.sqrt(expAvgSq[i]) / bc2Sqrt + eps); // addcdiv_
      }
    });
  });
}

Deno.test("adamwStep over ranges of a flat buffer equals torch's clip_grad_norm_ + AdamW with two groups", () => {
  // Four tensors in one flat buffer: two decayed (a linear weight, a tied head), two not (a norm, an embedding).
  const sizes = [35, 9, 64, 17];
  const decay = [0.1, 0, 0.1, 0];
  const offsets = [0, 40, 64, 128];
  const P = 150;
  const flat = { p: randomArray(P, 1), m: new Float32Array(P), v: new Float32Array(P) };
  const tensors = sizes.map((n, k) => flat.p.slice(offsets[k], offsets[k] + n));
  const state = sizes.map((n) => ({ m: new Float32Array(n), v: new Float32Array(n) }));
  const groupOf = [0, 1, 0, 1];
  const groups = [
    { params: [tensors[0], tensors[2]], weightDecay: 0.1 },
    { params: [tensors[1], tensors[3]], weightDecay: 0 },
  ];
  const groupState = [[state[0], state[2]], [state[1], state[3]]];
  for (let step = 1; step <= 6; step++) {
    const lr = 0.01 * step;
    const flatGrad = new Float32Array(P); // padding stays zero, as in the engine's dparams
    const g = sizes.map((n, k) => randomArray(n, 100 * step + k, step % 2 ? 3 : 0.01));
    g.forEach((gk, k) => flatGrad.set(gk, offsets[k]));
    const clip = step === 3 ? 0 : 1;
    for (let k = 0; k < 4; k++) {
      adamwStep(flat.p, flatGrad, flat.m, flat.v, {
        lr,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: decay[k],
        step,
        clip,
        offset: offsets[k],
        count: sizes[k],
      });
    }
    const grouped = [[g[0], g[2]], [g[1], g[3]]];
    torchStep(groups, grouped, groupState, lr, step, clip || Infinity);
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < sizes[k]; i++) {
        close(
          flat.p[offsets[k] + i],
          tensors[k][i],
          1e-6,
          `step ${step} tensor ${k} (group ${groupOf[k]}) p[${i}]`,
        );
        close(flat.v[offsets[k] + i], state[k].v[i], 1e-6, `step ${step} tensor ${k} v[${i}]`);
      }
    }
  }
});
