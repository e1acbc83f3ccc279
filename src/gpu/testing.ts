/**
 * Test helpers for GPU code: one shared device, tests skipped (with the reason printed once) only when no WebGPU
 * adapter exists at all, and closeness assertions that report the worst element.
 */
import { type Gpu, sharedGpu } from "./device.ts";
import { makeRng } from "../data/mod.ts";

/** The shared test device, or null when the machine has no adapter. */
export const testGpu: Gpu | null = await sharedGpu();

if (!testGpu) {
  console.warn("GPU tests skipped: no WebGPU adapter (on Linux: apt-get install -y mesa-vulkan-drivers)");
}

/**
 * What a test needs beyond an adapter. A test whose needs this adapter lacks is reported as ignored, with the
 * reason in its name, never run and counted as passed.
 */
export interface GpuNeeds {
  /** The `shader-f16` feature. */
  f16?: boolean;
  /** The `timestamp-query` feature. */
  timestamps?: boolean;
  /** Any other condition: returns why this adapter cannot run the test, or null when it can. */
  unless?: (gpu: Gpu) => string | null;
}

/** Why `gpu` cannot run a test with these needs, or null when it can. */
export function missingNeed(gpu: Gpu | null, needs: GpuNeeds = {}): string | null {
  if (!gpu) return "no WebGPU adapter";
  if (needs.f16 && !gpu.hasF16) return `${gpu.summary.description} lacks shader-f16`;
  if (needs.timestamps && !gpu.hasTimestamps) return `${gpu.summary.description} lacks timestamp-query`;
  return needs.unless?.(gpu) ?? null;
}

/**
 * Registers a test that needs the GPU (and optionally more: `needs`); ignored, with the reason in its name, when
 * this machine cannot run it.
 *
 * @example
 * ```ts
 * gpuTest("f16 matmul", { f16: true }, (gpu) => console.log(gpu.hasF16)); // true wherever it runs
 * ```
 */
export function gpuTest(name: string, fn: (gpu: Gpu) => Promise<void> | void): void;
export function gpuTest(name: string, needs: GpuNeeds, fn: (gpu: Gpu) => Promise<void> | void): void;
export function gpuTest(
  name: string,
  needsOrFn: GpuNeeds | ((gpu: Gpu) => Promise<void> | void),
  maybeFn?: (gpu: Gpu) => Promise<void> | void,
): void {
  const fn = typeof needsOrFn === "function" ? needsOrFn : maybeFn!;
  const missing = missingNeed(testGpu, typeof needsOrFn === "function" ? {} : needsOrFn);
  Deno.test({
    name: missing && testGpu ? `${name} (ignored: ${missing})` : name,
    ignore: missing !== null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      try {
        await fn(testGpu!);
      } finally {
        // A test leaves no work running: a test module's worker that tears down while lavapipe still executes
        // its commands can take the whole test process down at exit.
        await testGpu!.device.queue.onSubmittedWorkDone();
      }
    },
  });
}

if (testGpu) {
  // The module's tests are done: free the device now rather than when the worker's isolate goes away.
  globalThis.addEventListener("unload", () => {
    testGpu!.pool.destroy();
    testGpu!.device.destroy();
  });
}

/** Asserts |a - e| ≤ atol + rtol·|e| elementwise; the message names the worst index and values. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  { rtol = 1e-4, atol = 1e-5 }: { rtol?: number; atol?: number } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} ≠ expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const excess = err - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: element ${worst} is ${actual[worst]}, expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** Deterministic pseudo-random floats in [-scale, scale) (mulberry32, the host's one seeded generator). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const uniform = makeRng(seed);
  return Float32Array.from({ length: n }, () => (uniform() * 2 - 1) * scale);
}
