/**
 * Micro-benchmark of the fused attention kernels: ms per forward and per backward at one shape (default the base
 * model: B=32 T=256 NH=6 KVH=6 HS=48), from wall time over many dispatches in one batch with one drain, and per
 * entry point from timestamp queries when the adapter has them. Not a correctness test (src/kernels/attention_test.ts).
 *
 *   deno run -A tools/bench_attention.ts [--B 32] [--T 256] [--NH 6] [--KVH 6] [--HS 48] [--iters 50] [--kernel auto|blocked|generic|cpu]
 */
import { parseArgs } from "node:util";
import { CommandBatch, createBuffer, drain, openGpu, Profiler } from "../src/gpu/mod.ts";
import { randomArray } from "../src/gpu/testing.ts";
import {
  attentionBackward,
  attentionBlockedPlan,
  attentionForward,
  attentionPlan,
  attentionScratchFloats,
  type AttentionVariant,
} from "../src/kernels/attention.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    B: { type: "string", default: "32" },
    T: { type: "string", default: "256" },
    NH: { type: "string", default: "6" },
    KVH: { type: "string" },
    HS: { type: "string", default: "48" },
    iters: { type: "string", default: "50" },
    kernel: { type: "string", default: "auto" },
  },
});
const B = Number(values.B);
const T = Number(values.T);
const NH = Number(values.NH);
const KVH = Number(values.KVH ?? values.NH);
const HS = Number(values.HS);
const iters = Number(values.iters);
const kernel = values.kernel as "auto" | AttentionVariant;

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
const shape = { B, T, NH, KVH, HS, kernel };
const fwd = (batch: CommandBatch) => attentionForward(batch, { ...shape, q, k, v, out, lse });
const bwd = (batch: CommandBatch) =>
  attentionBackward(batch, { ...shape, q, k, v, out, lse, dout, dq, dk, dv, scratch });

async function wallMs(record: (batch: CommandBatch) => void): Promise<number> {
  const warm = new CommandBatch(gpu, "bench warm-up");
  record(warm);
  warm.submit();
  await drain(gpu);
  const batch = new CommandBatch(gpu, "bench");
  for (let i = 0; i < iters; i++) record(batch);
  const t0 = performance.now();
  batch.submit();
  await drain(gpu);
  return (performance.now() - t0) / iters;
}

// Causal: QKᵀ and PV each cost 2·HS per visible (query, key) pair, about T²/2 pairs per head.
const pairs = B * NH * T * (T + 1) / 2;
const fwdFlops = 4 * HS * pairs;
const bwdFlops = 7 * 2 * HS * pairs; // kv pass: QKᵀ, dO·Vᵀ, Pᵀ·dO, dSᵀ·Q; q pass: QKᵀ, dO·Vᵀ, dS·K
const cpu = kernel === "cpu" || (kernel === "auto" && gpu.summary.isFallback);
const plans = (["forward", "backward_kv", "backward_q"] as const).map((e) => {
  if (cpu) return `${e}_cpu WG=8`;
  const fast = kernel === "generic" ? undefined : attentionBlockedPlan(gpu, e, HS);
  if (fast) return `${e}_blocked TX=${fast.TX} TY=${fast.TY}`;
  const p = attentionPlan(gpu, e, HS);
  return `${e} TILE=${p.TILE} TPR=${p.TPR}`;
});
console.log(
  `adapter: ${gpu.summary.description}; B=${B} T=${T} NH=${NH} KVH=${KVH} HS=${HS}, ${iters} iterations`,
);
console.log(`tiles: ${plans.join(", ")}`);
const f = await wallMs(fwd);
const b = await wallMs(bwd);
console.log(
  `wall: forward ${f.toFixed(3)} ms (${(fwdFlops / f / 1e6).toFixed(1)} GFLOP/s), backward ${
    b.toFixed(3)
  } ms (${(bwdFlops / b / 1e6).toFixed(1)} GFLOP/s)`,
);

if (gpu.hasTimestamps) {
  // 4 dispatches per iteration; a query set holds at most 4096 queries (2 per dispatch).
  const profiler = new Profiler(gpu, 2048);
  const batch = new CommandBatch(gpu, "bench profiled", profiler);
  for (let i = 0; i < Math.min(iters, 500); i++) {
    fwd(batch);
    bwd(batch);
  }
  batch.submit();
  await drain(gpu);
  for (const [label, t] of await profiler.totals()) {
    console.log(`gpu: ${label.split(":").slice(0, 2).join(":")} ${(t.ms / t.count).toFixed(3)} ms`);
  }
}
for (const x of [q, k, v, dout, out, lse, dq, dk, dv, scratch]) x.destroy();
