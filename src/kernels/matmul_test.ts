import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { matmul as matmulRef } from "../reference/matmul.ts";
import { matmul } from "./matmul.ts";

const shapes: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [65, 33, 129], [130, 70, 257], [
  3,
  300,
  2,
]];

for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    gpuTest(`matmul transA=${transA} transB=${transB} matches the reference on odd shapes`, async (gpu) => {
      for (const [M, K, N] of shapes) {
        const a = randomArray(M * K, M * 31 + K, 1);
        const b = randomArray(K * N, N * 17 + K, 1);
        const c0 = randomArray(M * N, 5, 1);
        for (const accumulate of [false, true]) {
          const A = createBuffer(gpu.device, "A", a);
          const B = createBuffer(gpu.device, "B", b);
          const C = createBuffer(gpu.device, "C", c0);
          const batch = new CommandBatch(gpu, "matmul test");
          matmul(batch, { a: A, b: B, c: C, M, K, N, transA, transB, accumulate, alpha: 0.5 });
          batch.submit();
          const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
          const want = matmulRef(a, b, M, K, N, {
            transA,
            transB,
            alpha: 0.5,
            out: accumulate ? c0.slice() : undefined,
          });
          assertClose(got, want, `${M}x${K}x${N} acc=${accumulate}`, { rtol: 1e-4, atol: 1e-4 });
          for (const buf of [A, B, C]) buf.destroy();
        }
      }
    });
  }
}

gpuTest("batched matmul uses the strides of each batch item", async (gpu) => {
  const [M, K, N, count] = [9, 11, 10, 3];
  const a = randomArray(count * M * K, 1);
  const b = randomArray(count * K * N, 2);
  const A = createBuffer(gpu.device, "A", a);
  const B = createBuffer(gpu.device, "B", b);
  const C = createBuffer(gpu.device, "C", count * M * N * 4);
  const batch = new CommandBatch(gpu, "batched matmul test");
  matmul(batch, { a: A, b: B, c: C, M, K, N, count, strides: [M * K, K * N, M * N] });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, C));
  for (let z = 0; z < count; z++) {
    const want = matmulRef(a.subarray(z * M * K), b.subarray(z * K * N), M, K, N);
    assertClose(got.subarray(z * M * N, (z + 1) * M * N), want, `batch ${z}`);
  }
});
