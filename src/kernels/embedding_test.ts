import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import * as ref from "../reference/embedding.ts";
import { embeddingBackward, embeddingBackwardIndex, embeddingForward } from "./embedding.ts";

function randomIds(N: number, V: number, seed: number): Uint32Array {
  // Skewed towards small ids so some tokens repeat many times, as in text.
  return Uint32Array.from(randomArray(N, seed), (r) => Math.floor(r * r * V) % V);
}

Deno.test("embeddingBackwardIndex groups positions by ascending id", () => {
  const { index, unique } = embeddingBackwardIndex(Uint32Array.from([5, 2, 5, 9, 2, 5]));
  assert.equal(unique, 3);
  assert.deepEqual([...index], [0, 2, 5, 6, 2, 5, 9, 1, 4, 0, 2, 5, 3]);
  assert.deepEqual([...embeddingBackwardIndex(new Uint32Array(0)).index], [0]);
});

gpuTest("embedding forward and backward match the reference on odd shapes", async (gpu) => {
  for (const [N, C, V] of [[1, 1, 1], [37, 13, 11], [64, 40, 300], [130, 67, 5]]) {
    const ids = randomIds(N, V, N + C);
    const weight = randomArray(V * C, V, 1);
    const dout = randomArray(N * C, C, 1);
    const dweight0 = randomArray(V * C, 7, 1);
    const { index, unique } = embeddingBackwardIndex(ids);
    const Ids = createBuffer(gpu.device, "ids", ids);
    const W = createBuffer(gpu.device, "weight", weight);
    const Out = createBuffer(gpu.device, "out", N * C * 4);
    const Index = createBuffer(gpu.device, "index", index);
    const D = createBuffer(gpu.device, "dout", dout);
    const DW = createBuffer(gpu.device, "dweight", dweight0);
    const batch = new CommandBatch(gpu, "embedding test");
    embeddingForward(batch, { ids: Ids, weight: W, out: Out, N, C });
    embeddingBackward(batch, { index: Index, unique, N, C, dout: D, dweight: DW });
    batch.submit();
    const label = `N=${N} C=${C} V=${V}`;
    const out = new Float32Array(await readBuffer(gpu, Out));
    assertClose(out, ref.embeddingForward(ids, weight, N, C), `out ${label}`, { rtol: 0, atol: 0 });
    const dweight = new Float32Array(await readBuffer(gpu, DW));
    const want = ref.embeddingBackward(ids, dout, N, C, V, dweight0.slice());
    assertClose(dweight, want, `dweight ${label}`, { rtol: 1e-5, atol: 1e-5 });
    for (const b of [Ids, W, Out, Index, D, DW]) b.destroy();
  }
});

gpuTest("embedding backward is bitwise reproducible", async (gpu) => {
  const [N, C, V] = [200, 24, 9];
  const ids = randomIds(N, V, 3);
  const dout = randomArray(N * C, 4, 1);
  const { index, unique } = embeddingBackwardIndex(ids);
  const runs: Float32Array[] = [];
  for (let r = 0; r < 2; r++) {
    const Index = createBuffer(gpu.device, "index", index);
    const D = createBuffer(gpu.device, "dout", dout);
    const DW = createBuffer(gpu.device, "dweight", V * C * 4);
    const batch = new CommandBatch(gpu, "embedding determinism");
    embeddingBackward(batch, { index: Index, unique, N, C, dout: D, dweight: DW });
    batch.submit();
    runs.push(new Float32Array(await readBuffer(gpu, DW)));
    for (const b of [Index, D, DW]) b.destroy();
  }
  assert.deepEqual(runs[0], runs[1]);
});
