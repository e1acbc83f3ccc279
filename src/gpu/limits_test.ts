import assert from "node:assert/strict";
import { createBuffer, STORAGE } from "./mod.ts";
import { bindGroup } from "./pipelines.ts";
import { GpuLimitError } from "./limits.ts";
import { gpuTest } from "./testing.ts";
import { UsageError } from "../errors.ts";
import { COPY } from "../kernels/copy.ts";

gpuTest("a buffer over maxBufferSize fails before allocation, naming it, its size and the limit", (gpu) => {
  const max = gpu.device.limits.maxBufferSize;
  let err: unknown;
  try {
    createBuffer(gpu.device, "logits", max + 4);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof GpuLimitError && err instanceof UsageError);
  assert.match(
    (err as Error).message,
    /^Cannot create GPU buffer 'logits' of .*: .* per buffer \(maxBufferSize\)$/,
  );
  assert.match((err as UsageError).hint ?? "", /training\.batch_size/);
  assert.throws(() => gpu.pool.acquire(max + 4, STORAGE, "scratch"), /buffer 'scratch'/);
  gpu.check(); // nothing reached WebGPU
});

gpuTest("a binding over maxStorageBufferBindingSize fails when bound, not inside WebGPU", {
  unless: (gpu) =>
    gpu.limits.maxStorageBufferBindingSize + 4 > gpu.limits.maxBufferSize
      ? "this adapter binds whatever it can allocate (maxStorageBufferBindingSize ≥ maxBufferSize)"
      : null,
}, (gpu) => {
  const max = gpu.device.limits.maxStorageBufferBindingSize;
  const big = createBuffer(gpu.device, "activations", max + 4);
  const small = createBuffer(gpu.device, "small", 16);
  const params = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM, label: "params" });
  try {
    const pipeline = gpu.pipelines.get(COPY, "main", {});
    assert.throws(
      () => bindGroup(gpu.device, pipeline, [big, small, params]),
      /^GpuLimitError: Cannot bind GPU buffer 'activations' \(.*\) to 'copy.*': .* \(maxStorageBufferBindingSize\)$/,
    );
    // A range of it within the limit binds.
    bindGroup(gpu.device, pipeline, [{ buffer: big, offset: 0, size: 1024 }, small, params]);
    gpu.check();
  } finally {
    for (const b of [big, small, params]) b.destroy();
  }
});
