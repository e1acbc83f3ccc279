import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import * as ref from "../reference/rmsnorm.ts";
import { RMSNORM_VARIANTS, rmsnormBackward, rmsnormForward, rmsnormScratchFloats } from "./rmsnorm.ts";

// 333 rows make 42 row groups, so dweight's second stage runs its stride loop over more than 16 groups per lane;
// 40,003 rows make rowsPerGroup grow past 8 (10 rows, 4,001 groups ≤ 4096). Every variant runs on every adapter
// (lavapipe covers the GPU variant, a GPU the CPU one); C = 288, 1100 and 64 (17 row groups) take the CPU variant's
// vec4 entry points.
const shapes: [number, number][] = [
  [1, 1],
  [3, 7],
  [17, 33],
  [9, 130],
  [41, 288],
  [5, 1100],
  [333, 19],
  [40_003, 3],
  [129, 64],
];

for (const variant of RMSNORM_VARIANTS) {
  for (const accumulateDx of [false, true]) {
    const name = `rmsnorm ${variant} forward and backward match the reference (accumulateDx=${accumulateDx})`;
    gpuTest(name, async (gpu) => {
      for (const [N, C] of shapes) {
        const eps = 1e-5;
        const x = randomArray(N * C, N * C, 2);
        const weight = randomArray(C, C, 1.5);
        const dout = randomArray(N * C, 3, 1);
        const dx0 = randomArray(N * C, 4, 1);
        const dw0 = randomArray(C, 5, 1);
        const X = createBuffer(gpu.device, "x", x);
        const W = createBuffer(gpu.device, "weight", weight);
        const Out = createBuffer(gpu.device, "out", N * C * 4);
        const R = createBuffer(gpu.device, "rstd", N * 4);
        const D = createBuffer(gpu.device, "dout", dout);
        const DX = createBuffer(gpu.device, "dx", dx0);
        const DW = createBuffer(gpu.device, "dweight", dw0);
        const S = createBuffer(gpu.device, "scratch", rmsnormScratchFloats(N, C) * 4);
        const batch = new CommandBatch(gpu, "rmsnorm test");
        rmsnormForward(batch, { x: X, weight: W, out: Out, rstd: R, N, C, eps, variant });
        rmsnormBackward(batch, {
          dout: D,
          x: X,
          weight: W,
          rstd: R,
          dx: DX,
          dweight: DW,
          scratch: S,
          N,
          C,
          accumulateDx,
          variant,
        });
        batch.submit();
        const label = `${variant} N=${N} C=${C}`;
        const want = ref.rmsnormForward(x, weight, N, C, eps);
        assertClose(new Float32Array(await readBuffer(gpu, Out)), want.out, `out ${label}`, { atol: 1e-5 });
        assertClose(new Float32Array(await readBuffer(gpu, R)), want.rstd, `rstd ${label}`);
        const grads = ref.rmsnormBackward(dout, x, weight, want.rstd, N, C);
        const dx = accumulateDx ? grads.dx.map((v, i) => v + dx0[i]) : grads.dx;
        const dw = grads.dw.map((v, i) => v + dw0[i]);
        assertClose(new Float32Array(await readBuffer(gpu, DX)), dx, `dx ${label}`, { atol: 1e-5 });
        assertClose(new Float32Array(await readBuffer(gpu, DW)), dw, `dweight ${label}`, { atol: 1e-4 });
        for (const b of [X, W, Out, R, D, DX, DW, S]) b.destroy();
      }
    });
  }

  gpuTest(
    `rmsnorm ${variant} backward dweight is bitwise reproducible across many row groups`,
    async (gpu) => {
      for (const [N, C] of [[333, 19], [333, 20]]) {
        const x = randomArray(N * C, 1);
        const dout = randomArray(N * C, 2);
        const results: Float32Array[] = [];
        for (let r = 0; r < 2; r++) {
          const X = createBuffer(gpu.device, "x", x);
          const W = createBuffer(gpu.device, "weight", new Float32Array(C).fill(1));
          const R = createBuffer(gpu.device, "rstd", new Float32Array(N).fill(0.7));
          const D = createBuffer(gpu.device, "dout", dout);
          const DX = createBuffer(gpu.device, "dx", N * C * 4);
          const DW = createBuffer(gpu.device, "dweight", C * 4);
          const S = createBuffer(gpu.device, "scratch", rmsnormScratchFloats(N, C) * 4);
          const batch = new CommandBatch(gpu, "rmsnorm determinism");
          const args = { dout: D, x: X, weight: W, rstd: R, dx: DX, dweight: DW, scratch: S, N, C, variant };
          rmsnormBackward(batch, args);
          batch.submit();
          results.push(new Float32Array(await readBuffer(gpu, DW)));
          for (const b of [X, W, R, D, DX, DW, S]) b.destroy();
        }
        assert.deepEqual(results[0], results[1], `N=${N} C=${C}`);
      }
    },
  );
}
