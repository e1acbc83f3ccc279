/**
 * Micro-benchmark of the attention variants (ATTENTION_VARIANTS): µs per forward and per backward (delta + dk/dv +
 * dq) at a config's training shapes (B = batch_size, T = max_seq_len, NH, KVH, HS = hidden_size / num_heads), and
 * the time of the first call (pipeline builds included). Each sample is one batch of `iters` calls with one drain;
 * the variants alternate sample by sample and the median is printed, because the machine may be shared; so is the
 * CPU time of the whole process per call (lavapipe's threads included), less sensitive to other load than the wall. A variant
 * that does not fit the adapter (blocked past its workgroup memory) is reported and skipped. Not a correctness
 * test (src/kernels/attention_test.ts); tools/bench_attention.ts times one variant with timestamp queries.
 *
 *   deno run -A tools/bench_attention_variants.ts [--config tiny] [--iters 20] [--rounds 7] [--variants blocked,generic,cpu]
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { CommandBatch, createBuffer, drain, openGpu } from "../src/gpu/mod.ts";
import { randomArray } from "../src/gpu/testing.ts";
import {
  ATTENTION_VARIANTS,
  attentionBackward,
  attentionBlockedPlan,
  attentionForward,
  attentionScratchFloats,
  type AttentionVariant,
} from "../src/kernels/attention.ts";
import { modelDims } from "../src/model/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    config: { type: "string", default: "tiny" },
    iters: { type: "string", default: "20" },
    rounds: { type: "string", default: "7" },
    variants: { type: "string", default: ATTENTION_VARIANTS.join(",") },
  },
});
const iters = Number(values.iters);
const rounds = Number(values.rounds);
const { config } = await loadConfig(values.config);
const { NH, KVH, HS, T } = modelDims(config.model);
const B = config.training.batch_size;

const gpu = await openGpu("auto");
const d = gpu.device;
const q = createBuffer(d, "q", randomArray(B * T * NH * HS, 1)); // (B,T,NH,HS)
const k = createBuffer(d, "k", randomArray(B * T * KVH * HS, 2)); // (B,T,KVH,HS)
const v = createBuffer(d, "v", randomArray(B * T * KVH * HS, 3)); // (B,T,KVH,HS)
const dout = createBuffer(d, "dout", randomArray(B * T * NH * HS, 4)); // (B,T,NH,HS)
const out = createBuffer(d, "out", B * T * NH * HS * 4); // (B,T,NH,HS)
const lse = createBuffer(d, "lse", B * NH * T * 4); // (B,NH,T)
const dq = createBuffer(d, "dq", B * T * NH * HS * 4); // (B,T,NH,HS)
const dk = createBuffer(d, "dk", B * T * KVH * HS * 4); // (B,T,KVH,HS)
const dv = createBuffer(d, "dv", B * T * KVH * HS * 4); // (B,T,KVH,HS)
const scratch = createBuffer(d, "scratch", attentionScratchFloats(B, T, NH) * 4);

type Record = (batch: CommandBatch) => void;
const variants = (values.variants.split(",") as AttentionVariant[]).filter((kernel) => {
  if (!ATTENTION_VARIANTS.includes(kernel)) throw new Error(`Cannot benchmark attention variant "${kernel}"`);
  const fits = kernel !== "blocked" ||
    (["forward", "backward_kv", "backward_q"] as const).every((e) => attentionBlockedPlan(gpu, e, HS));
  if (!fits) console.log(`${kernel}: skipped, HS=${HS} does not fit the workgroup memory`);
  return fits;
});
const shape = (kernel: AttentionVariant) => ({ B, T, NH, KVH, HS, kernel });
const cases: [string, [AttentionVariant, Record][]][] = [
  [
    "forward",
    variants.map((kernel) => [kernel, (b) => attentionForward(b, { ...shape(kernel), q, k, v, out, lse })]),
  ],
  [
    "backward",
    variants.map((kernel) => [
      kernel,
      (b) => attentionBackward(b, { ...shape(kernel), q, k, v, out, lse, dout, dq, dk, dv, scratch }),
    ]),
  ],
];

/** CPU seconds this process (every thread, lavapipe's included) has used: utime + stime of /proc/self/stat. */
function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100 on Linux)
}

/** µs per call of `record` (wall, and CPU time of all threads), from one batch of `n` calls. */
async function sample(record: Record, n: number): Promise<[number, number]> {
  const batch = new CommandBatch(gpu, "bench attention");
  for (let i = 0; i < n; i++) record(batch);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  batch.submit();
  await drain(gpu);
  return [(performance.now() - t0) * 1000 / n, (cpuSeconds() - c0) * 1e6 / n];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

console.log(
  `adapter: ${gpu.summary.description}${
    gpu.summary.isFallback ? " (CPU fallback)" : ""
  }; config ${values.config}: ` +
    `B=${B} T=${T} NH=${NH} KVH=${KVH} HS=${HS}; ${iters} calls per submit, median of ${rounds} alternating rounds`,
);
for (const [name, list] of cases) {
  const first: string[] = [];
  for (const [kernel, record] of list) {
    const t0 = performance.now();
    const batch = new CommandBatch(gpu, "bench attention first call");
    record(batch); // builds the pipelines
    batch.submit();
    await drain(gpu);
    first.push(`${kernel} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  console.log(`${name} first call (pipeline builds): ${first.join(", ")}`);
  const times = list.map(() => [] as number[]);
  const cpu = list.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    // Alternate the order as well, so no variant always runs right after another.
    const order = list.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const [wall, cpuTime] = await sample(list[i][1], iters);
      times[i].push(wall);
      cpu[i].push(cpuTime);
    }
  }
  const cols = list.map(([kernel], i) => {
    const t = times[i];
    return `${kernel} ${median(t).toFixed(0)} µs (min ${Math.min(...t).toFixed(0)}, max ${
      Math.max(...t).toFixed(0)
    }; CPU ${median(cpu[i]).toFixed(0)} µs)`;
  });
  console.log(`${name.padEnd(9)} ${cols.join("   ")}`);
}
for (const x of [q, k, v, dout, out, lse, dq, dk, dv, scratch]) x.destroy();
