/** The matmul self-test of `storyteller gpu`: a correctness check against the reference, then timed GFLOP/s. */
import type { Gpu } from "./device.ts";
import { CommandBatch, drain, readBuffer } from "./batch.ts";
import { createBuffer } from "./pool.ts";
import { matmul } from "../kernels/matmul.ts";
import { matmul as matmulRef } from "../reference/matmul.ts";

export interface SelfTestResult {
  /** Largest |gpu − reference| on the correctness shape. */
  maxError: number;
  /** Matrix side of the timed square matmul. */
  n: number;
  matmuls: number;
  seconds: number;
  gflops: number;
}

function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Checks a non-square, non-tile-multiple matmul, then runs square matmuls for about `seconds` seconds. */
export async function matmulSelfTest(gpu: Gpu, seconds = 2): Promise<SelfTestResult> {
  const device = gpu.device;
  const [M, K, N] = [97, 83, 71];
  const a = pseudoRandom(M * K, 1);
  const b = pseudoRandom(K * N, 2);
  const bufs = [createBuffer(device, "selftest A", a), createBuffer(device, "selftest B", b)];
  const c = createBuffer(device, "selftest C", M * N * 4);
  const check = new CommandBatch(gpu, "selftest check");
  matmul(check, { a: bufs[0], b: bufs[1], c, M, K, N });
  check.submit();
  const got = new Float32Array(await readBuffer(gpu, c, M * N * 4));
  const want = matmulRef(a, b, M, K, N);
  let maxError = 0;
  for (let i = 0; i < got.length; i++) maxError = Math.max(maxError, Math.abs(got[i] - want[i]));
  for (const x of [...bufs, c]) x.destroy();

  const n = gpu.summary.isFallback ? 256 : 4096;
  const A = createBuffer(device, "selftest square A", pseudoRandom(n * n, 3));
  const B = createBuffer(device, "selftest square B", pseudoRandom(n * n, 4));
  const C = createBuffer(device, "selftest square C", n * n * 4);
  const run = (count: number) => {
    const batch = new CommandBatch(gpu, "selftest timing");
    for (let i = 0; i < count; i++) matmul(batch, { a: A, b: B, c: C, M: n, K: n, N: n });
    batch.submit();
  };
  run(1); // warm-up: pipeline creation and first dispatch
  await drain(gpu);
  let perBatch = 1;
  let matmuls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    const t = performance.now();
    run(perBatch);
    await drain(gpu);
    matmuls += perBatch;
    const took = performance.now() - t;
    elapsed = performance.now() - t0;
    // Grow batches until one takes ~200 ms, so the 10 ms readback floor does not dominate.
    if (took < 200) perBatch = Math.min(perBatch * 2, 256);
  }
  for (const x of [A, B, C]) x.destroy();
  const secs = elapsed / 1000;
  return { maxError, n, matmuls, seconds: secs, gflops: (2 * n ** 3 * matmuls) / secs / 1e9 };
}
