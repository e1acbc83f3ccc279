/**
 * Times every matmul variant on the matmul shapes of one config's training step (forward x·Wᵀ, input gradient dy·W,
 * weight gradient dyᵀ·x), alternating variants so a noisy machine hurts them alike; prints µs per call and GFLOP/s.
 * Run: deno run -A tools/bench_matmul.ts [config] [--reps 20] [--rounds 5]
 */
import { loadConfig } from "../src/config/mod.ts";
import { closeGpu, CommandBatch, createBuffer, openGpu } from "../src/gpu/mod.ts";
import { matmul, MATMUL_VARIANT_NAMES, type MatmulArgs, type MatmulVariant } from "../src/kernels/matmul.ts";
import { modelDims } from "../src/model/mod.ts";

const args = [...Deno.args];
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const reps = flag("--reps", 20);
const rounds = flag("--rounds", 5);
const { config } = await loadConfig(args[0] ?? "tiny", []);
const d = modelDims(config.model);
const rows = config.training.batch_size * d.T;
const weights: [string, number, number][] = [
  ["attn (C→C)", d.C, d.C],
  ["mlp up (C→I)", d.I, d.C],
  ["mlp down (I→C)", d.C, d.I],
  ["lm head (C→V)", d.V, d.C],
];

const gpu = await openGpu(config.training.device);
console.log(`matmul variants on ${gpu.summary.description}, ${rows} rows, ${reps} calls per submit`);
const big = Math.max(...weights.map(([, o, i]) => Math.max(o, i))) * rows;
const A = createBuffer(gpu.device, "A", new Float32Array(big).fill(0.5));
const B = createBuffer(gpu.device, "B", new Float32Array(big).fill(0.25));
const C = createBuffer(gpu.device, "C", big * 4);

async function time(shape: Omit<MatmulArgs, "a" | "b" | "c">, variant: MatmulVariant): Promise<number> {
  const batch = new CommandBatch(gpu, "bench matmul");
  for (let r = 0; r < reps; r++) matmul(batch, { a: A, b: B, c: C, ...shape, variant });
  const t0 = performance.now();
  batch.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) * 1000 / reps;
}

for (const [name, out, inp] of weights) {
  const forms: [string, Omit<MatmulArgs, "a" | "b" | "c">][] = [
    ["x·Wᵀ", { M: rows, K: inp, N: out, transB: true }],
    ["dy·W", { M: rows, K: out, N: inp }],
    ["dyᵀ·x", { M: out, K: rows, N: inp, transA: true }],
  ];
  for (const [form, shape] of forms) {
    const times = new Map<MatmulVariant, number[]>(MATMUL_VARIANT_NAMES.map((v) => [v, []]));
    for (const v of MATMUL_VARIANT_NAMES) await time(shape, v); // compile and warm up
    for (let r = 0; r < rounds; r++) {
      for (const v of MATMUL_VARIANT_NAMES) times.get(v)!.push(await time(shape, v));
    }
    const flop = 2 * shape.M * shape.K * shape.N;
    const cells = MATMUL_VARIANT_NAMES.map((v) => {
      const t = times.get(v)!.sort((a, b) => a - b)[Math.floor(rounds / 2)];
      return `${v} ${t.toFixed(0).padStart(5)} µs ${(flop / t / 1e3).toFixed(1).padStart(5)} GF/s`;
    });
    console.log(`${`${name} ${form} ${shape.M}×${shape.K}×${shape.N}`.padEnd(36)} ${cells.join("  ")}`);
  }
}
for (const b of [A, B, C]) b.destroy();
await closeGpu(gpu);
