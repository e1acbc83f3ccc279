import assert from "node:assert/strict";
import { CACHE_TTL_SUBMITS } from "../gpu/pipelines.ts";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { gpuTest } from "../gpu/testing.ts";
import { copy } from "../kernels/copy.ts";
import { addInPlace } from "../kernels/residual.ts";
import { DispatchProgram } from "./program.ts";

gpuTest(
  "dispatch program: replays its dispatches in order, and its uniforms outlive cache sweeps",
  async (gpu) => {
    const n = 37;
    const x = createBuffer(gpu.device, "x", Float32Array.from({ length: n }, (_, i) => i));
    const y = createBuffer(gpu.device, "y", new Float32Array(n).fill(1));
    const z = createBuffer(gpu.device, "z", n * 4);
    // One replay: x += y, then z = x.
    const program = DispatchProgram.record(gpu, "test", (batch) => {
      addInPlace(batch, { x, y, n });
      copy(batch, { src: x, dst: z, n });
    });
    try {
      assert.equal(program.dispatches, 2);
      const replay = (times: number) => {
        const batch = new CommandBatch(gpu, "replay");
        const pass = batch.encoder.beginComputePass();
        for (let i = 0; i < times; i++) program.encode(pass);
        pass.end();
        batch.submit();
      };
      replay(3);
      assert.deepEqual(
        [...new Float32Array(await readBuffer(gpu, z))],
        Array.from({ length: n }, (_, i) => i + 3),
      );
      // The shared uniform cache drops entries unused for CACHE_TTL_SUBMITS submits; the program's own stay valid.
      for (let i = 0; i < 2 * CACHE_TTL_SUBMITS + 1; i++) new CommandBatch(gpu, "tick").submit();
      replay(1);
      assert.deepEqual(
        [...new Float32Array(await readBuffer(gpu, z))],
        Array.from({ length: n }, (_, i) => i + 4),
      );
      assert.throws(
        () => DispatchProgram.record(gpu, "bad", (batch) => batch.clear(z)),
        /Cannot record a buffer clear into the replayable program 'bad'/,
      );
    } finally {
      program.destroy();
      for (const b of [x, y, z]) b.destroy();
    }
  },
);
