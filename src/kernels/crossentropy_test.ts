import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import * as ref from "../reference/crossentropy.ts";
import { CROSS_ENTROPY_VARIANTS, crossEntropy, crossEntropyLoss, lossSum } from "./crossentropy.ts";

// GPU variant: V = 1030 > 16·64 and 4099 > 16·256 take the uncached path; the others keep the row in registers.
// CPU variant: V = 1000 and 512 (the tiny config's) take the vec4 entry point; N = 9 and 13 exceed its 8 lanes.
const shapes: [number, number][] = [[1, 1], [3, 7], [13, 65], [5, 1000], [4, 1030], [3, 4099], [9, 512]];

function targetsFor(N: number, V: number): Uint32Array {
  const t = Uint32Array.from(randomArray(N, N + V), (r) => Math.floor(Math.abs(r) * V) % V);
  if (N > 2) t[1] = 0xffffffff; // ignored
  return t;
}

// Every variant runs on every adapter: lavapipe covers the GPU variant, a GPU the CPU one.
for (const variant of CROSS_ENTROPY_VARIANTS) {
  gpuTest(`crossEntropy ${variant} matches the reference loss and dlogits on odd shapes`, async (gpu) => {
    for (const [N, V] of shapes) {
      const logits = randomArray(N * V, N * V, 8);
      const targets = targetsFor(N, V);
      const dscale = 1 / (2 * N);
      const L = createBuffer(gpu.device, "logits", logits);
      const T = createBuffer(gpu.device, "targets", targets);
      const Loss = createBuffer(gpu.device, "losses", N * 4);
      const batch = new CommandBatch(gpu, "cross-entropy test");
      crossEntropy(batch, { logits: L, targets: T, losses: Loss, N, V, dscale, variant });
      batch.submit();
      const label = `${variant} N=${N} V=${V}`;
      const losses = new Float32Array(await readBuffer(gpu, Loss));
      assertClose(losses, ref.crossEntropyForward(logits, targets, N, V).losses, `losses ${label}`, {
        atol: 1e-5,
      });
      const dlogits = new Float32Array(await readBuffer(gpu, L));
      const want = ref.crossEntropyBackward(logits, targets, N, V, dscale);
      assertClose(dlogits, want, `dlogits ${label}`, { rtol: 1e-4, atol: 1e-7 });
      for (const b of [L, T, Loss]) b.destroy();
    }
  });

  gpuTest(
    `crossEntropyLoss ${variant} leaves the logits untouched and agrees with the reference`,
    async (gpu) => {
      for (const [N, V] of [[6, 300], [11, 301]]) {
        const logits = randomArray(N * V, 9, 4);
        const targets = targetsFor(N, V);
        const L = createBuffer(gpu.device, "logits", logits);
        const T = createBuffer(gpu.device, "targets", targets);
        const Loss = createBuffer(gpu.device, "losses", N * 4);
        const batch = new CommandBatch(gpu, "cross-entropy eval test");
        crossEntropyLoss(batch, { logits: L, targets: T, losses: Loss, N, V, variant });
        batch.submit();
        const label = `${variant} N=${N} V=${V}`;
        assert.deepEqual(new Float32Array(await readBuffer(gpu, L)), logits, label);
        const losses = new Float32Array(await readBuffer(gpu, Loss));
        assertClose(losses, ref.crossEntropyForward(logits, targets, N, V).losses, `losses ${label}`, {
          atol: 1e-5,
        });
        for (const b of [L, T, Loss]) b.destroy();
      }
    },
  );
}

gpuTest("lossSum sets and accumulates a slot deterministically", async (gpu) => {
  for (const N of [1, 255, 257, 1000]) {
    const losses = randomArray(N, N, 3).map(Math.abs);
    const Loss = createBuffer(gpu.device, "losses", losses);
    const Acc = createBuffer(gpu.device, "acc", Float32Array.of(7, 7, 7, 7));
    const batch = new CommandBatch(gpu, "loss sum test");
    lossSum(batch, { losses: Loss, acc: Acc, slot: 1, N, accumulate: false });
    lossSum(batch, { losses: Loss, acc: Acc, slot: 2, N, accumulate: true });
    lossSum(batch, { losses: Loss, acc: Acc, slot: 2, N, accumulate: true });
    lossSum(batch, { losses: Loss, acc: Acc, slot: 3, N, accumulate: false });
    batch.submit();
    const got = new Float32Array(await readBuffer(gpu, Acc));
    const sum = losses.reduce((a, b) => a + b, 0);
    assertClose(got, [7, sum, 7 + 2 * sum, sum], `N=${N}`, { rtol: 1e-5 });
    assert.equal(got[3], got[1], "the same sum twice must be bitwise equal");
    for (const b of [Loss, Acc]) b.destroy();
  }
});
