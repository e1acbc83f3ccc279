import { checkGradient, dot, projection } from "./gradcheck.ts";
import { rmsnormBackward, rmsnormForward } from "./rmsnorm.ts";
import { randomArray } from "../gpu/testing.ts";

Deno.test("reference rmsnorm gradients match finite differences", () => {
  const [N, C, eps] = [4, 7, 1e-5];
  const x = randomArray(N * C, 1);
  const weight = randomArray(C, 2);
  const w = projection(N * C, 3); // loss = Σ out·w, so dout = w
  const { rstd } = rmsnormForward(x, weight, N, C, eps);
  const { dx, dw } = rmsnormBackward(w, x, weight, rstd, N, C);
  const opts = { eps: 1e-3, samples: N * C };
  checkGradient("dx", (v) => dot(rmsnormForward(v, weight, N, C, eps).out, w), x, dx, opts);
  checkGradient("dw", (v) => dot(rmsnormForward(x, v, N, C, eps).out, w), weight, dw, opts);
});

Deno.test("reference rmsnorm has unit root-mean-square with unit weight", () => {
  const [N, C] = [3, 11];
  const { out, rstd } = rmsnormForward(randomArray(N * C, 4, 3), new Float32Array(C).fill(1), N, C, 0);
  for (let n = 0; n < N; n++) {
    const ms = dot(out.subarray(n * C, n * C + C), out.subarray(n * C, n * C + C)) / C;
    if (Math.abs(ms - 1) > 1e-5 || !(rstd[n] > 0)) throw new Error(`row ${n}: mean square ${ms}`);
  }
});
