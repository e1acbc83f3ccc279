/**
 * Micro-benchmark of the row kernels' variants (RMSNORM_VARIANTS, CROSS_ENTROPY_VARIANTS): µs per call of rmsnorm
 * forward, rmsnorm backward (dx + dweight partials + reduce) and the fused cross-entropy, at a config's training
 * shapes (N = batch_size · max_seq_len rows, C = hidden_size, V = vocab_size). Each sample is one batch of `iters`
 * calls with one drain; the variants alternate sample by sample and the median is printed, because the machine is
 * shared. Not a correctness test (src/kernels/rmsnorm_test.ts, crossentropy_test.ts).
 *
 *   deno run -A tools/bench_rownorm.ts [--config tiny] [--iters 200] [--rounds 9]
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { CommandBatch, createBuffer, drain, openGpu } from "../src/gpu/mod.ts";
import { randomArray } from "../src/gpu/testing.ts";
import {
  CROSS_ENTROPY_VARIANTS,
  crossEntropy,
  type CrossEntropyVariant,
} from "../src/kernels/crossentropy.ts";
import {
  RMSNORM_VARIANTS,
  rmsnormBackward,
  rmsnormForward,
  rmsnormScratchFloats,
  type RmsnormVariant,
} from "../src/kernels/rmsnorm.ts";
import { modelDims } from "../src/model/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string", default: "tiny" },
    iters: { type: "string", default: "200" },
    rounds: { type: "string", default: "9" },
  },
});
const iters = Number(values.iters);
const rounds = Number(values.rounds);
const { config } = await loadConfig(values.config);
const { C, V } = modelDims(config.model);
const N = config.training.batch_size * config.model.max_seq_len;

const gpu = await openGpu("auto");
const d = gpu.device;
const x = createBuffer(d, "x", randomArray(N * C, 1)); // (N,C)
const weight = createBuffer(d, "weight", randomArray(C, 2)); // (C)
const out = createBuffer(d, "out", N * C * 4); // (N,C)
const rstd = createBuffer(d, "rstd", N * 4); // (N)
const dout = createBuffer(d, "dout", randomArray(N * C, 3)); // (N,C)
const dx = createBuffer(d, "dx", N * C * 4); // (N,C)
const dweight = createBuffer(d, "dweight", C * 4); // (C)
const scratch = createBuffer(d, "scratch", rmsnormScratchFloats(N, C) * 4);
const logits = createBuffer(d, "logits", randomArray(N * V, 4, 4)); // (N,V), overwritten by dlogits each call
const targets = createBuffer(d, "targets", Uint32Array.from({ length: N }, (_, i) => (i * 7919) % V)); // (N)
const losses = createBuffer(d, "losses", N * 4); // (N)

type Record = (batch: CommandBatch) => void;
const cases: [string, [string, Record][]][] = [
  [
    "rmsnorm forward",
    RMSNORM_VARIANTS.map((variant: RmsnormVariant) => [
      variant,
      (b) => rmsnormForward(b, { x, weight, out, rstd, N, C, eps: 1e-5, variant }),
    ]),
  ],
  [
    "rmsnorm backward",
    RMSNORM_VARIANTS.map((variant: RmsnormVariant) => [
      variant,
      (b) =>
        rmsnormBackward(b, {
          dout,
          x,
          weight,
          rstd,
          dx,
          dweight,
          scratch,
          N,
          C,
          accumulateDx: true,
          variant,
        }),
    ]),
  ],
  [
    "crossentropy",
    CROSS_ENTROPY_VARIANTS.map((variant: CrossEntropyVariant) => [
      variant,
      (b) => crossEntropy(b, { logits, targets, losses, N, V, dscale: 1 / N, variant }),
    ]),
  ],
];

/** µs per call of `record`, from one batch of `n` calls. */
async function sample(record: Record, n: number): Promise<number> {
  const batch = new CommandBatch(gpu, "bench rownorm");
  for (let i = 0; i < n; i++) record(batch);
  const t0 = performance.now();
  batch.submit();
  await drain(gpu);
  return (performance.now() - t0) * 1000 / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

console.log(
  `adapter: ${gpu.summary.description}${
    gpu.summary.isFallback ? " (CPU fallback)" : ""
  }; config ${values.config}: ` +
    `N=${N} C=${C} V=${V}; ${iters} calls per submit, median of ${rounds} alternating rounds`,
);
for (const [name, variants] of cases) {
  for (const [, record] of variants) await sample(record, 2); // pipelines built, caches warm
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    // Alternate the order as well, so neither variant always runs right after the other.
    const order = variants.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) times[i].push(await sample(variants[i][1], iters));
  }
  const cols = variants.map(([v], i) => {
    const t = times[i];
    return `${v} ${median(t).toFixed(1)} µs (min ${Math.min(...t).toFixed(1)}, max ${
      Math.max(...t).toFixed(1)
    })`;
  });
  console.log(`${name.padEnd(17)} ${cols.join("   ")}`);
}
for (const b of [x, weight, out, rstd, dout, dx, dweight, scratch, logits, targets, losses]) b.destroy();
