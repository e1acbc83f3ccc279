import assert from "node:assert/strict";
import { CommandBatch, createBuffer, readBuffer } from "../gpu/mod.ts";
import { assertClose, gpuTest, randomArray } from "../gpu/testing.ts";
import { matmul as matmulRef } from "../reference/matmul.ts";
import {
  MATMUL,
  matmul,
  MATMUL_BF16,
  MATMUL_F16,
  MATMUL_REG,
  MATMUL_REG4,
  MATMUL_REG_BF16,
  MATMUL_REG_F16,
  MATMUL_VARIANT_NAMES,
  MATMUL_VARIANTS,
  matmulLowPrecision,
  matmulScratchFloats,
  matmulSplit,
  matmulTile,
  type MatmulVariant,
  matmulVariantFits,
} from "./matmul.ts";
import { MOE_MATMUL } from "./moe.ts";
import type { Constants, Gpu, Kernel } from "../gpu/mod.ts";
import { packLowPrecision, roundTo } from "../reference/amp.ts";
import { fromF32 } from "../model/safetensors.ts";

// Odd shapes for every core, and shapes aligned to 4 floats (but not to any block) that the vec4 core also runs.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 33, 129],
  [130, 70, 257],
  [3, 300, 2],
  [4, 4, 4],
  [12, 20, 36],
  [68, 44, 132],
];

/** Whether `variant` runs this f32 shape (the vec4 core only on aligned ones). */
function runs(
  variant: MatmulVariant,
  M: number,
  K: number,
  N: number,
  transA = false,
  transB = false,
): boolean {
  return matmulVariantFits(
    variant,
    { a: 0 as never, b: 0 as never, c: 0 as never, M, K, N, transA, transB },
    true,
  );
}

for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    gpuTest(
      `matmul transA=${transA} transB=${transB} matches the reference on odd shapes, every variant`,
      async (gpu) => {
        for (const variant of MATMUL_VARIANT_NAMES) {
          const fitting = shapes.filter(([M, K, N]) => runs(variant, M, K, N, transA, transB));
          assert.ok(fitting.length >= 3, `${variant} runs ${fitting.length} shapes`);
          for (const [M, K, N] of fitting) {
            const a = randomArray(M * K, M * 31 + K, 1);
            const b = randomArray(K * N, N * 17 + K, 1);
            const c0 = randomArray(M * N, 5, 1);
            for (const accumulate of [false, true]) {
              const A = createBuffer(gpu.device, "A", a);
              const B = createBuffer(gpu.device, "B", b);
              const C = createBuffer(gpu.device, "C", c0);
              const batch = new CommandBatch(gpu, "matmul test");
              matmul(batch, { a: A, b: B, c: C, M, K, N, transA, transB, accumulate, alpha: 0.5, variant });
              batch.submit();
              const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
              const want = matmulRef(a, b, M, K, N, {
                transA,
                transB,
                alpha: 0.5,
                out: accumulate ? c0.slice() : undefined,
              });
              assertClose(got, want, `${variant} ${M}x${K}x${N} acc=${accumulate}`, {
                rtol: 1e-4,
                atol: 1e-4,
              });
              for (const buf of [A, B, C]) buf.destroy();
            }
          }
        }
      },
    );
  }
}

gpuTest("batched matmul uses the strides of each batch item, every variant", async (gpu) => {
  for (const variant of MATMUL_VARIANT_NAMES) await batchedCase(gpu, variant);
});

async function batchedCase(gpu: Gpu, variant: MatmulVariant) {
  const [M, K, N, count] = runs(variant, 9, 11, 10) ? [9, 11, 10, 3] : [12, 8, 20, 3];
  const a = randomArray(count * M * K, 1);
  const b = randomArray(count * K * N, 2);
  const A = createBuffer(gpu.device, "A", a);
  const B = createBuffer(gpu.device, "B", b);
  const C = createBuffer(gpu.device, "C", count * M * N * 4);
  const batch = new CommandBatch(gpu, "batched matmul test");
  matmul(batch, { a: A, b: B, c: C, M, K, N, count, strides: [M * K, K * N, M * N], variant });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, C));
  for (let z = 0; z < count; z++) {
    const want = matmulRef(a.subarray(z * M * K), b.subarray(z * K * N), M, K, N);
    assertClose(got.subarray(z * M * N, (z + 1) * M * N), want, `${variant} batch ${z}`);
  }
  for (const buf of [A, B, C]) buf.destroy();
}

gpuTest(
  "split-K matmul (partials + reduce) matches the reference on odd shapes, with alpha and accumulate",
  async (gpu) => {
    // [M, K, N]: Aᵀ·B weight-gradient shapes with K ≫ M·N, odd sizes, K not a multiple of the split chunk
    const cases: [number, number, number][] = [[5, 777, 3], [33, 1031, 65], [70, 2049, 9], [36, 1028, 20]];
    for (const variant of MATMUL_VARIANT_NAMES) {
      for (const [M, K, N] of cases.filter(([M, K, N]) => runs(variant, M, K, N, true))) {
        const splits = matmulSplit(M, N, K, 64, variant);
        assert.ok(splits > 1, `${M}x${K}x${N} should split, got ${splits}`);
        const a = randomArray(M * K, M + K, 1);
        const b = randomArray(K * N, N + K, 1);
        const c0 = randomArray(M * N, 9, 1);
        const scratch = createBuffer(gpu.device, "scratch", matmulScratchFloats(M, N, K, 64) * 4);
        for (const accumulate of [false, true]) {
          const A = createBuffer(gpu.device, "A", a);
          const B = createBuffer(gpu.device, "B", b);
          const C = createBuffer(gpu.device, "C", c0);
          const batch = new CommandBatch(gpu, "split-K test");
          matmul(batch, {
            a: A,
            b: B,
            c: C,
            M,
            K,
            N,
            transA: true,
            accumulate,
            alpha: 0.5,
            scratch,
            splitTarget: 64,
            variant,
          });
          assert.equal(batch.dispatches, 2);
          batch.submit();
          const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
          const want = matmulRef(a, b, M, K, N, {
            transA: true,
            alpha: 0.5,
            out: accumulate ? c0.slice() : undefined,
          });
          assertClose(got, want, `${variant} ${M}x${K}x${N} split ${splits} acc=${accumulate}`, {
            rtol: 1e-4,
            atol: 1e-4,
          });
          for (const buf of [A, B, C]) buf.destroy();
        }
        scratch.destroy();
      }
    }
  },
);

gpuTest("split-K refuses a scratch that is too small", (gpu) => {
  const x = createBuffer(gpu.device, "x", 1024 * 64 * 4);
  const scratch = createBuffer(gpu.device, "small scratch", 16);
  const batch = new CommandBatch(gpu, "split-K refusal");
  assert.throws(
    () => matmul(batch, { a: x, b: x, c: x, M: 8, K: 1024, N: 8, transA: true, scratch, splitTarget: 64 }),
    /Cannot split matmul 8×1024×8 into \d+: the scratch holds 4 floats/,
  );
});

Deno.test("matmulSplit splits only small outputs with a long K", () => {
  assert.equal(matmulSplit(288, 288, 8192), 11); // 25 tiles of 64×64 → 11 chunks of 752
  assert.equal(matmulSplit(4096, 288, 8192), 3); // 96 tiles of 128×128 → 3 chunks
  assert.equal(matmulSplit(8192, 1024, 8192), 1); // 512 tiles: enough already
  assert.equal(matmulSplit(288, 288, 300), 1); // K too short to split
  assert.equal(matmulSplit(64, 64, 8192, 0), 1); // splitting off
  assert.equal(matmulScratchFloats(288, 288, 8192), 11 * 288 * 288);
});

gpuTest(
  "f16-input matmul matches the reference on f16-rounded inputs (odd shapes, all transposes)",
  { f16: true },
  async (gpu) => {
    const f16 = (x: Float32Array) => {
      const bits = fromF32(x, "F16");
      const back = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) back[i] = halfToFloat(bits[i]);
      return { bits, values: back };
    };
    for (const [M, K, N] of [[7, 13, 5], [65, 33, 129], [130, 70, 257]] as const) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
        const variant = M % 2 ? "reg4" : "tile8"; // both cores read through the f16 front
        const a = f16(randomArray(M * K, M + 3 * K, 1));
        const b = f16(randomArray(K * N, N + 5 * K, 1));
        const c0 = randomArray(M * N, 11, 1);
        const A = createBuffer(gpu.device, "A16", a.bits);
        const B = createBuffer(gpu.device, "B16", b.bits);
        const C = createBuffer(gpu.device, "C", c0);
        const batch = new CommandBatch(gpu, "f16 matmul test");
        matmulLowPrecision(batch, {
          a: A,
          b: B,
          c: C,
          M,
          K,
          N,
          transA,
          transB,
          accumulate: true,
          alpha: 0.5,
          dtype: "float16",
          variant,
        });
        batch.submit();
        const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
        const want = matmulRef(a.values, b.values, M, K, N, { transA, transB, alpha: 0.5, out: c0.slice() });
        assertClose(got, want, `f16 ${variant} ${M}x${K}x${N} tA=${transA} tB=${transB}`, {
          rtol: 1e-4,
          atol: 1e-4,
        });
        for (const buf of [A, B, C]) buf.destroy();
      }
    }
  },
);

/** IEEE half bits → number (the test's own decoder, independent of the kernel). */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

for (const dtype of ["float16", "bfloat16"] as const) {
  gpuTest(
    `${dtype} matmul: element offsets, 1/S unscale and split-K match the reference on rounded inputs`,
    { f16: dtype === "float16" },
    async (gpu) => {
      const S = 1024;
      const state = createBuffer(gpu.device, "amp state", new Float32Array([0, S, 0, 0]));
      for (const [M, K, N] of [[7, 13, 5], [65, 33, 129], [3, 700, 37]] as const) {
        for (const [transA, transB] of [[false, true], [true, false], [false, false]]) {
          const [aOff, bOff] = [5, 3]; // odd: the halves of a packed word
          const a = randomArray(M * K, M + 7 * K, 2);
          const b = randomArray(K * N, N + 3 * K, 1);
          const pad = (x: Float32Array, off: number) =>
            Float32Array.from([...new Float32Array(off).fill(9), ...x]);
          const A = createBuffer(gpu.device, "A", packLowPrecision(pad(a, aOff), dtype, S)); // stored × S
          const B = createBuffer(gpu.device, "B", packLowPrecision(pad(b, bOff), dtype));
          const c0 = randomArray(M * N, 11, 1);
          const C = createBuffer(gpu.device, "C", c0);
          const scratch = createBuffer(
            gpu.device,
            "scratch",
            Math.max(4, matmulScratchFloats(M, N, K, 64) * 4),
          );
          const batch = new CommandBatch(gpu, "low-precision matmul test");
          matmulLowPrecision(batch, {
            dtype,
            a: A,
            b: B,
            c: C,
            M,
            K,
            N,
            transA,
            transB,
            aOffset: aOff,
            bOffset: bOff,
            accumulate: true,
            alpha: 0.5,
            unscale: { state, slot: 1 },
            scratch,
            splitTarget: 64,
            variant: transA ? "reg8" : "tile8", // both cores, through the offsets and the unscale entry
          });
          batch.submit();
          const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
          const ar = roundTo(a.map((x) => Math.fround(x * S)), dtype).map((x) => x / S);
          const want = matmulRef(ar, roundTo(b, dtype), M, K, N, {
            transA,
            transB,
            alpha: 0.5,
            out: c0.slice(),
          });
          assertClose(
            got,
            want,
            `${dtype} ${M}x${K}x${N} tA=${transA} tB=${transB} (${transA ? "reg8" : "tile8"})`,
            {
              rtol: 1e-4,
              atol: 1e-4,
            },
          );
          for (const buf of [A, B, C, scratch]) buf.destroy();
        }
      }
      state.destroy();
    },
  );
}

gpuTest("16×16 workgroups (large outputs) match the reference, edges masked", async (gpu) => {
  const [M, K, N] = [521, 9, 515];
  assert.equal(matmulTile(M, N), 16);
  const a = randomArray(M * K, 3, 1);
  const b = randomArray(K * N, 4, 1);
  const A = createBuffer(gpu.device, "A", a);
  const B = createBuffer(gpu.device, "B", b);
  const C = createBuffer(gpu.device, "C", M * N * 4);
  const batch = new CommandBatch(gpu, "16x16 matmul test");
  matmul(batch, { a: A, b: B, c: C, M, K, N, transB: false, alpha: 2 });
  batch.submit();
  const got = new Float32Array(await readBuffer(gpu, C, M * N * 4));
  assertClose(got, matmulRef(a, b, M, K, N, { alpha: 2 }), `${M}x${K}x${N}`, { rtol: 1e-4, atol: 1e-4 });
  for (const buf of [A, B, C]) buf.destroy();
});

/**
 * The override combinations src/kernels/matmul.ts passes to one entry point of the dense modules of `core`: every
 * transpose/accumulate/split combination at the core's first workgroup size, and its other sizes once each (a size
 * only scales the arrays; naga's failures came from the entry points and code paths).
 */
function denseCombos(core: "tile" | "reg" | "vec4"): Constants[] {
  const out: Constants[] = [];
  const [first, ...others] = Object.values(MATMUL_VARIANTS).filter((v) => v.core === core);
  for (const TRANS_A of [false, true]) {
    for (const TRANS_B of [false, true]) {
      for (const [ACCUMULATE, SPLIT_K] of [[false, false], [true, false], [false, true]]) {
        out.push({ TRANS_A, TRANS_B, ACCUMULATE, SPLIT_K, WX: first.wx, WY: first.wy });
      }
    }
  }
  for (const { wx, wy } of others) {
    out.push({ TRANS_A: false, TRANS_B: true, ACCUMULATE: true, SPLIT_K: false, WX: wx, WY: wy });
  }
  return out;
}

/** Every override combination src/kernels/moe.ts passes to `grouped` (rows, then ksum). */
function groupedCombos(): Constants[] {
  const out: Constants[] = [];
  for (const w of [8, 16]) {
    for (const ACCUMULATE of [false, true]) {
      for (const TRANS_B of [false, true]) out.push({ GROUP_K: false, TRANS_B, ACCUMULATE, WX: w, WY: w });
      out.push({ GROUP_K: true, ACCUMULATE, WX: w, WY: w });
    }
  }
  return out;
}

/** Compiles `kernel` and one pipeline per (entry point, constants); returns the validation messages. */
async function pipelineErrors(gpu: Gpu, kernel: Kernel, uses: [string, Constants[]][]): Promise<string[]> {
  const device = gpu.device;
  const errors: string[] = [];
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code: kernel.code, label: `${kernel.name} parse test` });
  const info = await module.getCompilationInfo();
  for (const m of info.messages) {
    if (m.type === "error") errors.push(`${kernel.name} ${m.lineNum}:${m.linePos} ${m.message}`);
  }
  const moduleError = await device.popErrorScope();
  if (moduleError) errors.push(`${kernel.name}: ${moduleError.message}`);
  for (const [entryPoint, combos] of uses) {
    for (const c of combos) {
      const constants: Record<string, number> = {};
      for (const [k, v] of Object.entries(c)) constants[k] = Number(v);
      device.pushErrorScope("validation");
      device.createComputePipeline({ layout: "auto", compute: { module, entryPoint, constants } });
      const e = await device.popErrorScope();
      if (e) errors.push(`${kernel.name}:${entryPoint} ${JSON.stringify(c)}: ${e.message}`);
    }
  }
  return errors;
}

gpuTest(
  "the composed matmul modules build a pipeline for every entry point and override combination",
  async (gpu) => {
    const accumulate = [{ ACCUMULATE: false }, { ACCUMULATE: true }];
    const errors = await pipelineErrors(gpu, MATMUL, [["main", denseCombos("tile")], [
      "reduce_split",
      accumulate,
    ]]);
    errors.push(...await pipelineErrors(gpu, MATMUL_REG, [["main", denseCombos("reg")]]));
    errors.push(...await pipelineErrors(gpu, MATMUL_REG4, [["main", denseCombos("vec4")]]));
    const low: [Kernel, "tile" | "reg"][] = [[MATMUL_BF16, "tile"], [MATMUL_REG_BF16, "reg"]];
    if (gpu.hasF16) low.push([MATMUL_F16, "tile"], [MATMUL_REG_F16, "reg"]);
    for (const [kernel, core] of low) {
      const combos = denseCombos(core);
      errors.push(...await pipelineErrors(gpu, kernel, [["main", combos], ["main_unscale", combos]]));
    }
    errors.push(
      ...await pipelineErrors(gpu, MOE_MATMUL, [
        ["grouped", groupedCombos()],
        ["reduce_splits", accumulate.map((c) => ({ ...c, WG: 256 }))],
      ]),
    );
    assert.deepEqual(errors, []);
  },
);
