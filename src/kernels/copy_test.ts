import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { gpuTest, randomArray } from "../gpu/testing.ts";
import { copy } from "./copy.ts";

gpuTest("copy moves exactly n elements inside a pass", async (gpu) => {
  const n = 1000;
  const src = createBuffer(gpu.device, "src", randomArray(n, 1));
  const dst = createBuffer(gpu.device, "dst", new Float32Array(n + 24).fill(7));
  const batch = new CommandBatch(gpu, "copy test");
  copy(batch, { src, dst, n });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, dst));
  assert.deepEqual(got.subarray(0, n), randomArray(n, 1));
  assert.ok(got.subarray(n).every((x) => x === 7));
});
