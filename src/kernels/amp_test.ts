/** GPU contract of kernels/loss_scale_amp.wgsl against ampUpdate, and the dtype fallback. */
import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer, upload } from "../gpu/mod.ts";
import { gpuTest } from "../gpu/testing.ts";
import { defaultConfig } from "../config/mod.ts";
import { type AmpState, ampUpdate } from "../reference/amp.ts";
import { initialAmpState, lossScaleUpdate, resolveAmpDtype } from "./amp.ts";

Deno.test("resolveAmpDtype falls back to bfloat16 emulation without shader-f16, float32 without AMP", () => {
  const t = defaultConfig().training;
  assert.deepEqual(resolveAmpDtype({ ...t, use_amp: false }, { hasF16: true }), { dtype: "float32" });
  assert.deepEqual(resolveAmpDtype({ ...t, use_amp: true, amp_dtype: "float16" }, { hasF16: true }), {
    dtype: "float16",
  });
  const fallback = resolveAmpDtype({ ...t, use_amp: true, amp_dtype: "float16" }, { hasF16: false });
  assert.equal(fallback.dtype, "bfloat16");
  assert.match(fallback.warning!, /no shader-f16: training in bfloat16 emulation/);
  assert.deepEqual(resolveAmpDtype({ ...t, use_amp: true, amp_dtype: "bfloat16" }, { hasF16: false }), {
    dtype: "bfloat16",
  });
});

for (const dtype of ["float16", "bfloat16"] as const) {
  gpuTest(`loss-scale update follows ampUpdate step by step (${dtype})`, async (gpu) => {
    const scalars = createBuffer(gpu.device, "scalars", 16 * 4);
    const init = initialAmpState(dtype, { initScale: 64 });
    upload(gpu.device, scalars, new Float32Array([0, 0, 0, 0, 0, ...init]));
    let want: AmpState = { scale: init[0], clean: 0, skipped: 0, overflow: 0 };
    const norms = [1, 2, Infinity, 3, NaN, 1e38, 4, 5, 6, -Infinity, 7];
    for (const n of norms) {
      upload(gpu.device, scalars, new Float32Array([n]), 2 * 4);
      const batch = new CommandBatch(gpu, "loss scale test");
      lossScaleUpdate(batch, { scalars, normSlot: 2, stateSlot: 5, dtype, growthInterval: 3 });
      batch.submit();
      const s = new Float32Array(await readBuffer(gpu, scalars));
      want = ampUpdate(want, n, 3, dtype === "float16");
      assert.deepEqual(
        [...s.subarray(5, 9)],
        [want.scale, want.clean, want.skipped, want.overflow],
        `after Σg²=${n}`,
      );
    }
    assert.equal(want.skipped, 3);
    scalars.destroy();
  });
}
