import assert from "node:assert/strict";
import type { Gpu } from "./device.ts";
import { missingNeed } from "./testing.ts";

/** A stand-in with just what missingNeed reads. */
function fakeGpu(hasF16: boolean, hasTimestamps: boolean, maxComputeWorkgroupStorageSize = 16384): Gpu {
  return {
    hasF16,
    hasTimestamps,
    summary: { description: "Test Adapter" },
    limits: { maxComputeWorkgroupStorageSize },
  } as unknown as Gpu;
}

Deno.test("missingNeed names what the adapter lacks, and nothing when it has it all", () => {
  assert.equal(missingNeed(null), "no WebGPU adapter");
  assert.equal(missingNeed(fakeGpu(false, false)), null);
  assert.equal(missingNeed(fakeGpu(false, true), { f16: true }), "Test Adapter lacks shader-f16");
  assert.equal(
    missingNeed(fakeGpu(true, false), { f16: true, timestamps: true }),
    "Test Adapter lacks timestamp-query",
  );
  assert.equal(missingNeed(fakeGpu(true, true), { f16: true, timestamps: true }), null);
  const bigWorkgroups = {
    unless: (gpu: Gpu) => gpu.limits.maxComputeWorkgroupStorageSize < 32768 ? "small workgroup memory" : null,
  };
  assert.equal(missingNeed(fakeGpu(true, true), bigWorkgroups), "small workgroup memory");
  assert.equal(missingNeed(fakeGpu(true, true, 65536), bigWorkgroups), null);
});
