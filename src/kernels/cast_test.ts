/** GPU contract of kernels/cast.wgsl: bit-exact against the TS twin (src/reference/amp.ts) on odd lengths. */
import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { gpuTest, randomArray } from "../gpu/testing.ts";
import { f32FromBits, packLowPrecision } from "../reference/amp.ts";
import { castLowPrecision, lowPrecisionBytes } from "./cast.ts";

function values(n: number, seed: number): Float32Array {
  const x = randomArray(n, seed, 3);
  const edges = [0, -0, 65504, 65519.99, 65520, -1e6, Infinity, NaN, 2 ** -25, 1.5 * 2 ** -25, 1 + 2 ** -11];
  for (let i = 0; i < Math.min(n, edges.length); i++) x[i] = edges[i];
  for (let i = edges.length; i < n; i += 7) x[i] = f32FromBits((Math.imul(i, 2654435761) >>> 0) & 0xbfffffff);
  return x;
}

for (const dtype of ["float16", "bfloat16"] as const) {
  gpuTest(`cast to ${dtype} is bit-exact with the twin (odd lengths, scaled and not)`, async (gpu) => {
    for (const n of [1, 3, 257, 4099]) {
      const x = values(n, n);
      const src = createBuffer(gpu.device, "src", x);
      const dst = createBuffer(gpu.device, "dst", lowPrecisionBytes(n));
      const state = createBuffer(gpu.device, "state", new Float32Array([0, 0, 1024, 0]));
      for (const scaled of [false, true]) {
        const batch = new CommandBatch(gpu, "cast test");
        castLowPrecision(batch, { src, dst, n, dtype, scale: scaled ? { state, slot: 2 } : undefined });
        batch.submit();
        const got = new Uint32Array(await readBuffer(gpu, dst));
        const want = packLowPrecision(x, dtype, scaled ? 1024 : 1);
        for (let w = 0; w < want.length; w++) {
          for (const half of [0, 16]) {
            const g = (got[w] >>> half) & 0xffff;
            const e = (want[w] >>> half) & 0xffff;
            // Any NaN payload is fine, as long as it stays NaN.
            const nan = dtype === "float16"
              ? (b: number) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0
              : (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
            if (nan(e)) assert.ok(nan(g), `${dtype} n=${n} element ${2 * w + half / 16}: NaN expected`);
            else {assert.equal(
                g,
                e,
                `${dtype} n=${n} scaled=${scaled} element ${2 * w + half / 16} of ${x[2 * w + half / 16]}`,
              );}
          }
        }
      }
      for (const b of [src, dst, state]) b.destroy();
    }
  });
}
