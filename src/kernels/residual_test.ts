import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { addInPlace, elementwiseGrid, fill } from "./residual.ts";

gpuTest("addInPlace adds y into x for odd and vec4 sizes, leaving the tail untouched", async (gpu) => {
  for (const n of [1, 7, 256, 1029, 4100]) {
    const x = randomArray(n + 3, n, 1);
    const y = randomArray(n, n + 1, 1);
    const X = createBuffer(gpu.device, "x", x);
    const Y = createBuffer(gpu.device, "y", y);
    const batch = new CommandBatch(gpu, "add test");
    addInPlace(batch, { x: X, y: Y, n });
    batch.submit();
    const got = new Float32Array(await readBuffer(gpu, X));
    const want = x.map((v, i) => (i < n ? v + y[i] : v));
    assertClose(got, want, `n=${n}`, { rtol: 0, atol: 0 });
    X.destroy();
    Y.destroy();
  }
});

gpuTest("fill sets the first n elements", async (gpu) => {
  const X = createBuffer(gpu.device, "x", new Float32Array(301).fill(2));
  const batch = new CommandBatch(gpu, "fill test");
  fill(batch, { x: X, n: 299, value: -1.5 });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, X));
  assertClose(got, Float32Array.from({ length: 301 }, (_, i) => (i < 299 ? -1.5 : 2)), "fill", { atol: 0 });
  X.destroy();
});

Deno.test("elementwiseGrid folds large launches into two dimensions", () => {
  const batch = { gpu: { limits: { maxComputeWorkgroupsPerDimension: 65535 } } } as unknown as CommandBatch;
  assert.deepEqual(elementwiseGrid(batch, 256, 256), [1, 1]);
  assert.deepEqual(elementwiseGrid(batch, 257, 256), [2, 1]);
  assert.deepEqual(elementwiseGrid(batch, 256 * 70000, 256), [65535, 2]);
});
