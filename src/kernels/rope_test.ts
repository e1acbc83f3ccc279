import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { ropeBackward, ropeForward } from "../reference/rope.ts";
import { rope } from "./rope.ts";

// [B, T, H, HS, pos0]: odd sizes, every head size the models use, and a far position for the range reduction.
const shapes: [number, number, number, number, number][] = [
  [1, 1, 1, 2, 0],
  [2, 5, 3, 8, 0],
  [3, 33, 2, 16, 7],
  [1, 70, 4, 48, 0],
  [2, 9, 1, 128, 1000],
];

for (const inverse of [false, true]) {
  gpuTest(`rope inverse=${inverse} matches the reference in place on odd shapes`, async (gpu) => {
    for (const [B, T, H, HS, pos0] of shapes) {
      const x = randomArray(B * T * H * HS, B * 131 + T * 7 + HS);
      const X = createBuffer(gpu.device, "rope x", x);
      const batch = new CommandBatch(gpu, "rope test");
      rope(batch, { x: X, B, T, H, HS, theta: 10000, pos0, inverse });
      batch.submit();
      const got = new Float32Array(await readBuffer(gpu, X));
      const want = (inverse ? ropeBackward : ropeForward)(x, B, T, H, HS, 10000, pos0);
      assertClose(got, want, `B=${B} T=${T} H=${H} HS=${HS} pos0=${pos0}`, { rtol: 1e-4, atol: 2e-5 });
      X.destroy();
    }
  });
}

gpuTest("rope followed by its inverse gives back the input", async (gpu) => {
  const [B, T, H, HS] = [2, 17, 3, 48];
  const x = randomArray(B * T * H * HS, 3);
  const X = createBuffer(gpu.device, "rope x", x);
  const batch = new CommandBatch(gpu, "rope round trip");
  rope(batch, { x: X, B, T, H, HS, theta: 500000 });
  rope(batch, { x: X, B, T, H, HS, theta: 500000, inverse: true });
  batch.submit();
  assertClose(new Float32Array(await readBuffer(gpu, X)), x, "Rᵀ·R·x", { rtol: 1e-5, atol: 1e-5 });
  X.destroy();
});
